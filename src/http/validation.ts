import addFormats from 'ajv-formats';
import type express from 'express';
import { OpenAPIBackend, type Context, type Document, type Operation } from 'openapi-backend';
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
 * Security, validation and the handler, in that order, with the handlers registered on
 * openapi-backend. The reply is left for the sending stage; an error goes to the failure stage.
 */
export function runOperation(api: OpenAPIBackend): express.RequestHandler {
  return async (req, res, next) => {
    try {
      res.locals.reply = (await handleOperation(api, req, res)) as Reply;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * What openapi-backend's `handleRequest` does once a request is routed, with the same rules and
 * handlers, but without its routing and two of its four parses of the request (path template,
 * headers, cookies, a deep copy of the query each time): routing has found the operation, and type
 * coercion changes nothing for an operation without query parameters. In the profile of `GET
 * /notebook/{id}` those parses were most of openapi-backend's, bath-es5's and lodash's time, about
 * a seventh of the server's CPU.
 */
async function handleOperation(api: OpenAPIBackend, req: express.Request, res: express.Response): Promise<unknown> {
  const { operation } = routeOf(res);
  const context = { api, operation, request: api.router.parseRequest(req as never, operation) } as Context;
  const requirements = operation.security ?? [];
  const results: Record<string, unknown> = {};
  const schemes = [...new Set(requirements.flatMap((requirement) => Object.keys(requirement)))];
  await Promise.all(
    schemes.map(async (name) => {
      const check = api.securityHandlers[name];
      try {
        results[name] = check ? await check(context, req, res) : undefined;
      } catch (error) {
        results[name] = { error: error || new Error('security handler rejected') };
      }
    }),
  );
  // One requirement satisfied is enough; a requirement needs every scheme it names.
  const passed = (name: string) => {
    const result = results[name];
    return Boolean(result) && !(typeof result === 'object' && (result as { error?: unknown }).error);
  };
  const authorized = requirements.some((requirement) => Object.keys(requirement).every(passed));
  context.security = { ...results, authorized };
  const run = (name: string) => {
    const handler = api.handlers[name];
    if (!handler) throw new Error(`no handler is registered for ${name}`); // fail closed, as openapi-backend's strict mode
    return handler(context, req, res);
  };
  if (!authorized && requirements.length > 0) return run('unauthorizedHandler');
  context.validation = api.validator.validateRequest(req as never, operation);
  if (context.validation.errors) return run('validationFail');
  if (hasQueryParameters(operation)) {
    context.request = api.router.parseRequest(context.validation.coerced as never, operation);
  }
  return run(operation.operationId!);
}

const withQuery = new WeakMap<Operation, boolean>();

function hasQueryParameters(operation: Operation): boolean {
  let has = withQuery.get(operation);
  if (has === undefined) {
    has = ((operation.parameters ?? []) as { in?: string }[]).some((p) => p.in === 'query');
    withQuery.set(operation, has);
  }
  return has;
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
