import { createHash, randomUUID } from 'node:crypto';
import type { Job, JobCancel, JobList, JobResults, JobRetry, JobSubmit, JobSubmitted } from '../api/types';
import type { JobQueue, TenantLimits } from '../jobs/queue';
import type { Db, Row } from '../store/db';
import { artifactUrl } from './artifacts';
import { ConflictError, InvalidError, NotFoundError, QuotaError } from './errors';
import { iso, isoOrNull, pageInfo, type PageRequest, type Scope } from './scope';
import { describeBytes, describeSeconds } from './units';
import { checkParameters } from '../kernels/parameters';

/**
 * Jobs as the API sees them (page 002): submit, status, list, cancel, retry and results. Workers
 * (src/jobs/worker.ts) run them; this module never runs one.
 */

type Priority = Job['priority'];
type JobType = Job['jobType'];
type ResourceType = Job['resource']['resourceType'];

/** pg-boss priority of each level: higher first. A retry with `immediateExecution` goes ahead of its level. */
const PRIORITY_RANK: Record<Priority, number> = { Low: 0, Normal: 10, High: 20, Critical: 30 };
const IMMEDIATE_BONUS = 5;

/** The longest pg-boss lets a delivered job stay active. */
const MAX_QUEUE_EXPIRY_SECONDS = 24 * 3600;

/** Estimates use this when a job type has no finished job yet. */
const DEFAULT_DURATION_SECONDS = 30;

/** A job's file output as stored: the contract's JobOutput without the URL, plus its artifact. */
export interface StoredJobOutput {
  role: 'primary' | 'additional';
  type: string;
  title: string;
  format: string;
  sizeBytes: number;
  sha256: string;
  artifactId?: string;
  datasetId?: string;
  recordCount?: number;
  accuracy?: number | null;
}

/** What a new job needs besides its request: who submits it (an API key id, or `system`). */
interface NewJob {
  /** Chosen by the caller when something must point at the job before it is queued. */
  id?: string;
  scope: Scope;
  request: JobSubmit;
  submittedBy: string;
  idempotencyKey?: string;
  retryOf?: { id: string; reason: string | null };
  immediate?: boolean;
  /** The execution row an Analysis job of one notebook reports into. */
  executionId?: string;
}

/**
 * Checks the resource and parameters, records the job as Queued and puts it on the queue.
 * With an `Idempotency-Key` already used for the same body, returns that job instead; for
 * another body, 409. Unknown or foreign resources are refused here, never at run time.
 */
export async function submitJob(
  db: Db,
  queue: JobQueue,
  scope: Scope,
  request: JobSubmit,
  idempotencyKey: string | undefined,
): Promise<JobSubmitted> {
  const requestHash = hashRequest(request);
  if (idempotencyKey) {
    const earlier = await findByIdempotencyKey(db, scope, idempotencyKey, requestHash);
    if (earlier) return submittedView(db, earlier);
  }
  try {
    const row = await createJob(db, queue, { scope, request, submittedBy: scope.actor, idempotencyKey }, requestHash);
    return submittedView(db, row);
  } catch (err) {
    // Two submits with one key at the same moment: the unique index lets one in; answer the other with it.
    if (idempotencyKey && /jobs_idempotency/.test((err as Error).message)) {
      const earlier = await findByIdempotencyKey(db, scope, idempotencyKey, requestHash);
      if (earlier) return submittedView(db, earlier);
    }
    throw err;
  }
}

async function findByIdempotencyKey(db: Db, scope: Scope, key: string, requestHash: string): Promise<Row | null> {
  const rows = await db.query('SELECT * FROM jobs WHERE project_id = $1 AND idempotency_key = $2', [
    scope.projectId,
    key,
  ]);
  if (rows.length === 0) return null;
  if (rows[0].request_hash !== requestHash) {
    throw new ConflictError(
      'Idempotency key reused',
      'This Idempotency-Key was used for a different request; use a new key.',
      { JobId: String(rows[0].id) },
    );
  }
  return rows[0];
}

/** Records a job and queues it. Also used for retries and for notebook executions. */
export async function createJob(db: Db, queue: JobQueue, job: NewJob, requestHash?: string): Promise<Row> {
  const { scope, request } = job;
  const resource = await resolveResource(db, scope, request);
  const id = job.id ?? randomUUID();
  const now = new Date();
  const scheduling = {
    executeImmediately: request.scheduling?.executeImmediately ?? true,
    scheduledTime: request.scheduling?.scheduledTime ?? null,
    timeoutMinutes: request.scheduling?.timeoutMinutes ?? 120,
  };
  const runAfter = startTimeOf(scheduling, now);
  const priority = request.priority ?? 'Normal';
  const rank = PRIORITY_RANK[priority] + (job.immediate ? IMMEDIATE_BONUS : 0);
  const [row] = await db.transaction(async (tx) => {
    await checkTenantLimits(tx, queue.tenantLimits, scope.tenantId, request.jobType);
    return tx.query(
      `INSERT INTO jobs (id, tenant_id, project_id, job_type, name, description, priority, priority_rank, status,
       resource_type, resource_id, resource_name, parameters, scheduling, notifications, submitted_by, created_at,
       run_after, updated_at, retry_of, retry_reason, idempotency_key, request_hash, execution_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Queued', $9, $10, $11, $12, $13, $14, $15, $16, $17, $16, $18, $19, $20, $21, $22)
     RETURNING *`,
      [
        id,
        scope.tenantId,
        scope.projectId,
        request.jobType,
        request.jobName,
        request.jobDescription ?? null,
        priority,
        rank,
        request.resource.resourceType,
        request.resource.resourceId.toLowerCase(),
        resource.name,
        JSON.stringify(request.parameters ?? {}),
        JSON.stringify(scheduling),
        JSON.stringify({
          onCompletion: request.notifications?.onCompletion ?? false,
          onFailure: request.notifications?.onFailure ?? false,
          emailRecipients: request.notifications?.emailRecipients ?? [],
        }),
        job.submittedBy,
        now,
        runAfter,
        job.retryOf?.id ?? null,
        job.retryOf?.reason ?? null,
        job.idempotencyKey ?? null,
        requestHash ?? null,
        job.executionId ?? null,
      ],
    );
  });
  try {
    await enqueue(queue, row);
  } catch (err) {
    await db.query(
      `UPDATE jobs SET status = 'Failed', status_reason = $2, ended_at = now(), updated_at = now() WHERE id = $1`,
      [id, `The queue refused the job: ${(err as Error).message}`],
    );
    throw err;
  }
  return row;
}

/**
 * A tenant may hold only so much of the shared queue: jobs waiting, and Notebook jobs queued or
 * running (each holds a kernel sandbox). Checked under a per-tenant lock in the transaction that
 * records the job, so concurrent submits cannot slip past the limit together.
 */
async function checkTenantLimits(tx: Db, limits: TenantLimits, tenantId: string, jobType: JobType): Promise<void> {
  if (limits.queuedJobs === Infinity && limits.kernels === Infinity) return;
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`assay-tenant-limits:${tenantId}`]);
  const [n] = await tx.query<{ queued: number; kernels: number }>(
    `SELECT count(*) FILTER (WHERE status = 'Queued')::int AS queued,
       count(*) FILTER (WHERE job_type = 'Notebook')::int AS kernels
     FROM jobs WHERE tenant_id = $1 AND status IN ('Queued', 'Running')`,
    [tenantId],
  );
  const retryAfter = async (type: string | null) =>
    Math.min(3600, Math.max(1, Math.ceil(await typicalDuration(tx, type))));
  if (n.queued >= limits.queuedJobs) {
    throw new QuotaError(
      `This tenant has ${n.queued} jobs waiting, the limit is ${limits.queuedJobs}; nothing was queued. Retry once some have started.`,
      await retryAfter(null),
      { Limit: limits.queuedJobs, Current: n.queued },
    );
  }
  if (jobType === 'Notebook' && n.kernels >= limits.kernels) {
    throw new QuotaError(
      `This tenant has ${n.kernels} notebook executions queued or running, the limit of concurrent kernels is ${limits.kernels}; nothing was queued. Retry once one has finished.`,
      await retryAfter('Notebook'),
      { Limit: limits.kernels, Current: n.kernels },
    );
  }
}

/** Puts a recorded job on the queue (again: pg-boss ignores an id it already has). */
export async function enqueue(queue: JobQueue, row: Row): Promise<void> {
  const timeoutMinutes = Number((row.scheduling as { timeoutMinutes?: number }).timeoutMinutes ?? 120);
  await queue.send(String(row.id), {
    priority: Number(row.priority_rank),
    startAfter: new Date(row.run_after as string),
    // The worker enforces the timeout itself; pg-boss's expiry is only the backstop, and pg-boss
    // refuses one over 24 hours (the contract's longest timeout).
    expireInSeconds: Math.min(MAX_QUEUE_EXPIRY_SECONDS, Math.ceil(timeoutMinutes * 60) + 120),
  });
}

function startTimeOf(s: { executeImmediately: boolean; scheduledTime: string | null }, now: Date): Date {
  if (s.executeImmediately) return now;
  if (!s.scheduledTime) {
    throw new InvalidError('Validation failed', 'A job that does not execute immediately needs a scheduledTime.', [
      { field: 'body.scheduling.scheduledTime', message: 'is required when executeImmediately is false' },
    ]);
  }
  const at = new Date(s.scheduledTime);
  return at > now ? at : now;
}

/** Which resource types each job type works on. */
const ACCEPTED: Record<JobType, ResourceType[]> = {
  ProcessMining: ['Dataset', 'Investigation', 'Pipeline', 'Notebook'],
  DataEnrichment: ['Dataset', 'Investigation', 'Pipeline', 'Notebook'],
  Analysis: ['Notebook', 'Investigation', 'Pipeline'],
  Notebook: ['Notebook'],
};

/**
 * The resource a job names, checked now: it must exist in this project (404) and suit the job
 * type (400). A `datasetId` parameter must be a dataset of the project too.
 */
async function resolveResource(db: Db, scope: Scope, request: JobSubmit): Promise<{ name: string }> {
  const { resourceType } = request.resource;
  const resourceId = request.resource.resourceId.toLowerCase();
  if (!ACCEPTED[request.jobType].includes(resourceType)) {
    throw new InvalidError(
      'Validation failed',
      `A ${request.jobType} job works on ${ACCEPTED[request.jobType].join(', ')}, not on a ${resourceType}; nothing was queued.`,
      [{ field: 'body.resource.resourceType', message: `must be one of ${ACCEPTED[request.jobType].join(', ')}` }],
    );
  }
  const parameterDataset = (request.parameters as { datasetId?: unknown } | undefined)?.datasetId;
  if (parameterDataset !== undefined) await requireParameterDataset(db, scope, parameterDataset);
  switch (resourceType) {
    case 'Dataset': {
      const rows = await db.query('SELECT name FROM datasets WHERE id = $1 AND project_id = $2', [
        resourceId,
        scope.projectId,
      ]);
      if (rows.length === 0) throw notFound('Dataset', 'DatasetId', resourceId);
      return { name: String(rows[0].name) };
    }
    case 'Investigation':
    case 'Pipeline': {
      const rows = await db.query('SELECT name FROM investigations WHERE id = $1 AND project_id = $2', [
        resourceId,
        scope.projectId,
      ]);
      if (rows.length === 0) throw notFound(resourceType, 'InvestigationId', resourceId);
      if (request.jobType === 'Analysis') {
        const [{ n }] = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM notebooks WHERE investigation_id = $1 AND notebook_type = 0',
          [resourceId],
        );
        if (n === 0) {
          throw new InvalidError(
            'Validation failed',
            'The investigation has no standard notebook to run; nothing was queued.',
            [{ field: 'body.resource.resourceId', message: 'has no standard notebook' }],
          );
        }
      }
      return { name: String(rows[0].name) };
    }
    case 'Notebook': {
      const rows = await db.query(
        `SELECT n.name, n.notebook_type, coalesce(i.dataset_id::text, n.integration->>'datasetBinding') AS dataset_id
         FROM notebooks n LEFT JOIN investigations i ON i.id = n.investigation_id WHERE n.id = $1 AND n.project_id = $2`,
        [resourceId, scope.projectId],
      );
      if (rows.length === 0) throw notFound('Notebook', 'NotebookId', resourceId);
      const jupyter = Number(rows[0].notebook_type) === 1;
      if (request.jobType === 'Notebook' && !jupyter) {
        throw new InvalidError(
          'Validation failed',
          'A Notebook job runs a Jupyter notebook; run a standard one as an Analysis job.',
          [{ field: 'body.jobType', message: 'must be Analysis for a standard notebook' }],
        );
      }
      if (request.jobType === 'Analysis' && jupyter) {
        throw new InvalidError(
          'Validation failed',
          'An Analysis job runs a standard notebook; run a Jupyter one as a Notebook job.',
          [{ field: 'body.jobType', message: 'must be Notebook for a Jupyter notebook' }],
        );
      }
      if (jupyter) {
        const [nb] = await db.query('SELECT cells FROM notebooks WHERE id = $1', [resourceId]);
        const cells = (nb.cells as { cell_type: string; source: string; metadata: { tags?: string[] } }[]) ?? [];
        const problems = checkParameters(
          cells.map((c) => ({ cellType: c.cell_type, source: c.source, tags: c.metadata?.tags ?? [] })),
          notebookParameters(request.parameters ?? {}),
        );
        if (problems.length > 0) {
          throw new InvalidError(
            'Validation failed',
            "The parameters do not fit the notebook's parameters cell; nothing was queued.",
            problems,
          );
        }
        return { name: String(rows[0].name) };
      }
      if (!rows[0].dataset_id && parameterDataset === undefined) {
        throw new InvalidError('Validation failed', 'The notebook is bound to no dataset; pass parameters.datasetId.', [
          { field: 'body.parameters.datasetId', message: 'is required for a notebook without a dataset' },
        ]);
      }
      return { name: String(rows[0].name) };
    }
    default:
      throw new Error(`Unknown resource type ${String(resourceType)}`);
  }
}

/**
 * The parameters a Notebook job injects: a job submitted through the job API carries them as its
 * `parameters`; one made by `POST .../execute` carries the execution's options, parameters inside.
 */
export function notebookParameters(parameters: Record<string, unknown>): Record<string, unknown> {
  return 'executionMode' in parameters ? ((parameters.parameters as Record<string, unknown>) ?? {}) : parameters;
}

async function requireParameterDataset(db: Db, scope: Scope, value: unknown): Promise<void> {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  if (typeof value !== 'string' || !uuid.test(value)) {
    throw new InvalidError('Validation failed', 'parameters.datasetId must be the id of a dataset of this project.', [
      { field: 'body.parameters.datasetId', message: 'must be a GUID' },
    ]);
  }
  const rows = await db.query('SELECT 1 FROM datasets WHERE id = $1 AND project_id = $2', [
    value.toLowerCase(),
    scope.projectId,
  ]);
  if (rows.length === 0) throw notFound('Dataset', 'DatasetId', value.toLowerCase());
}

function notFound(what: string, idKey: string, id: string): NotFoundError {
  const err = new NotFoundError(what === 'Pipeline' ? 'Pipeline' : what, idKey, id);
  err.message = `No ${what} ${id} in this project; nothing was queued.`;
  return err;
}

/** The request's fingerprint for idempotency: its JSON with keys sorted. */
function hashRequest(request: JobSubmit): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(request)))
    .digest('hex');
}

// --- reading ------------------------------------------------------------------------------------

/** A job of the project, or 404 (also for another project's). */
export async function requireJob(db: Db, scope: Scope, jobId: string): Promise<Row> {
  const rows = await db.query('SELECT * FROM jobs WHERE id = $1 AND project_id = $2', [jobId, scope.projectId]);
  if (rows.length === 0) throw new NotFoundError('Job', 'JobId', jobId);
  return rows[0];
}

export async function getJob(db: Db, scope: Scope, jobId: string): Promise<Job> {
  return jobView(db, await requireJob(db, scope, jobId));
}

/** Average seconds of finished jobs of a type over the last week, or the default. */
export async function typicalDuration(db: Db, jobType: string | null): Promise<number> {
  // Every status answer needs it and it changes slowly: remember it for a few seconds.
  const cached = typicalCache.get(jobType ?? '*');
  if (cached && cached.until > Date.now()) return cached.seconds;
  const [r] = await db.query<{ s: number | null }>(
    `SELECT avg(extract(epoch FROM ended_at - started_at))::float8 AS s FROM jobs
     WHERE ($1::text IS NULL OR job_type = $1) AND status = 'Completed' AND ended_at > now() - interval '7 days'`,
    [jobType],
  );
  const seconds = r.s ?? DEFAULT_DURATION_SECONDS;
  typicalCache.set(jobType ?? '*', { seconds, until: Date.now() + 5_000 });
  return seconds;
}
const typicalCache = new Map<string, { seconds: number; until: number }>();

/** Where a queued job stands: jobs ahead of it (all tenants share the workers) and when it may start. */
export async function queueEstimate(db: Db, row: Row): Promise<{ position: number; startAt: Date } | null> {
  if (row.status !== 'Queued') return null;
  const [r] = await db.query<{ ahead: number; running: number; capacity: number }>(
    `SELECT
       (SELECT count(*)::int FROM jobs WHERE status = 'Queued' AND run_after <= now()
          AND (priority_rank > $1 OR (priority_rank = $1 AND (created_at, id) < ($2, $3)))) AS ahead,
       (SELECT count(*)::int FROM jobs WHERE status = 'Running') AS running,
       (SELECT coalesce(sum(capacity), 0)::int FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '30 seconds') AS capacity`,
    [row.priority_rank, row.created_at, row.id],
  );
  const typical = await typicalDuration(db, null);
  const slots = Math.max(1, r.capacity);
  // Jobs ahead and running share the slots; each takes a typical job's time.
  const waves = Math.floor((r.ahead + r.running) / slots);
  const earliest = Math.max(Date.now(), new Date(row.run_after as string).getTime());
  return { position: r.ahead + 1, startAt: new Date(earliest + waves * typical * 1000) };
}

/** The job as page 002 shows it. */
export async function jobView(db: Db, row: Row): Promise<Job> {
  const progress = row.progress as {
    percentage?: number;
    stage?: string;
    recordsProcessed?: number;
    totalRecords?: number;
    warnings?: number;
    errors?: number;
  };
  const usage = row.usage as { memoryBytes?: number; cpuPercent?: number; diskBytes?: number };
  const started = row.started_at ? new Date(row.started_at as string) : null;
  const ended = row.ended_at ? new Date(row.ended_at as string) : null;
  const elapsed = started ? ((ended ?? new Date()).getTime() - started.getTime()) / 1000 : null;
  const estimate = await queueEstimate(db, row);
  const typical =
    row.status === 'Queued' || row.status === 'Running' ? await typicalDuration(db, String(row.job_type)) : 0;
  const percentage = row.status === 'Completed' ? 100 : Math.floor(progress.percentage ?? 0);
  let completion: Date | null = null;
  if (row.status === 'Queued' && estimate) completion = new Date(estimate.startAt.getTime() + typical * 1000);
  if (row.status === 'Running' && started && elapsed !== null) {
    // From the job's own progress once it has some; from the history of its type before that.
    const total = percentage >= 5 ? elapsed / (percentage / 100) : Math.max(typical, elapsed);
    completion = new Date(started.getTime() + total * 1000);
  }
  if (ended) completion = ended;
  const records = progress.recordsProcessed ?? 0;
  const rate = elapsed && elapsed > 0 && records > 0 ? records / elapsed : null;
  return {
    jobId: String(row.id),
    projectId: String(row.project_id),
    jobType: row.job_type as JobType,
    jobName: String(row.name),
    jobDescription: (row.description as string | null) ?? null,
    status: row.status as Job['status'],
    statusReason: (row.status_reason as string | null) ?? null,
    priority: row.priority as Priority,
    queuePosition: estimate?.position ?? null,
    progress: {
      percentage,
      currentStage: progress.stage ?? (row.status === 'Queued' ? 'Queued' : null),
      estimatedCompletion: completion ? completion.toISOString() : null,
      elapsedTime: elapsed === null ? null : describeSeconds(elapsed),
      elapsedSeconds: elapsed,
    },
    resource: {
      resourceType: row.resource_type as ResourceType,
      resourceId: String(row.resource_id),
      resourceName: String(row.resource_name ?? ''),
    },
    execution: {
      startTime: isoOrNull(row.started_at),
      endTime: isoOrNull(row.ended_at),
      submittedBy: String(row.submitted_by),
      executionNode: (row.worker_id as string | null) ?? null,
      memoryUsage: usage.memoryBytes ? describeBytes(usage.memoryBytes) : null,
      memoryBytes: usage.memoryBytes ?? null,
      cpuUsage: usage.cpuPercent !== undefined ? `${Math.round(usage.cpuPercent)}%` : null,
      cpuPercent: usage.cpuPercent ?? null,
      diskUsage: usage.diskBytes !== undefined ? describeBytes(usage.diskBytes) : null,
      diskBytes: usage.diskBytes ?? null,
    },
    metrics: {
      recordsProcessed: records,
      totalRecords: progress.totalRecords ?? null,
      errorCount: progress.errors ?? 0,
      warningCount: progress.warnings ?? 0,
      averageProcessingRate: rate === null ? null : `${Math.round(rate)} records/second`,
      recordsPerSecond: rate,
    },
    error: (row.error as Job['error']) ?? null,
    parameters: row.parameters as Record<string, unknown>,
    scheduling: row.scheduling as Job['scheduling'],
    notifications: row.notifications as Job['notifications'],
    notificationLog: row.notified as Job['notificationLog'],
    retryOf: (row.retry_of as string | null) ?? null,
    retryReason: (row.retry_reason as string | null) ?? null,
    dateCreated: iso(row.created_at),
    lastUpdated: iso(row.updated_at),
  };
}

/** The submit answer of page 002. */
async function submittedView(db: Db, row: Row): Promise<JobSubmitted> {
  const estimate = await queueEstimate(db, row);
  const typical = await typicalDuration(db, String(row.job_type));
  return {
    jobId: String(row.id),
    jobType: row.job_type as JobType,
    status: row.status as JobSubmitted['status'],
    queuePosition: estimate?.position ?? null,
    estimatedStartTime: estimate ? estimate.startAt.toISOString() : isoOrNull(row.started_at),
    estimatedDuration: describeSeconds(typical),
    estimatedDurationSeconds: typical,
    jobName: String(row.name),
    priority: row.priority as Priority,
    dateSubmitted: iso(row.created_at),
    submittedBy: String(row.submitted_by),
  };
}

/** The project's jobs, newest first, with counts per state over everything the filters match. */
export async function listJobs(
  db: Db,
  scope: Scope,
  filters: {
    status?: string;
    jobType?: string;
    priority?: string;
    submittedBy?: string;
    dateFrom?: string;
    dateTo?: string;
  },
  paging: PageRequest,
): Promise<JobList> {
  const where = ['project_id = $1'];
  const params: unknown[] = [scope.projectId];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filters.jobType) add('job_type = ?', filters.jobType);
  if (filters.priority) add('priority = ?', filters.priority);
  if (filters.submittedBy) add('submitted_by = ?', filters.submittedBy);
  if (filters.dateFrom) add('created_at >= ?', new Date(filters.dateFrom));
  if (filters.dateTo) add('created_at <= ?', new Date(filters.dateTo));
  const [counts] = await db.query<Record<string, number>>(
    `SELECT count(*)::int AS total,
       count(*) FILTER (WHERE status = 'Running')::int AS running, count(*) FILTER (WHERE status = 'Queued')::int AS queued,
       count(*) FILTER (WHERE status = 'Completed')::int AS completed, count(*) FILTER (WHERE status = 'Failed')::int AS failed,
       count(*) FILTER (WHERE status = 'Cancelled')::int AS cancelled
     FROM jobs WHERE ${where.join(' AND ')}`,
    params,
  );
  if (filters.status) add('status = ?', filters.status);
  const totalCount = filters.status
    ? Number(
        counts[
          { Running: 'running', Queued: 'queued', Completed: 'completed', Failed: 'failed', Cancelled: 'cancelled' }[
            filters.status
          ]!
        ],
      )
    : counts.total;
  const rows = await db.query(
    `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, paging.pageSize, (paging.page - 1) * paging.pageSize],
  );
  const jobs = await Promise.all(
    rows.map(async (row) => {
      const view = await jobView(db, row);
      const seconds = row.ended_at && row.started_at ? view.progress.elapsedSeconds : null;
      return {
        jobId: view.jobId,
        jobType: view.jobType,
        jobName: view.jobName,
        status: view.status,
        priority: view.priority,
        progress: view.progress.percentage,
        startTime: view.execution.startTime,
        endTime: view.execution.endTime ?? null,
        estimatedCompletion: view.progress.estimatedCompletion,
        duration: seconds === null || seconds === undefined ? null : describeSeconds(seconds),
        durationSeconds: seconds ?? null,
        submittedBy: view.execution.submittedBy,
        resourceName: view.resource.resourceName ?? null,
      };
    }),
  );
  return {
    jobs,
    summary: {
      totalJobs: counts.total,
      runningJobs: counts.running,
      queuedJobs: counts.queued,
      completedJobs: counts.completed,
      failedJobs: counts.failed,
      cancelledJobs: counts.cancelled,
    },
    ...pageInfo(paging, totalCount),
  };
}

// --- changing -----------------------------------------------------------------------------------

/**
 * Cancels a job. A queued one is Cancelled at once and taken off the queue; a running one is
 * marked Cancelled and its worker, which watches its jobs' rows, stops it (within 2 seconds).
 * Any API process can cancel: the row is the message. A finished job answers 409.
 */
export async function cancelJob(db: Db, queue: JobQueue, scope: Scope, jobId: string, body: JobCancel): Promise<Job> {
  const reason = body.reason?.trim() || 'Cancelled by the user';
  const request = {
    reason,
    force: body.forceTermination ?? false,
    preservePartialResults: body.preservePartialResults ?? true,
    at: new Date().toISOString(),
  };
  const row = await db.transaction(async (tx) => {
    const [current] = await tx.query('SELECT * FROM jobs WHERE id = $1 AND project_id = $2 FOR UPDATE', [
      jobId,
      scope.projectId,
    ]);
    if (!current) throw new NotFoundError('Job', 'JobId', jobId);
    if (current.status !== 'Queued' && current.status !== 'Running') {
      throw new ConflictError('Job has finished', `The job is ${String(current.status)} and cannot be cancelled.`, {
        JobId: jobId,
        CurrentStatus: current.status,
      });
    }
    const [updated] = await tx.query(
      `UPDATE jobs SET status = 'Cancelled', status_reason = $2, cancel_request = $3, ended_at = now(), updated_at = now()
       WHERE id = $1 RETURNING *`,
      [jobId, reason, JSON.stringify(request)],
    );
    if (current.execution_id) {
      await tx.query(
        `UPDATE executions SET status = 'Cancelled', ended_at = now() WHERE id = $1 AND status = 'Running'`,
        [current.execution_id],
      );
    }
    return updated;
  });
  // Off the queue if it had not started; a running job's worker sees the row and stops.
  await queue.cancel(jobId);
  return jobView(db, row);
}

/**
 * Retries a Failed or Cancelled job as a new job linked to it: the same resource and request,
 * parameters merged with `updatedParameters` when `modifyParameters` is true, and a new priority
 * if given. `immediateExecution` puts it ahead of the jobs of its priority.
 */
export async function retryJob(db: Db, queue: JobQueue, scope: Scope, jobId: string, body: JobRetry): Promise<Job> {
  const original = await requireJob(db, scope, jobId);
  if (original.status !== 'Failed' && original.status !== 'Cancelled') {
    throw new ConflictError(
      'Job cannot be retried',
      `Only Failed or Cancelled jobs can be retried; this one is ${String(original.status)}.`,
      { JobId: jobId, CurrentStatus: original.status },
    );
  }
  if (body.updatedParameters && !body.modifyParameters) {
    throw new InvalidError('Validation failed', 'updatedParameters apply only with modifyParameters: true.', [
      { field: 'body.modifyParameters', message: 'must be true when updatedParameters is given' },
    ]);
  }
  const parameters = {
    ...(original.parameters as Record<string, unknown>),
    ...(body.modifyParameters ? (body.updatedParameters ?? {}) : {}),
  };
  const scheduling = original.scheduling as JobSubmit['scheduling'] & { timeoutMinutes: number };
  // A retry runs now; `timeoutMinutes` among the updated parameters also sets its timeout.
  const timeout =
    typeof parameters.timeoutMinutes === 'number' ? parameters.timeoutMinutes : scheduling?.timeoutMinutes;
  const request: JobSubmit = {
    jobName: String(original.name),
    jobDescription: (original.description as string | null) ?? null,
    jobType: original.job_type as JobType,
    priority: body.priority ?? (original.priority as Priority),
    resource: { resourceType: original.resource_type as ResourceType, resourceId: String(original.resource_id) },
    parameters,
    scheduling: { executeImmediately: true, timeoutMinutes: timeout },
    notifications: original.notifications as JobSubmit['notifications'],
  };
  const row = await createJob(db, queue, {
    scope,
    request,
    submittedBy: scope.actor,
    retryOf: { id: jobId, reason: body.retryReason ?? null },
    immediate: body.immediateExecution ?? false,
  });
  return jobView(db, row);
}

// --- results ------------------------------------------------------------------------------------

const OUTPUT_KINDS: Record<string, string[]> = {
  reports: ['ProcessMiningReport', 'NotebookReport'],
  data: ['EnrichedDataset', 'Metrics', 'BlockResults'],
  models: ['AnalyticsModel'],
  visualizations: ['ProcessMap'],
};

/** The results of a finished job (page 002); 409 while it is queued or running. */
export async function getJobResults(
  db: Db,
  scope: Scope,
  jobId: string,
  query: { format?: string; includeArtifacts?: boolean; outputType?: string },
  publicUrl: string,
): Promise<JobResults> {
  const row = await requireJob(db, scope, jobId);
  if (row.status === 'Queued' || row.status === 'Running') {
    throw new ConflictError(
      'Job has not finished',
      'Results are available once the job is Completed, Failed or Cancelled.',
      { JobId: jobId, CurrentStatus: row.status },
    );
  }
  const kinds = query.outputType && query.outputType !== 'all' ? OUTPUT_KINDS[query.outputType] : null;
  const stored = (row.outputs as StoredJobOutput[]).filter((o) => !kinds || kinds.includes(o.type));
  const toOutput = ({ role: _role, artifactId, datasetId, ...o }: StoredJobOutput) => ({
    ...o,
    size: describeBytes(o.sizeBytes),
    ...(datasetId ? { datasetId } : {}),
    downloadUrl: artifactId
      ? artifactUrl(publicUrl, scope, artifactId)
      : `${publicUrl}/api/${scope.tenantId}/${scope.projectId}/dataset/${datasetId}/download?format=csv`,
  });
  const include = query.includeArtifacts !== false;
  const primary = include ? stored.find((o) => o.role === 'primary') : undefined;
  const progress = row.progress as { recordsProcessed?: number; totalRecords?: number; warnings?: number };
  const quality =
    (row.quality as { validRecords?: number; totalRecords?: number; warnings?: unknown[] } | null) ?? null;
  const started = row.started_at ? new Date(row.started_at as string).getTime() : null;
  const ended = new Date(row.ended_at as string).getTime();
  const created = new Date(row.created_at as string).getTime();
  const seconds = started === null ? 0 : (ended - started) / 1000;
  const usage = row.usage as { cpuSeconds?: number; peakMemoryBytes?: number };
  const result: JobResults = {
    jobId,
    status: row.status as JobResults['status'],
    completionTime: iso(row.ended_at),
    totalDuration: describeSeconds(seconds),
    totalDurationSeconds: seconds,
    success: row.status === 'Completed',
    summary: {
      recordsProcessed: progress.recordsProcessed ?? 0,
      outputsGenerated: (row.outputs as StoredJobOutput[]).length,
      dataQualityScore:
        quality?.totalRecords && quality.validRecords !== undefined
          ? Math.round((quality.validRecords / quality.totalRecords) * 1000) / 10
          : null,
      // The share of the job's time from submit to end that was spent running, not waiting.
      processingEfficiency:
        started === null || ended <= created ? null : Math.round(((ended - started) / (ended - created)) * 1000) / 10,
    },
    results: {
      primaryOutput: primary ? toOutput(primary) : null,
      additionalOutputs: include ? stored.filter((o) => o !== primary).map(toOutput) : [],
    },
  };
  if (query.format === 'download') return result;
  if (query.format === 'detailed') {
    result.executionMetrics = {
      totalCpuTime: usage.cpuSeconds !== undefined ? describeSeconds(usage.cpuSeconds) : null,
      totalCpuSeconds: usage.cpuSeconds ?? null,
      peakMemoryUsage: usage.peakMemoryBytes ? describeBytes(usage.peakMemoryBytes) : null,
      peakMemoryBytes: usage.peakMemoryBytes ?? null,
    };
    result.qualityMetrics = {
      dataValidation: {
        totalRecords: quality?.totalRecords ?? progress.totalRecords ?? 0,
        validRecords: quality?.validRecords ?? progress.totalRecords ?? 0,
        duplicatesRemoved: 0,
        invalidRecords: (quality?.totalRecords ?? 0) - (quality?.validRecords ?? 0),
      },
      processingErrors: row.error
        ? [
            {
              type: String((row.error as { errorType: string }).errorType),
              message: String((row.error as { message: string }).message),
            },
          ]
        : [],
      warnings: (quality?.warnings as { type: string; message: string; count: number }[] | undefined) ?? [],
    };
  }
  return result;
}

// --- system status ------------------------------------------------------------------------------

/** A worker silent this long is shown Inactive. */
const INACTIVE_AFTER_SECONDS = 30;

/** Workers (shared by all tenants) and the tenant's queue and performance figures, from the store. */
export async function systemStatus(db: Db, tenantId: string, diskAvailableBytes: number) {
  const workers = await db.query(
    `SELECT *, heartbeat_at > now() - make_interval(secs => $1) AS alive FROM workers
     WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '1 hour' ORDER BY started_at`,
    [INACTIVE_AFTER_SECONDS],
  );
  const [q] = await db.query<Record<string, number | null>>(
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
  const active = workers.filter((w) => w.alive);
  const capacity = active.reduce((n, w) => n + Number(w.capacity), 0);
  const duration = q.duration_s ?? DEFAULT_DURATION_SECONDS;
  const processing = capacity > 0 ? (Number(q.queued) / capacity) * duration : Number(q.queued) * duration;
  const totalMemory = active.reduce((n, w) => n + Number(w.total_memory_bytes), 0);
  const usedMemory = active.reduce((n, w) => n + Number(w.memory_bytes), 0);
  const cores = active.reduce((n, w) => n + Number(w.cores), 0);
  const usedCpu = active.reduce((n, w) => n + Number(w.cpu_percent) * Number(w.cores), 0);
  const backedUp = capacity > 0 && Number(q.queued) > capacity * 10;
  return {
    systemStatus: active.length === 0 || backedUp ? ('Degraded' as const) : ('Healthy' as const),
    timestamp: new Date().toISOString(),
    executionNodes: workers.map((w) => ({
      nodeId: String(w.id),
      status: w.alive ? ('Active' as const) : ('Inactive' as const),
      cpuUsage: round1(Number(w.cpu_percent)),
      memoryUsage: round1(Number(w.memory_percent)),
      activeJobs: Number(w.active_jobs),
      jobCapacity: Number(w.capacity),
      lastHeartbeat: iso(w.heartbeat_at),
      hostname: String(w.hostname),
      pid: Number(w.pid),
    })),
    queueStatistics: {
      totalQueuedJobs: Number(q.queued),
      criticalPriorityJobs: Number(q.critical),
      highPriorityJobs: Number(q.high),
      normalPriorityJobs: Number(q.normal),
      lowPriorityJobs: Number(q.low),
      averageWaitTime: describeSeconds(q.wait_s ?? 0),
      averageWaitSeconds: round1(q.wait_s ?? 0),
      estimatedProcessingTime: describeSeconds(processing),
      estimatedProcessingSeconds: round1(processing),
    },
    performanceMetrics: {
      jobsCompletedToday: Number(q.completed_today),
      averageJobDuration: describeSeconds(q.duration_s ?? 0),
      averageJobDurationSeconds: round1(q.duration_s ?? 0),
      successRate: Number(q.finished_day) > 0 ? round1((Number(q.completed_day) / Number(q.finished_day)) * 100) : 100,
      throughputPerHour: Number(q.completed_hour),
    },
    resourceUtilization: {
      totalCpuCapacity: cores * 100,
      usedCpuCapacity: round1(usedCpu),
      totalMemoryCapacity: describeBytes(totalMemory),
      totalMemoryBytes: totalMemory,
      usedMemoryCapacity: describeBytes(usedMemory),
      usedMemoryBytes: usedMemory,
      diskSpaceAvailable: describeBytes(diskAvailableBytes),
      diskSpaceAvailableBytes: diskAvailableBytes,
    },
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
