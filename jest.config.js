/** Jest runs the TypeScript tests through ts-jest; `npm run typecheck` does the type checking. */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  // Starting Prism and Chromium takes a few seconds on a 2-core machine.
  testTimeout: 30_000,
};
