import fs from 'node:fs';
import path from 'node:path';

const clientDir = path.resolve(__dirname, '..', '..', 'client');
const esmDir = path.join(clientDir, 'dist', 'esm');

/** The built package as a bundler or a browser's import map would see it (built by the global setup). */
describe('@assay/client as built', () => {
  const files = fs.readdirSync(esmDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));

  test('the ES modules import nothing of Node at load: node: modules only through nodeModule() in the file helpers', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    const staticImports: string[] = [];
    const dynamicImports: string[] = [];
    for (const file of files) {
      const code = fs.readFileSync(path.join(esmDir, file), 'utf8');
      for (const m of code.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
        staticImports.push(m[1]);
      }
      for (const m of code.matchAll(/\bnodeModule\(\s*['"]([^'"]+)['"]\s*\)/g)) dynamicImports.push(`${file}: ${m[1]}`);
      // The one import() is node.js's, of a variable: a bundler for browsers leaves it alone.
      if (file !== 'node.js') expect(code).not.toMatch(/\bimport\(/);
      expect(code).not.toMatch(/\brequire\(/);
    }
    // Relative modules and openapi-fetch (itself fetch-only), nothing else.
    expect(new Set(staticImports.filter((s) => !s.startsWith('./') && !s.startsWith('../')))).toEqual(
      new Set(['openapi-fetch']),
    );
    expect(dynamicImports.sort()).toEqual([
      'download.js: node:crypto',
      'download.js: node:fs',
      'upload.js: node:fs',
      'upload.js: node:path',
      'upload.js: node:stream',
    ]);
  });

  test('ESM and CJS each with their declarations, as package.json exports them', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(clientDir, 'package.json'), 'utf8'));
    for (const target of [pkg.exports['.'].import, pkg.exports['.'].require]) {
      expect(fs.existsSync(path.join(clientDir, target.default))).toBe(true);
      expect(fs.existsSync(path.join(clientDir, target.types))).toBe(true);
    }
    // The CommonJS build loads with require (as jest loads it here) and has the agreed names.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cjs = require('@assay/client');
    expect(typeof cjs.createAssayClient).toBe('function');
    expect(typeof cjs.AssayApiError).toBe('function');
    const declarations = fs.readFileSync(path.join(clientDir, pkg.exports['.'].import.types), 'utf8');
    for (const name of ['createAssayClient', 'AssayApiError', 'AssayEvent', 'PagedPath']) {
      expect(declarations).toContain(name);
    }
  });
});
