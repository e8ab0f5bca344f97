import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Project, ProjectCreate } from '../api/types';
import type { Db, Row } from '../store/db';
import { artifactsWhere, removeArtifactFiles } from './artifacts';
import { datasetDir } from './datasets';
import { ConflictError, NotFoundError } from './errors';
import { iso, pageInfo, type PageRequest } from './scope';

/** Creates a project in a tenant. */
export async function createProject(db: Db, tenantId: string, input: ProjectCreate, actor: string): Promise<Project> {
  const rows = await db.query(
    'INSERT INTO projects (id, tenant_id, name, description, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [randomUUID(), tenantId, input.name, input.description ?? null, new Date(), actor],
  );
  return toProject(rows[0]);
}

/** Lists a tenant's projects, oldest first. */
export async function listProjects(db: Db, tenantId: string, paging: PageRequest) {
  const [{ count }] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM projects WHERE tenant_id = $1',
    [tenantId],
  );
  const rows = await db.query(
    'SELECT * FROM projects WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3',
    [tenantId, paging.pageSize, (paging.page - 1) * paging.pageSize],
  );
  return { projects: rows.map(toProject), ...pageInfo(paging, count) };
}

/** Returns a project of the tenant, or 404 (also for another tenant's project). */
export async function getProject(db: Db, tenantId: string, projectId: string): Promise<Project> {
  const rows = await db.query('SELECT * FROM projects WHERE id = $1 AND tenant_id = $2', [projectId, tenantId]);
  if (rows.length === 0) throw new NotFoundError('Project', 'ProjectId', projectId);
  return toProject(rows[0]);
}

/** Deletes a project and, through the foreign keys, everything in it. */
export async function deleteProject(db: Db, dataDir: string, tenantId: string, projectId: string): Promise<void> {
  knownProjects.delete(projectId);
  const { artifacts, datasets } = await db.transaction(async (tx) => {
    const files = {
      artifacts: await artifactsWhere(tx, 'a.project_id = $1', [projectId]),
      datasets: (await tx.query<{ id: string }>('SELECT id FROM datasets WHERE project_id = $1', [projectId])).map(
        (r) => r.id,
      ),
    };
    const [{ active }] = await tx.query<{ active: number }>(
      `SELECT count(*)::int AS active FROM jobs WHERE project_id = $1 AND status IN ('Queued', 'Running')`,
      [projectId],
    );
    if (active > 0) {
      throw new ConflictError(
        'Project has active jobs',
        `Cancel the project's ${active} queued or running jobs, then retry.`,
        { ProjectId: projectId },
      );
    }
    const rows = await tx.query('DELETE FROM projects WHERE id = $1 AND tenant_id = $2 RETURNING id', [
      projectId,
      tenantId,
    ]);
    if (rows.length === 0) throw new NotFoundError('Project', 'ProjectId', projectId);
    return files;
  });
  removeArtifactFiles(dataDir, artifacts);
  for (const id of datasets) fs.rmSync(datasetDir(dataDir, id), { recursive: true, force: true });
}

function toProject(row: Row): Project {
  return {
    projectId: String(row.id),
    tenantId: String(row.tenant_id),
    name: String(row.name),
    description: (row.description as string | null) ?? null,
    dateCreated: iso(row.created_at),
    createdBy: String(row.created_by),
  };
}

// A project never moves to another tenant, so a positive answer can be remembered for a while;
// the while bounds how long another process may miss a deletion.
const knownProjects = new Map<string, { tenantId: string; until: number }>();
const REMEMBER_MS = 30_000;

/** Fails with 404 unless the project exists in the tenant; every project-scoped request passes here. */
export async function requireProjectOfTenant(db: Db, tenantId: string, projectId: string): Promise<void> {
  const known = knownProjects.get(projectId);
  if (known && known.tenantId === tenantId && known.until > Date.now()) return;
  const rows = await db.query('SELECT 1 FROM projects WHERE id = $1 AND tenant_id = $2', [projectId, tenantId]);
  if (rows.length === 0) throw new NotFoundError('Project', 'ProjectId', projectId);
  if (knownProjects.size > 10_000) knownProjects.clear();
  knownProjects.set(projectId, { tenantId, until: Date.now() + REMEMBER_MS });
}
