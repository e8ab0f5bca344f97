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
  for (const [hash, known] of knownKeys) if (known.caller.keyId === keyId) knownKeys.delete(hash);
}

// Keys are looked up on every request, so valid ones are remembered briefly. A revocation takes
// effect at once in the process that made it, and within KEY_CACHE_MS in other processes.
const KEY_CACHE_MS = 5_000;
const knownKeys = new Map<string, { caller: Caller; until: number }>();
// When each key's use was last recorded; recording is kept off the request path.
const lastRecordedUse = new Map<string, number>();

/** Finds the live key behind a bearer token, or fails with 401. */
export async function authenticate(db: Db, token: string): Promise<Caller> {
  const hash = hashToken(token);
  const known = knownKeys.get(hash);
  let caller: Caller;
  if (known && known.until > Date.now()) {
    caller = known.caller;
  } else {
    const rows = await db.query<{ id: string; tenant_id: string }>(
      'SELECT id, tenant_id FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL',
      [hash],
    );
    if (rows.length === 0) throw new AuthError('unauthenticated', 'The API key is unknown or revoked.');
    caller = { tenantId: rows[0].tenant_id, keyId: rows[0].id };
    if (knownKeys.size > 10_000) knownKeys.clear();
    knownKeys.set(hash, { caller, until: Date.now() + KEY_CACHE_MS });
  }
  recordUse(db, caller.keyId);
  return caller;
}

/** Notes a key's use at most once a minute, without making the request wait for it. */
function recordUse(db: Db, keyId: string): void {
  const now = Date.now();
  if (now - (lastRecordedUse.get(keyId) ?? 0) < 60_000) return;
  lastRecordedUse.set(keyId, now);
  db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [keyId]).catch(() => {
    // A missed "last used" stamp is not worth failing or logging a request for (e.g. during shutdown).
  });
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
