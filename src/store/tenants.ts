import type { Db } from './db';

/** Tenants and their API keys. */

export interface TenantRow {
  id: string;
  name: string;
  created_at: Date;
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  token_hash: string;
  token_prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export async function insertTenant(db: Db, t: TenantRow): Promise<void> {
  await db.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [t.id, t.name, t.created_at]);
}

export async function tenantExists(db: Db, tenantId: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId])).length > 0;
}

/** True when the store has no tenant yet (first start). */
export async function noTenants(db: Db): Promise<boolean> {
  return (await db.query('SELECT 1 FROM tenants LIMIT 1')).length === 0;
}

/** Locks a tenant's row until the transaction ends (serialises its quota checks). */
export async function lockTenant(tx: Db, tenantId: string): Promise<void> {
  await tx.query('SELECT id FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
}

export async function insertApiKey(db: Db, k: Omit<ApiKeyRow, 'last_used_at' | 'revoked_at'>): Promise<void> {
  await db.query(
    'INSERT INTO api_keys (id, tenant_id, name, token_hash, token_prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [k.id, k.tenant_id, k.name, k.token_hash, k.token_prefix, k.created_at],
  );
}

/** A tenant's keys, revoked ones included, oldest first. */
export async function apiKeysOf(db: Db, tenantId: string): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow>('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
}

/** Revokes a key of the tenant (again: no change); false when there is no such key. */
export async function revokeApiKey(db: Db, tenantId: string, keyId: string): Promise<boolean> {
  const rows = await db.query(
    'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND tenant_id = $2 RETURNING id',
    [keyId, tenantId],
  );
  return rows.length > 0;
}

/** The live key with this token hash. */
export async function liveKeyByHash(db: Db, tokenHash: string): Promise<Pick<ApiKeyRow, 'id' | 'tenant_id'> | null> {
  const [row] = await db.query<Pick<ApiKeyRow, 'id' | 'tenant_id'>>(
    'SELECT id, tenant_id FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL',
    [tokenHash],
  );
  return row ?? null;
}

export async function stampKeyUse(db: Db, keyId: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [keyId]);
}
