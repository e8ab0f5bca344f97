import { timingSafeEqual } from 'node:crypto';
import type express from 'express';
import type { Context, OpenAPIBackend } from 'openapi-backend';
import { AuthError } from '../domain/errors';
import { callerOfTicket } from '../domain/events';
import { requireProjectOfTenant } from '../domain/projects';
import { isUuid } from '../domain/scope';
import { authenticate, type Caller } from '../domain/tenants';
import type { Db } from '../store/db';
import { routeOf } from './routing';

/**
 * The contract's two security schemes, checked by openapi-backend before validation. An API key
 * (`apiKey`) must belong to the tenant in the path, and that tenant must own the project in the
 * path; admin operations (`adminToken`) need `ASSAY_ADMIN_TOKEN`. A failure answers 401 or 403.
 */
export function registerSecurity(api: OpenAPIBackend, db: Db, adminToken: string | undefined): void {
  api.registerSecurityHandler('apiKey', (c: Context, req: express.Request) => checkApiKey(db, c, req));
  api.registerSecurityHandler('adminToken', (c: Context) => checkAdminToken(adminToken, c));
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

function checkAdminToken(adminToken: string | undefined, c: Context): boolean {
  const token = bearer(c.request.headers.authorization);
  if (!adminToken || !token) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(adminToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

function authFailure(c: Context): AuthError {
  const results = c.security as Record<string, unknown>;
  // A stream ticket that was sent but is not valid says so, rather than that the key is missing.
  const ticketError = (results.streamTicket as { error?: unknown } | undefined)?.error;
  if (ticketError instanceof AuthError) return ticketError;
  if (ticketError) throw ticketError;
  const keyError = (results.apiKey as { error?: unknown } | undefined)?.error;
  if (keyError instanceof AuthError) return keyError;
  if (keyError) throw keyError; // a store failure, not a bad token
  const adminOnly = (c.operation.security ?? []).every((req) => 'adminToken' in req);
  return adminOnly
    ? new AuthError('ADMIN_TOKEN_REQUIRED', 'Admin operations need `Authorization: Bearer <ASSAY_ADMIN_TOKEN>`.')
    : new AuthError('API_KEY_MISSING', 'Send an API key as `Authorization: Bearer <token>`.');
}

function bearer(header: unknown): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}
