import type { Db } from './db';

/**
 * Executions of notebooks: one run of a notebook's blocks or cells, with its per-cell results and
 * outputs. Their status is changed only through src/store/transitions.ts.
 */

export type ExecutionStatus = 'Running' | 'Completed' | 'Error' | 'Cancelled';

export interface ExecutionError {
  errorType: string;
  errorMessage: string;
  cellId: string | null;
}

export interface ExecutionRow {
  id: string;
  notebook_id: string;
  job_id: string;
  status: ExecutionStatus;
  started_at: Date | null;
  ended_at: Date | null;
  parameters: Record<string, unknown>;
  /** Per cell or block (the contract's CellResult). */
  cell_results: unknown[];
  /** The stored outputs (the contract's ExecutionOutput, with the artifact holding a file). */
  outputs: unknown[];
  /** What a Jupyter notebook published: enriched datasets, models, reports. */
  products: Record<string, unknown>;
  resources: { peakMemoryBytes: number; cpuSeconds: number } | null;
  error: ExecutionError | null;
  created_at: Date;
  created_by: string;
}

/** An execution of a notebook of the project. */
export async function findExecution(
  db: Db,
  projectId: string,
  notebookId: string,
  id: string,
): Promise<ExecutionRow | null> {
  const [row] = await db.query<ExecutionRow>(
    `SELECT e.* FROM executions e JOIN notebooks n ON n.id = e.notebook_id
     WHERE e.id = $1 AND e.notebook_id = $2 AND n.project_id = $3`,
    [id, notebookId, projectId],
  );
  return row ?? null;
}

/** An execution's notebook and the dataset of that notebook's investigation. */
export async function executionTarget(db: Db, id: string) {
  const [row] = await db.query<{ notebook_id: string; dataset_id: string | null }>(
    `SELECT e.notebook_id, i.dataset_id FROM executions e JOIN notebooks n ON n.id = e.notebook_id
     LEFT JOIN investigations i ON i.id = n.investigation_id WHERE e.id = $1`,
    [id],
  );
  return row ?? null;
}

/** Forgets an execution that was refused before anything ran. */
export async function deleteExecution(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM executions WHERE id = $1', [id]);
}

/** The notebook's most recent execution, if it has one. */
export async function latestExecutionOf(db: Db, notebookId: string): Promise<ExecutionRow | null> {
  const [row] = await db.query<ExecutionRow>(
    `SELECT * FROM executions WHERE notebook_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1`,
    [notebookId],
  );
  return row ?? null;
}
