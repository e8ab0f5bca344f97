import express from 'express';
import type { Document } from 'openapi-backend';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { JobQueue } from '../jobs/queue';
import type { KernelServers } from '../kernels/servers';
import type { Engine } from '../engine/engine';
import type { Db } from '../store/db';
import type { EventFeed } from '../domain/eventFeed';
import type { ReadCache } from '../domain/readCache';
import { acceptableValues, bodyParsers } from './bodies';
import { allHandlers } from './handlers';
import { requestMetrics } from './metrics';
import { requestLog } from './requestLog';
import { contractRouter, routing } from './routing';
import { registerSecurity } from './security';
import { sendFailure, sendReply } from './sending';
import { createBackend, registerOperations, runOperation } from './validation';

/** What the HTTP layer needs from the rest of the service. */
export interface AppDeps {
  db: Db;
  engine: Engine;
  /** The job queue; this process submits and cancels through it (workers may run elsewhere). */
  queue: JobQueue;
  /** Jupyter kernels: which kernelspecs exist (workers also run kernels through it). */
  kernels: KernelServers;
  config: Config;
  logger: Logger;
  document: Document;
  /** Follows the events table for this process's event streams. */
  feed: EventFeed;
  /** Notebook answers the store has not changed since they were built (absent: every read queries the store). */
  readCache?: ReadCache;
  /** Check every answer against the contract and fail loudly on drift (tests turn this on). */
  validateResponses?: boolean;
}

/** Builds the express app: the stages a request goes through, in order. */
export async function createApp(deps: AppDeps): Promise<express.Express> {
  const { config, logger } = deps;
  const api = await createBackend(deps.document);
  const router = contractRouter(api);
  registerSecurity(api, deps.db, config);
  registerOperations(api, allHandlers(deps));
  const check = { api, logger, validateResponses: deps.validateResponses };

  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(app, logger)); // request id, one log line per answer
  app.use(requestMetrics()); // counted and timed by operation and status, for GET /metrics
  app.use(routing(router)); // the operation, UUIDs in the path lower-cased; 404 and 405 before any body is read
  app.use(bodyParsers(config)); // JSON, text or a multipart upload, for operations that take a body
  app.use(acceptableValues(config.jsonDepthLimit)); // no NUL, lone surrogate or excessive nesting anywhere
  app.use(runOperation(api)); // security, validation, then the handler
  app.use(sendReply(check)); // the handler's reply, checked against the contract
  app.use(sendFailure(check)); // or the error of any stage, in the error envelope
  return app;
}
