import type { Db } from './db';
import { eventChannel, jobStatusEventCtes } from './events';
import type { ExecutionError, ExecutionRow, ExecutionStatus } from './executions';
import type { CancelRequest, JobRow } from './jobs';
import type { NotebookStatus } from './notebooks';

/**
 * Every statement that sets the status of a job, an execution or a notebook. Only
 * src/domain/lifecycle.ts calls these: it is the one place where states change and where each
 * change is announced. Writes of a job run are fenced by its attempt: a worker that lost its job
 * (cancelled, or taken over) changes nothing.
 */

// --- jobs ---------------------------------------------------------------------------------------

/**
 * Runs `change`, a statement that changes job rows (`… RETURNING *`), so that the same statement
 * appends each changed job's `job.status` event (see jobStatusEventCtes); `more` adds CTEs after
 * those (they may read `changed`).
 */
async function changeJobsAnnounced(db: Db, change: string, params: unknown[], more = ''): Promise<JobRow[]> {
  return db.query<JobRow>(
    `WITH changed AS (${change}), ${jobStatusEventCtes(db, params.length + 1)}${more}
     SELECT c.* FROM changed c WHERE (SELECT count(*) FROM notified) >= 0`,
    [...params, eventChannel(db)],
  );
}

/** A new job as submitted (status Queued). */
export type NewJobRow = Pick<
  JobRow,
  | 'id'
  | 'tenant_id'
  | 'project_id'
  | 'job_type'
  | 'name'
  | 'description'
  | 'priority'
  | 'priority_rank'
  | 'resource_type'
  | 'resource_id'
  | 'resource_name'
  | 'parameters'
  | 'scheduling'
  | 'notifications'
  | 'submitted_by'
  | 'created_at'
  | 'run_after'
  | 'retry_of'
  | 'retry_reason'
  | 'idempotency_key'
  | 'request_hash'
  | 'execution_id'
>;

/** Inserts a job as Queued, and its `job.status` event in the same statement. */
export async function insertQueuedJob(db: Db, j: NewJobRow): Promise<JobRow> {
  const [row] = await changeJobsAnnounced(
    db,
    `INSERT INTO jobs (id, tenant_id, project_id, job_type, name, description, priority, priority_rank, status,
       resource_type, resource_id, resource_name, parameters, scheduling, notifications, submitted_by, created_at,
       run_after, updated_at, retry_of, retry_reason, idempotency_key, request_hash, execution_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Queued', $9, $10, $11, $12, $13, $14, $15, $16, $17, $16, $18, $19, $20, $21, $22)
     RETURNING *`,
    [
      j.id,
      j.tenant_id,
      j.project_id,
      j.job_type,
      j.name,
      j.description,
      j.priority,
      j.priority_rank,
      j.resource_type,
      j.resource_id,
      j.resource_name,
      JSON.stringify(j.parameters),
      JSON.stringify(j.scheduling),
      JSON.stringify(j.notifications),
      j.submitted_by,
      j.created_at,
      j.run_after,
      j.retry_of,
      j.retry_reason,
      j.idempotency_key,
      j.request_hash,
      j.execution_id,
    ],
  );
  return row;
}

/**
 * A worker claims a delivered job: Running with a new attempt, unless it was cancelled or has
 * ended. The same statement appends its `job.status` event and counts the run in the worker's
 * active jobs (workers.releaseSlot gives the slot back when the run ends).
 */
export async function claimJob(db: Db, id: string, workerId: string): Promise<JobRow | null> {
  const [row] = await changeJobsAnnounced(
    db,
    `UPDATE jobs SET status = 'Running', attempt = attempt + 1, worker_id = $2, started_at = coalesce(started_at, now()),
       heartbeat_at = now(), updated_at = now(), progress = '{"percentage": 0, "stage": "Starting"}', outputs = '[]'
     WHERE id = $1 AND status IN ('Queued', 'Running') RETURNING *`,
    [id, workerId],
    `,
     slot AS (UPDATE workers SET active_jobs = active_jobs + 1 WHERE id = $2 AND EXISTS (SELECT 1 FROM changed))`,
  );
  return row ?? null;
}

/** A run given back (its worker shuts down): Queued again for the next worker. */
export async function requeueJob(db: Db, id: string, attempt: number): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = 'Queued', worker_id = NULL, progress = '{}', updated_at = now()
     WHERE id = $1 AND attempt = $2 AND status = 'Running'`,
    [id, attempt],
  );
}

/**
 * How a run ended, recorded while its attempt still runs the job; null when it lost the job.
 * With `announce`, the same statement appends the job's `job.status` event and keeps only the
 * job's newest `keepEvents` events, that one included (the caller appends it otherwise, when
 * other events must come before it).
 */
export async function endJob(
  db: Db,
  id: string,
  attempt: number,
  e: Pick<JobRow, 'status_reason' | 'error' | 'progress' | 'outputs' | 'quality' | 'usage'> & {
    status: 'Completed' | 'Failed';
  },
  o: { announce: false } | { announce: true; keepEvents: number },
): Promise<JobRow | null> {
  const change = `UPDATE jobs SET status = $3, status_reason = $4, error = $5, progress = $6, outputs = $7, quality = $8,
       usage = $9, ended_at = now(), updated_at = now()
     WHERE id = $1 AND attempt = $2 AND status = 'Running' RETURNING *`;
  const params = [
    id,
    attempt,
    e.status,
    e.status_reason,
    e.error ? JSON.stringify(e.error) : null,
    JSON.stringify(e.progress),
    JSON.stringify(e.outputs),
    JSON.stringify(e.quality),
    JSON.stringify(e.usage),
  ];
  if (!o.announce) {
    const [row] = await db.query<JobRow>(change, params);
    return row ?? null;
  }
  // The statement does not see its own new event: of the older ones, the newest keepEvents - 1 stay.
  const [row] = await changeJobsAnnounced(
    db,
    change,
    [...params, o.keepEvents - 2],
    `,
     pruned AS (
       DELETE FROM events WHERE job_id = $1 AND EXISTS (SELECT 1 FROM changed) AND seq < (
         SELECT seq FROM events WHERE job_id = $1 ORDER BY seq DESC OFFSET $10 LIMIT 1)
     )`,
  );
  return row ?? null;
}

/** Cancels a queued or running job (the caller holds its row locked). */
export async function cancelJob(db: Db, id: string, request: CancelRequest): Promise<JobRow> {
  const [row] = await db.query<JobRow>(
    `UPDATE jobs SET status = 'Cancelled', status_reason = $2, cancel_request = $3, ended_at = now(), updated_at = now()
     WHERE id = $1 RETURNING *`,
    [id, request.reason, JSON.stringify(request)],
  );
  return row;
}

/** Fails running jobs nobody has heartbeated for `seconds` (their worker died; the queue's retries ran out). */
export async function failLostJobs(db: Db, seconds: number): Promise<JobRow[]> {
  return db.query<JobRow>(
    `UPDATE jobs SET status = 'Failed', ended_at = now(), updated_at = now(),
       status_reason = 'Its worker stopped responding and no other worker took the job over; retry it.',
       error = '{"errorType": "WorkerLost", "message": "The worker running the job stopped responding."}'
     WHERE status = 'Running' AND heartbeat_at < now() - make_interval(secs => $1) RETURNING *`,
    [seconds],
  );
}

// --- executions ---------------------------------------------------------------------------------

export async function insertRunningExecution(
  db: Db,
  e: Pick<ExecutionRow, 'id' | 'notebook_id' | 'job_id' | 'parameters' | 'created_by'> & { started: boolean },
): Promise<void> {
  await db.query(
    `INSERT INTO executions (id, notebook_id, job_id, status, started_at, parameters, created_at, created_by)
     VALUES ($1, $2, $3, 'Running', CASE WHEN $6 THEN now() END, $4, now(), $5)`,
    [e.id, e.notebook_id, e.job_id, JSON.stringify(e.parameters), e.created_by, e.started],
  );
}

/** An execution starts running now (a retried run starts it again). */
export async function startExecution(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE executions SET started_at = now(), status = 'Running', ended_at = NULL WHERE id = $1`, [id]);
}

/** Ends a running execution without results (stopped, failed, refused by the queue). */
export async function stopExecution(
  db: Db,
  id: string,
  status: ExecutionStatus,
  error: ExecutionError | null,
  cellResults: unknown[] | null = null,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE executions SET status = $2, ended_at = now(), error = coalesce(error, $3), cell_results = coalesce($4, cell_results)
     WHERE id = $1 AND status = 'Running' RETURNING id`,
    [id, status, error ? JSON.stringify(error) : null, cellResults ? JSON.stringify(cellResults) : null],
  );
  return rows.length > 0;
}

/** Ends the running executions of a job other than `keep` (a dead attempt's, on takeover). */
export async function cancelOtherExecutionsOfJob(db: Db, jobId: string, keep: string | null): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `UPDATE executions SET status = 'Cancelled', ended_at = now() WHERE job_id = $1 AND status = 'Running' AND id IS DISTINCT FROM $2
     RETURNING id`,
    [jobId, keep],
  );
  return rows.map((r) => r.id);
}

/**
 * Records a finished execution's results; with a fence, only while that attempt still runs the job
 * and the execution still runs (false otherwise: nothing written).
 */
export async function endExecution(
  db: Db,
  id: string,
  r: Pick<ExecutionRow, 'cell_results' | 'outputs' | 'error'> &
    Partial<Pick<ExecutionRow, 'products' | 'resources'>> & { status: 'Completed' | 'Error'; endedAt: Date },
  fence: { jobId: string; attempt: number } | null,
): Promise<boolean> {
  const rows = await db.query(
    `UPDATE executions SET status = $2, ended_at = $3, cell_results = $4, outputs = $5, error = $6,
       products = coalesce($7, products), resources = coalesce($8, resources)
     WHERE id = $1 AND ($9::uuid IS NULL OR (status = 'Running'
       AND EXISTS (SELECT 1 FROM jobs WHERE id = $9 AND attempt = $10 AND status = 'Running'))) RETURNING id`,
    [
      id,
      r.status,
      r.endedAt,
      JSON.stringify(r.cell_results),
      JSON.stringify(r.outputs),
      r.error ? JSON.stringify(r.error) : null,
      r.products ? JSON.stringify(r.products) : null,
      r.resources ? JSON.stringify(r.resources) : null,
      fence?.jobId ?? null,
      fence?.attempt ?? 0,
    ],
  );
  return rows.length > 0;
}

// --- notebooks ----------------------------------------------------------------------------------

/** A notebook starts running an execution. */
export async function notebookRunning(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE notebooks SET status = 'Running' WHERE id = $1`, [id]);
}

/** A notebook is free again after a run that ended early (still Running: nothing else said otherwise). */
export async function releaseNotebook(db: Db, id: string): Promise<void> {
  await db.query(`UPDATE notebooks SET status = 'Ready' WHERE id = $1 AND status = 'Running'`, [id]);
}

/** The notebook of an execution is free again. */
export async function releaseNotebookOfExecution(db: Db, executionId: string): Promise<void> {
  await db.query(
    `UPDATE notebooks SET status = 'Ready' WHERE id = (SELECT notebook_id FROM executions WHERE id = $1) AND status = 'Running'`,
    [executionId],
  );
}

/** A notebook after a finished execution: its status, counters and (Jupyter) cells with their outputs. */
export async function notebookRan(
  db: Db,
  id: string,
  r: { status: NotebookStatus; seconds: number; at: Date; cells?: unknown[]; papermill?: Record<string, unknown> },
): Promise<void> {
  // `papermill` is merged into the notebook metadata's `papermill` object, keeping its other keys.
  await db.query(
    `UPDATE notebooks SET status = $2, last_execution_seconds = $3, last_execution_at = $4,
       execution_count = execution_count + 1, cells = coalesce($5, cells),
       nb_metadata = CASE WHEN $6::jsonb IS NULL THEN nb_metadata ELSE jsonb_set(coalesce(nb_metadata, '{}'::jsonb), '{papermill}',
         CASE WHEN jsonb_typeof(nb_metadata->'papermill') = 'object' THEN nb_metadata->'papermill' ELSE '{}'::jsonb END || $6::jsonb) END
     WHERE id = $1`,
    [
      id,
      r.status,
      r.seconds,
      r.at,
      r.cells ? JSON.stringify(r.cells) : null,
      r.papermill ? JSON.stringify(r.papermill) : null,
    ],
  );
}
