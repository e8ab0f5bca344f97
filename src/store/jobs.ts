import type { Db } from './db';

/**
 * Jobs as the API reports them (pg-boss's own tables only deliver their ids). A job's status is
 * changed only through src/store/transitions.ts; these are its reads and its other writes.
 */

export type JobStatus = 'Queued' | 'Running' | 'Completed' | 'Failed' | 'Cancelled';
export type JobPriority = 'Low' | 'Normal' | 'High' | 'Critical';
export type JobKind = 'ProcessMining' | 'DataEnrichment' | 'Analysis' | 'Notebook';
export type ResourceKind = 'Dataset' | 'Investigation' | 'Pipeline' | 'Notebook';

/** What a run reports while it works. */
export interface JobProgress {
  percentage?: number;
  stage?: string;
  recordsProcessed?: number;
  totalRecords?: number;
  warnings?: number;
  errors?: number;
  cellsDone?: number;
  cellsTotal?: number;
  currentCell?: string | null;
  [key: string]: unknown;
}

export interface JobScheduling {
  executeImmediately: boolean;
  scheduledTime: string | null;
  timeoutMinutes: number;
}

export interface CancelRequest {
  reason: string;
  force: boolean;
  preservePartialResults: boolean;
  at: string;
}

export interface JobRow {
  id: string;
  tenant_id: string;
  project_id: string;
  job_type: JobKind;
  name: string;
  description: string | null;
  priority: JobPriority;
  priority_rank: number;
  status: JobStatus;
  status_reason: string | null;
  resource_type: ResourceKind;
  resource_id: string;
  resource_name: string | null;
  parameters: Record<string, unknown>;
  scheduling: JobScheduling;
  notifications: { onCompletion: boolean; onFailure: boolean; emailRecipients: string[] };
  notified: {
    event: 'onCompletion' | 'onFailure';
    recipients: string[];
    at: string;
    sent: boolean;
    detail: string | null;
  }[];
  submitted_by: string;
  created_at: Date;
  run_after: Date;
  started_at: Date | null;
  ended_at: Date | null;
  updated_at: Date;
  attempt: number;
  worker_id: string | null;
  heartbeat_at: Date | null;
  progress: JobProgress;
  usage: {
    cpuPercent?: number;
    memoryBytes?: number;
    diskBytes?: number;
    cpuSeconds?: number;
    peakMemoryBytes?: number;
  };
  error: { errorType: string; message: string } | null;
  /** The run's file outputs (see domain/jobs.ts StoredJobOutput). */
  outputs: unknown[];
  quality: Record<string, unknown> | null;
  cancel_request: CancelRequest | null;
  retry_of: string | null;
  retry_reason: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  execution_id: string | null;
}

/** A job of the project, optionally locked for an update. */
export async function findJob(db: Db, projectId: string, id: string, forUpdate = false): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>(
    `SELECT * FROM jobs WHERE id = $1 AND project_id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [id, projectId],
  );
  return row ?? null;
}

/** A job by id alone (workers and schedules, which act for every project). */
export async function jobById(db: Db, id: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id]);
  return row ?? null;
}

export async function findByIdempotencyKey(db: Db, projectId: string, key: string): Promise<JobRow | null> {
  const [row] = await db.query<JobRow>('SELECT * FROM jobs WHERE project_id = $1 AND idempotency_key = $2', [
    projectId,
    key,
  ]);
  return row ?? null;
}

/** The project's jobs recorded under any of `keys`. */
export async function findByIdempotencyKeys(db: Db, projectId: string, keys: string[]): Promise<JobRow[]> {
  if (keys.length === 0) return [];
  return db.query<JobRow>('SELECT * FROM jobs WHERE project_id = $1 AND idempotency_key = ANY($2::text[])', [
    projectId,
    keys,
  ]);
}

/**
 * Whether a job insert failed on the unique idempotency key (two submits with one key at once):
 * SQLSTATE 23505, unique_violation. The insert's only other unique key is its random id.
 */
export function isIdempotencyConflict(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '23505';
}

/** Filters of a project's job list. */
export interface JobFilter {
  status?: string;
  jobType?: string;
  priority?: string;
  submittedBy?: string;
  dateFrom?: Date;
  dateTo?: Date;
}

/** A page of a project's jobs, newest first, with counts per state of all the filters match (status aside). */
export async function jobsOf(db: Db, projectId: string, f: JobFilter, limit: number, offset: number) {
  const where = ['project_id = $1'];
  const params: unknown[] = [projectId];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.jobType) add('job_type = ?', f.jobType);
  if (f.priority) add('priority = ?', f.priority);
  if (f.submittedBy) add('submitted_by = ?', f.submittedBy);
  if (f.dateFrom) add('created_at >= ?', f.dateFrom);
  if (f.dateTo) add('created_at <= ?', f.dateTo);
  const [counts] = await db.query<
    Record<'total' | 'running' | 'queued' | 'completed' | 'failed' | 'cancelled', number>
  >(
    `SELECT count(*)::int AS total,
       count(*) FILTER (WHERE status = 'Running')::int AS running, count(*) FILTER (WHERE status = 'Queued')::int AS queued,
       count(*) FILTER (WHERE status = 'Completed')::int AS completed, count(*) FILTER (WHERE status = 'Failed')::int AS failed,
       count(*) FILTER (WHERE status = 'Cancelled')::int AS cancelled
     FROM jobs WHERE ${where.join(' AND ')}`,
    params,
  );
  if (f.status) add('status = ?', f.status);
  const rows = await db.query<JobRow>(
    `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, limit, offset],
  );
  return { rows, counts };
}

/** Jobs of a project that are queued or running (a project with any may not be deleted). */
export async function activeJobsOfProject(db: Db, projectId: string): Promise<number> {
  const [{ active }] = await db.query<{ active: number }>(
    `SELECT count(*)::int AS active FROM jobs WHERE project_id = $1 AND status IN ('Queued', 'Running')`,
    [projectId],
  );
  return active;
}

/**
 * A tenant's jobs waiting, and its Notebook jobs queued or running, counted under a per-tenant
 * lock held to the end of the transaction (so that concurrent submits count one another). PGlite
 * has one connection whose transactions run one after another: no lock needed there.
 */
export async function lockedInFlightOfTenant(tx: Db, tenantId: string): Promise<{ queued: number; kernels: number }> {
  if (tx.kind !== 'pglite') {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`assay-tenant-limits:${tenantId}`]);
  }
  const [n] = await tx.query<{ queued: number; kernels: number }>(
    `SELECT count(*) FILTER (WHERE status = 'Queued')::int AS queued,
       count(*) FILTER (WHERE job_type = 'Notebook')::int AS kernels
     FROM jobs WHERE tenant_id = $1 AND status IN ('Queued', 'Running')`,
    [tenantId],
  );
  return n;
}

/** Average seconds of the jobs (of a type, or all) completed in the last week, or null without any. */
export async function averageDuration(db: Db, jobType: string | null): Promise<number | null> {
  const [row] = await db.query<{ s: number | null }>(
    `SELECT avg(extract(epoch FROM ended_at - started_at))::float8 AS s FROM jobs
     WHERE ($1::text IS NULL OR job_type = $1) AND status = 'Completed' AND ended_at > now() - interval '7 days'`,
    [jobType],
  );
  return row.s;
}

/** Jobs ahead of a queued one, jobs running, and the live workers' capacity (all tenants share them). */
export async function queueFigures(
  db: Db,
  job: Pick<JobRow, 'id' | 'priority_rank' | 'created_at'>,
  liveSeconds: number,
) {
  const [row] = await db.query<{ ahead: number; running: number; capacity: number }>(
    `SELECT
       (SELECT count(*)::int FROM jobs WHERE status = 'Queued' AND run_after <= now()
          AND (priority_rank > $1 OR (priority_rank = $1 AND (created_at, id) < ($2, $3)))) AS ahead,
       (SELECT count(*)::int FROM jobs WHERE status = 'Running') AS running,
       (SELECT coalesce(sum(capacity), 0)::int FROM workers
          WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $4)) AS capacity`,
    [job.priority_rank, job.created_at, job.id, liveSeconds],
  );
  return row;
}

/** queueFigures for several queued jobs in one statement: the jobs ahead of each (by id), running, capacity. */
export async function queueFiguresOfJobs(db: Db, ids: string[], liveSeconds: number) {
  const rows = await db.query<{ id: string; ahead: number; running: number; capacity: number }>(
    `SELECT j.id,
       (SELECT count(*)::int FROM jobs q WHERE q.status = 'Queued' AND q.run_after <= now()
          AND (q.priority_rank > j.priority_rank OR (q.priority_rank = j.priority_rank AND (q.created_at, q.id) < (j.created_at, j.id)))) AS ahead,
       r.running, c.capacity
     FROM jobs j,
       (SELECT count(*)::int AS running FROM jobs WHERE status = 'Running') r,
       (SELECT coalesce(sum(capacity), 0)::int AS capacity FROM workers
          WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $2)) c
     WHERE j.id = ANY($1::uuid[])`,
    [ids, liveSeconds],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

/** A tenant's queue and the day's figures, for the system status. */
export async function tenantQueueFigures(db: Db, tenantId: string) {
  const [row] = await db.query<{
    queued: number;
    critical: number;
    high: number;
    normal: number;
    low: number;
    wait_s: number | null;
    completed_today: number;
    duration_s: number | null;
    finished_day: number;
    completed_day: number;
    completed_hour: number;
  }>(
    `SELECT count(*) FILTER (WHERE status = 'Queued')::int AS queued,
       count(*) FILTER (WHERE status = 'Queued' AND priority = 'Critical')::int AS critical,
       count(*) FILTER (WHERE status = 'Queued' AND priority = 'High')::int AS high,
       count(*) FILTER (WHERE status = 'Queued' AND priority = 'Normal')::int AS normal,
       count(*) FILTER (WHERE status = 'Queued' AND priority = 'Low')::int AS low,
       avg(extract(epoch FROM started_at - run_after)) FILTER (WHERE started_at > now() - interval '1 day')::float8 AS wait_s,
       count(*) FILTER (WHERE status = 'Completed' AND ended_at >= date_trunc('day', now()))::int AS completed_today,
       avg(extract(epoch FROM ended_at - started_at)) FILTER (WHERE status = 'Completed' AND ended_at > now() - interval '1 day')::float8 AS duration_s,
       count(*) FILTER (WHERE status IN ('Completed', 'Failed') AND ended_at > now() - interval '1 day')::int AS finished_day,
       count(*) FILTER (WHERE status = 'Completed' AND ended_at > now() - interval '1 day')::int AS completed_day,
       count(*) FILTER (WHERE status = 'Completed' AND ended_at > now() - interval '1 hour')::int AS completed_hour
     FROM jobs WHERE tenant_id = $1`,
    [tenantId],
  );
  return row;
}

/** How many jobs of each type are in each state, across all tenants (only the pairs that have any). */
export async function jobCountsByTypeAndStatus(db: Db) {
  return db.query<{ job_type: JobKind; status: JobStatus; n: number }>(
    'SELECT job_type, status, count(*)::int AS n FROM jobs GROUP BY job_type, status',
  );
}

/** Queued jobs whose start time has come, by priority, across all tenants (only the priorities that have any). */
export async function waitingJobsByPriority(db: Db) {
  return db.query<{ priority: JobPriority; n: number }>(
    `SELECT priority, count(*)::int AS n FROM jobs WHERE status = 'Queued' AND run_after <= now() GROUP BY priority`,
  );
}

/** A run's progress, while its attempt still runs the job; false when it lost the job. */
export async function saveProgress(db: Db, id: string, attempt: number, progress: JobProgress): Promise<boolean> {
  const rows = await db.query(
    `UPDATE jobs SET progress = $3, updated_at = now() WHERE id = $1 AND attempt = $2 AND status = 'Running' RETURNING id`,
    [id, attempt, JSON.stringify(progress)],
  );
  return rows.length > 0;
}

/** The worker's heartbeat on the jobs it runs, with their load. */
export async function heartbeatJobs(db: Db, ids: string[], workerId: string, usage: JobRow['usage']): Promise<void> {
  await db.query(
    `UPDATE jobs SET heartbeat_at = now(), usage = $3 WHERE id = ANY($1::uuid[]) AND worker_id = $2 AND status = 'Running'`,
    [ids, workerId, JSON.stringify(usage)],
  );
}

/** Status, attempt and cancel request of the jobs a worker runs, to notice cancels and takeovers. */
export async function watchedJobs(db: Db, ids: string[]) {
  return db.query<Pick<JobRow, 'id' | 'status' | 'attempt' | 'cancel_request'>>(
    'SELECT id, status, attempt, cancel_request FROM jobs WHERE id = ANY($1::uuid[])',
    [ids],
  );
}

/** What a cancelled run keeps: its outputs and last progress (or none, when they were dropped). */
export async function keepCancelledOutputs(
  db: Db,
  id: string,
  outputs: unknown[],
  progress: JobProgress,
): Promise<void> {
  await db.query('UPDATE jobs SET outputs = $2, progress = $3 WHERE id = $1', [
    id,
    JSON.stringify(outputs),
    JSON.stringify(progress),
  ]);
}

/** Jobs waiting for a minute past their start that the queue may have lost (a crash between recording and queueing). */
export async function overdueQueuedJobs(db: Db): Promise<JobRow[]> {
  return db.query<JobRow>(
    `SELECT * FROM jobs WHERE status = 'Queued' AND run_after < now() - interval '60 seconds'
     ORDER BY priority_rank DESC, created_at LIMIT 100`,
  );
}

/** Records a notification of the job, sent or not. */
export async function recordNotification(db: Db, id: string, entry: JobRow['notified'][number]): Promise<void> {
  await db.query(`UPDATE jobs SET notified = notified || $2::jsonb WHERE id = $1`, [id, JSON.stringify([entry])]);
}
