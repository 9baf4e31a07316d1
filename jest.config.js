// `npm test` runs this whole suite once, under the project's Node 24 (devstack/node24-run.ts; `npm run test:node22`
// runs a few suites under Node 22). The agent tests (test/agents/) need Node >= 22.12 (`ai` 7, @temporalio/ai-sdk):
// a bare `npx jest` on an older Node (20, past its end of life) skips them rather than failing on syntax.
const [major, minor] = process.versions.node.split('.').map(Number);
const agentReady = major > 22 || (major === 22 && minor >= 12);

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(agentReady ? [] : ['<rootDir>/test/agents/'])],
  // swc compiles TypeScript, and the ESM-only packages (oauth4webapi, oidc-provider, jose; for the agents `ai`,
  // @ai-sdk/* and @workflow/serde) to CommonJS.
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest'] },
  transformIgnorePatterns: ['/node_modules/(?!(oauth4webapi|oidc-provider|jose|ai|@ai-sdk|@workflow)/)'],
  // @ai-sdk/provider-utils imports zod's locale by its ESM file name (zod/v4/locales/en.js): use zod's CommonJS build.
  moduleNameMapper: { '^zod/v4/locales/(.*)\\.js$': '<rootDir>/node_modules/zod/v4/locales/$1.cjs' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120_000,
  verbose: true,
};
