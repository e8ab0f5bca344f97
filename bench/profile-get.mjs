import path from 'node:path';
import { runScenario } from './load.mjs';
import { startAssay } from './servers.mjs';
import { createNotebooks, projectOf } from './setup.mjs';

/**
 * One scenario under a CPU profile: the built server on PGlite (or PostgreSQL with
 * BENCH_POSTGRES_URL), GET of one notebook (or, with `ping`, GET block/ping) for 10 s after a
 * 2 s warm-up; the profile goes to the directory given, to read with bench/profile-summary.mjs.
 *   node bench/profile-get.mjs <dir> [notebook|ping]
 */
const [dir, which = 'notebook'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node bench/profile-get.mjs <dir> [notebook|ping]');
  process.exit(2);
}
const server = await startAssay({ databaseUrl: process.env.BENCH_POSTGRES_URL, cpuProfDir: path.resolve(dir) });
try {
  const [id] = await createNotebooks(server, 1);
  const { base, authorization } = projectOf(server);
  const target = which === 'ping' ? `${base}/block/ping` : `${base}/notebook/${id}`;
  const result = await runScenario({
    concurrency: 16,
    warmupMs: 2000,
    durationMs: 10_000,
    maxRequests: 2_000_000,
    timeoutMs: 10_000,
    host: server.host,
    port: server.port,
    serverPid: server.pid,
    nextRequest: () => ({ method: 'GET', path: target, headers: { authorization } }),
    expectedStatus: 200,
  });
  console.log(
    `${which}: ${result.rps.toFixed(0)} req/s, server ${((result.serverCpu * 1000) / result.rps).toFixed(3)} ms CPU per request`,
  );
} finally {
  await server.stop();
}
