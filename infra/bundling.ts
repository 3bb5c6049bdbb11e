/** The functions deployed, each bundled from `functions/<name>.ts` (`infra/constructs/functions.ts`, the bench). */
export const functionNames = ['connect', 'webhook', 'fetch', 'refresh', 'worker', 'publisher', 'sweeper'] as const;
export type FunctionName = (typeof functionNames)[number];

/**
 * How every function is bundled, in one place: `infra/constructs/functions.ts` hands it to NodejsFunction, and the
 * bench's own esbuild build (`infra/measure-bundles.ts`) reads it too, so the bundles it measures are the deployed ones.
 */
export const functionBundling = {
  target: 'node22',
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  // Prefer packages' ESM builds: better tree shaking of the SDK.
  mainFields: ['module', 'main'],
  // CommonJS dependencies inside an ESM bundle still call require(); give them one (as Powertools does).
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  // The SDK's credential chain reduced to the environment variables Lambda sets (why, and when to remove it: the
  // alias target's doc comment). Relative to the project root, where esbuild runs.
  alias: { '@aws-sdk/credential-provider-node': './functions/shared/lambda-credentials.ts' },
} as const;
