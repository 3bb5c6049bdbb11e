import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the deployed bundles (the esbuild alias in `infra/bundling.ts`).
 *
 * Every SDK client imports that package's `defaultProvider`, the full credential chain: SSO, INI profiles, `aws login`,
 * credential processes, web identity, container and instance metadata, with the nested STS, SSO, SSO-OIDC and sign-in
 * clients they call. esbuild cannot drop any of it, even when a client is given its own credentials (aws-sdk-js-v3
 * issues #5516 and #6087), and it was about 120 KiB of each function's 400 to 540 KiB. Lambda hands a function its
 * role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, the first link of that chain,
 * so the bundles keep only that link. Should the functions ever run where credentials come from elsewhere (a
 * container, Lambda Managed Instances), remove the alias: this provider fails with the SDK's own "Unable to find
 * environment variable credentials" rather than fall back.
 *
 * The local stack and the tests run the TypeScript sources with the full chain; the bundled-import test runs these
 * bundles with credentials in the environment, as Lambda does.
 */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}): ReturnType<typeof fromEnv> => fromEnv(init);
