import { timingSafeEqual } from 'node:crypto';
import type express from 'express';
import type { Context, OpenAPIBackend } from 'openapi-backend';
import { AuthError } from '../domain/errors';
import { callerOfTicket } from '../domain/events';
import { openShareLink } from '../domain/pages';
import { requireProjectOfTenant } from '../domain/projects';
import { isUuid } from '../domain/scope';
import { authenticate, type Caller } from '../domain/tenants';
import type { Config } from '../config';
import type { Db } from '../store/db';
import { routeOf } from './routing';

/**
 * The contract's security schemes, checked by openapi-backend before validation. An API key
 * (`apiKey`) must belong to the tenant in the path, and that tenant must own the project in the
 * path; admin operations (`adminToken`) need `ASSAY_ADMIN_TOKEN`; `GET /metrics` (`metricsToken`)
 * needs `METRICS_TOKEN` when it is set, and a loopback client when it is not. A failure answers 401 or 403.
 */
export function registerSecurity(
  api: OpenAPIBackend,
  db: Db,
  tokens: Pick<Config, 'adminToken' | 'metricsToken'>,
): void {
  api.registerSecurityHandler('apiKey', (c: Context, req: express.Request) => checkApiKey(db, c, req));
  api.registerSecurityHandler('adminToken', (c: Context) => sameToken(tokens.adminToken, c));
  api.registerSecurityHandler('metricsToken', (c: Context, req: express.Request) =>
    checkMetricsAccess(tokens.metricsToken, c, req),
  );
  api.registerSecurityHandler('shareToken', (c: Context) =>
    openShareLink(db, bearer(c.request.headers.authorization) ?? ''),
  );
  api.registerSecurityHandler('streamTicket', (c: Context, req: express.Request) => checkStreamTicket(db, c, req));
  api.register('unauthorizedHandler', (c: Context) => {
    throw authFailure(c);
  });
}

async function checkApiKey(db: Db, c: Context, req: express.Request): Promise<Caller> {
  const token = bearer(c.request.headers.authorization);
  if (!token) throw new AuthError('API_KEY_MISSING', 'Send an API key as `Authorization: Bearer <token>`.');
  const caller = await authenticate(db, token);
  const { tenantId, projectId } = routeOf(req.res!).params;
  // A malformed tenant id is left to validation (400); a well-formed foreign one is forbidden.
  if (tenantId !== undefined && isUuid(tenantId) && tenantId !== caller.tenantId) {
    throw new AuthError('TENANT_FORBIDDEN', 'This API key does not belong to the tenant in the path.', {
      TenantId: tenantId,
    });
  }
  if (projectId !== undefined && isUuid(projectId)) await requireProjectOfTenant(db, caller.tenantId, projectId);
  return caller;
}

/** A stream ticket in the query: valid only for the stream it was made for (false when none is sent). */
async function checkStreamTicket(db: Db, c: Context, req: express.Request): Promise<Caller | false> {
  const ticket = c.request.query.ticket;
  if (typeof ticket !== 'string' || ticket === '') return false;
  const caller = await callerOfTicket(db, ticket, req.path);
  const { tenantId, projectId } = routeOf(req.res!).params;
  if (tenantId !== caller.tenantId)
    throw new AuthError('STREAM_TICKET_INVALID', 'The stream ticket is for another stream.');
  await requireProjectOfTenant(db, caller.tenantId, projectId);
  return caller;
}

/** Whether the request's bearer token is `expected` (never, while `expected` is unset). */
function sameToken(expected: string | undefined, c: Context): boolean {
  const token = bearer(c.request.headers.authorization);
  if (!expected || !token) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * With a metrics token, the token from anywhere; without one, a client on this machine's loopback.
 * The socket's address, never `X-Forwarded-For`: a header is whatever the client says.
 */
function checkMetricsAccess(metricsToken: string | undefined, c: Context, req: express.Request): boolean {
  if (metricsToken) {
    if (sameToken(metricsToken, c)) return true;
    throw new AuthError('METRICS_TOKEN_REQUIRED', 'Metrics need `Authorization: Bearer <METRICS_TOKEN>`.');
  }
  if (isLoopback(req.socket.remoteAddress)) return true;
  throw new AuthError(
    'METRICS_LOOPBACK_ONLY',
    'Metrics are answered to loopback clients only; set METRICS_TOKEN on the server to scrape from elsewhere.',
  );
}

/** 127.0.0.0/8, ::1, and IPv4 loopback mapped into IPv6 (`::ffff:127.0.0.1`). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function authFailure(c: Context): AuthError {
  const results = c.security as Record<string, unknown>;
  // A stream ticket that was sent but is not valid says so, rather than that the key is missing; then
  // the first scheme whose handler said why (API keys, the metrics check); the admin token only says no.
  for (const scheme of ['streamTicket', ...Object.keys(results)]) {
    const error = (results[scheme] as { error?: unknown } | undefined)?.error;
    if (error instanceof AuthError) return error;
    if (error) throw error; // a store failure, not a bad token
  }
  const adminOnly = (c.operation.security ?? []).every((req) => 'adminToken' in req);
  return adminOnly
    ? new AuthError('ADMIN_TOKEN_REQUIRED', 'Admin operations need `Authorization: Bearer <ASSAY_ADMIN_TOKEN>`.')
    : new AuthError('API_KEY_MISSING', 'Send an API key as `Authorization: Bearer <token>`.');
}

/** The token of an `Authorization: Bearer` header. */
export function bearer(header: unknown): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}
