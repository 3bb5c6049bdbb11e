import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // In every test file: fail the test during which a known secret (simulator credentials and tokens, canaries) was written to stdout, stderr or the console.
    setupFiles: ['./test/helpers/leak-sweep.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Integration tests start real servers (DynamoDB Local is a JVM); give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The machines run Node 20; the SDK's notice about its future Node 22 requirement is noise here.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    maxWorkers: 2,
  },
});
