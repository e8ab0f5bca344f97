import { randomUUID } from 'node:crypto';
import type { Investigation, InvestigationCreate, InvestigationUpdate } from '../api/types';
import type { Db, Row } from '../store/db';
import { artifactsWhere, removeArtifactFiles } from './artifacts';
import { requireDataset } from './datasets';
import { NotFoundError } from './errors';
import { checkNotStale, nextModified } from './locking';
import { iso, pageInfo, type PageRequest, type Scope } from './scope';

const SELECT = `SELECT i.*, (SELECT count(*)::int FROM notebooks n WHERE n.investigation_id = i.id) AS notebook_count
  FROM investigations i`;

/** Creates an investigation on a dataset of the same project. */
export async function createInvestigation(db: Db, scope: Scope, input: InvestigationCreate): Promise<Investigation> {
  return db.transaction(async (tx) => {
    await requireDataset(tx, scope, input.datasetId);
    const id = randomUUID();
    const now = new Date();
    await tx.query(
      `INSERT INTO investigations (id, project_id, dataset_id, name, description, created_at, created_by, modified_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`,
      [id, scope.projectId, input.datasetId, input.name, input.description ?? null, now, scope.actor],
    );
    return getInvestigation(tx, scope, id);
  });
}

/** Lists the project's investigations, newest first, optionally only those on one dataset. */
export async function listInvestigations(db: Db, scope: Scope, paging: PageRequest, datasetId?: string) {
  const where = 'i.project_id = $1 AND ($2::uuid IS NULL OR i.dataset_id = $2::uuid)';
  const [{ count }] = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM investigations i WHERE ${where}`,
    [scope.projectId, datasetId ?? null],
  );
  const rows = await db.query(`${SELECT} WHERE ${where} ORDER BY i.created_at DESC, i.id LIMIT $3 OFFSET $4`, [
    scope.projectId,
    datasetId ?? null,
    paging.pageSize,
    (paging.page - 1) * paging.pageSize,
  ]);
  return { investigations: rows.map(toInvestigation), ...pageInfo(paging, count) };
}

/** Returns an investigation of the project, or 404. */
export async function getInvestigation(db: Db, scope: Scope, id: string): Promise<Investigation> {
  const rows = await db.query(`${SELECT} WHERE i.id = $1 AND i.project_id = $2`, [id, scope.projectId]);
  if (rows.length === 0) throw new NotFoundError('Investigation', 'InvestigationId', id);
  return toInvestigation(rows[0]);
}

/** Changes the fields sent; with `dateModified`, refuses a stale update (409). */
export async function updateInvestigation(
  db: Db,
  scope: Scope,
  id: string,
  input: InvestigationUpdate,
): Promise<Investigation> {
  return db.transaction(async (tx) => {
    const rows = await tx.query('SELECT * FROM investigations WHERE id = $1 AND project_id = $2 FOR UPDATE', [
      id,
      scope.projectId,
    ]);
    if (rows.length === 0) throw new NotFoundError('Investigation', 'InvestigationId', id);
    const current = rows[0];
    checkNotStale(scope, input.dateModified, {
      resource: 'Investigation',
      id,
      pathSegment: 'investigation',
      row: current,
    });
    if (input.datasetId) await requireDataset(tx, scope, input.datasetId);
    await tx.query(
      `UPDATE investigations SET name = $2, description = $3, dataset_id = $4, modified_at = $5, modified_by = $6 WHERE id = $1`,
      [
        id,
        input.name ?? current.name,
        input.description !== undefined ? input.description : current.description,
        input.datasetId ?? current.dataset_id,
        nextModified(current.modified_at),
        scope.actor,
      ],
    );
    return getInvestigation(tx, scope, id);
  });
}

/** Deletes an investigation with its notebooks and their blocks. */
export async function deleteInvestigation(db: Db, dataDir: string, scope: Scope, id: string): Promise<void> {
  const artifacts = await db.transaction(async (tx) => {
    const files = await artifactsWhere(
      tx,
      'a.execution_id IN (SELECT e.id FROM executions e JOIN notebooks n ON n.id = e.notebook_id WHERE n.investigation_id = $1)',
      [id],
    );
    const rows = await tx.query('DELETE FROM investigations WHERE id = $1 AND project_id = $2 RETURNING id', [
      id,
      scope.projectId,
    ]);
    if (rows.length === 0) throw new NotFoundError('Investigation', 'InvestigationId', id);
    return files;
  });
  removeArtifactFiles(dataDir, artifacts);
}

function toInvestigation(row: Row): Investigation {
  return {
    investigationId: String(row.id),
    projectId: String(row.project_id),
    name: String(row.name),
    description: (row.description as string | null) ?? null,
    datasetId: String(row.dataset_id),
    notebookCount: Number(row.notebook_count ?? 0),
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: String(row.created_by),
    modifiedBy: (row.modified_by as string | null) ?? null,
  };
}
