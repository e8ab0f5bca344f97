import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import addFormats from 'ajv-formats';
import express from 'express';
import multer from 'multer';
import { OpenAPIBackend, type Context, type Document, type Operation } from 'openapi-backend';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { AuthError, InvalidError, TooLargeError } from '../domain/errors';
import { requireProjectOfTenant } from '../domain/projects';
import { authenticate, type Caller } from '../domain/tenants';
import type { JobQueue } from '../jobs/queue';
import type { KernelServers } from '../kernels/servers';
import type { Engine } from '../engine/engine';
import type { Db } from '../store/db';
import { errorReply, plainError, problemsFromAjv } from './errors';
import { allHandlers, type Handler, type RequestContext } from './handlers';
import type { Reply } from './reply';
import { requestLog } from './requestLog';
import { valueProblems } from './requestValues';
import { Router } from './router';

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
  /** Check every answer against the contract and fail loudly on drift (tests turn this on). */
  validateResponses?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Builds the express app: request id and log, routing from the contract, body parsing,
 * authentication, validation by openapi-backend, the handler, and one way of writing answers.
 */
export async function createApp(deps: AppDeps): Promise<express.Express> {
  const { config, logger } = deps;
  const api = new OpenAPIBackend({
    definition: deps.document,
    quick: true, // the 3.0 meta-schema check rejects 3.1 keywords; Redocly lints the document instead
    validate: true,
    coerceTypes: true,
    strict: true,
    ajvOpts: { allErrors: true }, // a 400 lists every invalid field, not only the first
    customizeAjv: (ajv) => {
      addFormats(ajv);
      return ajv;
    },
  });
  await api.init();
  const router = new Router(api.getOperations());
  // Route once, with the segment tree: openapi-backend calls this instead of its own matcher.
  api.router.matchOperation = ((req: { method: string; path: string }) => {
    const match = router.match(req.method, req.path);
    if (match.kind === 'found') return match.operation;
    throw new Error(match.kind === 'notFound' ? '404-notFound' : '405-methodNotAllowed');
  }) as typeof api.router.matchOperation;

  api.registerSecurityHandler('apiKey', (c: Context) => checkApiKey(deps.db, c));
  api.registerSecurityHandler('adminToken', (c: Context) => checkAdminToken(config.adminToken, c));
  const handlers = allHandlers(deps);
  api.register({
    validationFail: (c: Context, req: express.Request) => {
      const problems = problemsFromAjv(c.validation.errors ?? []);
      // Some bodies are checked more precisely by the domain (see DEFERRED_CHECKS); let those through.
      // Only the inside of an object is deferred: a missing body, or one that is not an object, is refused here.
      const body = c.request.requestBody as unknown;
      const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
      const deferred = isObject ? DEFERRED_CHECKS[c.operation.operationId ?? ''] : undefined;
      const remaining = deferred ? problems.filter((p) => !isWithin(p.field, deferred)) : problems;
      if (remaining.length === 0 && deferred) return handlers[c.operation.operationId!](toRequestContext(c, req));
      throw new InvalidError(
        'Validation failed',
        'The request does not match the contract; nothing was changed.',
        remaining,
      );
    },
    unauthorizedHandler: (c: Context) => {
      throw authFailure(c);
    },
    notImplemented: (c: Context) => {
      throw new NotImplemented(c.operation.operationId ?? 'operation');
    },
  });
  for (const [operationId, handler] of Object.entries(handlers)) {
    api.register(operationId, (c: Context, req: express.Request) => handler(toRequestContext(c, req)));
  }

  const uploads = multer({
    dest: path.join(config.dataDir, 'tmp'),
    // File names are UTF-8, as browsers and fetch send them (busboy's default would read them as Latin-1).
    defParamCharset: 'utf8',
    limits: { fileSize: config.uploadLimitBytes, files: 1, fields: 20, fieldSize: 64 * 1024 },
  }).single('file');

  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(app, logger));
  // Unknown routes and wrong methods answer before any body is read.
  app.use((req, res, next) => {
    const match = router.match(req.method, req.path);
    if (match.kind === 'found') {
      res.locals.operation = match.operation;
      res.locals.params = match.params;
      if (match.malformed.length === 0) return next();
      const problems = match.malformed.map((name) => ({
        field: `path.${name}`,
        message: 'is not valid percent-encoded UTF-8',
      }));
      return next(
        new InvalidError('Validation failed', 'The request path cannot be decoded; nothing was changed.', problems),
      );
    }
    const id = req.id;
    if (match.kind === 'notFound') {
      return send(res, plainError(404, 'Route not found', `No operation answers ${req.method} ${req.path}.`, id));
    }
    res.setHeader('Allow', match.allowed.join(', '));
    send(res, plainError(405, 'Method not allowed', `${req.path} answers ${match.allowed.join(', ')}.`, id));
  });
  // Bodies are read only for operations that take one; others ignore what was sent.
  const json = express.json({ limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] });
  const text = express.text({ limit: config.bodyLimitBytes, type: ['text/*'] });
  app.use((req, res, next) => (hasBody(res.locals.operation as Operation) ? json(req, res, next) : next()));
  app.use((req, res, next) => (hasBody(res.locals.operation as Operation) ? text(req, res, next) : next()));
  app.use((req, res, next) => {
    if (!isMultipart(res.locals.operation as Operation)) return next();
    uploads(req, res, (err?: unknown) => {
      if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
        return next(new TooLargeError(config.uploadLimitBytes, 'upload'));
      }
      if (err)
        return next(
          new InvalidError('Invalid upload', `The multipart body could not be read: ${(err as Error).message}`),
        );
      // The contract lists `file` among the form's fields; multer keeps it apart, so name it back.
      if (req.file) (req.body as Record<string, unknown>).file = req.file.originalname;
      next();
    });
  });
  app.use(async (req, res) => {
    let reply: Reply;
    try {
      checkRequestValues(req, res.locals.operation as Operation, config.jsonDepthLimit);
      reply = (await api.handleRequest(req as never, req, res)) as Reply;
    } catch (err) {
      reply = replyForError(err, req.id, req.headers['content-encoding']);
      if (reply.status >= 500) req.log.error({ err }, 'request failed');
    }
    removeUpload(req);
    send(res, checkReply(deps, api, res.locals.operation as Operation, reply, req.id));
  });
  // Errors before the handler: body parsing, uploads.
  app.use((err: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    removeUpload(req);
    const reply = replyForError(err, req.id, req.headers['content-encoding']);
    if (reply.status >= 500) req.log.error({ err }, 'request failed');
    const op = res.locals.operation as Operation | undefined;
    send(res, op ? checkReply(deps, api, op, reply, req.id) : reply);
  });
  return app;
}

/**
 * Request fields whose schema is a `oneOf` that the domain checks itself, against the one branch
 * that applies (the notebook's own type, the block's operator), to name the real problem instead
 * of every branch's complaints.
 */
const DEFERRED_CHECKS: Record<string, string> = {
  updateNotebook: 'body',
  createBlock: 'body.configuration',
  updateBlock: 'body.configuration',
};

function isWithin(field: string, prefix: string): boolean {
  return field === prefix || field.startsWith(`${prefix}.`) || field.startsWith(`${prefix}[`);
}

/** Thrown for operations of the contract that this server does not implement yet. */
class NotImplemented extends Error {}

function replyForError(err: unknown, requestId: string, encoding = 'identity'): Reply {
  const parserError = err as { type?: string; status?: number; message?: string; code?: string };
  if (parserError?.type === 'entity.parse.failed') {
    return plainError(400, 'Malformed JSON', `The request body is not valid JSON: ${parserError.message}`, requestId);
  }
  if (parserError?.type === 'entity.too.large') {
    return errorReply(new TooLargeError(Number((err as { limit?: number }).limit), 'request body'), requestId);
  }
  if (parserError?.type === 'encoding.unsupported' || parserError?.type === 'charset.unsupported') {
    return plainError(400, 'Unsupported body encoding', `${parserError.message}; ${BODY_ENCODINGS}`, requestId);
  }
  if (typeof parserError?.code === 'string' && /^(Z_|ERR_)/.test(parserError.code) && parserError.status === 400) {
    // zlib could not decompress what `Content-Encoding` announced.
    const message = `The body is sent with \`Content-Encoding: ${encoding}\` but is not valid ${encoding} data.`;
    return plainError(400, 'Malformed compressed body', message, requestId);
  }
  if (isClientBodyError(parserError)) {
    return plainError(
      400,
      'Unreadable body',
      `The request body could not be read: ${String(parserError.message)}`,
      requestId,
    );
  }
  if (err instanceof NotImplemented) {
    return plainError(
      501,
      'Not implemented',
      `${err.message} is in the contract but not implemented by this server yet.`,
      requestId,
    );
  }
  return errorReply(err, requestId);
}

const BODY_ENCODINGS = 'send UTF-8 JSON, uncompressed or with `Content-Encoding` gzip, deflate or br.';

/** Other failures to read a body that are the client's (aborted, wrong length), as body-parser reports them. */
function isClientBodyError(e: { type?: string; message?: string } | undefined): boolean {
  return ['request.aborted', 'request.size.invalid'].includes(e?.type ?? '');
}

/**
 * Refuses, before anything else reads them, request values no operation can take (see
 * `valueProblems`): the body of an operation that has one, its declared query and path parameters.
 */
function checkRequestValues(req: express.Request, op: Operation, maxDepth: number): void {
  const problems = [];
  if (hasBody(op) && req.body !== undefined) problems.push(...valueProblems(req.body, 'body', maxDepth));
  const query = req.query as Record<string, unknown>;
  for (const param of (op.parameters ?? []) as { in?: string; name?: string }[]) {
    if (param.in === 'query' && param.name && query[param.name] !== undefined)
      problems.push(...valueProblems(query[param.name], `query.${param.name}`, maxDepth));
  }
  for (const [name, value] of Object.entries((req.res?.locals.params ?? {}) as Record<string, string>))
    problems.push(...valueProblems(value, `path.${name}`, maxDepth));
  if (problems.length > 0)
    throw new InvalidError(
      'Validation failed',
      'The request holds values no operation accepts; nothing was changed.',
      problems,
    );
}

async function checkApiKey(db: Db, c: Context): Promise<Caller> {
  const token = bearer(c.request.headers.authorization);
  if (!token) throw new AuthError('unauthenticated', 'Send an API key as `Authorization: Bearer <token>`.');
  const caller = await authenticate(db, token);
  const tenantId = c.request.params.tenantId;
  // A malformed tenant id is left to validation (400); a well-formed foreign one is forbidden.
  if (typeof tenantId === 'string' && UUID.test(tenantId) && tenantId.toLowerCase() !== caller.tenantId) {
    throw new AuthError('forbidden', 'This API key does not belong to the tenant in the path.', { TenantId: tenantId });
  }
  const projectId = c.request.params.projectId;
  if (typeof projectId === 'string' && UUID.test(projectId)) {
    await requireProjectOfTenant(db, caller.tenantId, projectId.toLowerCase());
  }
  return caller;
}

function checkAdminToken(adminToken: string | undefined, c: Context): boolean {
  const token = bearer(c.request.headers.authorization);
  if (!adminToken || !token) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(adminToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

function authFailure(c: Context): AuthError {
  const results = c.security as Record<string, unknown>;
  const keyError = (results.apiKey as { error?: unknown } | undefined)?.error;
  if (keyError instanceof AuthError) return keyError;
  if (keyError) throw keyError; // a store failure, not a bad token
  const adminOnly = (c.operation.security ?? []).every((req) => 'adminToken' in req);
  return new AuthError(
    'unauthenticated',
    adminOnly
      ? 'Admin operations need `Authorization: Bearer <ASSAY_ADMIN_TOKEN>`.'
      : 'Send an API key as `Authorization: Bearer <token>`.',
  );
}

function bearer(header: unknown): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}

function toRequestContext(c: Context, req: express.Request): RequestContext {
  return {
    method: req.method,
    // Path parameters from our router: openapi-backend's re-parse after type coercion loses them.
    params: (req.res?.locals.params ?? {}) as Record<string, string>,
    query: c.request.query as Record<string, unknown>,
    body: c.request.requestBody,
    headers: req.headers as Record<string, string | undefined>,
    caller: (c.security as Record<string, unknown>).apiKey as Caller | undefined,
    file: req.file,
    requestId: req.id,
  };
}

function hasBody(op: Operation | undefined): boolean {
  return Boolean((op?.requestBody as { content?: unknown } | undefined)?.content);
}

function isMultipart(op: Operation | undefined): boolean {
  const body = op?.requestBody as { content?: Record<string, unknown> } | undefined;
  return Boolean(body?.content?.['multipart/form-data']);
}

/**
 * In tests, every answer must be one the contract documents for the operation, with a valid
 * body; a drifting answer becomes a 500 that names the drift, so the test fails loudly.
 */
function checkReply(deps: AppDeps, api: OpenAPIBackend, op: Operation, reply: Reply, requestId: string): Reply {
  if (!deps.validateResponses || reply.status === 501) return reply;
  const documented = Object.keys(op.responses ?? {});
  let drift: string | undefined;
  if (!documented.includes(String(reply.status))) {
    drift = `answered ${reply.status}, which the contract does not document (${documented.join(', ')})`;
  } else if (reply.body !== undefined && !reply.contentType && !reply.stream) {
    const result = api.validateResponse(reply.body, op, reply.status);
    if (result.errors) drift = `answered ${reply.status} with a body that drifts: ${JSON.stringify(result.errors)}`;
  }
  if (!drift) return reply;
  deps.logger.error({ operationId: op.operationId, reply }, `contract drift: ${drift}`);
  return plainError(
    500,
    'Contract drift',
    `${op.operationId} ${drift}; body: ${JSON.stringify(reply.body)}`,
    requestId,
  );
}

function send(res: express.Response, reply: Reply): void {
  if (reply.onDone) res.once('close', reply.onDone);
  res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.contentType) res.type(reply.contentType);
  if (reply.stream) {
    const stream = reply.stream;
    // A client that goes away mid-download must not leave the file open; a read error ends the answer.
    res.once('close', () => stream.destroy());
    stream.once('error', (err) => {
      res.req.log.error({ err }, 'download failed while sending');
      res.destroy(err);
    });
    stream.pipe(res);
    return;
  }
  if (reply.body === undefined) {
    res.end();
    return;
  }
  if (reply.contentType) {
    res.send(reply.body);
    return;
  }
  res.json(reply.body);
}

function removeUpload(req: express.Request): void {
  const file = req.file;
  if (file?.path && fs.existsSync(file.path)) fs.rmSync(file.path, { force: true });
}

export type { Handler };
