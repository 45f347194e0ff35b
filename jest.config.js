/**
 * Jest runs the TypeScript sources as ES modules (Nest 12 is ESM-only). globalSetup finds or starts the
 * run's Redis (REDIS_URL, else a private redis-server) and hands it to the tests in TEST_REDIS_URL;
 * globalTeardown stops whatever the run started (see test/support/redis.ts).
 */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.(spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 30_000,
  // Every client frame of every test is checked against the AsyncAPI document (test/support/frame-contract.ts).
  setupFilesAfterEnv: ['<rootDir>/test/support/frame-contract.setup.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
};
