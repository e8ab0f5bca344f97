import type express from 'express';
import type { OpenAPIBackend, Operation } from 'openapi-backend';
import { InvalidError } from '../domain/errors';
import { isUuid } from '../domain/scope';
import { plainError } from './errors';
import { Router } from './router';
import { send } from './reply';

/** Where routing left a request: its operation and its path parameters, UUIDs lower-cased. */
export interface Route {
  operation: Operation;
  params: Record<string, string>;
}

/** The route of a request that routing found (every stage after routing may rely on it). */
export function routeOf(res: express.Response): Route {
  return res.locals.route as Route;
}

/** The route of a request, if routing found one: errors of earlier stages have none. */
export function maybeRouteOf(res: express.Response): Route | undefined {
  return res.locals.route as Route | undefined;
}

/** The segment-tree router of the contract's operations, used by both express and openapi-backend. */
export function contractRouter(api: OpenAPIBackend): Router<Operation> {
  const router = new Router(api.getOperations());
  // Route once, with the segment tree: openapi-backend calls this instead of its own matcher.
  api.router.matchOperation = ((req: { method: string; path: string }) => {
    const match = router.match(req.method, req.path);
    if (match.kind === 'found') return match.operation;
    throw new Error(match.kind === 'notFound' ? '404-notFound' : '405-methodNotAllowed');
  }) as typeof api.router.matchOperation;
  return router;
}

/**
 * Finds the request's operation. Unknown paths (404) and wrong methods (405) answer
 * before any body is read; a path that cannot be decoded is refused (400).
 */
export function routing(router: Router<Operation>): express.RequestHandler {
  return (req, res, next) => {
    const match = router.match(req.method, req.path);
    if (match.kind === 'found') {
      const route: Route = { operation: match.operation, params: normalisedIds(match.operation, match.params) };
      res.locals.route = route;
      if (match.malformed.length === 0) return next();
      const problems = match.malformed.map((name) => ({
        field: `path.${name}`,
        message: 'is not valid percent-encoded UTF-8',
      }));
      return next(
        new InvalidError('VALIDATION_FAILED', 'The request path cannot be decoded; nothing was changed.', problems),
      );
    }
    if (match.kind === 'notFound') {
      return send(res, plainError('ROUTE_NOT_FOUND', `No operation answers ${req.method} ${req.path}.`, req.id));
    }
    res.setHeader('Allow', match.allowed.join(', '));
    send(res, plainError('METHOD_NOT_ALLOWED', `${req.path} answers ${match.allowed.join(', ')}.`, req.id));
  };
}

/**
 * Ids are stored lower-case: the path's well-formed UUIDs are lower-cased here, once, so that
 * security and handlers compare and look them up as they are. Anything else is left as sent,
 * for validation to judge.
 */
function normalisedIds(operation: Operation, params: Record<string, string>): Record<string, string> {
  const uuids = uuidParams(operation);
  const normalised: Record<string, string> = {};
  for (const [name, value] of Object.entries(params))
    normalised[name] = uuids.has(name) && isUuid(value) ? value.toLowerCase() : value;
  return normalised;
}

const uuidParamsOf = new WeakMap<Operation, Set<string>>();

/** The operation's path parameters whose schema is `format: uuid`. */
function uuidParams(operation: Operation): Set<string> {
  let names = uuidParamsOf.get(operation);
  if (!names) {
    const params = (operation.parameters ?? []) as { in?: string; name?: string; schema?: { format?: string } }[];
    names = new Set(params.filter((p) => p.in === 'path' && p.schema?.format === 'uuid').map((p) => p.name!));
    uuidParamsOf.set(operation, names);
  }
  return names;
}
