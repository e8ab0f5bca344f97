import type { Db } from './db';

/** Read-only links to notebook pages. */

export interface ShareLinkRow {
  id: string;
  token_hash: string;
  tenant_id: string;
  project_id: string;
  notebook_id: string;
  created_by: string;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

export async function insertShareLink(
  db: Db,
  s: Pick<ShareLinkRow, 'id' | 'token_hash' | 'tenant_id' | 'project_id' | 'notebook_id' | 'created_by' | 'expires_at'>,
): Promise<void> {
  await db.query(
    `INSERT INTO share_links (id, token_hash, tenant_id, project_id, notebook_id, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [s.id, s.token_hash, s.tenant_id, s.project_id, s.notebook_id, s.created_by, s.expires_at],
  );
}

/** A link that still opens its page: not expired, not revoked, its creator's key not revoked. */
export async function findLiveShareLink(db: Db, tokenHash: string): Promise<ShareLinkRow | null> {
  const [row] = await db.query<ShareLinkRow>(
    `SELECT s.* FROM share_links s JOIN api_keys k ON k.id = s.created_by
     WHERE s.token_hash = $1 AND s.expires_at > now() AND s.revoked_at IS NULL AND k.revoked_at IS NULL`,
    [tokenHash],
  );
  return row ?? null;
}

/** Revokes a link of the notebook; false when there is none. */
export async function revokeShareLink(db: Db, projectId: string, notebookId: string, id: string): Promise<boolean> {
  const rows = await db.query(
    `UPDATE share_links SET revoked_at = coalesce(revoked_at, now())
     WHERE id = $1 AND notebook_id = $2 AND project_id = $3 RETURNING id`,
    [id, notebookId, projectId],
  );
  return rows.length > 0;
}
