import type { Db } from '../store/db';
import { storedBytesOfTenant } from '../store/artifacts';
import { tenantOfProject as findTenantOfProject } from '../store/projects';
import { lockTenant } from '../store/tenants';
import { StorageQuotaError } from './errors';

/**
 * The bytes a tenant stores: the files of its datasets (original and Parquet), its artifacts (job
 * and execution outputs) and its process models, over all its projects.
 */
export function storedBytes(db: Db, tenantId: string): Promise<number> {
  return storedBytesOfTenant(db, tenantId);
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
  await lockTenant(tx, tenantId);
  const used = await storedBytesOfTenant(tx, tenantId);
  if (used + bytes > limitBytes) throw new StorageQuotaError(limitBytes, used, bytes, what);
}

/** The tenant a project belongs to (artifacts are stored by project). */
export async function tenantOfProject(db: Db, projectId: string): Promise<string> {
  const tenantId = await findTenantOfProject(db, projectId);
  if (!tenantId) throw new Error(`Project ${projectId} is gone`);
  return tenantId;
}
