import type { Db } from './db';

/** Investigations: a dataset of a project looked at through standard notebooks. */

export interface InvestigationRow {
  id: string;
  project_id: string;
  dataset_id: string;
  name: string;
  description: string | null;
  created_at: Date;
  created_by: string;
  modified_at: Date;
  modified_by: string | null;
}

/** An investigation with the number of its notebooks, as the API shows it. */
export type InvestigationView = InvestigationRow & { notebook_count: number };

const VIEW = `SELECT i.*, (SELECT count(*)::int FROM notebooks n WHERE n.investigation_id = i.id) AS notebook_count
  FROM investigations i`;

export async function insertInvestigation(
  db: Db,
  i: Omit<InvestigationRow, 'modified_at' | 'modified_by'>,
): Promise<void> {
  await db.query(
    `INSERT INTO investigations (id, project_id, dataset_id, name, description, created_at, created_by, modified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`,
    [i.id, i.project_id, i.dataset_id, i.name, i.description, i.created_at, i.created_by],
  );
}

/** A page of a project's investigations (only those on `datasetId` when given), newest first. */
export async function investigationsOf(
  db: Db,
  projectId: string,
  datasetId: string | null,
  limit: number,
  offset: number,
) {
  const where = 'i.project_id = $1 AND ($2::uuid IS NULL OR i.dataset_id = $2::uuid)';
  const [{ count }] = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM investigations i WHERE ${where}`,
    [projectId, datasetId],
  );
  const rows = await db.query<InvestigationView>(
    `${VIEW} WHERE ${where} ORDER BY i.created_at DESC, i.id LIMIT $3 OFFSET $4`,
    [projectId, datasetId, limit, offset],
  );
  return { rows, count };
}

export async function findInvestigation(db: Db, projectId: string, id: string): Promise<InvestigationView | null> {
  const [row] = await db.query<InvestigationView>(`${VIEW} WHERE i.id = $1 AND i.project_id = $2`, [id, projectId]);
  return row ?? null;
}

/** The investigation's row, locked for an update in this transaction. */
export async function lockInvestigation(tx: Db, projectId: string, id: string): Promise<InvestigationRow | null> {
  const [row] = await tx.query<InvestigationRow>(
    'SELECT * FROM investigations WHERE id = $1 AND project_id = $2 FOR UPDATE',
    [id, projectId],
  );
  return row ?? null;
}

export async function updateInvestigation(
  db: Db,
  i: Pick<InvestigationRow, 'id' | 'name' | 'description' | 'dataset_id' | 'modified_at' | 'modified_by'>,
): Promise<void> {
  await db.query(
    `UPDATE investigations SET name = $2, description = $3, dataset_id = $4, modified_at = $5, modified_by = $6 WHERE id = $1`,
    [i.id, i.name, i.description, i.dataset_id, i.modified_at, i.modified_by],
  );
}

/** Deletes an investigation of the project (its notebooks go by foreign keys); false when there is none. */
export async function deleteInvestigation(db: Db, projectId: string, id: string): Promise<boolean> {
  const rows = await db.query('DELETE FROM investigations WHERE id = $1 AND project_id = $2 RETURNING id', [
    id,
    projectId,
  ]);
  return rows.length > 0;
}

/** The dataset an investigation of the project is on, or null. */
export async function datasetOfInvestigation(db: Db, projectId: string, id: string): Promise<string | null> {
  const [row] = await db.query<{ dataset_id: string }>(
    'SELECT dataset_id FROM investigations WHERE id = $1 AND project_id = $2',
    [id, projectId],
  );
  return row?.dataset_id ?? null;
}
