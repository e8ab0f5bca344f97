#!/usr/bin/env node
import { format } from 'node:util';
import pino from 'pino';
import type { Role } from './server';

/**
 * Starts the service in this process: everything (`npm start`, no command), the API alone (`assay
 * serve`) or a worker pool alone (`assay worker`). It runs until SIGTERM or SIGINT stops it.
 */
async function serve(role: Role): Promise<void> {
  // Required here, not imported at the top, so the client commands start without loading the server.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { loadConfig } = require('./config') as typeof import('./config');
  const { startService } = require('./server') as typeof import('./server');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  // Libraries' debug chatter (@jupyterlab/services announces every kernel websocket) belongs in the
  // log at debug level, not among the JSON lines on stdout.
  console.debug = (...args: unknown[]) => logger.debug({ source: 'console' }, format(...args));
  // A stray rejection inside a library (a kernel connection torn down mid-reconnect) is logged; it
  // must not stop a service every tenant relies on.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  const service = await startService(config, { logger, role });
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
  // The service runs until a signal ends the process.
  await new Promise<never>(() => undefined);
}

/** `npm start` (no command), `assay serve`, `assay worker`, or one of the client commands (`assay --help`). */
async function main(): Promise<void> {
  if (process.argv.length <= 2) return serve('all');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runCli } = require('./cli/program') as typeof import('./cli/program');
  const code = await runCli(process.argv, (role: Role) => serve(role));
  // Standard output is flushed before the exit (pipes and files are written synchronously on Linux).
  process.stdout.write('', () => process.exit(code));
}

main().catch((err: unknown) => {
  console.error('Assay failed to start:', err);
  process.exit(1);
});
