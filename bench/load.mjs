import fs from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * A closed-loop load generator: `concurrency` workers, each on its own keep-alive connection,
 * send the next request as soon as the previous one has been read to the end (or `thinkMs`
 * later, for clients that pause between requests). A request may name its own `expectedStatus`
 * and its `kind`, counted apart in `byKind`.
 */

/**
 * Runs one scenario: a warm-up, then the measured phase. Only answers with the expected status
 * count towards throughput and latency; anything else is an error, reported by kind.
 */
export async function runScenario(opts) {
  // FIFO: every connection stays in use, so none idles into the server's keep-alive timeout and
  // races its close (ECONNRESET), which LIFO reuse allowed once clients pause between requests.
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency, scheduling: 'fifo' });
  try {
    const warmup = newStats();
    await runPhase(agent, opts, opts.warmupMs, warmup);
    const measured = newStats();
    const before = cpuNow(opts.serverPid);
    const elapsedMs = await runPhase(agent, opts, opts.durationMs, measured);
    const cpu = cpuSince(before, opts.serverPid, elapsedMs);
    return { ...summarise(measured, warmup, elapsedMs), ...cpu };
  } finally {
    agent.destroy();
  }
}

function newStats() {
  return { issued: 0, latencies: [], errors: new Map(), errorSample: undefined, byKind: new Map() };
}

/** All workers until the phase's time or request budget is spent; resolves with the elapsed ms. */
async function runPhase(agent, opts, durationMs, stats) {
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async () => {
    while (performance.now() < deadline && stats.issued < opts.maxRequests) {
      stats.issued++;
      const request = opts.nextRequest();
      const expected = request.expectedStatus ?? opts.expectedStatus;
      const t0 = performance.now();
      const answer = await send(agent, { ...opts, expectedStatus: expected }, request);
      const ms = performance.now() - t0;
      if (answer.status === expected) {
        stats.latencies.push(ms);
        if (request.kind) stats.byKind.set(request.kind, (stats.byKind.get(request.kind) ?? 0) + 1);
      } else noteError(stats, answer, request);
      if (opts.thinkMs) await new Promise((resolve) => setTimeout(resolve, opts.thinkMs));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return performance.now() - started;
}

/** One request; resolves (never rejects) with its status, or the error that stopped it. */
function send(agent, { host, port, expectedStatus, timeoutMs }, { method, path, headers, body }) {
  return new Promise((resolve) => {
    const req = http.request({ agent, host, port, method, path, headers }, (res) => {
      const chunks = [];
      // The body is always read to the end; it is kept only to show what went wrong.
      res.on('data', (chunk) => {
        if (res.statusCode !== expectedStatus) chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8', 0, 300) }));
      res.on('error', (err) => resolve({ error: err.code ?? err.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ error: err.code ?? err.message }));
    req.end(body);
  });
}

function noteError(stats, answer, request) {
  const kind = `${request.kind ? `${request.kind}: ` : ''}${answer.error ?? `status ${answer.status}`}`;
  stats.errors.set(kind, (stats.errors.get(kind) ?? 0) + 1);
  stats.errorSample ??= `${request.method} ${request.path} -> ${kind} ${answer.body ?? ''}`.replace(/\s+/g, ' ').trim();
}

function summarise(measured, warmup, elapsedMs) {
  const sorted = Float64Array.from(measured.latencies).sort();
  const errors = new Map(warmup.errors);
  for (const [kind, n] of measured.errors) errors.set(kind, (errors.get(kind) ?? 0) + n);
  return {
    ok: sorted.length,
    errorCount: [...errors.values()].reduce((a, b) => a + b, 0),
    errors,
    errorSample: measured.errorSample ?? warmup.errorSample,
    elapsedMs,
    rps: sorted.length / (elapsedMs / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    byKind: measured.byKind,
  };
}

/** Nearest-rank percentile of sorted values: the smallest value with at least p% of values at or below it. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** CPU counters at the start of the measured phase: this process, the server, the whole machine. */
function cpuNow(serverPid) {
  return { client: process.cpuUsage(), server: processCpuMs(serverPid), machine: machineCpuMs() };
}

/**
 * CPU used during the phase as a fraction of one core: by the load generator, by the server, and
 * by everything else (PostgreSQL's processes, or anything else running on the machine).
 */
function cpuSince(before, serverPid, elapsedMs) {
  const { user, system } = process.cpuUsage(before.client);
  const client = (user + system) / 1000;
  const server = processCpuMs(serverPid) - before.server;
  const machine = machineCpuMs() - before.machine;
  // The counters tick in 10 ms steps, so the rest can come out slightly below zero on an idle machine.
  const other = Math.max(0, machine - client - server);
  return {
    clientCpu: client / elapsedMs,
    serverCpu: server / elapsedMs,
    otherCpu: other / elapsedMs,
  };
}

/** user+system CPU of a process and all its threads, in ms (/proc counts in 1/100 s on Linux). */
function processCpuMs(pid) {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Busy CPU of the whole machine in ms: every column of /proc/stat's `cpu` line but idle and iowait. */
function machineCpuMs() {
  try {
    const [user, nice, system, , , irq, softirq, steal] = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return NaN;
  }
}
