import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScenario } from './load.mjs';
import { createSchema, startAssay, startBare } from './servers.mjs';
import { createNotebooks, projectOf } from './setup.mjs';

/**
 * `npm run bench`: throughput and latency of Assay's notebook GET and block POST, on PGlite and
 * on PostgreSQL, next to a bare express route measured in the same run. Figures go to stdout,
 * progress to stderr. The exit code is 1 only when a scenario had errors, never for slowness.
 * Settings: BENCH_CONCURRENCY, BENCH_WARMUP_MS, BENCH_DURATION_MS, BENCH_POSTGRES_URL, BENCH_CPU_PROF_DIR.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const SETTINGS = {
  concurrency: intEnv('BENCH_CONCURRENCY', 16),
  warmupMs: intEnv('BENCH_WARMUP_MS', 2000), // 1 s left the JIT cold: the bare route still sped up by a quarter after it
  durationMs: intEnv('BENCH_DURATION_MS', 5000),
  maxRequests: 2_000_000, // per phase: bounds memory even if the duration is set very long
  timeoutMs: 10_000, // per request: a stuck request becomes an error instead of a stuck bench
};
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// BENCH_CPU_PROF_DIR=<dir> writes a V8 CPU profile of each Assay server (see bench/profile-summary.mjs).
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR ? path.resolve(process.env.BENCH_CPU_PROF_DIR) : undefined;
const POST_NOTEBOOKS = 50; // the block posts go round-robin over these, so no notebook grows huge
const BLOCK = { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } };
const GET_GOAL = 0.5;
const LOAD_AT_START = os.loadavg(); // other work on the machine skews every figure; show how busy it was

/** Resources to release if the bench is interrupted: servers to stop, schemas to drop. */
const live = new Set();

async function main() {
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const rows = [
    // The baseline runs first and last: how far apart the two are shows how steady the machine was.
    ...(await attempt('bare express', '-', () => benchBare('first'))),
    ...(await attempt('Assay', 'pglite', () => benchAssay('pglite'))),
    ...(await attempt('Assay', 'postgres', () => benchAssay('postgres'))),
    ...(await attempt('bare express', '-', () => benchBare('last'))),
  ];
  printReport(rows);
  if (rows.some((row) => row.failed || row.errorCount > 0)) process.exitCode = 1;
}

/** Runs one part of the bench; a failure becomes a row of the report instead of ending the run. */
async function attempt(name, store, run) {
  try {
    return await run();
  } catch (err) {
    return [{ name, store, failed: err instanceof Error ? err.message : String(err) }];
  }
}

async function benchBare(when) {
  progress(`bare express (${when}): starting`);
  return withServer(startBare(), async (server) => {
    progress(`bare express (${when}): GET /bare`);
    const result = await load(server, () => ({ method: 'GET', path: '/bare', headers: {} }), 200);
    return { name: `GET /bare (bare, ${when})`, store: '-', ...result };
  });
}

/** The Assay scenarios on one store: a fresh data dir (and, for PostgreSQL, a fresh schema). */
async function benchAssay(store) {
  progress(`Assay on ${store}: starting`);
  const schema = store === 'postgres' ? await createSchema(POSTGRES_URL) : undefined;
  if (schema) track(schema.drop);
  try {
    const server = startAssay({ databaseUrl: schema?.url, cpuProfDir: CPU_PROF_DIR });
    return await withServer(server, (started) => runAssayScenarios(started, store));
  } finally {
    if (schema) await release(schema.drop);
  }
}

/**
 * The issue's two scenarios, and two diagnostics that split the GET's cost: the same HTTP pipeline
 * (routing, logging, validation) with no auth and no store, and with auth but no notebook read.
 */
const ASSAY_SCENARIOS = [
  { name: 'GET /health', diagnostic: 'no auth, no store', status: 200, once: true, request: health },
  { name: 'GET block/ping', diagnostic: 'auth, no read', status: 200, request: ping },
  { name: 'GET notebook', status: 200, request: getNotebook },
  { name: 'POST blocks', status: 201, request: postBlocks },
];

async function runAssayScenarios(server, store) {
  progress(`Assay on ${store}: creating a dataset, an investigation and ${POST_NOTEBOOKS + 1} notebooks`);
  const [readId, ...postIds] = await createNotebooks(server, POST_NOTEBOOKS + 1);
  const context = { ...projectOf(server), readId, postIds };
  const rows = [];
  // Store-independent diagnostics run on the first store only.
  for (const scenario of ASSAY_SCENARIOS.filter((s) => !s.once || store === 'pglite')) {
    progress(`Assay on ${store}: ${scenario.name}`);
    const result = await load(server, scenario.request(context), scenario.status);
    rows.push({ name: scenario.name, diagnostic: scenario.diagnostic, store, ...result });
  }
  return rows;
}

// Each request factory gets the project and notebooks, and returns the next-request function.
function health() {
  return () => ({ method: 'GET', path: '/health', headers: {} });
}

function ping({ base, authorization }) {
  return () => ({ method: 'GET', path: `${base}/block/ping`, headers: { authorization } });
}

function getNotebook({ base, authorization, readId }) {
  return () => ({ method: 'GET', path: `${base}/notebook/${readId}`, headers: { authorization } });
}

function postBlocks({ base, authorization, postIds }) {
  const body = JSON.stringify(BLOCK);
  const headers = { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  let next = 0;
  const path = () => `${base}/notebook/${postIds[next++ % postIds.length]}/blocks`;
  return () => ({ method: 'POST', path: path(), headers, body });
}

function load(server, nextRequest, expectedStatus) {
  return runScenario({
    ...SETTINGS,
    host: server.host,
    port: server.port,
    serverPid: server.pid,
    nextRequest,
    expectedStatus,
  });
}

/** Uses a started server, then stops it; its warnings, errors and unclean exit end up on its rows. */
async function withServer(starting, use) {
  const server = await starting;
  track(server.stop);
  let rows;
  let failure;
  try {
    rows = [await use(server)].flat();
  } catch (err) {
    failure = err;
  }
  const notes = serverNotes(server, await release(server.stop));
  if (failure) throw new Error([failure.message, ...notes].join('; '));
  return rows.map((row) => ({ ...row, notes }));
}

function serverNotes(server, exit) {
  const notes = [];
  if (exit.code !== 0) notes.push(`server exited with ${exit.signal ?? `code ${exit.code}`} on SIGTERM`);
  if (server.logged.count > 0) {
    notes.push(`server logged ${server.logged.count} warning/error line(s), first: ${server.logged.first[0]}`);
  }
  return notes;
}

function track(release) {
  live.add(release);
}

async function release(close) {
  live.delete(close);
  return close();
}

async function interrupted(signal) {
  progress(`${signal}: stopping servers, dropping schemas, removing temp dirs`);
  await Promise.allSettled([...live].map((close) => close()));
  process.exit(130);
}

function printReport(rows) {
  const bare = baseline(rows);
  const out = [];
  out.push('', `Assay HTTP benchmark, ${new Date().toISOString()}`, ...environmentLines(), '');
  out.push(...table(rows, bare), '');
  out.push(...verdicts(rows, bare), '');
  out.push(...rows.filter((row) => row.failed).map((row) => `FAILED ${row.name} on ${row.store}: ${row.failed}`));
  out.push(...errorLines(rows), ...noteLines(rows), ...caveats());
  process.stdout.write(out.join('\n') + '\n');
}

function environmentLines() {
  const express = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/express/package.json'), 'utf8'));
  const cpus = os.cpus();
  const { concurrency, warmupMs, durationMs } = SETTINGS;
  return [
    `node ${process.version}, express ${express.version}, ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}`,
    `${concurrency} keep-alive connections, closed loop; ${warmupMs / 1000} s warm-up, then ${durationMs / 1000} s measured per scenario`,
    'servers started one at a time with LOG_LEVEL=warn (per-request info logs would dominate the figures)',
    `load average before the run: ${LOAD_AT_START.map((n) => n.toFixed(2)).join(' ')}`,
  ];
}

const COLUMNS = [
  ['scenario', 26, (r) => (r.diagnostic ? `${r.name} *` : r.name)],
  ['store', 9, (r) => r.store],
  ['req/s', 8, (r) => fixed(r.rps, 0)],
  ['p50 ms', 8, (r) => fixed(r.p50, 2)],
  ['p99 ms', 8, (r) => fixed(r.p99, 2)],
  ['max ms', 8, (r) => fixed(r.max, 1)],
  ['ok', 8, (r) => String(r.ok)],
  ['errors', 7, (r) => String(r.errorCount)],
  ['srv CPU', 8, (r) => percent(r.serverCpu)],
  ['srv ms/req', 10, (r) => fixed((r.serverCpu * 1000) / r.rps, 3)],
  ['gen CPU', 8, (r) => percent(r.clientCpu)],
  ['other CPU', 9, (r) => percent(r.otherCpu)],
];

function table(rows, bare) {
  const head = [...COLUMNS.map(([title, width], i) => pad(title, width, i < 2)), 'vs bare'].join('  ');
  const lines = rows.map((row) => {
    if (row.failed) return [pad(row.name, 26, true), pad(row.store, 9, true), 'FAILED (see below)'].join('  ');
    const cells = COLUMNS.map(([, width, cell], i) => pad(cell(row), width, i < 2));
    const flag = row.errorCount > 0 ? '  HAD ERRORS' : '';
    return [...cells, ratioText(row, bare)].join('  ') + flag;
  });
  return [head, '-'.repeat(head.length), ...lines];
}

/** The bare route's throughput: the mean of its clean runs, or undefined if none was clean. */
function baseline(rows) {
  const runs = rows.filter((row) => row.store === '-' && !row.failed && row.errorCount === 0);
  if (runs.length === 0) return undefined;
  return { rps: runs.reduce((sum, row) => sum + row.rps, 0) / runs.length, runs };
}

/** The fraction of the bare route's throughput, and whether the GET goal is met. */
function verdicts(rows, bare) {
  if (!bare) return ['No clean bare express figure, so no fractions: the baseline failed or had errors.'];
  const figures = bare.runs.map((row) => fixed(row.rps, 0)).join(' and ');
  const head = `Baseline: bare express at ${fixed(bare.rps, 0)} req/s, the mean of ${figures}.`;
  return [head, ...assayVerdicts(rows, bare)];
}

function assayVerdicts(rows, bare) {
  return rows
    .filter((row) => row.store !== '-')
    .map((row) => {
      const label = `${row.name} on ${row.store}${row.diagnostic ? ` (diagnostic: ${row.diagnostic})` : ''}`;
      if (row.failed) return `${label}: failed, no figure.`;
      const ratio = `${ratioText(row, bare)} of the bare route's throughput`;
      if (row.errorCount > 0) return `${label}: ${ratio}, but the scenario HAD ERRORS, so the figure does not count.`;
      if (row.name !== 'GET notebook') return `${label}: ${ratio}.`;
      const met = row.rps / bare.rps >= GET_GOAL;
      return `${label}: ${ratio}; goal >= ${GET_GOAL} ${met ? 'MET' : 'NOT MET'}.`;
    });
}

function errorLines(rows) {
  return rows
    .filter((row) => row.errorCount > 0)
    .map((row) => {
      const kinds = [...row.errors].map(([kind, n]) => `${kind} x${n}`).join(', ');
      return `ERRORS in ${row.name} on ${row.store} (warm-up included): ${kinds}; e.g. ${row.errorSample}`;
    });
}

function noteLines(rows) {
  return rows.flatMap((row) => (row.notes ?? []).map((note) => `note, ${row.name} on ${row.store}: ${note}`));
}

function caveats() {
  return [
    'Notes:',
    `- The load generator runs on the same ${os.cpus().length} cores as the server (and PostgreSQL); "gen CPU" is its share,`,
    '  "srv CPU" the server process\'s (100% = one core), "other CPU" the rest of the machine\'s busy time: PostgreSQL',
    '  in the postgres rows, and anything else running at the time (which disturbs the figures). "srv ms/req" is the',
    "  server's CPU time per answered request, a figure that depends less on how the cores were shared.",
    '- Only answers with the expected status (200 GET, 201 POST) count in req/s and latency; p50/p99 are',
    '  nearest-rank over every recorded latency of the measured phase (time to the last byte of the answer).',
    '- POST blocks go round-robin over 50 notebooks; the GET reads one empty notebook that nothing changes meanwhile,',
    '  so after its first read it is answered from the read cache (src/domain/readCache.ts) without a query.',
    '- * diagnostics, not asked for by the issue: GET /health goes through the same pipeline (logging, routing,',
    '  validation) with no auth and no store; GET block/ping adds the API-key check (from the key cache) but reads nothing.',
  ];
}

function ratioText(row, bare) {
  return bare && row.store !== '-' ? fixed(row.rps / bare.rps, 2) : '';
}

function fixed(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function percent(value) {
  return Number.isFinite(value) ? `${Math.round(value * 100)}%` : '-';
}

function pad(text, width, left) {
  return left ? text.padEnd(width) : text.padStart(width);
}

function progress(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

function intEnv(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
