import addFormats from 'ajv-formats';
import type express from 'express';
import { OpenAPIBackend, type Context, type Document } from 'openapi-backend';
import { InvalidError } from '../domain/errors';
import type { Caller } from '../domain/tenants';
import { problemsFromAjv } from './errors';
import type { Handler, RequestContext } from './handlers';
import type { Reply } from './reply';
import { routeOf } from './routing';

/** openapi-backend on the contract: it runs security, validates the request, then calls the handler. */
export async function createBackend(document: Document): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: document,
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
  return api;
}

/**
 * Registers every operation's handler, and what happens when validation fails: 400 listing every
 * invalid field, except for the fields the domain checks itself (`DEFERRED_CHECKS`).
 */
export function registerOperations(api: OpenAPIBackend, handlers: Readonly<Record<string, Handler>>): void {
  api.register('validationFail', (c: Context, req: express.Request) => {
    const problems = problemsFromAjv(c.validation.errors ?? []);
    // Only the inside of an object is deferred: a missing body, or one that is not an object, is refused here.
    const body = c.request.requestBody as unknown;
    const isObject = typeof body === 'object' && body !== null && !Array.isArray(body);
    const deferred = isObject ? DEFERRED_CHECKS[c.operation.operationId ?? ''] : undefined;
    const remaining = deferred ? problems.filter((p) => !isWithin(p.field, deferred)) : problems;
    if (remaining.length === 0 && deferred) return handlers[c.operation.operationId!](requestContext(c, req));
    const message = 'The request does not match the contract; nothing was changed.';
    throw new InvalidError('VALIDATION_FAILED', message, remaining);
  });
  for (const [operationId, handler] of Object.entries(handlers)) {
    api.register(operationId, (c: Context, req: express.Request) => handler(requestContext(c, req)));
  }
}

/**
 * Security, validation and the handler, all run by openapi-backend (in that order). The reply is
 * left for the sending stage; an error goes to the failure stage.
 */
export function runOperation(api: OpenAPIBackend): express.RequestHandler {
  return async (req, res, next) => {
    try {
      res.locals.reply = (await api.handleRequest(req as never, req, res)) as Reply;
      next();
    } catch (err) {
      next(err);
    }
  };
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

/** The validated request as a handler sees it. */
function requestContext(c: Context, req: express.Request): RequestContext {
  return {
    method: req.method,
    // Path parameters from routing (UUIDs lower-cased); openapi-backend's re-parse after type coercion loses them.
    params: routeOf(req.res!).params,
    query: c.request.query as Record<string, unknown>,
    body: c.request.requestBody,
    headers: req.headers as Record<string, string | undefined>,
    caller: callerOf(c.security as Record<string, unknown>),
    file: req.file,
    requestId: req.id,
  };
}

/** Who the request is from: the API key's caller, or the one a stream ticket stands for. */
function callerOf(security: Record<string, unknown>): Caller | undefined {
  for (const scheme of ['apiKey', 'streamTicket']) {
    const result = security[scheme];
    if (result && typeof result === 'object' && 'keyId' in result) return result as Caller;
  }
  return undefined;
}
