import { randomUUID } from 'node:crypto';
import type { Investigation, InvestigationCreate, InvestigationUpdate } from '../api/types';
import { artifactIdsOfInvestigation } from '../store/artifacts';
import type { Db } from '../store/db';
import * as store from '../store/investigations';
import { removeArtifactFiles } from './artifacts';
import { requireDataset } from './datasets';
import { NotFoundError } from './errors';
import { checkNotStale, nextModified } from './locking';
import { iso, pageInfo, type PageRequest, type Scope } from './scope';

/** Creates an investigation on a dataset of the same project. */
export async function createInvestigation(db: Db, scope: Scope, input: InvestigationCreate): Promise<Investigation> {
  return db.transaction(async (tx) => {
    await requireDataset(tx, scope, input.datasetId);
    const id = randomUUID();
    const now = new Date();
    await store.insertInvestigation(tx, {
      id,
      project_id: scope.projectId,
      dataset_id: input.datasetId,
      name: input.name,
      description: input.description ?? null,
      created_at: now,
      created_by: scope.actor,
    });
    return getInvestigation(tx, scope, id);
  });
}

/** Lists the project's investigations, newest first, optionally only those on one dataset. */
export async function listInvestigations(db: Db, scope: Scope, paging: PageRequest, datasetId?: string) {
  const offset = (paging.page - 1) * paging.pageSize;
  const { rows, count } = await store.investigationsOf(db, scope.projectId, datasetId ?? null, paging.pageSize, offset);
  return { investigations: rows.map(toInvestigation), ...pageInfo(paging, count) };
}

/** Returns an investigation of the project, or 404. */
export async function getInvestigation(db: Db, scope: Scope, id: string): Promise<Investigation> {
  const row = await store.findInvestigation(db, scope.projectId, id);
  if (!row) throw new NotFoundError('INVESTIGATION_NOT_FOUND', 'InvestigationId', id);
  return toInvestigation(row);
}

/** Changes the fields sent; with `dateModified`, refuses a stale update (409). */
export async function updateInvestigation(
  db: Db,
  scope: Scope,
  id: string,
  input: InvestigationUpdate,
): Promise<Investigation> {
  return db.transaction(async (tx) => {
    const current = await store.lockInvestigation(tx, scope.projectId, id);
    if (!current) throw new NotFoundError('INVESTIGATION_NOT_FOUND', 'InvestigationId', id);
    checkNotStale(scope, input.dateModified, {
      resource: 'Investigation',
      id,
      pathSegment: 'investigation',
      row: current,
    });
    if (input.datasetId) await requireDataset(tx, scope, input.datasetId);
    await store.updateInvestigation(tx, {
      id,
      name: input.name ?? current.name,
      description: input.description !== undefined ? (input.description ?? null) : current.description,
      dataset_id: input.datasetId ?? current.dataset_id,
      modified_at: nextModified(current.modified_at),
      modified_by: scope.actor,
    });
    return getInvestigation(tx, scope, id);
  });
}

/** Deletes an investigation with its notebooks and their blocks. */
export async function deleteInvestigation(db: Db, dataDir: string, scope: Scope, id: string): Promise<void> {
  const artifacts = await db.transaction(async (tx) => {
    const files = await artifactIdsOfInvestigation(tx, id);
    if (!(await store.deleteInvestigation(tx, scope.projectId, id))) {
      throw new NotFoundError('INVESTIGATION_NOT_FOUND', 'InvestigationId', id);
    }
    return files;
  });
  removeArtifactFiles(dataDir, artifacts);
}

function toInvestigation(row: store.InvestigationView): Investigation {
  return {
    investigationId: row.id,
    projectId: row.project_id,
    name: row.name,
    description: row.description,
    datasetId: row.dataset_id,
    notebookCount: row.notebook_count,
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: row.created_by,
    modifiedBy: row.modified_by,
  };
}
