#!/usr/bin/env node
// Checks the import graph of src/: no runtime import cycles, and layers that point one way.
//
//   http -> jobs, kernels -> domain -> store, engine
//
// Beside the layers: `cli` (the `assay` commands, a client of the API like any other); `api` (the contract's types and error codes) under all of them; `config` (the
// settings, which uses the kernels' parser of the egress allow-list); `threads/pool.ts`, the
// parser threads that the engine and domain hand work to; and the entry points, which wire
// everything. Type-only imports are left out: they vanish at runtime and cannot form a cycle.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import madge from 'madge';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What each layer (the first folder under src/) may import at runtime, besides itself. */
const MAY_IMPORT = {
  http: ['jobs', 'kernels', 'domain', 'store', 'engine', 'api', 'pool', 'config'],
  jobs: ['kernels', 'domain', 'store', 'engine', 'api', 'pool', 'config'],
  kernels: ['domain', 'store', 'engine', 'api', 'config'],
  domain: ['store', 'engine', 'api', 'pool', 'config'],
  threads: ['domain', 'engine', 'api'],
  pool: ['engine', 'api'],
  store: ['api', 'config'],
  engine: ['pool', 'api'],
  api: [],
  config: ['kernels'],
  // The command line talks to a service through @assay/client (a package, not under src/); of the
  // service's own code it may use only the contract's types and error codes, never its internals.
  cli: ['client', 'api'],
};

function layerOf(file) {
  if (file === 'threads/pool.ts') return 'pool';
  // madge follows the workspace link node_modules/@assay/client to the package's own folder.
  if (file.startsWith('../client/')) return 'client';
  const [first] = file.split('/');
  return first.endsWith('.ts') ? first.slice(0, -3) : first;
}

const graph = await madge(path.join(root, 'src'), {
  fileExtensions: ['ts'],
  tsConfig: path.join(root, 'tsconfig.json'),
  detectiveOptions: { ts: { skipTypeImports: true } },
});

const problems = [];
for (const cycle of graph.circular()) problems.push(`runtime import cycle: ${[...cycle, cycle[0]].join(' -> ')}`);
for (const [file, imports] of Object.entries(graph.obj())) {
  const from = layerOf(file);
  const allowed = MAY_IMPORT[from];
  if (!allowed) continue; // entry points (main.ts, server.ts, bootstrap.ts) wire every layer
  for (const imported of imports) {
    const to = layerOf(imported);
    if (to !== from && !allowed.includes(to)) problems.push(`${file} (${from}) imports ${imported} (${to})`);
  }
}

const files = Object.keys(graph.obj()).length;
if (problems.length > 0) {
  console.error(`Layer check: ${problems.length} problem(s) in ${files} files:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`Layer check: ${files} files, no runtime import cycle, every import points down.`);
