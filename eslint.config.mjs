import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Plain JS files (scripts/, jest.config.js) run on Node; TypeScript checks the names in .ts files itself.
const nodeGlobals = Object.fromEntries(
  ['process', 'console', 'Buffer', 'URL', 'setTimeout', 'clearTimeout', 'module', 'require', '__dirname'].map(
    (name) => [name, 'readonly'],
  ),
);

export default defineConfig(
  // test/e2e/seed/ holds the seed pages' own client code, kept exactly as the pages wrote it.
  globalIgnores([
    'generated/',
    'dist/',
    'client/dist/',
    'client/src/generated/',
    'coverage/',
    'node_modules/',
    'test/e2e/seed/',
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  { files: ['**/*.{js,mjs,cjs}'], languageOptions: { globals: nodeGlobals } },
  // web/ runs in the browser (the notebook page).
  {
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'EventSource',
          'URL',
          'URLSearchParams',
          'setTimeout',
          'clearTimeout',
          'JSON',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    rules: {
      // A leading underscore marks a parameter kept for its position, e.g. `next` in a 4-argument Express error handler.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
);
