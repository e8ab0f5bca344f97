import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Project, ProjectCreate } from '../api/types';
import { artifactIdsOfProject } from '../store/artifacts';
import { datasetIdsOfProject } from '../store/datasets';
import type { Db } from '../store/db';
import { activeJobsOfProject } from '../store/jobs';
import * as store from '../store/projects';
import { removeArtifactFiles } from './artifacts';
import { datasetDir } from './datasets';
import { ConflictError, NotFoundError } from './errors';
import { iso, pageInfo, type PageRequest } from './scope';

/** Creates a project in a tenant. */
export async function createProject(db: Db, tenantId: string, input: ProjectCreate, actor: string): Promise<Project> {
  const row = await store.insertProject(db, {
    id: randomUUID(),
    tenant_id: tenantId,
    name: input.name,
    description: input.description ?? null,
    created_at: new Date(),
    created_by: actor,
  });
  return toProject(row);
}

/** Lists a tenant's projects, oldest first. */
export async function listProjects(db: Db, tenantId: string, paging: PageRequest) {
  const { rows, count } = await store.projectsOf(db, tenantId, paging.pageSize, (paging.page - 1) * paging.pageSize);
  return { projects: rows.map(toProject), ...pageInfo(paging, count) };
}

/** Returns a project of the tenant, or 404 (also for another tenant's project). */
export async function getProject(db: Db, tenantId: string, projectId: string): Promise<Project> {
  const row = await store.findProject(db, tenantId, projectId);
  if (!row) throw new NotFoundError('PROJECT_NOT_FOUND', 'ProjectId', projectId);
  return toProject(row);
}

/** Deletes a project and, through the foreign keys, everything in it. */
export async function deleteProject(db: Db, dataDir: string, tenantId: string, projectId: string): Promise<void> {
  knownProjects.delete(projectId);
  const { artifacts, datasets } = await db.transaction(async (tx) => {
    const files = {
      artifacts: await artifactIdsOfProject(tx, projectId),
      datasets: await datasetIdsOfProject(tx, projectId),
    };
    const active = await activeJobsOfProject(tx, projectId);
    if (active > 0) {
      throw new ConflictError(
        'PROJECT_HAS_ACTIVE_JOBS',
        `Cancel the project's ${active} queued or running jobs, then retry.`,
        { ProjectId: projectId },
      );
    }
    if (!(await store.deleteProject(tx, tenantId, projectId))) {
      throw new NotFoundError('PROJECT_NOT_FOUND', 'ProjectId', projectId);
    }
    return files;
  });
  removeArtifactFiles(dataDir, artifacts);
  for (const id of datasets) fs.rmSync(datasetDir(dataDir, id), { recursive: true, force: true });
}

function toProject(row: store.ProjectRow): Project {
  return {
    projectId: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    description: row.description,
    dateCreated: iso(row.created_at),
    createdBy: row.created_by,
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
  if (!(await store.findProject(db, tenantId, projectId)))
    throw new NotFoundError('PROJECT_NOT_FOUND', 'ProjectId', projectId);
  if (knownProjects.size > 10_000) knownProjects.clear();
  knownProjects.set(projectId, { tenantId, until: Date.now() + REMEMBER_MS });
}
