import type { Db } from './db';

/** Datasets: imported event logs of a project (their files are under DATA_DIR/datasets, by id). */

export interface DatasetRow {
  id: string;
  project_id: string;
  name: string;
  source_format: 'csv' | 'xes' | 'xes.gz';
  original_file_name: string;
  size_bytes: number;
  stored_bytes: number;
  sha256: string;
  status: 'Ready' | 'Importing' | 'Failed';
  column_mapping: {
    caseIdColumn: string;
    activityColumn: string;
    timestampColumn: string;
    resourceColumn?: string | null;
    timestampFormat?: string | null;
  } | null;
  /** The profile's figures (caseCount, eventCount, startTime, ...) and the activities. */
  stats: ({ activities?: string[] } & Record<string, unknown>) | null;
  attributes: { name: string; scope: string; dataType: string }[];
  import_warnings: { invalidRowCount: number; warnings: { line: number | null; message: string }[] };
  created_at: Date;
  created_by: string;
}

export async function insertDataset(db: Db, d: DatasetRow): Promise<DatasetRow> {
  const [row] = await db.query<DatasetRow>(
    `INSERT INTO datasets (id, project_id, name, source_format, original_file_name, size_bytes, stored_bytes, sha256, status,
       column_mapping, stats, attributes, import_warnings, created_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *`,
    [
      d.id,
      d.project_id,
      d.name,
      d.source_format,
      d.original_file_name,
      d.size_bytes,
      d.stored_bytes,
      d.sha256,
      d.status,
      d.column_mapping ? JSON.stringify(d.column_mapping) : null,
      JSON.stringify(d.stats),
      JSON.stringify(d.attributes),
      JSON.stringify(d.import_warnings),
      d.created_at,
      d.created_by,
    ],
  );
  return row;
}

/** A page of a project's datasets, newest first, and how many there are. */
export async function datasetsOf(db: Db, projectId: string, limit: number, offset: number) {
  const [{ count }] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM datasets WHERE project_id = $1',
    [projectId],
  );
  const rows = await db.query<DatasetRow>(
    'SELECT * FROM datasets WHERE project_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3',
    [projectId, limit, offset],
  );
  return { rows, count };
}

export async function findDataset(db: Db, projectId: string, id: string): Promise<DatasetRow | null> {
  const [row] = await db.query<DatasetRow>('SELECT * FROM datasets WHERE id = $1 AND project_id = $2', [id, projectId]);
  return row ?? null;
}

/** Whether a dataset of the project exists. */
export async function datasetExists(db: Db, projectId: string, id: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM datasets WHERE id = $1 AND project_id = $2', [id, projectId])).length > 0;
}

/** One investigation or notebook bound to the dataset, if any (it may not be deleted then). */
export async function aUserOfDataset(
  db: Db,
  id: string,
): Promise<{ kind: 'Investigation' | 'Notebook'; id: string } | null> {
  const [row] = await db.query<{ kind: 'Investigation' | 'Notebook'; id: string }>(
    `SELECT 'Investigation' AS kind, id FROM investigations WHERE dataset_id = $1
     UNION ALL SELECT 'Notebook', id FROM notebooks WHERE integration->>'datasetBinding' = $1::text LIMIT 1`,
    [id],
  );
  return row ?? null;
}

export async function deleteDataset(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM datasets WHERE id = $1', [id]);
}

/** The ids of a project's datasets (their folders go by hand when the project goes). */
export async function datasetIdsOfProject(db: Db, projectId: string): Promise<string[]> {
  return (await db.query<{ id: string }>('SELECT id FROM datasets WHERE project_id = $1', [projectId])).map(
    (r) => r.id,
  );
}
