import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { ApiKey, ApiKeyCreated, Project, TenantCreated } from '../api/types';
import type { Db, Row } from '../store/db';
import { AuthError, NotFoundError } from './errors';
import { createProject } from './projects';
import { iso, isoOrNull } from './scope';

/** What a valid API key proves about its caller. */
export interface Caller {
  tenantId: string;
  keyId: string;
}

const TOKEN_PREFIX = 'asy_';

/** Tokens are 32 random bytes; a fast hash is enough for secrets with that much entropy. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Creates a tenant with its first project and API key, in one transaction. */
export async function createTenant(
  db: Db,
  input: { tenantName: string; projectName?: string; keyName?: string },
  actor: string,
): Promise<TenantCreated> {
  return db.transaction(async (tx) => {
    const tenantId = randomUUID();
    const now = new Date();
    await tx.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [tenantId, input.tenantName, now]);
    const project: Project = await createProject(tx, tenantId, { name: input.projectName ?? 'Default' }, actor);
    const apiKey = await insertKey(tx, tenantId, input.keyName ?? 'default');
    return { tenantId, tenantName: input.tenantName, dateCreated: now.toISOString(), project, apiKey };
  });
}

/** Creates an API key; the token is in the answer and nowhere else. */
export async function createApiKey(db: Db, tenantId: string, name: string): Promise<ApiKeyCreated> {
  await requireTenant(db, tenantId);
  return insertKey(db, tenantId, name);
}

/** Lists a tenant's keys, revoked ones included, oldest first. */
export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKey[]> {
  await requireTenant(db, tenantId);
  const rows = await db.query('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
  return rows.map(toApiKey);
}

/** Revokes a key; revoking it again changes nothing. */
export async function revokeApiKey(db: Db, tenantId: string, keyId: string): Promise<void> {
  await requireTenant(db, tenantId);
  const rows = await db.query(
    'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND tenant_id = $2 RETURNING id',
    [keyId, tenantId],
  );
  if (rows.length === 0) throw new NotFoundError('API key', 'KeyId', keyId);
}

/** Finds the live key behind a bearer token, or fails with 401. */
export async function authenticate(db: Db, token: string): Promise<Caller> {
  const rows = await db.query<{ id: string; tenant_id: string }>(
    'SELECT id, tenant_id FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL',
    [hashToken(token)],
  );
  if (rows.length === 0) throw new AuthError('unauthenticated', 'The API key is unknown or revoked.');
  const key = rows[0];
  // Record use at most once a minute, so reads stay reads.
  await db.query(
    "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    [key.id],
  );
  return { tenantId: key.tenant_id, keyId: key.id };
}

/** True when the store has no tenant yet (first start). */
export async function isEmpty(db: Db): Promise<boolean> {
  return (await db.query('SELECT 1 FROM tenants LIMIT 1')).length === 0;
}

async function insertKey(db: Db, tenantId: string, name: string): Promise<ApiKeyCreated> {
  const keyId = randomUUID();
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const tokenPrefix = token.slice(0, 10);
  const now = new Date();
  await db.query(
    'INSERT INTO api_keys (id, tenant_id, name, token_hash, token_prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [keyId, tenantId, name, hashToken(token), tokenPrefix, now],
  );
  return { keyId, tenantId, name, token, tokenPrefix, dateCreated: now.toISOString() };
}

async function requireTenant(db: Db, tenantId: string): Promise<void> {
  const rows = await db.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
  if (rows.length === 0) throw new NotFoundError('Tenant', 'TenantId', tenantId);
}

function toApiKey(row: Row): ApiKey {
  return {
    keyId: String(row.id),
    tenantId: String(row.tenant_id),
    name: String(row.name),
    tokenPrefix: String(row.token_prefix),
    dateCreated: iso(row.created_at),
    lastUsed: isoOrNull(row.last_used_at),
    revokedAt: isoOrNull(row.revoked_at),
  };
}
