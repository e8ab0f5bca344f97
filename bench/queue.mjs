import { Blob } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { fixed, intEnv, listEnv, loadText, pad, progressOf, quietStdout } from './report.mjs';

/* global fetch, FormData */

/**
 * `npm run bench:queue`: the job queue on PGlite and on PostgreSQL. The service runs in this
 * process (dist/server.js) with a trivial ProcessMining runner, so what is measured is the HTTP
 * submit, the jobs row, pg-boss, the worker's claim and its fenced state writes; not the engine.
 * Two scenarios per store and worker concurrency:
 * - burst: N jobs submitted at once through the API, then drained; jobs/s from the first submit
 *   to the last job Completed, and each job's submit-to-Completed latency;
 * - sequential: one job at a time on an idle queue (the next is submitted once the last has
 *   Completed); each job's submit-to-start latency (started_at - created_at of its row).
 * Figures go to stdout, progress to stderr. Exit code 1 only when a run failed or a job did not complete.
 * On PostgreSQL also the deployment of "One machine or many": this process serves the API alone and
 * two `assay worker` processes (each with BENCH_QUEUE_PROCESS_SLOTS slots and the same trivial
 * runner) run the jobs; the burst goes through the batch submit (`POST .../execution/jobs`, 100
 * jobs a request). Next to it, the anchor: pg-boss alone inserting the same number of jobs in
 * batches of 100 and fetching and completing them in batches of 100, in the same run.
 * Settings: BENCH_QUEUE_JOBS, BENCH_QUEUE_SEQUENTIAL, BENCH_QUEUE_CONCURRENCY (e.g. "2,4"),
 * BENCH_QUEUE_STORES (e.g. "pglite,postgres"), BENCH_QUEUE_PROCESS_SLOTS, BENCH_POSTGRES_URL.
 */

const require = createRequire(import.meta.url);
const ROOT = path.resolve(import.meta.dirname, '..');
const { startService } = require(path.join(ROOT, 'dist/server.js'));
const { loadConfig } = require(path.join(ROOT, 'dist/config.js'));
const pino = require('pino');

const BURST_JOBS = intEnv('BENCH_QUEUE_JOBS', 500);
const SEQUENTIAL_JOBS = intEnv('BENCH_QUEUE_SEQUENTIAL', 200);
const WARMUP_JOBS = 20; // JIT, prepared statements and pg-boss's caches; not counted
const CONCURRENCIES = listEnv('BENCH_QUEUE_CONCURRENCY', '2,4').map(Number);
const STORES = listEnv('BENCH_QUEUE_STORES', 'pglite,postgres');
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const PROCESS_SLOTS = intEnv('BENCH_QUEUE_PROCESS_SLOTS', 8);
const WORKER_PROCESSES = 2;
const BATCH = 100; // jobs per batch submit: the operation's limit
const DRAIN_TIMEOUT_MS = 60_000;
const POLL_MS = 5; // how often the sequential scenario looks whether its job has Completed
const DRAIN_MIN_TAIL = 50; // fewer jobs left after the last submit make no drain rate worth printing
const CSV = 'case,activity,time\n1,a,2024-01-01T00:00:00Z\n';
const LOAD_AT_START = os.loadavg();

/** Set by SIGINT/SIGTERM: the scenario in progress stops at its next step, then everything is cleaned up as usual. */
const progress = progressOf('bench:queue');
let interruptedBy;

async function main() {
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const started = performance.now();
  const rows = [];
  for (const store of STORES) {
    for (const concurrency of CONCURRENCIES) {
      if (!interruptedBy) rows.push(...(await attempt(store, concurrency)));
    }
  }
  if (STORES.includes('postgres')) {
    if (!interruptedBy) rows.push(...(await attemptProcesses()));
    if (!interruptedBy) rows.push(await attemptAnchor());
  }
  if (interruptedBy) {
    process.exitCode = 130;
    return;
  }
  printReport(rows, (performance.now() - started) / 1000);
  if (rows.some((row) => row.failed || row.incomplete > 0)) process.exitCode = 1;
}

/** One service (store, concurrency) and its two scenarios; a failure becomes a row instead of ending the run. */
async function attempt(store, concurrency) {
  try {
    return await withService(store, concurrency, async (service) => {
      progress(`${store}, ${concurrency} slots: warming up (${WARMUP_JOBS} jobs)`);
      await burst(service, WARMUP_JOBS);
      await sequential(service, Math.min(WARMUP_JOBS, 5));
      progress(`${store}, ${concurrency} slots: burst of ${BURST_JOBS} jobs`);
      const b = await burst(service, BURST_JOBS);
      progress(`${store}, ${concurrency} slots: ${SEQUENTIAL_JOBS} sequential jobs`);
      const s = await sequential(service, SEQUENTIAL_JOBS);
      return [
        { scenario: 'burst', latency: 'submit->done', store, concurrency, ...b },
        { scenario: 'sequential', latency: 'submit->start', store, concurrency, ...s },
      ];
    });
  } catch (err) {
    return [{ scenario: '-', store, concurrency, failed: err instanceof Error ? err.message : String(err) }];
  }
}

/** The API in this process, two worker processes; the burst through the batch submit. */
async function attemptProcesses() {
  const concurrency = `${WORKER_PROCESSES}x${PROCESS_SLOTS}`;
  try {
    return await withService(
      'postgres',
      concurrency,
      async (service) => {
        progress(`postgres, ${concurrency} slots: warming up (${WARMUP_JOBS} jobs)`);
        await burst(service, WARMUP_JOBS, { batch: true });
        await sequential(service, Math.min(WARMUP_JOBS, 5));
        progress(`postgres, ${concurrency} slots: burst of ${BURST_JOBS} jobs in batches of ${BATCH}`);
        const b = await burst(service, BURST_JOBS, { batch: true });
        progress(`postgres, ${concurrency} slots: ${SEQUENTIAL_JOBS} sequential jobs`);
        const s = await sequential(service, SEQUENTIAL_JOBS);
        return [
          { scenario: 'batch', latency: 'submit->done', store: 'postgres', concurrency, ...b },
          { scenario: 'sequential', latency: 'submit->start', store: 'postgres', concurrency, ...s },
        ];
      },
      { processes: WORKER_PROCESSES, slots: PROCESS_SLOTS },
    );
  } catch (err) {
    return [
      { scenario: '-', store: 'postgres', concurrency, failed: err instanceof Error ? err.message : String(err) },
    ];
  }
}

/** pg-boss alone on a fresh schema: BURST_JOBS inserted in batches of BATCH, fetched and completed in batches of BATCH. */
async function attemptAnchor() {
  const schema = `bench_anchor_${randomBytes(6).toString('hex')}`;
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: POSTGRES_URL, schema, max: 4, supervise: false, schedule: false });
  try {
    progress(`postgres: pg-boss alone, ${BURST_JOBS} jobs`);
    await boss.start();
    await boss.createQueue('anchor');
    const t0 = performance.now();
    for (let i = 0; i < BURST_JOBS; i += BATCH) {
      const n = Math.min(BATCH, BURST_JOBS - i);
      await boss.insert(
        'anchor',
        Array.from({ length: n }, (_, k) => ({ data: { jobId: String(i + k) } })),
      );
    }
    let done = 0;
    while (done < BURST_JOBS) {
      const jobs = await boss.fetch('anchor', { batchSize: BATCH });
      if (jobs.length === 0) break;
      await boss.complete(
        'anchor',
        jobs.map((j) => j.id),
      );
      done += jobs.length;
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      scenario: 'anchor',
      latency: '-',
      store: 'postgres',
      concurrency: 'pg-boss',
      jobs: BURST_JOBS,
      jobsPerSecond: done / seconds,
      seconds,
      incomplete: BURST_JOBS - done,
    };
  } catch (err) {
    return {
      scenario: '-',
      store: 'postgres',
      concurrency: 'pg-boss',
      failed: err instanceof Error ? err.message : String(err),
    };
  } finally {
    await boss.stop({ graceful: false }).catch(() => undefined);
    await withClient(POSTGRES_URL, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).catch(() => undefined);
  }
}

/**
 * Starts the service in this process on a fresh data dir (and, for PostgreSQL, a fresh store
 * schema and queue schema), uploads a one-line dataset, runs `use`, then stops and cleans up.
 */
async function withService(store, concurrency, use, workers = null) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-queue-'));
  const cleanups = [() => fs.rmSync(dataDir, { recursive: true, force: true })];
  try {
    const slots = workers ? workers.slots : concurrency;
    const env = { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', WORKER_CONCURRENCY: String(slots) };
    if (store === 'postgres') {
      const schema = `bench_queue_${randomBytes(6).toString('hex')}`;
      await withClient(POSTGRES_URL, (c) => c.query(`CREATE SCHEMA ${schema}`));
      cleanups.push(() =>
        withClient(POSTGRES_URL, (c) =>
          c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`),
        ),
      );
      env.DATABASE_URL = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      env.QUEUE_SCHEMA = `${schema}_queue`;
    }
    progress(`${store}, ${concurrency} slots: starting the service`);
    const runnerCalls = new Map();
    const runners = {
      // Trivial job code; it only notes when it was called, for the client-side latency.
      ProcessMining: async (ctx) => void runnerCalls.set(String(ctx.job.id), performance.now()),
    };
    // The first start prints the bootstrap token to stdout; keep it out of the report.
    const service = await quietStdout(() =>
      startService(loadConfig(env), {
        logger: pino({ level: 'silent' }),
        runners,
        ...(workers ? { role: 'api' } : {}),
      }),
    );
    cleanups.push(async () => {
      const t0 = performance.now();
      await service.stop();
      progress(`${store}, ${concurrency} slots: service stopped in ${Math.round(performance.now() - t0)} ms`);
    });
    if (workers) {
      for (let i = 0; i < workers.processes; i++) {
        const child = await startWorkerProcess({ ...env, WORKER_CONCURRENCY: String(workers.slots) });
        cleanups.push(() => stopWorkerProcess(child));
      }
    }
    checkInterrupted();
    const credentials = JSON.parse(fs.readFileSync(path.join(dataDir, 'bootstrap.json'), 'utf8'));
    const client = clientOf(service, credentials, runnerCalls);
    await client.uploadDataset();
    return await use(client);
  } finally {
    for (const c of cleanups.reverse()) {
      await Promise.resolve()
        .then(c)
        .catch((err) => progress(`${store}, ${concurrency} slots: cleanup failed: ${err.message}`));
    }
  }
}

/** What an `assay worker` process runs, with the bench's trivial ProcessMining runner instead of the real one. */
const WORKER_SCRIPT = `
const path = require('node:path');
const root = process.env.BENCH_ROOT;
const { startService } = require(path.join(root, 'dist/server.js'));
const { loadConfig } = require(path.join(root, 'dist/config.js'));
const pino = require(require.resolve('pino', { paths: [root] }));
startService(loadConfig(process.env), {
  role: 'worker',
  logger: pino({ level: 'silent' }),
  runners: { ProcessMining: async () => undefined },
}).then((service) => {
  process.send('ready');
  process.once('SIGTERM', () => service.stop().finally(() => process.exit(0)));
}, (err) => {
  console.error(err);
  process.exit(1);
});
`;

/** Starts a worker process on the same store; resolves once it takes jobs. */
async function startWorkerProcess(env) {
  const child = spawn(process.execPath, ['-e', WORKER_SCRIPT], {
    env: { ...process.env, ...env, BENCH_ROOT: ROOT },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`a worker process exited with ${code} before it started`)));
  });
  return child;
}

async function stopWorkerProcess(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

/** What the scenarios need: submit through the API, read rows through the service's own store. */
function clientOf(service, { tenantId, projectId, token }, runnerCalls) {
  const base = `${service.url}/api/${tenantId}/${projectId}`;
  const authorization = `Bearer ${token}`;
  let datasetId;
  let submitted = 0;
  return {
    db: service.db,
    runnerCalls,
    async uploadDataset() {
      const form = new FormData();
      form.append('file', new Blob([CSV], { type: 'text/csv' }), 'events.csv');
      form.append('caseIdColumn', 'case');
      form.append('activityColumn', 'activity');
      form.append('timestampColumn', 'time');
      const res = await fetch(`${base}/dataset`, { method: 'POST', headers: { authorization }, body: form });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`dataset upload answered ${res.status}: ${text}`);
      datasetId = JSON.parse(text).datasetId;
    },
    /** POSTs one job; resolves with its id and the HTTP round trip in ms. */
    async submit() {
      const body = JSON.stringify({
        jobName: `bench ${++submitted}`,
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: datasetId },
      });
      const t0 = performance.now();
      const res = await fetch(`${base}/execution/job`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body,
      });
      const text = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${text}`);
      return { jobId: JSON.parse(text).jobId, ms };
    },
    /** POSTs `n` jobs in one batch submit; resolves with their ids and the HTTP round trip in ms. */
    async submitBatch(n) {
      const jobs = Array.from({ length: n }, () => ({
        job: {
          jobName: `bench ${++submitted}`,
          jobType: 'ProcessMining',
          resource: { resourceType: 'Dataset', resourceId: datasetId },
        },
      }));
      const t0 = performance.now();
      const res = await fetch(`${base}/execution/jobs`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ jobs }),
      });
      const text = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 202) throw new Error(`batch submit answered ${res.status}: ${text}`);
      return JSON.parse(text).jobs.map((j) => ({ jobId: j.job.jobId, ms }));
    },
  };
}

/** N jobs submitted at once (one request each, or with `batch` BATCH a request), then drained. */
async function burst(client, n, { batch = false } = {}) {
  const t0 = Date.now();
  const submits = batch
    ? (
        await Promise.all(
          Array.from({ length: Math.ceil(n / BATCH) }, (_, i) => client.submitBatch(Math.min(BATCH, n - i * BATCH))),
        )
      ).flat()
    : await Promise.all(Array.from({ length: n }, () => client.submit()));
  checkInterrupted();
  const submitSeconds = (Date.now() - t0) / 1000;
  const ids = submits.map((s) => s.jobId);
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let counts;
  for (;;) {
    [counts] = await client.db.query(
      `SELECT count(*) FILTER (WHERE status = 'Completed')::int AS done,
         count(*) FILTER (WHERE status IN ('Failed', 'Cancelled'))::int AS bad
       FROM jobs WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    if (counts.done + counts.bad === n || Date.now() > deadline) break;
    checkInterrupted();
    await sleep(50);
  }
  // From the rows, not the poll: the first submit (this clock) to the last ended_at (the store's now(),
  // the same host clock: PGlite runs in this process, PostgreSQL on this machine).
  const rows = (await timesOf(client, ids)).filter((r) => r.ended);
  const lastEnd = Math.max(...rows.map((r) => r.ended));
  const seconds = (lastEnd - t0) / 1000;
  // The pool's own rate once every job is in: the jobs that ended after the last submit, over that time.
  const lastCreated = Math.max(...rows.map((r) => r.created));
  const tail = rows.filter((r) => r.ended > lastCreated).length;
  return {
    jobs: n,
    jobsPerSecond: counts.done / seconds,
    seconds,
    submitsPerSecond: n / submitSeconds,
    drainPerSecond: tail >= DRAIN_MIN_TAIL ? tail / ((lastEnd - lastCreated) / 1000) : undefined,
    tail,
    ...percentiles(rows.map((r) => r.ended - r.created)),
    submitP50: percentiles(submits.map((s) => s.ms)).p50,
    incomplete: n - counts.done,
  };
}

/** N jobs one at a time: each is submitted once the one before has Completed. */
async function sequential(client, n) {
  const ids = [];
  const submitMs = [];
  const toRunner = []; // client-side: POST sent -> the job's code called, both on this process's clock
  let incomplete = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    checkInterrupted();
    const sent = performance.now();
    const { jobId, ms } = await client.submit();
    if (!(await untilEnded(client, jobId))) incomplete++;
    ids.push(jobId);
    submitMs.push(ms);
    const called = client.runnerCalls.get(jobId);
    if (called !== undefined) toRunner.push(called - sent);
  }
  const seconds = (performance.now() - t0) / 1000;
  const rows = await timesOf(client, ids);
  return {
    jobs: n,
    jobsPerSecond: n / seconds,
    seconds,
    ...percentiles(rows.filter((r) => r.started).map((r) => r.started - r.created)),
    submitP50: percentiles(submitMs).p50,
    runnerP50: percentiles(toRunner).p50,
    incomplete,
  };
}

/** Waits until the job has ended (polling its row); false if it did not complete within the drain timeout. */
async function untilEnded(client, jobId) {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    checkInterrupted();
    const [row] = await client.db.query('SELECT status FROM jobs WHERE id = $1', [jobId]);
    if (row && row.status !== 'Queued' && row.status !== 'Running') return row.status === 'Completed';
    await sleep(POLL_MS);
  }
  return false;
}

/** created_at, started_at and ended_at of the jobs, in ms since the epoch. */
async function timesOf(client, ids) {
  const rows = await client.db.query(
    `SELECT extract(epoch FROM created_at)::float8 * 1000 AS created, extract(epoch FROM started_at)::float8 * 1000 AS started,
       extract(epoch FROM ended_at)::float8 * 1000 AS ended
     FROM jobs WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows.map((r) => ({
    created: Number(r.created),
    started: r.started && Number(r.started),
    ended: r.ended && Number(r.ended),
  }));
}

/** Nearest-rank percentiles. */
function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) };
}

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function interrupted(signal) {
  interruptedBy = signal;
  progress(
    `${signal}: stopping after the current step, then stopping the service, dropping schemas, removing temp dirs`,
  );
}

function checkInterrupted() {
  if (interruptedBy) throw new Error(`interrupted by ${interruptedBy}`);
}

const COLUMNS = [
  ['scenario', 11, (r) => r.scenario],
  ['store', 9, (r) => r.store],
  ['slots', 7, (r) => String(r.concurrency)],
  ['jobs', 5, (r) => String(r.jobs)],
  ['jobs/s', 7, (r) => fixed(r.jobsPerSecond, 0)],
  ['latency', 14, (r) => r.latency],
  ['p50 ms', 7, (r) => fixed(r.p50, 1)],
  ['p99 ms', 7, (r) => fixed(r.p99, 1)],
  ['max ms', 7, (r) => fixed(r.max, 1)],
  ['POST p50 ms', 11, (r) => fixed(r.submitP50, 1)],
  ['submits/s', 9, (r) => fixed(r.submitsPerSecond, 0)],
  ['drain/s', 7, (r) => fixed(r.drainPerSecond, 0)],
  ['to runner p50', 13, (r) => fixed(r.runnerP50, 1)],
];

function printReport(rows, seconds) {
  const head = COLUMNS.map(([title, width], i) => pad(title, width, i < 2 || i === 5)).join('  ');
  const lines = rows.map((row) => {
    if (row.failed) return [pad('-', 11, true), pad(row.store, 9, true), 'FAILED (see below)'].join('  ');
    const cells = COLUMNS.map(([, width, cell], i) => pad(cell(row), width, i < 2 || i === 5));
    return cells.join('  ') + (row.incomplete > 0 ? `  ${row.incomplete} NOT COMPLETED` : '');
  });
  const cpus = os.cpus();
  const out = [
    '',
    `Assay job queue benchmark, ${new Date().toISOString()}, ${Math.round(seconds)} s`,
    `node ${process.version}, ${cpus.length} x ${cpus[0]?.model ?? 'cpu'}, load average before the run: ${loadText(LOAD_AT_START)}, after: ${loadText(os.loadavg())}`,
    '',
    head,
    '-'.repeat(head.length),
    ...lines,
    '',
    ...rows.filter((row) => row.failed).map((row) => `FAILED ${row.store}, ${row.concurrency} slots: ${row.failed}`),
    'Notes:',
    `- The service runs in this process (one Node, ${cpus.length} cores shared with PostgreSQL and the client) with a`,
    '  trivial ProcessMining runner: the figures are the HTTP submit (auth, validation, checks, the jobs row,',
    "  pg-boss's send), pg-boss's delivery, the worker's claim and its fenced state writes; no analysis.",
    '- slots: WORKER_CONCURRENCY (2x8: two worker processes of 8, the API alone in this process). burst: all jobs',
    '  POSTed at once, then drained; batch: the same through the batch submit, 100 jobs a request; jobs/s is the jobs over the time',
    '  from the first POST to the last ended_at; latency per job is ended_at - created_at (includes queueing).',
    '- sequential: one job at a time on an idle queue, the next POSTed once the last has Completed; latency is',
    '  started_at - created_at of the row (the dateSubmitted to execution.startTime of the API); jobs/s is the',
    '  round-trip rate (POST, run, the bench noticing Completed by polling its row every 5 ms).',
    '- POST p50: the submit request round trip; submits/s: the rate the API accepted the burst (202s); drain/s:',
    `  the pool's rate once all were submitted (jobs ended after the last created_at), shown only when >= ${DRAIN_MIN_TAIL} were`,
    '  left by then; to runner p50: client-side, POST sent to the job code called (same process clock).',
    `- Warm-up first: ${WARMUP_JOBS} jobs at once and 5 sequential, not counted. p50/p99 are nearest-rank.`,
    '- anchor: pg-boss alone on a fresh schema, the same number of jobs inserted 100 at a time, then fetched and',
    '  completed 100 at a time by one loop: the queue without HTTP, the jobs table or a worker.',
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
