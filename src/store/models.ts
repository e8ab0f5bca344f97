import type { Db } from './db';

/** Process models of a project. */

export interface ModelRow {
  id: string;
  project_id: string;
  name: string;
  format: 'pnml' | 'bpmn';
  source: 'uploaded' | 'discovered';
  net: unknown;
  places: number;
  transitions: number;
  visible_transitions: number;
  activities: string[];
  original_file_name: string | null;
  size_bytes: number;
  stored_bytes: number;
  created_at: Date;
  created_by: string;
}

/** A model with its stored files, for downloads. */
export interface ModelFilesRow extends ModelRow {
  original: Uint8Array;
  svg: string;
}

/** What a new model stores. */
export type NewModel = Omit<ModelFilesRow, 'created_at'>;

const SUMMARY = `id, project_id, name, format, source, net, places, transitions, visible_transitions, activities,
  original_file_name, size_bytes, stored_bytes, created_at, created_by`;

export async function insertModel(db: Db, m: NewModel): Promise<ModelRow> {
  const [row] = await db.query<ModelRow>(
    `INSERT INTO models (id, project_id, name, format, source, net, places, transitions, visible_transitions, activities,
       original_file_name, original, svg, size_bytes, stored_bytes, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING ${SUMMARY}`,
    [
      m.id,
      m.project_id,
      m.name,
      m.format,
      m.source,
      JSON.stringify(m.net),
      m.places,
      m.transitions,
      m.visible_transitions,
      JSON.stringify(m.activities),
      m.original_file_name,
      m.original,
      m.svg,
      m.size_bytes,
      m.stored_bytes,
      m.created_by,
    ],
  );
  return row;
}

/** A page of the project's models, newest first, and how many there are. */
export async function modelsOf(db: Db, projectId: string, limit: number, offset: number) {
  const [{ count }] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM models WHERE project_id = $1',
    [projectId],
  );
  const rows = await db.query<ModelRow>(
    `SELECT ${SUMMARY} FROM models WHERE project_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`,
    [projectId, limit, offset],
  );
  return { rows, count };
}

export async function findModel(db: Db, projectId: string, id: string): Promise<ModelRow | null> {
  const [row] = await db.query<ModelRow>(`SELECT ${SUMMARY} FROM models WHERE id = $1 AND project_id = $2`, [
    id,
    projectId,
  ]);
  return row ?? null;
}

/** A model with its original file and drawing. */
export async function findModelFiles(db: Db, projectId: string, id: string): Promise<ModelFilesRow | null> {
  const [row] = await db.query<ModelFilesRow>('SELECT * FROM models WHERE id = $1 AND project_id = $2', [
    id,
    projectId,
  ]);
  return row ?? null;
}

/** Deletes a model of the project; false when there is none. */
export async function deleteModel(db: Db, projectId: string, id: string): Promise<boolean> {
  return (
    (await db.query('DELETE FROM models WHERE id = $1 AND project_id = $2 RETURNING id', [id, projectId])).length > 0
  );
}
