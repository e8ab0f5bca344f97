// What a GET of a Jupyter notebook at the upload limits costs the service's event loop: the
// notebook is uploaded through the domain on an embedded store (PGlite, which runs its queries on
// that same thread), then read back; a 1 ms timer measures the longest the loop was held during
// each read. Prints figures; asserts nothing. `npm run build` first (bench:load does).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fixed, loadText } from './report.mjs';

/* global setInterval, clearInterval */

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '..');
const { openDb } = require(path.join(root, 'dist/store/db.js'));
const { migrate } = require(path.join(root, 'dist/store/migrate.js'));
const { Notebooks } = require(path.join(root, 'dist/domain/notebooks.js'));
const { NOTEBOOK_LIMITS } = require(path.join(root, 'dist/domain/cells.js'));
const READS = 10;

/** 1,000 code cells filling 16 MiB: all in the sources, or mostly in outputs (plots). */
const SHAPES = [
  { name: 'sources', source: 16_000, output: 0 },
  { name: 'outputs', source: 1_000, output: 15_000 },
];

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-nbget-'));
  const db = await openDb({ inMemory: true });
  try {
    await migrate(db);
    const scope = await tenantAndProject(db);
    const notebooks = new Notebooks(
      db,
      null,
      'http://127.0.0.1',
      dir,
      async () => undefined,
      async () => ['python3'],
    );
    const lines = [
      `GET of a notebook at the upload limits (1,000 cells, 16 MiB), PGlite, load average ${loadText(os.loadavg())}`,
    ];
    for (const shape of SHAPES) {
      const file = path.join(dir, `${shape.name}.ipynb`);
      fs.writeFileSync(file, JSON.stringify(notebookOf(shape)));
      const size = fs.statSync(file).size;
      const created = await notebooks.upload(scope, { path: file, size, originalName: 'n.ipynb' }, {});
      const reads = [];
      for (let i = 0; i < READS; i++) reads.push(await timedRead(() => notebooks.get(scope, created.notebookId)));
      const held = reads.map((r) => r.held).sort((a, b) => a - b);
      const total = reads.map((r) => r.total).sort((a, b) => a - b);
      lines.push(
        `  ${shape.name.padEnd(8)} ${fixed(size / 2 ** 20, 1)} MiB: event loop held at most ${fixed(held[READS >> 1], 0)} ms (median of ${READS} reads), ${fixed(held.at(-1), 0)} ms (worst); a read takes ${fixed(total[READS >> 1], 0)} ms`,
      );
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function notebookOf({ source, output }) {
  const cells = Array.from({ length: NOTEBOOK_LIMITS.maxCells }, (_, i) => ({
    id: `c${i}`,
    cell_type: 'code',
    source: 'x'.repeat(source),
    metadata: {},
    execution_count: null,
    outputs: output ? [{ output_type: 'display_data', data: { 'image/png': 'A'.repeat(output) }, metadata: {} }] : [],
  }));
  return { nbformat: 4, nbformat_minor: 5, metadata: {}, cells };
}

async function tenantAndProject(db) {
  const tenantId = '11111111-1111-4111-8111-111111111111';
  const projectId = '22222222-2222-4222-8222-222222222222';
  await db.query(`INSERT INTO tenants (id, name, created_at) VALUES ($1, 'bench', now())`, [tenantId]);
  await db.query(
    `INSERT INTO projects (id, tenant_id, name, created_at, created_by) VALUES ($1, $2, 'bench', now(), 'bench')`,
    [projectId, tenantId],
  );
  return { tenantId, projectId, actor: 'bench' };
}

/** One read, with the longest gap a 1 ms timer saw meanwhile (the answer's serialisation included, as the server sends it). */
async function timedRead(read) {
  let last = performance.now();
  let held = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    held = Math.max(held, now - last);
    last = now;
  }, 1);
  const started = performance.now();
  const answer = await read();
  if (!answer.json) JSON.stringify(answer);
  const total = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(timer);
  return { held, total };
}

await main();
