import type { Db } from '../store/db';
import { StorageQuotaError } from './errors';

/**
 * The bytes a tenant stores on disk: the files of its datasets (original and Parquet) and its
 * artifacts (job and execution outputs), over all its projects.
 */
export async function storedBytes(db: Db, tenantId: string): Promise<number> {
  const [r] = await db.query<{ used: string | number }>(
    `SELECT (SELECT coalesce(sum(d.stored_bytes), 0) FROM datasets d JOIN projects p ON p.id = d.project_id WHERE p.tenant_id = $1)
          + (SELECT coalesce(sum(a.size_bytes), 0) FROM artifacts a JOIN projects p ON p.id = a.project_id WHERE p.tenant_id = $1) AS used`,
    [tenantId],
  );
  return Number(r.used);
}

/**
 * Refuses with {@link StorageQuotaError} when `bytes` more would take the tenant past
 * `limitBytes` (0: no quota). Called inside the transaction that records the new file, it locks
 * the tenant's row first, so that two writes of one tenant cannot both fit in the same room.
 */
export async function reserveStorage(
  tx: Db,
  tenantId: string,
  bytes: number,
  limitBytes: number | undefined,
  what: string,
): Promise<void> {
  if (!limitBytes) return;
  await tx.query('SELECT id FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
  const used = await storedBytes(tx, tenantId);
  if (used + bytes > limitBytes) throw new StorageQuotaError(limitBytes, used, bytes, what);
}

/** The tenant a project belongs to (artifacts are stored by project). */
export async function tenantOfProject(db: Db, projectId: string): Promise<string> {
  const [r] = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM projects WHERE id = $1', [projectId]);
  if (!r) throw new Error(`Project ${projectId} is gone`);
  return String(r.tenant_id);
}
