import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/* global fetch */

const ROOT = path.resolve(import.meta.dirname, '..');
// The project's Node 22, whatever node runs this file.
const NODE = path.join(ROOT, 'node_modules', '.bin', 'node');
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/** Starts `dist/main.js` on a fresh data dir and waits for bootstrap.json and /health. */
export async function startAssay({ databaseUrl, cpuProfDir } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-'));
  const port = await freePort();
  const env = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST, LOG_LEVEL: 'warn' };
  delete env.DATABASE_URL; // an inherited URL must not turn the PGlite run into a PostgreSQL one
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const profArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const server = spawnServer([...profArgs, path.join(ROOT, 'dist', 'main.js')], env, port);
  server.cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  try {
    const bootstrap = path.join(dataDir, 'bootstrap.json');
    await waitFor(server, () => fs.existsSync(bootstrap) && ok(`${server.url}/health`), 'bootstrap.json and /health');
    server.credentials = JSON.parse(fs.readFileSync(bootstrap, 'utf8'));
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Starts the bare express app (bench/bare-server.mjs) and waits for GET /bare. */
export async function startBare() {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HOST };
  const server = spawnServer([path.join(ROOT, 'bench', 'bare-server.mjs')], env, port);
  try {
    await waitFor(server, () => ok(`${server.url}/bare`), 'GET /bare');
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** A fresh schema in PostgreSQL and the DATABASE_URL that makes it the server's search_path. */
export async function createSchema(baseUrl) {
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  await withClient(baseUrl, (c) => c.query(`CREATE SCHEMA ${schema}`));
  return {
    schema,
    url: `${baseUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    drop: () => withClient(baseUrl, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)),
  };
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

/** Spawns a server process. Its output is kept, not echoed (it holds the bootstrap token), and shown only if it fails to start. */
function spawnServer(args, env, port) {
  const child = spawn(NODE, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { child, pid: child.pid, host: HOST, port, url: `http://${HOST}:${port}`, cleanups: [] };
  server.tail = [];
  server.logged = { count: 0, first: [] };
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => keepLine(server, line));
  }
  server.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  server.stop = () => stopServer(server);
  return server;
}

/** Keeps the last lines of output, and counts pino lines (at LOG_LEVEL=warn: warnings and errors). */
function keepLine(server, line) {
  server.tail.push(line);
  if (server.tail.length > 100) server.tail.shift();
  if (!line.startsWith('{"level":')) return;
  server.logged.count++;
  if (server.logged.first.length < 3) server.logged.first.push(line.slice(0, 500));
}

/** SIGTERM, then SIGKILL if it has not exited in time; then the server's own cleanups. */
async function stopServer(server) {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await server.exited;
    clearTimeout(timer);
  }
  for (const cleanup of server.cleanups.splice(0)) cleanup();
  return server.exited;
}

/** Polls `ready` until it is true; fails early if the process dies, late if it never gets ready. */
async function waitFor(server, ready, what) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let died = false;
  server.exited.then(() => (died = true));
  while (Date.now() < deadline && !died) {
    if (await ready()) return;
    await sleep(100);
  }
  const why = died ? 'the process exited' : `no answer in ${START_TIMEOUT_MS / 1000} s`;
  throw new Error(`${server.url}: waiting for ${what}: ${why}. Its output:\n${server.tail.join('\n')}`);
}

async function ok(url) {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** A port free on the loopback right now (the OS picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
