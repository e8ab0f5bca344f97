import type { Db } from './db';

/**
 * Notebooks of both types and the blocks of standard ones. A notebook's status is changed only
 * through src/store/transitions.ts.
 */

/** The two notebook types, as stored (`notebookType` in the contract). */
export const NOTEBOOK_TYPE = { standard: 0, jupyter: 1 } as const;
export type NotebookType = (typeof NOTEBOOK_TYPE)[keyof typeof NOTEBOOK_TYPE];

export type NotebookStatus = 'Ready' | 'Running' | 'Error' | 'Kernel_Dead';

export interface NotebookRow {
  id: string;
  project_id: string;
  investigation_id: string | null;
  notebook_type: NotebookType;
  name: string;
  description: string | null;
  notebook_order: number;
  status: NotebookStatus;
  kernel_type: string | null;
  notebook_version: string;
  integration: {
    enrichmentMode?: boolean;
    datasetBinding?: string | null;
    outputFormat?: string;
    autoExecution?: boolean;
    scheduleExecution?: string | null;
  } | null;
  environment: { packages?: string[]; customLibraries?: string[]; pythonVersion?: string | null } | null;
  /** A Jupyter notebook's cells as nbformat stores them (see domain/cells.ts). */
  cells: unknown[] | null;
  nb_metadata: Record<string, unknown> | null;
  last_execution_seconds: number;
  last_execution_at: Date | null;
  execution_count: number;
  created_at: Date;
  created_by: string;
  modified_at: Date;
  modified_by: string | null;
  schedule_execution: string | null;
}

/** A notebook with the number of its blocks. */
export type NotebookView = NotebookRow & { block_count: number };
/** What every read of a notebook has: all but its cells and metadata (which can be large). */
export type NotebookHead = Omit<NotebookRow, 'cells' | 'nb_metadata'> & { block_count: number };
/** A notebook without its cells and metadata, with the number of its cells. */
export type NotebookSummaryRow = NotebookHead & { cell_count: number | null };

export interface BlockRow {
  id: string;
  notebook_id: string;
  block_type: string;
  title: string;
  description: string | null;
  block_order: number;
  /** The operator's configuration as JSON text, as the contract carries it. */
  configuration: string;
  is_disabled: boolean;
  created_at: Date;
  created_by: string;
  modified_at: Date;
  modified_by: string | null;
  last_execution_at: Date | null;
  last_execution_status: string | null;
  execution_count: number;
  last_execution: Record<string, unknown> | null;
}

const BLOCK_COUNT = '(SELECT count(*)::int FROM blocks b WHERE b.notebook_id = n.id) AS block_count';
const FULL = `SELECT n.*, ${BLOCK_COUNT} FROM notebooks n`;
const LIGHT = `n.id, n.project_id, n.investigation_id, n.notebook_type, n.name, n.description, n.notebook_order,
  n.status, n.kernel_type, n.notebook_version, n.integration, n.environment, n.last_execution_seconds, n.last_execution_at,
  n.execution_count, n.created_at, n.created_by, n.modified_at, n.modified_by, n.schedule_execution,
  jsonb_array_length(n.cells) AS cell_count, ${BLOCK_COUNT}`;

/** Filters of a project's notebook list. */
export interface NotebookFilter {
  status: string | null;
  kernelType: string | null;
  enrichmentMode: boolean | null;
  notebookType: number | null;
}

/** A page of a project's notebooks of both types (without cells), newest first. */
export async function notebooksOf(db: Db, projectId: string, f: NotebookFilter, limit: number, offset: number) {
  const where = `n.project_id = $1
    AND ($2::text IS NULL OR n.status = $2)
    AND ($3::text IS NULL OR n.kernel_type = $3)
    AND ($4::boolean IS NULL OR COALESCE((n.integration->>'enrichmentMode')::boolean, false) = $4)
    AND ($5::int IS NULL OR n.notebook_type = $5)`;
  const args = [projectId, f.status, f.kernelType, f.enrichmentMode, f.notebookType];
  const [{ count }] = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM notebooks n WHERE ${where}`,
    args,
  );
  const rows = await db.query<NotebookSummaryRow>(
    `SELECT ${LIGHT} FROM notebooks n WHERE ${where} ORDER BY n.created_at DESC, n.id LIMIT $6 OFFSET $7`,
    [...args, limit, offset],
  );
  return { rows, count };
}

/** A notebook of the project, whole, optionally locked for an update in this transaction. */
export async function findNotebook(
  db: Db,
  projectId: string,
  id: string,
  forUpdate = false,
): Promise<NotebookView | null> {
  const [row] = await db.query<NotebookView>(
    `${FULL} WHERE n.id = $1 AND n.project_id = $2${forUpdate ? ' FOR UPDATE OF n' : ''}`,
    [id, projectId],
  );
  return row ?? null;
}

/** A notebook without parsing its cells: they come as JSON text (or null). */
export async function findNotebookCellsAsText(
  db: Db,
  projectId: string,
  id: string,
): Promise<(NotebookSummaryRow & { cells_text: string | null }) | null> {
  const [row] = await db.query<NotebookSummaryRow & { cells_text: string | null }>(
    `SELECT ${LIGHT}, n.cells::text AS cells_text FROM notebooks n WHERE n.id = $1 AND n.project_id = $2`,
    [id, projectId],
  );
  return row ?? null;
}

/** A notebook without cells (just written ones need not be read back). */
export async function findNotebookSummary(db: Db, id: string): Promise<NotebookSummaryRow | null> {
  const [row] = await db.query<NotebookSummaryRow>(`SELECT ${LIGHT} FROM notebooks n WHERE n.id = $1`, [id]);
  return row ?? null;
}

/** The standard notebooks of an investigation in `notebookOrder`. */
export async function notebooksOfInvestigation(db: Db, investigationId: string): Promise<NotebookView[]> {
  return db.query<NotebookView>(`${FULL} WHERE n.investigation_id = $1 ORDER BY n.notebook_order, n.created_at, n.id`, [
    investigationId,
  ]);
}

/** Whether a notebook of the investigation (other than `exceptId`) has this name, case aside. */
export async function nameTaken(db: Db, investigationId: string, name: string, exceptId: string | null = null) {
  const rows = await db.query(
    'SELECT 1 FROM notebooks WHERE investigation_id = $1 AND lower(name) = lower($2) AND id IS DISTINCT FROM $3',
    [investigationId, name, exceptId],
  );
  return rows.length > 0;
}

/** The names in an investigation starting with `prefix` (case aside). */
export async function namesStartingWith(db: Db, investigationId: string, prefix: string): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT name FROM notebooks WHERE investigation_id = $1 AND lower(name) LIKE lower($2) || '%'`,
    [investigationId, prefix.replace(/[\\%_]/g, (c) => `\\${c}`)],
  );
  return rows.map((r) => r.name);
}

/** The `notebookOrder` after the last notebook of an investigation. */
export async function nextNotebookOrder(db: Db, investigationId: string): Promise<number> {
  const [{ next }] = await db.query<{ next: number }>(
    'SELECT COALESCE(max(notebook_order), 0) + 1 AS next FROM notebooks WHERE investigation_id = $1',
    [investigationId],
  );
  return Number(next);
}

export async function insertStandardNotebook(
  db: Db,
  n: Pick<
    NotebookRow,
    'id' | 'project_id' | 'investigation_id' | 'name' | 'description' | 'notebook_order' | 'created_at' | 'created_by'
  >,
): Promise<void> {
  await db.query(
    `INSERT INTO notebooks (id, project_id, investigation_id, notebook_type, name, description, notebook_order, created_at, created_by, modified_at)
     VALUES ($1, $2, $3, ${NOTEBOOK_TYPE.standard}, $4, $5, $6, $7, $8, $7)`,
    [n.id, n.project_id, n.investigation_id, n.name, n.description, n.notebook_order, n.created_at, n.created_by],
  );
}

/** Inserts a Jupyter notebook; its cells and metadata come as JSON text (a large upload is never parsed here). */
export async function insertJupyterNotebook(
  db: Db,
  n: Pick<
    NotebookRow,
    | 'id'
    | 'project_id'
    | 'name'
    | 'description'
    | 'kernel_type'
    | 'integration'
    | 'environment'
    | 'created_at'
    | 'created_by'
  > & {
    cellsJson: string;
    metadataJson: string;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO notebooks (id, project_id, notebook_type, name, description, kernel_type, integration, environment, cells, nb_metadata,
       created_at, created_by, modified_at)
     VALUES ($1, $2, ${NOTEBOOK_TYPE.jupyter}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)`,
    [
      n.id,
      n.project_id,
      n.name,
      n.description,
      n.kernel_type,
      JSON.stringify(n.integration),
      JSON.stringify(n.environment),
      n.cellsJson,
      n.metadataJson,
      n.created_at,
      n.created_by,
    ],
  );
}

export async function updateStandardNotebook(
  db: Db,
  n: Pick<
    NotebookRow,
    'id' | 'name' | 'description' | 'notebook_order' | 'modified_at' | 'modified_by' | 'schedule_execution'
  >,
): Promise<void> {
  await db.query(
    `UPDATE notebooks SET name = $2, description = $3, notebook_order = $4, modified_at = $5, modified_by = $6,
       schedule_execution = $7 WHERE id = $1`,
    [n.id, n.name, n.description, n.notebook_order, n.modified_at, n.modified_by, n.schedule_execution],
  );
}

export async function updateJupyterNotebook(
  db: Db,
  n: Pick<
    NotebookRow,
    | 'id'
    | 'name'
    | 'description'
    | 'kernel_type'
    | 'integration'
    | 'environment'
    | 'cells'
    | 'notebook_version'
    | 'modified_at'
    | 'modified_by'
  >,
): Promise<void> {
  await db.query(
    `UPDATE notebooks SET name = $2, description = $3, kernel_type = $4, integration = $5, environment = $6, cells = $7,
       notebook_version = $8, modified_at = $9, modified_by = $10 WHERE id = $1`,
    [
      n.id,
      n.name,
      n.description,
      n.kernel_type,
      JSON.stringify(n.integration),
      JSON.stringify(n.environment),
      JSON.stringify(n.cells),
      n.notebook_version,
      n.modified_at,
      n.modified_by,
    ],
  );
}

export async function deleteNotebook(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM notebooks WHERE id = $1', [id]);
}

/** A scheduled notebook with what a tick needs to submit its job, or null. */
export async function scheduledNotebook(db: Db, id: string) {
  const [row] = await db.query<{
    id: string;
    name: string;
    notebook_type: NotebookType;
    project_id: string;
    tenant_id: string;
    cron: string | null;
  }>(
    `SELECT n.id, n.name, n.notebook_type, n.project_id, p.tenant_id,
       coalesce(n.schedule_execution, n.integration->>'scheduleExecution') AS cron
     FROM notebooks n JOIN projects p ON p.id = n.project_id WHERE n.id = $1`,
    [id],
  );
  return row ?? null;
}

/** Every notebook with a schedule (standard or Jupyter), for registering them at start. */
export async function scheduledNotebooks(db: Db): Promise<{ id: string; cron: string }[]> {
  return db.query<{ id: string; cron: string }>(
    `SELECT id, coalesce(schedule_execution, integration->>'scheduleExecution') AS cron FROM notebooks
     WHERE coalesce(schedule_execution, integration->>'scheduleExecution') IS NOT NULL`,
  );
}

/** The dataset a notebook runs on: its investigation's, or the one bound to it (Jupyter). */
export async function datasetOfNotebook(db: Db, projectId: string, id: string) {
  const [row] = await db.query<{
    name: string;
    notebook_type: NotebookType;
    dataset_id: string | null;
    cells: unknown[] | null;
  }>(
    `SELECT n.name, n.notebook_type, n.cells, coalesce(i.dataset_id::text, n.integration->>'datasetBinding') AS dataset_id
     FROM notebooks n LEFT JOIN investigations i ON i.id = n.investigation_id WHERE n.id = $1 AND n.project_id = $2`,
    [id, projectId],
  );
  return row ?? null;
}

/** Whether an investigation of the project exists; with `lock`, locks it for this transaction. */
export async function lockInvestigationOf(db: Db, projectId: string, id: string, lock: boolean): Promise<boolean> {
  const rows = await db.query(
    `SELECT id FROM investigations WHERE id = $1 AND project_id = $2${lock ? ' FOR UPDATE' : ''}`,
    [id, projectId],
  );
  return rows.length > 0;
}

/** Standard notebooks of an investigation (how many an Analysis job of it would run). */
export async function standardNotebookCount(db: Db, investigationId: string): Promise<number> {
  const [{ n }] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notebooks WHERE investigation_id = $1 AND notebook_type = ${NOTEBOOK_TYPE.standard}`,
    [investigationId],
  );
  return n;
}

// --- blocks -------------------------------------------------------------------------------------

/** A notebook's blocks in `blockOrder` (only the enabled ones when asked). */
export async function blocksOf(db: Db, notebookId: string, enabledOnly = false): Promise<BlockRow[]> {
  return db.query<BlockRow>(
    `SELECT * FROM blocks WHERE notebook_id = $1${enabledOnly ? ' AND NOT is_disabled' : ''} ORDER BY block_order`,
    [notebookId],
  );
}

/** A block of a notebook of the project, optionally locked for an update. */
export async function findBlock(
  db: Db,
  projectId: string,
  blockId: string,
  forUpdate: boolean,
): Promise<BlockRow | null> {
  const [row] = await db.query<BlockRow>(
    `SELECT b.* FROM blocks b JOIN notebooks n ON n.id = b.notebook_id
     WHERE b.id = $1 AND n.project_id = $2${forUpdate ? ' FOR UPDATE OF b' : ''}`,
    [blockId, projectId],
  );
  return row ?? null;
}

export async function blockCount(db: Db, notebookId: string): Promise<number> {
  const [{ count }] = await db.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM blocks WHERE notebook_id = $1',
    [notebookId],
  );
  return count;
}

/** Makes room at `order`: blocks at or after it move one down. */
export async function shiftBlocksDown(db: Db, notebookId: string, order: number): Promise<void> {
  await db.query('UPDATE blocks SET block_order = block_order + 1 WHERE notebook_id = $1 AND block_order >= $2', [
    notebookId,
    order,
  ]);
}

/** Closes the gap after `order`: blocks after it move one up. */
export async function shiftBlocksUp(db: Db, notebookId: string, order: number): Promise<void> {
  await db.query('UPDATE blocks SET block_order = block_order - 1 WHERE notebook_id = $1 AND block_order > $2', [
    notebookId,
    order,
  ]);
}

/** Moves the block at `from` to `to`, shifting the ones in between. */
export async function moveBlock(db: Db, notebookId: string, from: number, to: number): Promise<void> {
  if (to > from) {
    await db.query(
      'UPDATE blocks SET block_order = CASE WHEN block_order = $2 THEN $3 ELSE block_order - 1 END WHERE notebook_id = $1 AND block_order BETWEEN $2 AND $3',
      [notebookId, from, to],
    );
  } else if (to < from) {
    await db.query(
      'UPDATE blocks SET block_order = CASE WHEN block_order = $2 THEN $3 ELSE block_order + 1 END WHERE notebook_id = $1 AND block_order BETWEEN $3 AND $2',
      [notebookId, from, to],
    );
  }
}

export async function insertBlock(
  db: Db,
  b: Pick<
    BlockRow,
    | 'id'
    | 'notebook_id'
    | 'block_type'
    | 'title'
    | 'description'
    | 'block_order'
    | 'configuration'
    | 'is_disabled'
    | 'created_at'
    | 'created_by'
  >,
): Promise<BlockRow> {
  const [row] = await db.query<BlockRow>(
    `INSERT INTO blocks (id, notebook_id, block_type, title, description, block_order, configuration, is_disabled,
       created_at, created_by, modified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING *`,
    [
      b.id,
      b.notebook_id,
      b.block_type,
      b.title,
      b.description,
      b.block_order,
      b.configuration,
      b.is_disabled,
      b.created_at,
      b.created_by,
    ],
  );
  return row;
}

export async function updateBlock(
  db: Db,
  b: Pick<BlockRow, 'id' | 'title' | 'description' | 'is_disabled' | 'configuration' | 'modified_at' | 'modified_by'>,
): Promise<BlockRow> {
  const [row] = await db.query<BlockRow>(
    `UPDATE blocks SET title = $2, description = $3, is_disabled = $4, configuration = $5,
       modified_at = $6, modified_by = $7 WHERE id = $1 RETURNING *`,
    [b.id, b.title, b.description, b.is_disabled, b.configuration, b.modified_at, b.modified_by],
  );
  return row;
}

export async function deleteBlock(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM blocks WHERE id = $1', [id]);
}

/** Records a block's outcome in an execution (standard notebooks). */
export async function recordBlockRun(
  db: Db,
  r: { id: string; at: Date; status: string; lastExecution: Record<string, unknown> | null },
): Promise<void> {
  await db.query(
    `UPDATE blocks SET last_execution_at = $2, last_execution_status = $3, execution_count = execution_count + 1,
       last_execution = $4 WHERE id = $1`,
    [r.id, r.at, r.status, r.lastExecution ? JSON.stringify(r.lastExecution) : null],
  );
}
