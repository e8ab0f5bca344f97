import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { loadDocument } from './api/document';
import { bootstrapIfEmpty } from './bootstrap';
import type { Config } from './config';
import { Engine } from './engine/engine';
import { removeStaleImports } from './domain/datasets';
import { createApp } from './http/app';
import { smtpMailer } from './jobs/notify';
import { JobQueue } from './jobs/queue';
import { runners, type JobRunner } from './jobs/runners';
import { notebookRunner } from './jobs/notebookRunner';
import { defaultKernelHomeRoot, KernelServers } from './kernels/servers';
import { startSchedules } from './jobs/schedules';
import { Worker } from './jobs/worker';
import { openDb, type Db } from './store/db';
import { migrate } from './store/migrate';
import { EventFeed } from './domain/eventFeed';
import { ReadCache } from './domain/readCache';

/** How long an idle keep-alive connection is kept open: 65 s, as load balancers advise, against Node's 5 s. */
export const KEEP_ALIVE_IDLE_MS = 65_000;

/** The Jupyter Servers of this process: a remote one (JUPYTER_URL) or local ones per tenant. */
export function openKernels(config: Config, logger: Logger): KernelServers {
  return new KernelServers({
    logger,
    url: config.jupyterUrl,
    token: config.jupyterToken,
    homeRoot: defaultKernelHomeRoot(config.dataDir),
    limits: {
      memoryBytes: config.kernelMemoryLimitBytes,
      diskBytes: config.kernelDiskLimitBytes,
      processes: config.kernelProcessLimit,
      outputBytes: config.kernelOutputLimitBytes,
    },
    egress: config.kernelEgressAllow,
  });
}

/**
 * A worker pool on this process with every job type's code (Notebook jobs on `kernels`), and the
 * notebook schedules' ticks; `runners` replaces some (the benchmark's trivial jobs).
 */
export async function startWorker(o: {
  db: Db;
  queue: JobQueue;
  engine: Engine;
  kernels: KernelServers;
  config: Config;
  logger: Logger;
  runners?: Record<string, JobRunner>;
}): Promise<Worker> {
  const worker = new Worker({
    db: o.db,
    queue: o.queue,
    engine: o.engine,
    dataDir: o.config.dataDir,
    publicUrl: o.config.publicUrl,
    logger: o.logger,
    capacity: o.config.workerConcurrency,
    mailer: smtpMailer(o.config.smtpUrl, o.config.smtpFrom),
    runners: {
      ...runners,
      Notebook: notebookRunner(o.kernels, {
        publishLimitBytes: o.config.uploadLimitBytes,
        publishTotalBytes: o.config.kernelDiskLimitBytes,
      }),
      ...o.runners,
    },
    storageLimitBytes: o.config.tenantStorageLimitBytes,
  });
  await worker.start();
  await startSchedules(o.db, o.queue, o.logger);
  return worker;
}

/** What a process runs: the API, a worker pool, or both (`npm start`). */
export type Role = 'all' | 'api' | 'worker';

/** A started service: its HTTP server (absent for a worker alone), its store, and how to stop. */
export interface RunningService {
  server?: http.Server;
  db: Db;
  queue: JobQueue;
  worker?: Worker;
  url?: string;
  /** The configuration the service runs with (`publicUrl` names the port it got). */
  config: Config;
  stop(): Promise<void>;
}

/**
 * Opens the store, migrates it, bootstraps a first tenant if empty, starts the job queue, then
 * the API (listening) and/or a worker pool, as `role` says.
 */
export async function startService(
  config: Config,
  opts: {
    logger?: Logger;
    validateResponses?: boolean;
    role?: Role;
    runners?: Record<string, JobRunner>;
    /** PGlite in memory instead of in DATA_DIR (the tests' throwaway stores). */
    inMemory?: boolean;
    /** False: no first tenant on an empty store (the tests make their own). */
    bootstrap?: boolean;
  } = {},
): Promise<RunningService> {
  const role = opts.role ?? 'all';
  const logger = opts.logger ?? pino({ level: config.logLevel });
  fs.mkdirSync(path.join(config.dataDir, 'tmp'), { recursive: true });
  const stale = removeStaleImports(config.dataDir);
  if (stale > 0) logger.warn({ stale }, 'removed the folders of imports a stopped process left behind');
  // Notebook kernels run as other users: they must not read the store, the datasets or the token file.
  fs.chmodSync(config.dataDir, 0o700);
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, inMemory: opts.inMemory });
  if (role === 'worker' && db.kind === 'pglite') {
    await db.close();
    throw new Error(
      'A worker of its own needs the shared PostgreSQL: set DATABASE_URL (the embedded store is one process).',
    );
  }
  const applied = await migrate(db);
  if (applied.length > 0) logger.info({ applied, store: db.kind }, 'applied migrations');
  if (role !== 'worker' && opts.bootstrap !== false) await bootstrapIfEmpty(db, config.dataDir, logger);
  const engine = await Engine.open({
    memoryLimit: config.duckdbMemoryLimit,
    tempDirectory: path.join(config.dataDir, 'duckdb-tmp'),
  });
  const queue = await JobQueue.open(db, {
    databaseUrl: config.databaseUrl,
    schema: config.queueSchema,
    logger,
    tenantLimits: { queuedJobs: config.tenantQueuedJobsLimit, kernels: config.tenantKernelsLimit },
  });
  const kernels = openKernels(config, logger);
  // Listen first: with PORT 0 the links the service hands out must name the port it got.
  let server: http.Server | undefined;
  let url: string | undefined;
  if (role !== 'worker') {
    server = http.createServer((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' });
      res.end('{"Error":"Starting","Message":"Assay is starting; retry in a moment."}');
    });
    // Node closes a connection idle for 5 s by default, which clients (fetch, proxies) may be
    // reusing at that very moment: a request written then is reset. Idle connections are kept
    // longer than clients keep them, as load balancers advise; a request's own headers still
    // have to arrive in time.
    server.keepAliveTimeout = KEEP_ALIVE_IDLE_MS;
    server.headersTimeout = KEEP_ALIVE_IDLE_MS + 1_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.port, config.host, resolve);
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://${config.host}:${port}`;
    if (!config.publicUrlSet)
      config = { ...config, publicUrl: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}` };
  }
  let worker: Worker | undefined;
  if (role !== 'api') {
    worker = await startWorker({ db, queue, engine, kernels, config, logger, runners: opts.runners });
  }
  const feed = new EventFeed(db);
  const readCache = server ? await ReadCache.open(db) : undefined;
  if (server) {
    const app = await createApp({
      db,
      engine,
      queue,
      kernels,
      config,
      logger,
      document: loadDocument(),
      feed,
      readCache,
      validateResponses: opts.validateResponses,
    });
    server.removeAllListeners('request');
    server.on('request', app);
    logger.info({ url, store: db.kind, dataDir: config.dataDir, worker: worker?.id ?? null }, 'Assay is listening');
  }
  let stopping: Promise<void> | undefined;
  // Refuse new requests and finish those in flight; put running jobs back on the queue; then close.
  // Each step runs even when an earlier one failed (a store already closed must not keep the kernels running).
  const stop = () =>
    (stopping ??= stopInTurn([
      ['streams', () => feed.close()], // open event streams would hold the server's close forever
      ['server', () => server && closeServer(server)],
      ['worker', () => (worker ? worker.stop() : queue.stop(true))],
      ['kernels', () => kernels.stop()],
      ['engine', () => engine.close()],
      ['read cache', () => readCache?.close()],
      ['store', () => db.close()],
    ]));
  return { server, db, queue, worker, url, config, stop };
}

/**
 * Stops listening and resolves once every connection has ended. A keep-alive connection whose
 * request was in flight at the close becomes idle only when its answer is sent, and would then be
 * held for its whole keep-alive time: idle connections are closed as they appear.
 */
function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
  });
}

/** One step of stopping a service: its name (for the error) and what it does. */
export type StopStep = readonly [name: string, run: () => unknown];

/**
 * Runs the steps one after another, each whether or not an earlier one failed; then, if any
 * failed, throws one error that names each failed step with its message (the errors in `errors`).
 */
export async function stopInTurn(steps: readonly StopStep[]): Promise<void> {
  const failed: { name: string; err: unknown }[] = [];
  for (const [name, run] of steps) {
    try {
      await run();
    } catch (err) {
      failed.push({ name, err });
    }
  }
  if (failed.length === 0) return;
  const summary = failed.map(({ name, err }) => `${name}: ${err instanceof Error ? err.message : String(err)}`);
  throw new AggregateError(
    failed.map((f) => f.err),
    `Stopping failed at ${summary.join('; ')}`,
  );
}
