import type { Db } from './db';

/** Projects of tenants. */

export interface ProjectRow {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  created_at: Date;
  created_by: string;
}

export async function insertProject(db: Db, p: ProjectRow): Promise<ProjectRow> {
  const [row] = await db.query<ProjectRow>(
    'INSERT INTO projects (id, tenant_id, name, description, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [p.id, p.tenant_id, p.name, p.description, p.created_at, p.created_by],
  );
  return row;
}

/** A page of a tenant's projects, oldest first, and how many there are. */
export async function projectsOf(db: Db, tenantId: string, limit: number, offset: number) {
  const [{ count }] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM projects WHERE tenant_id = $1',
    [tenantId],
  );
  const rows = await db.query<ProjectRow>(
    'SELECT * FROM projects WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3',
    [tenantId, limit, offset],
  );
  return { rows, count };
}

export async function findProject(db: Db, tenantId: string, projectId: string): Promise<ProjectRow | null> {
  const [row] = await db.query<ProjectRow>('SELECT * FROM projects WHERE id = $1 AND tenant_id = $2', [
    projectId,
    tenantId,
  ]);
  return row ?? null;
}

/** Deletes a project of the tenant (and, by foreign keys, everything in it); false when there is none. */
export async function deleteProject(db: Db, tenantId: string, projectId: string): Promise<boolean> {
  const rows = await db.query('DELETE FROM projects WHERE id = $1 AND tenant_id = $2 RETURNING id', [
    projectId,
    tenantId,
  ]);
  return rows.length > 0;
}

/** The tenant a project belongs to, or null when it is gone. */
export async function tenantOfProject(db: Db, projectId: string): Promise<string | null> {
  const [row] = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM projects WHERE id = $1', [projectId]);
  return row?.tenant_id ?? null;
}
