// Builds the client twice with TypeScript: ES modules into dist/esm, CommonJS into dist/cjs, each with
// its .d.ts, and marks each folder's module kind with a package.json of its own.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(here, 'dist'), { recursive: true, force: true });
for (const [config, dir, type] of [
  ['tsconfig.json', 'esm', 'module'],
  ['tsconfig.cjs.json', 'cjs', 'commonjs'],
]) {
  const result = spawnSync(process.execPath, [tsc, '-p', join(here, config)], { cwd: here, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  mkdirSync(join(here, 'dist', dir), { recursive: true });
  writeFileSync(join(here, 'dist', dir, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
}
console.log('Built client/dist/esm and client/dist/cjs.');
