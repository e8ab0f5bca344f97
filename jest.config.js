/** Jest runs the TypeScript tests through ts-jest; `npm run typecheck` does the type checking. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  // An ESM-only dependency of openapi-backend that the app never calls (quick mode); see the stub.
  moduleNameMapper: { '^@apidevtools/json-schema-ref-parser$': '<rootDir>/test/support/ref-parser-stub.js' },
  // Starting Prism and Chromium takes a few seconds on a 2-core machine.
  testTimeout: 30_000,
  // Two test files at a time: most of a file's time is spent waiting on kernels, PostgreSQL and child
  // processes, so two keep a 2-core machine busy and the suite well under 15 minutes.
  maxWorkers: 2,
  // The slowest files first, also in a fresh clone that has no timings of a last run.
  testSequencer: '<rootDir>/test/support/sequencer.mjs',
  // End-to-end tests start the built server (dist/) as `npm start` does.
  globalSetup: '<rootDir>/test/e2e/global-setup.ts',
};
