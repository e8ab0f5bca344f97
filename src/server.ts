import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { loadDocument } from './api/document';
import { bootstrapIfEmpty } from './bootstrap';
import type { Config } from './config';
import { Engine } from './engine/engine';
import { createApp } from './http/app';
import { openDb, type Db } from './store/db';
import { migrate } from './store/migrate';

/** A started service: its HTTP server, its store, and how to stop both. */
export interface RunningService {
  server: http.Server;
  db: Db;
  url: string;
  stop(): Promise<void>;
}

/** Opens the store, migrates it, bootstraps a first tenant if empty and starts listening. */
export async function startService(
  config: Config,
  opts: { logger?: Logger; validateResponses?: boolean } = {},
): Promise<RunningService> {
  const logger = opts.logger ?? pino({ level: config.logLevel });
  fs.mkdirSync(path.join(config.dataDir, 'tmp'), { recursive: true });
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const applied = await migrate(db);
  if (applied.length > 0) logger.info({ applied, store: db.kind }, 'applied migrations');
  await bootstrapIfEmpty(db, config.dataDir, logger);
  const engine = await Engine.open({
    memoryLimit: config.duckdbMemoryLimit,
    tempDirectory: path.join(config.dataDir, 'duckdb-tmp'),
  });
  const app = await createApp({
    db,
    engine,
    config,
    logger,
    document: loadDocument(),
    validateResponses: opts.validateResponses,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  logger.info({ url, store: db.kind, dataDir: config.dataDir }, 'Assay is listening');
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Finish requests in flight, refuse new ones, then close the store.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      engine.close();
      await db.close();
    })());
  return { server, db, url, stop };
}
