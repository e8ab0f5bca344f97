import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { ApiKey, ApiKeyCreated, Project, TenantCreated } from '../api/types';
import type { Db } from '../store/db';
import * as store from '../store/tenants';
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
    await store.insertTenant(tx, { id: tenantId, name: input.tenantName, created_at: now });
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
  return (await store.apiKeysOf(db, tenantId)).map(toApiKey);
}

/** Revokes a key; revoking it again changes nothing. */
export async function revokeApiKey(db: Db, tenantId: string, keyId: string): Promise<void> {
  await requireTenant(db, tenantId);
  if (!(await store.revokeApiKey(db, tenantId, keyId))) throw new NotFoundError('API_KEY_NOT_FOUND', 'KeyId', keyId);
  for (const [hash, known] of knownKeys) if (known.caller.keyId === keyId) knownKeys.delete(hash);
}

// Keys are looked up on every request, so valid ones are remembered briefly. A revocation takes
// effect at once in the process that made it, in the other API processes when they hear its change
// notice (domain/readCache.ts), and within KEY_CACHE_MS in any case (a notice missed while listening was down).
const KEY_CACHE_MS = 5_000;
const knownKeys = new Map<string, { caller: Caller; until: number }>();
// When each key's use was last recorded; recording is kept off the request path.
const lastRecordedUse = new Map<string, number>();

/** Forgets a remembered key (it was revoked or deleted, maybe by another process). */
export function forgetKey(tokenHash: string): void {
  knownKeys.delete(tokenHash);
}

/** Finds the live key behind a bearer token, or fails with 401. */
export async function authenticate(db: Db, token: string): Promise<Caller> {
  const hash = hashToken(token);
  const known = knownKeys.get(hash);
  let caller: Caller;
  if (known && known.until > Date.now()) {
    caller = known.caller;
  } else {
    const key = await store.liveKeyByHash(db, hash);
    if (!key) throw new AuthError('API_KEY_INVALID', 'The API key is unknown or revoked.');
    caller = { tenantId: key.tenant_id, keyId: key.id };
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
  store.stampKeyUse(db, keyId).catch(() => {
    // A missed "last used" stamp is not worth failing or logging a request for (e.g. during shutdown).
  });
}

/** True when the store has no tenant yet (first start). */
export async function isEmpty(db: Db): Promise<boolean> {
  return store.noTenants(db);
}

async function insertKey(db: Db, tenantId: string, name: string): Promise<ApiKeyCreated> {
  const keyId = randomUUID();
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const tokenPrefix = token.slice(0, 10);
  const now = new Date();
  await store.insertApiKey(db, {
    id: keyId,
    tenant_id: tenantId,
    name,
    token_hash: hashToken(token),
    token_prefix: tokenPrefix,
    created_at: now,
  });
  return { keyId, tenantId, name, token, tokenPrefix, dateCreated: now.toISOString() };
}

async function requireTenant(db: Db, tenantId: string): Promise<void> {
  if (!(await store.tenantExists(db, tenantId))) throw new NotFoundError('TENANT_NOT_FOUND', 'TenantId', tenantId);
}

function toApiKey(row: store.ApiKeyRow): ApiKey {
  return {
    keyId: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    tokenPrefix: row.token_prefix,
    dateCreated: iso(row.created_at),
    lastUsed: isoOrNull(row.last_used_at),
    revokedAt: isoOrNull(row.revoked_at),
  };
}
