#!/usr/bin/env node
import { format } from 'node:util';
import pino from 'pino';
import { loadConfig } from './config';
import { startService, type Role } from './server';

const USAGE = `usage: assay [serve | worker]
  (none)  the API and a worker pool in one process (npm start)
  serve   the API alone; workers run elsewhere against the same DATABASE_URL
  worker  a worker pool alone, against the shared PostgreSQL in DATABASE_URL`;

/** `npm start` (everything in one process), `assay serve` (API) or `assay worker` (workers). */
async function main(): Promise<void> {
  const command = process.argv[2];
  const roles: Record<string, Role> = { serve: 'api', worker: 'worker' };
  if (command === '--help' || command === '-h' || (command !== undefined && !roles[command])) {
    console.error(USAGE);
    process.exit(command === '--help' || command === '-h' ? 0 : 2);
  }
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  // Libraries' debug chatter (@jupyterlab/services announces every kernel websocket) belongs in the
  // log at debug level, not among the JSON lines on stdout.
  console.debug = (...args: unknown[]) => logger.debug({ source: 'console' }, format(...args));
  // A stray rejection inside a library (a kernel connection torn down mid-reconnect) is logged; it
  // must not stop a service every tenant relies on.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  const service = await startService(config, { logger, role: command ? roles[command] : 'all' });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 20_000).unref();
    service.stop().then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
    service.server?.closeIdleConnections();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('Assay failed to start:', err);
  process.exit(1);
});
