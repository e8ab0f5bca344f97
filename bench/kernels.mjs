import { spawn, spawnSync } from 'node:child_process';
import { Blob } from 'node:buffer';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixed, intEnv, loadText, pad, progressOf, quietStdout } from './report.mjs';

/* global fetch, FormData */

/**
 * `npm run bench:kernels`: Jupyter notebooks run by Assay against the same notebooks run by
 * `jupyter-execute` (nbclient). The service runs in this process (dist/server.js) with its real
 * runners on the embedded store (PGlite), in a fresh DATA_DIR; every execution runs in a sandbox of
 * its own (bubblewrap, a Jupyter Server on a Unix socket and a fresh kernel), as in production.
 * - execute -> first cell: POST .../notebook/{id}/execute answered, to the job's progress saying
 *   `Running cell 1 of N` (polled every FIRST_CELL_POLL_MS); the first run of the service is
 *   cold (the tenant's system user is created for it), the others are warm.
 * - end to end: POST sent to the execution observed Completed (polled every DONE_POLL_MS), against
 *   the wall time of `jupyter-execute notebook.ipynb` on the same cells.
 * Notebooks: a trivial one of three small cells, and the `process_mining_starter` template bound to
 * the running example (XES) with `ml_models: ['process_prediction']`, so every cell does its work
 * (pandas, a matplotlib chart, an enriched dataset, a scikit-learn model). jupyter-execute runs the
 * same cell sources (the parameters cell injected the same way) next to the service's own
 * python/assay.py and the dataset's CSV export (GET .../dataset/{id}/download?format=csv), the
 * very file the service hands to its kernels.
 * jupyter-execute runs interleaved with the Assay runs.
 * Figures go to stdout, progress to stderr. Exit code 1 when a run failed.
 * Settings: BENCH_KERNELS_WARM (warm Assay runs of the trivial notebook, default 5),
 * BENCH_KERNELS_RUNS (measured runs of each other row, default 5).
 */

const require = createRequire(import.meta.url);
const ROOT = path.resolve(import.meta.dirname, '..');
const { startService } = require(path.join(ROOT, 'dist/server.js'));
const { loadConfig } = require(path.join(ROOT, 'dist/config.js'));
const { defaultKernelHomeRoot } = require(path.join(ROOT, 'dist/kernels/servers.js'));
const { tenantUserName } = require(path.join(ROOT, 'dist/kernels/sandbox.js'));
const { injectedParametersSource } = require(path.join(ROOT, 'dist/domain/parameters.js'));
const pino = require('pino');

const WARM_RUNS = intEnv('BENCH_KERNELS_WARM', 5);
const RUNS = intEnv('BENCH_KERNELS_RUNS', 5);
const JUPYTER_EXECUTE = '/usr/bin/jupyter-execute';
const ASSAY_MODULE = path.join(ROOT, 'python', 'assay.py');
const SHARED_DATA = process.env.ASSAY_SHARED_DATA ?? path.resolve(ROOT, '..', 'shared', 'data');
const LOG_FILE = path.join(SHARED_DATA, 'running-example.xes');
const FIRST_CELL_POLL_MS = 20;
const DONE_POLL_MS = 50;
const RUN_TIMEOUT_MS = 60_000;
const TRIVIAL_CELLS = ['x = 1', 'print(x + 1)', 'import math; math.sqrt(2)'];
const STARTER_PARAMETERS = { ml_models: ['process_prediction'] };
/** What jupyter-execute runs with: the environment the service gives a tenant's server, in a home of its own. */
const PLAIN_PATH = '/usr/local/bin:/usr/bin:/bin';

/** This process's event loop, which the service's HTTP server and its worker share: its longest stall per run. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

/** Set by SIGINT/SIGTERM: the run in progress stops at its next step, then everything is cleaned up as usual. */
const progress = progressOf('bench:kernels');
let interruptedBy;

async function main() {
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  // @jupyterlab/services console.debug()s `Starting WebSocket: ...` (to stdout) for every kernel; not the report's.
  console.debug = () => undefined;
  loopDelay.enable();
  for (const needed of [JUPYTER_EXECUTE, '/usr/bin/jupyter-server', '/usr/bin/bwrap', LOG_FILE]) {
    if (!fs.existsSync(needed))
      throw new Error(`${needed} is missing (scripts/setup.sh --test installs what is needed)`);
  }
  const loadAtStart = os.loadavg();
  const started = performance.now();
  const rows = await withService((client, plainDir) => scenarios(client, plainDir));
  if (interruptedBy) {
    process.exitCode = 130;
    return;
  }
  printReport(rows, (performance.now() - started) / 1000, loadAtStart);
  if (rows.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

/** The notebooks, each run by Assay and by jupyter-execute, interleaved. */
async function scenarios(client, plainDir) {
  const rows = [];
  const assay = 'Assay';
  const plain = true;
  const row = (notebook, runner, kind, runs) => rows.push({ notebook, runner, kind, ...summarise(runs) });
  const say = (message) => progress(message);

  // 1. A trivial notebook: cold (the tenant's user is created), then warm, interleaved with jupyter-execute.
  const trivial = 'trivial, 3 cells';
  const trivialId = await client.createNotebook({
    notebookName: 'Bench trivial',
    initialCells: TRIVIAL_CELLS.map((content) => ({ cellType: 'code', content })),
  });
  const trivialDir = writePlainNotebook(plainDir, 'trivial', await client.notebookCells(trivialId), {});
  say('trivial: cold Assay run');
  row(trivial, assay, 'cold', [await attempt(() => client.runOnce(trivialId, {}))]);
  let plainFirst;
  if (plain) {
    say('trivial: first jupyter-execute run');
    plainFirst = await attempt(() => runPlain(trivialDir));
  }
  const warm = [];
  const repeat = [];
  for (let i = 0; i < Math.max(WARM_RUNS, plain ? RUNS : 0); i++) {
    say(`trivial: run ${i + 1}`);
    if (i < WARM_RUNS) warm.push(await attempt(() => client.runOnce(trivialId, {})));
    if (plain && i < RUNS) repeat.push(await attempt(() => runPlain(trivialDir)));
  }
  row(trivial, assay, 'warm', warm);
  if (plain) {
    row(trivial, 'jupyter-execute', 'first', [plainFirst]);
    row(trivial, 'jupyter-execute', 'repeat', repeat);
  }

  // 2. The process_mining_starter template on the running example.
  const starterName = 'process_mining_starter';
  const datasetId = await client.uploadDataset(LOG_FILE);
  const starterId = await client.createNotebook({
    notebookName: 'Bench starter',
    template: 'process_mining_starter',
    integration: { datasetBinding: datasetId },
  });
  const starterDir = writePlainNotebook(plainDir, 'starter', await client.notebookCells(starterId), STARTER_PARAMETERS);
  fs.writeFileSync(path.join(starterDir, 'dataset.csv'), await client.downloadCsv(datasetId));
  fs.copyFileSync(ASSAY_MODULE, path.join(starterDir, 'assay.py'));
  // First runs apart: matplotlib builds its font cache in each runner's fresh config dir.
  say(`starter: first Assay run${plain ? ' and first jupyter-execute run' : ''}`);
  const starterFirst = await attempt(() => client.runOnce(starterId, STARTER_PARAMETERS));
  const starterPlainFirst = plain ? await attempt(() => runPlain(starterDir)) : undefined;
  const starter = [];
  const starterPlain = [];
  for (let i = 0; i < RUNS; i++) {
    say(`starter: run ${i + 1}`);
    starter.push(await attempt(() => client.runOnce(starterId, STARTER_PARAMETERS)));
    if (plain) starterPlain.push(await attempt(() => runPlain(starterDir)));
  }
  row(starterName, assay, 'first', [starterFirst]);
  row(starterName, assay, 'warm', starter);
  if (plain) {
    row(starterName, 'jupyter-execute', 'first', [starterPlainFirst]);
    row(starterName, 'jupyter-execute', 'repeat', starterPlain);
  }
  return rows;
}

/**
 * Starts the service in this process on a fresh data dir with its real runners, runs `use`, then
 * stops it and removes what the run left: the data dir, the tenants' kernel homes (outside
 * DATA_DIR, under os.tmpdir()), the tenant's system user the service created, jupyter-execute's dir.
 */
async function withService(use) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-kernels-'));
  const plainDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-nbclient-'));
  const cleanups = [
    () => fs.rmSync(dataDir, { recursive: true, force: true }),
    () => fs.rmSync(plainDir, { recursive: true, force: true }),
  ];
  try {
    const config = loadConfig({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0' });
    cleanups.push(() => fs.rmSync(defaultKernelHomeRoot(config.dataDir), { recursive: true, force: true }));
    progress(
      `starting the service (PGlite, real runners) in ${dataDir}; run directories under ${defaultKernelHomeRoot(config.dataDir)}`,
    );
    // The first start prints the bootstrap token to stdout; keep it out of the report.
    const service = await quietStdout(() => startService(config, { logger: pino({ level: 'silent' }) }));
    const credentials = JSON.parse(fs.readFileSync(path.join(dataDir, 'bootstrap.json'), 'utf8'));
    // After the service (cleanups run in reverse): its sandboxes ran as this user.
    cleanups.push(() => removeTenantUser(credentials.tenantId));
    cleanups.push(async () => {
      const t0 = performance.now();
      await service.stop();
      progress(`service stopped in ${Math.round(performance.now() - t0)} ms`);
    });
    checkInterrupted();
    return await use(clientOf(service, credentials), plainDir);
  } finally {
    for (const c of cleanups.reverse()) {
      await Promise.resolve()
        .then(c)
        .catch((err) => progress(`cleanup failed: ${err.message}`));
    }
  }
}

/** The API calls the runs need. */
function clientOf(service, { tenantId, projectId, token }) {
  const base = `${service.url}/api/${tenantId}/${projectId}`;
  const authorization = `Bearer ${token}`;
  const call = async (method, url, body, expected) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: { authorization, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status !== expected) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text);
  };
  return {
    async uploadDataset(file) {
      const form = new FormData();
      form.append('file', new Blob([fs.readFileSync(file)], { type: 'application/xml' }), path.basename(file));
      const res = await fetch(`${base}/dataset`, { method: 'POST', headers: { authorization }, body: form });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`dataset upload answered ${res.status}: ${text}`);
      return JSON.parse(text).datasetId;
    },
    async downloadCsv(datasetId) {
      const res = await fetch(`${base}/dataset/${datasetId}/download?format=csv`, { headers: { authorization } });
      if (res.status !== 200) throw new Error(`dataset download answered ${res.status}: ${await res.text()}`);
      return Buffer.from(await res.arrayBuffer());
    },
    async createNotebook(body) {
      return (await call('POST', '/notebook', body, 201)).notebookId;
    },
    async notebookCells(notebookId) {
      return (await call('GET', `/notebook/${notebookId}`, undefined, 200)).cells;
    },
    /**
     * One execution: POST, then the job polled fast until its first cell runs, then the execution
     * polled until it has ended. Times on this process's clock, in ms from the POST being sent.
     */
    async runOnce(notebookId, parameters) {
      loopDelay.reset();
      const sentAt = Date.now();
      const sent = performance.now();
      const { executionId, jobId } = await call('POST', `/notebook/${notebookId}/execute`, { parameters }, 202);
      const answered = performance.now();
      const deadline = answered + RUN_TIMEOUT_MS;
      let firstCell;
      let job;
      while (firstCell === undefined) {
        checkInterrupted();
        if (performance.now() > deadline) throw new Error(`no cell ran within ${RUN_TIMEOUT_MS / 1000} s`);
        job = await call('GET', `/execution/job/${jobId}`, undefined, 200);
        if (job.progress.currentStage?.startsWith('Running cell')) firstCell = performance.now();
        else if (!['Queued', 'Running'].includes(job.status)) throw new Error(`job ${job.status}: ${job.statusReason}`);
        else await sleep(FIRST_CELL_POLL_MS);
      }
      let execution;
      for (;;) {
        checkInterrupted();
        if (performance.now() > deadline) throw new Error(`not done within ${RUN_TIMEOUT_MS / 1000} s`);
        execution = await call('GET', `/notebook/${notebookId}/execution/${executionId}`, undefined, 200);
        if (!['Queued', 'Running'].includes(execution.status)) break;
        await sleep(DONE_POLL_MS);
      }
      const done = performance.now();
      if (execution.status !== 'Completed') {
        throw new Error(`execution ${execution.status}: ${JSON.stringify(execution.error ?? null)}`);
      }
      // The job's start (the store's clock: PGlite in this process, the same host clock) after the POST was sent;
      // the worker may claim the job before the POST has answered.
      const jobStart = job.execution.startTime ? Date.parse(job.execution.startTime) - sentAt : undefined;
      return {
        seconds: (done - sent) / 1000,
        postMs: answered - sent,
        firstCellMs: firstCell - answered,
        queueMs: jobStart,
        cellsSeconds: (execution.cellResults ?? []).reduce((sum, c) => sum + (c.executionTimeSeconds ?? 0), 0),
        loopMaxMs: loopDelay.max / 1e6,
      };
    },
  };
}

/**
 * Writes `name/notebook.ipynb` (nbformat 4.5, kernel python3): the notebook's cells as the API
 * returns them, with the parameters cell injected after the cell tagged `parameters` as the
 * service injects it.
 */
function writePlainNotebook(plainDir, name, cells, parameters) {
  const dir = path.join(plainDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const nbCells = cells.map((c) => ({
    cell_type: c.cellType,
    id: c.cellId,
    metadata: c.tags?.length ? { tags: c.tags } : {},
    source: c.source ?? '',
    ...(c.cellType === 'code' ? { execution_count: null, outputs: [] } : {}),
  }));
  if (Object.keys(parameters).length > 0) {
    const tagged = nbCells.findIndex((c) => c.cell_type === 'code' && c.metadata.tags?.includes('parameters'));
    nbCells.splice(tagged + 1, 0, {
      cell_type: 'code',
      id: 'injected-parameters',
      metadata: { tags: ['injected-parameters'] },
      source: injectedParametersSource(parameters),
      execution_count: null,
      outputs: [],
    });
  }
  const notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3 (ipykernel)', language: 'python' },
      language_info: { name: 'python' },
    },
    cells: nbCells,
  };
  fs.writeFileSync(path.join(dir, 'notebook.ipynb'), JSON.stringify(notebook, null, 1));
  for (const sub of ['home', 'mpl', 'ipython']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  return dir;
}

/** `jupyter-execute notebook.ipynb` in its directory, timed as a whole (process start to exit). */
async function runPlain(dir) {
  checkInterrupted();
  const env = {
    PATH: PLAIN_PATH,
    HOME: path.join(dir, 'home'),
    LANG: 'C.UTF-8',
    MPLCONFIGDIR: path.join(dir, 'mpl'),
    IPYTHONDIR: path.join(dir, 'ipython'),
    JUPYTER_RUNTIME_DIR: path.join(dir, 'home', 'runtime'),
  };
  const t0 = performance.now();
  const { code, output } = await new Promise((resolve, reject) => {
    const proc = spawn(JUPYTER_EXECUTE, ['notebook.ipynb'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk) => (output = (output + chunk).slice(-4000));
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const timer = setTimeout(() => proc.kill('SIGKILL'), RUN_TIMEOUT_MS);
    proc.once('error', reject);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, output });
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`jupyter-execute exited ${code}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
  return { seconds };
}

/** Runs one measurement; a failure is kept (with its message) instead of ending the bench. */
async function attempt(run) {
  try {
    return await run();
  } catch (err) {
    if (interruptedBy) throw err;
    const message = err instanceof Error ? err.message : String(err);
    progress(`run failed: ${message}`);
    return { failed: message };
  }
}

function summarise(runs) {
  const ok = runs.filter((r) => !r.failed);
  const of = (key) => ok.map((r) => r[key]).filter((v) => Number.isFinite(v));
  const seconds = of('seconds');
  return {
    runs: ok.length,
    median: percentile(seconds, 0.5),
    min: Math.min(...seconds),
    max: Math.max(...seconds),
    firstCell: percentile(of('firstCellMs'), 0.5),
    queue: percentile(of('queueMs'), 0.5),
    post: percentile(of('postMs'), 0.5),
    cells: percentile(of('cellsSeconds'), 0.5),
    loopMax: Math.max(...of('loopMaxMs')),
    failures: runs.filter((r) => r.failed).map((r) => r.failed),
  };
}

/** Nearest-rank percentile; the median of an even count is the lower middle value. */
function percentile(values, q) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * The tenant's system user the service created for its sandboxes (src/kernels/sandbox.ts names
 * it); the tenant was made by this run.
 */
function removeTenantUser(tenantId) {
  if (process.getuid?.() !== 0) return;
  const name = tenantUserName(tenantId);
  if (spawnSync('id', ['-u', name]).status !== 0) return;
  const removed = spawnSync('userdel', [name], { encoding: 'utf8' });
  progress(
    removed.status === 0 ? `removed the tenant's user ${name}` : `userdel ${name} failed: ${removed.stderr.trim()}`,
  );
}

function interrupted(signal) {
  interruptedBy = signal;
  progress(`${signal}: stopping after the current step, then stopping the service, removing temp dirs`);
}

function checkInterrupted() {
  if (interruptedBy) throw new Error(`interrupted by ${interruptedBy}`);
}

const COLUMNS = [
  ['notebook', 22, (r) => r.notebook, true],
  ['runner', 15, (r) => r.runner, true],
  ['run', 6, (r) => r.kind, true],
  ['runs', 4, (r) => String(r.runs)],
  ['median s', 8, (r) => fixed(r.median, 2)],
  ['min s', 6, (r) => fixed(r.min, 2)],
  ['max s', 6, (r) => fixed(r.max, 2)],
  ['first cell p50 ms', 17, (r) => fixed(r.firstCell, 0)],
  ['queue p50 ms', 12, (r) => fixed(r.queue, 0)],
  ['POST p50 ms', 11, (r) => fixed(r.post, 0)],
  ['cells p50 s', 11, (r) => fixed(r.cells, 2)],
  ['loop max ms', 11, (r) => fixed(r.loopMax, 0)],
];

function printReport(rows, seconds, loadAtStart) {
  const head = COLUMNS.map(([title, width, , left]) => pad(title, width, left)).join('  ');
  const lines = rows.map(
    (row) =>
      COLUMNS.map(([, width, cell, left]) => pad(cell(row), width, left)).join('  ') +
      (row.failures.length > 0 ? `  ${row.failures.length} FAILED` : ''),
  );
  const cpus = os.cpus();
  const find = (notebook, runner, kind) =>
    rows.find((r) => r.notebook === notebook && r.runner === runner && r.kind === kind);
  const verdict = (notebook) => {
    const assay = find(notebook, 'Assay', 'warm')?.median;
    const plain = find(notebook, 'jupyter-execute', 'repeat')?.median;
    if (!Number.isFinite(assay) || !Number.isFinite(plain)) return `${notebook}: no figure`;
    const met = assay <= plain ? 'met' : 'NOT met';
    return `${notebook}: Assay ${assay.toFixed(2)} s vs jupyter-execute ${plain.toFixed(2)} s (${(assay / plain).toFixed(2)}x): ${met}`;
  };
  const verdicts = ['trivial, 3 cells', 'process_mining_starter'].map((notebook) => `- ${verdict(notebook)}`);
  const out = [
    '',
    `Assay Jupyter kernels benchmark, ${new Date().toISOString()}, ${Math.round(seconds)} s`,
    `node ${process.version}, ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, load average before the run: ${loadText(loadAtStart)}, after: ${loadText(os.loadavg())}`,
    '',
    head,
    '-'.repeat(head.length),
    ...lines,
    '',
    ...rows.flatMap((r) => r.failures.map((f) => `FAILED ${r.notebook}, ${r.runner} ${r.kind}: ${f}`)),
    `Goal: Assay end to end <= jupyter-execute on the same notebook (warm Assay median vs repeated jupyter-execute median).`,
    ...verdicts,
    'Notes:',
    `- One machine, ${cpus.length} cores shared by the service (in this process, PGlite), the sandboxes and`,
    '  jupyter-execute; one run at a time, in a fresh DATA_DIR with a new tenant; jupyter-execute runs are',
    '  interleaved with the Assay runs.',
    '- Assay: `median s` is POST .../execute sent to the execution seen Completed (GET polled every',
    `  ${DONE_POLL_MS} ms). It includes the queue, the kernel's start, a setup cell, the cells, a resource probe, the`,
    "  kernel's shutdown and the sandbox's end (awaited before the execution completes), storing outputs (the PNG",
    '  as an artifact) and, for the starter, exporting the bound dataset to CSV first and importing the published',
    '  enriched dataset (DuckDB) and the model after.',
    '- first cell: POST answered to the job progress showing `Running cell 1` (GET polled every',
    `  ${FIRST_CELL_POLL_MS} ms): pg-boss's delivery, the worker's claim, the tenant's system user (created in the`,
    '  cold run), the dataset export (starter), the sandbox (bubblewrap, its tmpfs, `jupyter-server`',
    '  answering /api/status on its socket, polled every 50 ms), a new kernel (POST /api/kernels, websocket,',
    '  kernel_info) and the setup cell. queue: POST sent to the job execution.startTime (store clock; the worker',
    '  can claim the job before the POST has answered). POST: the execute request round trip.',
    '- cells: the sum of the cells executionTimeSeconds of the execution (the kernel running the notebook code as',
    '  the service times it); median s - cells s is what Assay adds around the code. loop max: the longest stall of',
    "  this process's event loop during a run (the API and the worker share it; blocking calls show here).",
    '- Sandboxes: every execution starts its own Jupyter Server and kernel in bubblewrap (src/kernels/sandbox.ts)',
    '  and ends them all afterwards; nothing is kept between runs.',
    '- jupyter-execute: wall time of `/usr/bin/jupyter-execute notebook.ipynb` (nbclient; its own Python start,',
    '  a fresh kernel, the cells, the shutdown; outputs are not saved), as root with PATH, HOME, MPLCONFIGDIR and',
    "  IPYTHONDIR of its own, unsandboxed. Assay's kernels run as the tenant's user in the sandbox. Starter runs use the same",
    `  cells with ${JSON.stringify(STARTER_PARAMETERS)} injected after the parameters cell, python/assay.py and`,
    '  the CSV export of the same dataset (running-example.xes, 6 cases, 42 events) as dataset.csv.',
    "- first: each runner's first run of a notebook, apart (matplotlib builds its font cache in each runner's",
    '  fresh config dir; the trivial notebook does not import it). Medians are nearest-rank (lower middle).',
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((err) => {
  if (interruptedBy) process.exit(130);
  console.error(err);
  process.exit(1);
});
