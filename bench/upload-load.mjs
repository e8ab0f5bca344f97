import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { percentile, runScenario } from './load.mjs';
import { fixed, intEnv, listEnv, loadText, pad, progressOf } from './report.mjs';
import { createSchema, startAssay } from './servers.mjs';

/* global fetch, FormData, Blob, setInterval, clearInterval */

/**
 * `npm run bench:load`: the built server under mixed load from many clients (reads, writes, job
 * submits) while a hostile upload is imported or refused again and again: one XES trace of 9.7M
 * events, 3.5 MB gzipped, the log that once stopped the service. Measures the load's errors and
 * latency, /health's latency from a probe of its own, the uploads' answers, and the server's peak
 * RSS; first with the load alone, then with the uploads. Loopback only; asserts nothing, but
 * exits 1 when a request failed. Settings: BENCH_LOAD_CONNECTIONS, BENCH_LOAD_SECONDS,
 * BENCH_LOAD_BASELINE_SECONDS, BENCH_LOAD_THINK_MS, BENCH_LOAD_JOB_PERCENT, BENCH_LOAD_EVENTS, BENCH_LOAD_STORES,
 * BENCH_POSTGRES_URL, BENCH_CPU_PROF_DIR.
 */

const SETTINGS = {
  connections: intEnv('BENCH_LOAD_CONNECTIONS', 50),
  seconds: intEnv('BENCH_LOAD_SECONDS', 60),
  baselineSeconds: intEnv('BENCH_LOAD_BASELINE_SECONDS', 20),
  // Clients pause between requests, as people and scripts do; without a pause, 50 closed loops
  // keep 50 requests queued, and /health waits behind them whatever an upload does.
  thinkMs: intEnv('BENCH_LOAD_THINK_MS', 250),
  events: intEnv('BENCH_LOAD_EVENTS', 9_700_000),
  healthEveryMs: 20,
  warmupMs: 10_000, // past the first jobs, which load Graphviz's WebAssembly on the event loop
  timeoutMs: 30_000,
};
const STORES = listEnv('BENCH_LOAD_STORES', 'pglite,postgres');
// BENCH_CPU_PROF_DIR=<dir> writes a V8 CPU profile of each server (see bench/profile-summary.mjs).
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF_DIR ? path.resolve(process.env.BENCH_CPU_PROF_DIR) : undefined;
const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DATA = process.env.ASSAY_SHARED_DATA
  ? path.resolve(process.env.ASSAY_SHARED_DATA)
  : path.resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const progress = progressOf('load');
const LOAD_AT_START = os.loadavg();

/** The mix of the load: weights of each kind of request. */
const JOB_SHARE = intEnv('BENCH_LOAD_JOB_PERCENT', 2);
const MIX = [
  { kind: 'GET notebook', weight: 50 },
  { kind: 'GET datasets', weight: 25 },
  { kind: 'POST investigation', weight: 25 - JOB_SHARE },
  { kind: 'POST job', weight: JOB_SHARE },
];

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-load-'));
  try {
    const hostile = path.join(dir, 'one-trace.xes.gz');
    progress(`writing one trace of ${SETTINGS.events} events, gzipped`);
    await writeSingleTrace(hostile, SETTINGS.events);
    const results = [];
    for (const store of STORES) results.push(await benchStore(store, hostile));
    printReport(results, fs.statSync(hostile).size);
    if (results.some((r) => r.errors > 0)) process.exitCode = 1;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The shape of the log from the issue: one trace, events alternating with and without a timestamp. */
async function writeSingleTrace(file, events) {
  const gzip = createGzip({ level: 9 });
  const done = new Promise((resolve, reject) => {
    const out = fs.createWriteStream(file).on('close', resolve).on('error', reject);
    gzip.pipe(out);
  });
  const write = async (text) => {
    if (!gzip.write(text)) await new Promise((resolve) => gzip.once('drain', resolve));
  };
  await write(
    '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0"><trace><string key="concept:name" value="1"/>\n',
  );
  const names = ['a', 'b', 'c', 'd'];
  for (let i = 0; i < events; i += 10_000) {
    let text = '';
    for (let j = i; j < Math.min(events, i + 10_000); j++) {
      const name = `<string key="concept:name" value="${names[j % 4]}"/>`;
      const ts = new Date(Date.UTC(2024, 0, 1) + Math.floor(j / 1024) * 1000).toISOString().replace('.000', '');
      text += j % 2 ? `<event>${name}</event>` : `<event>${name}<date key="time:timestamp" value="${ts}"/></event>`;
    }
    await write(text);
  }
  gzip.end('</trace></log>\n');
  await done;
}

async function benchStore(store, hostile) {
  progress(`${store}: starting the server`);
  const schema = store === 'postgres' ? await createSchema(POSTGRES_URL) : undefined;
  const server = await startAssay({ databaseUrl: schema?.url, cpuProfDir: CPU_PROF_DIR });
  const memory = watchMemory(server.pid);
  try {
    const context = await setUp(server);
    progress(`${store}: ${SETTINGS.baselineSeconds} s of load alone`);
    const alone = await phase(server, context, SETTINGS.baselineSeconds, SETTINGS.warmupMs, null);
    const rssBefore = memory.peakSinceMark();
    progress(`${store}: ${SETTINGS.seconds} s of load with the upload, again and again`);
    const withUploads = await phase(server, context, SETTINGS.seconds, 0, hostile);
    const exit = await server.stop();
    const notes = server.logged.count > 0 ? [`server logged ${server.logged.count} warning/error line(s)`] : [];
    if (exit.code !== 0) notes.push(`server exited with ${exit.signal ?? `code ${exit.code}`}`);
    return {
      store,
      alone,
      withUploads,
      rssBefore,
      rssDuring: memory.peakSinceMark(),
      peakRss: memory.highWaterMark(),
      notes,
      errors:
        alone.load.errorCount +
        withUploads.load.errorCount +
        alone.health.errors +
        withUploads.health.errors +
        withUploads.uploads.errors,
    };
  } finally {
    memory.stop();
    await server.stop();
    await schema?.drop();
  }
}

/** A dataset (the running example), an investigation and a notebook, through the API. */
async function setUp(server) {
  const { tenantId, projectId, token } = server.credentials;
  const base = `/api/${tenantId}/${projectId}`;
  const authorization = `Bearer ${token}`;
  const call = async (method, p, body, expected) => {
    const json = !(body instanceof FormData);
    const res = await fetch(`${server.url}${base}${p}`, {
      method,
      headers: { authorization, ...(json && { 'content-type': 'application/json' }) },
      body: json ? JSON.stringify(body) : body,
    });
    const text = await res.text();
    if (res.status !== expected) throw new Error(`setup: ${method} ${p} answered ${res.status}: ${text}`);
    return JSON.parse(text);
  };
  const form = new FormData();
  form.append('file', new Blob([fs.readFileSync(path.join(DATA, 'running-example.xes'))]), 'running-example.xes');
  const dataset = await call('POST', '/dataset', form, 201);
  const investigation = await call('POST', '/investigation', { name: 'load', datasetId: dataset.datasetId }, 201);
  const notebook = await call('POST', `/notebook/investigation/${investigation.investigationId}`, { name: 'n' }, 201);
  return { base, authorization, datasetId: dataset.datasetId, notebookId: notebook.notebookId };
}

/** The next request of the mix, round-robin over the weights so every run sends the same sequence. */
function mixOf({ base, authorization, datasetId, notebookId }) {
  const deck = MIX.flatMap((m) => Array(m.weight).fill(m.kind));
  let n = 0;
  const json = (method, p, body, expectedStatus, kind) => {
    const text = JSON.stringify(body);
    const headers = { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
    return { method, path: `${base}${p}`, headers, body: text, expectedStatus, kind };
  };
  return () => {
    const kind = deck[n++ % deck.length];
    const get = (p) => ({ method: 'GET', path: `${base}${p}`, headers: { authorization }, expectedStatus: 200, kind });
    if (kind === 'GET notebook') return get(`/notebook/${notebookId}`);
    if (kind === 'GET datasets') return get('/datasets?pageSize=5');
    if (kind === 'POST investigation') return json('POST', '/investigation', { name: `i${n}`, datasetId }, 201, kind);
    const job = {
      jobName: `j${n}`,
      jobType: 'ProcessMining',
      resource: { resourceType: 'Dataset', resourceId: datasetId },
    };
    return json('POST', '/execution/job', job, 202, kind);
  };
}

/** One measured phase: the load, the /health probe and, when `upload` is set, uploads of it back to back. */
async function phase(server, context, seconds, warmupMs, upload) {
  let running = true;
  const health = probeHealth(server, () => running);
  const uploads = upload ? uploadAgainAndAgain(server, context, upload, () => running) : Promise.resolve(null);
  const load = await runScenario({
    concurrency: SETTINGS.connections,
    warmupMs,
    durationMs: seconds * 1000,
    maxRequests: 5_000_000,
    timeoutMs: SETTINGS.timeoutMs,
    thinkMs: SETTINGS.thinkMs,
    host: server.host,
    port: server.port,
    serverPid: server.pid,
    nextRequest: mixOf(context),
  });
  running = false;
  return { load, health: await health, uploads: await uploads };
}

/** GET /health every 20 ms on a connection of its own, for as long as `going()`. */
async function probeHealth(server, going) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies = [];
  let errors = 0;
  while (going()) {
    const t0 = performance.now();
    const status = await new Promise((resolve) => {
      const req = http.get({ host: server.host, port: server.port, path: '/health', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.setTimeout(SETTINGS.timeoutMs, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
    });
    if (status === 200) latencies.push(performance.now() - t0);
    else errors++;
    await sleep(SETTINGS.healthEveryMs);
  }
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return { n: sorted.length, errors, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) };
}

/** Uploads the hostile log, one upload after the other, for as long as `going()`; 201 and 400 are answers, the rest errors. */
async function uploadAgainAndAgain(server, { base, authorization }, file, going) {
  const content = fs.readFileSync(file);
  const statuses = new Map();
  const durations = [];
  let errors = 0;
  let sample;
  while (going()) {
    const form = new FormData();
    form.append('file', new Blob([content]), 'one-trace.xes.gz');
    const t0 = performance.now();
    try {
      const res = await fetch(`${server.url}${base}/dataset`, {
        method: 'POST',
        headers: { authorization },
        body: form,
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 201 && res.status !== 400) errors++;
      sample ??= `${res.status} ${text.slice(0, 200)}`;
    } catch (err) {
      errors++;
      statuses.set('failed', (statuses.get('failed') ?? 0) + 1);
      sample ??= err.message;
    }
    durations.push(performance.now() - t0);
  }
  const sorted = Float64Array.from(durations).sort();
  return { n: sorted.length, statuses, errors, sample, p50: percentile(sorted, 50), max: sorted.at(-1) };
}

/** Samples the server's RSS every 100 ms; the kernel's VmHWM is its peak since it started. */
function watchMemory(pid) {
  const read = (field) => {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    } catch {
      return NaN;
    }
  };
  let peak = 0;
  let hwm = NaN;
  const timer = setInterval(() => {
    peak = Math.max(peak, read('VmRSS') || 0);
    hwm = read('VmHWM') || hwm;
  }, 100);
  return {
    peakSinceMark() {
      const value = peak;
      peak = 0;
      return value;
    },
    highWaterMark: () => hwm,
    stop: () => clearInterval(timer),
  };
}

function printReport(results, hostileBytes) {
  const mib = (bytes) => `${fixed(bytes / 2 ** 20, 0)} MiB`;
  const out = [
    '',
    `Assay under load with hostile uploads, ${new Date().toISOString()}`,
    `node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load average before: ${loadText(LOAD_AT_START)}`,
    `${SETTINGS.connections} keep-alive connections, each pausing ${SETTINGS.thinkMs} ms between requests; mix: ${MIX.map((m) => `${m.weight}% ${m.kind}`).join(', ')}`,
    `the upload: one trace of ${SETTINGS.events.toLocaleString('en-US')} events, ${fixed(hostileBytes / 1e6, 2)} MB gzipped, sent again as soon as answered`,
    '',
    `${pad('store', 9, true)} ${pad('phase', 16, true)} ${pad('requests', 9)} ${pad('errors', 7)} ${pad('req/s', 7)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} | ${pad('/health p50', 11)} ${pad('p99', 6)} ${pad('max', 6)} | uploads`,
  ];
  for (const r of results) {
    for (const [name, p] of [
      [`alone, ${SETTINGS.baselineSeconds} s`, r.alone],
      [`uploads, ${SETTINGS.seconds} s`, r.withUploads],
    ]) {
      const u = p.uploads;
      const uploads = u
        ? `${u.n} (${[...u.statuses].map(([s, n]) => `${n} x ${s}`).join(', ')}), p50 ${fixed(u.p50, 0)} ms, max ${fixed(u.max, 0)} ms`
        : '-';
      out.push(
        `${pad(r.store, 9, true)} ${pad(name, 16, true)} ${pad(String(p.load.ok), 9)} ${pad(String(p.load.errorCount), 7)} ${pad(fixed(p.load.rps, 0), 7)} ${pad(fixed(p.load.p50, 1), 7)} ${pad(fixed(p.load.p99, 1), 7)} | ${pad(fixed(p.health.p50, 1), 11)} ${pad(fixed(p.health.p99, 1), 6)} ${pad(fixed(p.health.max, 0), 6)} | ${uploads}`,
      );
    }
    out.push(
      `${pad(r.store, 9, true)} server RSS: peak ${mib(r.peakRss)} (VmHWM); highest sampled ${mib(r.rssBefore)} with the load alone, ${mib(r.rssDuring)} with the uploads`,
    );
    for (const p of [r.alone, r.withUploads]) {
      if (p.load.errorCount > 0)
        out.push(
          `  load errors: ${[...p.load.errors].map(([k, n]) => `${n} x ${k}`).join(', ')}; e.g. ${p.load.errorSample}`,
        );
      if (p.uploads?.errors) out.push(`  upload errors: e.g. ${p.uploads.sample}`);
    }
    for (const note of r.notes) out.push(`  ${note}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

await main();
