import { createHash, randomUUID } from 'node:crypto';
import type { Job, JobCancel, JobList, JobResults, JobRetry, JobSubmit, JobSubmitted } from '../api/types';
import { findDataset, datasetExists } from '../store/datasets';
import type { Db } from '../store/db';
import { findInvestigation } from '../store/investigations';
import * as store from '../store/jobs';
import { isIdempotencyConflict, type JobRow } from '../store/jobs';
import type { NewJobRow } from '../store/transitions';
import { datasetOfNotebook, NOTEBOOK_TYPE, standardNotebookCount } from '../store/notebooks';
import { recentWorkers } from '../store/workers';
import * as lifecycle from './lifecycle';
import { artifactUrl } from './artifacts';
import { ConflictError, DomainError, InvalidError, NotFoundError, QuotaError } from './errors';
import { getModel } from './models';
import { DEFAULT_TIMEOUT_MINUTES, WORKER_LIVE_SECONDS } from './constants';
import { iso, isoOrNull, isUuid, pageInfo, type PageRequest, type Scope } from './scope';
import { describeBytes, describeSeconds } from './units';
import type { StoredCell } from './cells';
import { requireFittingParameters } from './runChecks';

/**
 * Jobs as the job API sees them: submit, status, list, cancel, retry and results. Workers
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

/** How much of the queue one tenant may hold (see createJob); absent limits mean none. */
export interface TenantLimits {
  /** Jobs waiting (Queued). */
  queuedJobs: number;
  /** Notebook jobs (each a kernel) queued or running. */
  kernels: number;
}

/** What jobs need of the queue (src/jobs/queue.ts provides it): sending, taking back, the tenant limits. */
export interface JobQueue {
  readonly tenantLimits: TenantLimits;
  /** Puts jobs on the queue (in one statement); with `tx`, in that transaction. */
  send(entries: QueueEntry[], tx?: Db): Promise<void>;
  /** Takes a job off the queue if it has not started. */
  cancel(jobId: string): Promise<void>;
}

/** A job as the queue holds it: its id, its rank (higher first), when it may start, its expiry. */
export interface QueueEntry {
  jobId: string;
  priority: number;
  startAfter: Date;
  expireInSeconds: number;
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
    if (idempotencyKey && isIdempotencyConflict(err)) {
      const earlier = await findByIdempotencyKey(db, scope, idempotencyKey, requestHash);
      if (earlier) return submittedView(db, earlier);
    }
    throw err;
  }
}

async function findByIdempotencyKey(db: Db, scope: Scope, key: string, requestHash: string): Promise<JobRow | null> {
  const row = await store.findByIdempotencyKey(db, scope.projectId, key);
  if (!row) return null;
  if (row.request_hash !== requestHash) {
    throw new ConflictError(
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was used for a different request; use a new key.',
      { JobId: row.id },
    );
  }
  return row;
}

/** The most jobs one batch submit takes (the contract's `maxItems` of `jobs`). */
export const JOBS_PER_BATCH = 100;

/** One job of a batch submit: the job as a single submit takes it, and its own `Idempotency-Key`. */
export interface BatchItem {
  idempotencyKey?: string;
  job: JobSubmit;
}

/**
 * Submits up to JOBS_PER_BATCH jobs, all or nothing: every job is checked first, and if one is
 * refused (its resource unknown, its parameters wrong, its key reused for another body, or the
 * tenant's quota too small for all of them) the answer is that job's error, with its `Index`,
 * and nothing is queued. An item whose `idempotencyKey` was used before with the same job is
 * answered with that job (`replayed: true`) and not queued again. The others are recorded and
 * queued in one transaction. Answers follow the order of the request.
 */
export async function submitJobs(
  db: Db,
  queue: JobQueue,
  scope: Scope,
  items: BatchItem[],
): Promise<{ jobs: { replayed: boolean; job: JobSubmitted }[] }> {
  if (items.length < 1 || items.length > JOBS_PER_BATCH) {
    throw new InvalidError('VALIDATION_FAILED', `A batch holds 1 to ${JOBS_PER_BATCH} jobs; nothing was queued.`, [
      { field: 'body.jobs', message: `must hold 1 to ${JOBS_PER_BATCH} jobs` },
    ]);
  }
  const firstWithKey = new Map<string, number>();
  items.forEach((item, i) => {
    const key = item.idempotencyKey;
    if (key === undefined) return;
    const first = firstWithKey.get(key);
    if (first !== undefined) {
      throw new InvalidError(
        'VALIDATION_FAILED',
        `jobs[${i}] has the idempotencyKey of jobs[${first}]; each job of a batch needs its own key. Nothing was queued.`,
        [{ field: `body.jobs[${i}].idempotencyKey`, message: 'must differ from the other keys of the batch' }],
        { Index: i },
      );
    }
    firstWithKey.set(key, i);
  });
  const hashes = items.map((item) => hashRequest(item.job));
  const attempt = async () => {
    const earlier = new Map(
      (await store.findByIdempotencyKeys(db, scope.projectId, [...firstWithKey.keys()])).map((r) => [
        r.idempotency_key!,
        r,
      ]),
    );
    const replays = new Map<number, JobRow>();
    items.forEach((item, i) => {
      const row = item.idempotencyKey === undefined ? undefined : earlier.get(item.idempotencyKey);
      if (!row) return;
      if (row.request_hash !== hashes[i]) {
        throw new ConflictError(
          'IDEMPOTENCY_KEY_REUSED',
          `jobs[${i}]: this idempotencyKey was used for a different request; use a new key. Nothing was queued.`,
          { JobId: row.id, Index: i },
        );
      }
      replays.set(i, row);
    });
    const fresh: number[] = items.map((_, i) => i).filter((i) => !replays.has(i));
    const rows: NewJobRow[] = [];
    for (const i of fresh) {
      const job = { scope, request: items[i].job, submittedBy: scope.actor, idempotencyKey: items[i].idempotencyKey };
      rows.push(await ofItem(i, () => newJobRow(db, job, hashes[i])));
    }
    const recorded = await recordAndQueue(db, queue, scope.tenantId, rows);
    const byIndex = new Map<number, JobRow>(replays);
    fresh.forEach((i, k) => byIndex.set(i, recorded[k]));
    const ordered = items.map((_, i) => byIndex.get(i)!);
    const views = await submittedViews(db, ordered);
    return { jobs: views.map((view, i) => ({ replayed: replays.has(i), job: view })) };
  };
  try {
    return await attempt();
  } catch (err) {
    // Another submit recorded one of the keys meanwhile: once more, to answer with its job (or 409).
    if (firstWithKey.size > 0 && isIdempotencyConflict(err)) return attempt();
    throw err;
  }
}

/** Runs the checks of the batch's job `i`; a refusal names the job (`Index`, and its fields under body.jobs[i].job). */
async function ofItem<T>(i: number, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof DomainError) {
      err.message = `jobs[${i}]: ${err.message}`;
      err.details.Index = i;
      if (err instanceof InvalidError) {
        for (const p of err.problems) p.field = p.field.replace(/^body\./, `body.jobs[${i}].job.`);
      }
    }
    throw err;
  }
}

/**
 * A ProcessMining job's model parameters: `modelId` (check the log against a model of the
 * project) and `discovery: {noiseThreshold}` (discover a model with the Inductive Miner).
 */
export interface ModelParameters {
  modelId?: string;
  discovery?: { noiseThreshold?: number };
}

async function checkModelParameters(db: Db, scope: Scope, parameters: Record<string, unknown>): Promise<void> {
  const { modelId, discovery } = parameters as { modelId?: unknown; discovery?: unknown };
  if (modelId !== undefined) {
    if (!isUuid(modelId)) {
      throw new InvalidError('VALIDATION_FAILED', 'parameters.modelId must be the id of a model of this project.', [
        { field: 'body.parameters.modelId', message: 'must be a GUID' },
      ]);
    }
    await getModel(db, scope, modelId.toLowerCase());
  }
  if (discovery !== undefined) {
    const noise = (discovery as { noiseThreshold?: unknown } | null)?.noiseThreshold;
    const fine =
      typeof discovery === 'object' &&
      discovery !== null &&
      !Array.isArray(discovery) &&
      (noise === undefined || (typeof noise === 'number' && noise >= 0 && noise <= 1));
    if (!fine) {
      throw new InvalidError('VALIDATION_FAILED', 'parameters.discovery must be {"noiseThreshold": 0 to 1}.', [
        { field: 'body.parameters.discovery.noiseThreshold', message: 'must be a number from 0 to 1' },
      ]);
    }
  }
}

/** Records a job and queues it. Also used for retries and for notebook executions. */
export async function createJob(db: Db, queue: JobQueue, job: NewJob, requestHash?: string): Promise<JobRow> {
  const [row] = await recordAndQueue(db, queue, job.scope.tenantId, [await newJobRow(db, job, requestHash)]);
  return row;
}

/** Checks a job's resource and parameters (404, 400) and makes the row that records it as Queued. */
async function newJobRow(db: Db, job: NewJob, requestHash?: string): Promise<NewJobRow> {
  const { scope, request } = job;
  const resource = await resolveResource(db, scope, request);
  const now = new Date();
  const scheduling = {
    executeImmediately: request.scheduling?.executeImmediately ?? true,
    scheduledTime: request.scheduling?.scheduledTime ?? null,
    timeoutMinutes: request.scheduling?.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES,
  };
  const priority = request.priority ?? 'Normal';
  return {
    id: job.id ?? randomUUID(),
    tenant_id: scope.tenantId,
    project_id: scope.projectId,
    job_type: request.jobType,
    name: request.jobName,
    description: request.jobDescription ?? null,
    priority,
    priority_rank: PRIORITY_RANK[priority] + (job.immediate ? IMMEDIATE_BONUS : 0),
    resource_type: request.resource.resourceType,
    resource_id: request.resource.resourceId.toLowerCase(),
    resource_name: resource.name,
    parameters: request.parameters ?? {},
    scheduling,
    notifications: {
      onCompletion: request.notifications?.onCompletion ?? false,
      onFailure: request.notifications?.onFailure ?? false,
      emailRecipients: request.notifications?.emailRecipients ?? [],
    },
    submitted_by: job.submittedBy,
    created_at: now,
    run_after: startTimeOf(scheduling, now),
    retry_of: job.retryOf?.id ?? null,
    retry_reason: job.retryOf?.reason ?? null,
    idempotency_key: job.idempotencyKey ?? null,
    request_hash: requestHash ?? null,
    execution_id: job.executionId ?? null,
  };
}

/**
 * Records checked jobs of one tenant as Queued and puts them on the queue, all in one
 * transaction: all of them are queued, or none (over the tenant's limits, 429).
 */
async function recordAndQueue(db: Db, queue: JobQueue, tenantId: string, rows: NewJobRow[]): Promise<JobRow[]> {
  return db.transaction(async (tx) => {
    await checkTenantLimits(
      tx,
      queue.tenantLimits,
      tenantId,
      rows.map((r) => r.job_type),
    );
    const recorded: JobRow[] = [];
    for (const row of rows) recorded.push(await lifecycle.jobQueued(tx, row));
    await queue.send(recorded.map(queueEntry), tx);
    return recorded;
  });
}

/**
 * A tenant may hold only so much of the shared queue: jobs waiting, and Notebook jobs queued or
 * running (each holds a kernel sandbox). Checked under a per-tenant lock in the transaction that
 * records the job, so concurrent submits cannot slip past the limit together.
 */
async function checkTenantLimits(tx: Db, limits: TenantLimits, tenantId: string, jobTypes: JobType[]): Promise<void> {
  if (limits.queuedJobs === Infinity && limits.kernels === Infinity) return;
  const n = await store.lockedInFlightOfTenant(tx, tenantId);
  const kernels = jobTypes.filter((type) => type === 'Notebook').length;
  const retryAfter = async (type: string | null) =>
    Math.min(3600, Math.max(1, Math.ceil(await typicalDuration(tx, type))));
  // Said only for a batch: how many it would have added.
  const adding = (k: number) => (jobTypes.length > 1 ? ` The request would add ${k}.` : '');
  if (n.queued + jobTypes.length > limits.queuedJobs) {
    throw new QuotaError(
      'QUEUED_JOBS_QUOTA_EXCEEDED',
      `This tenant has ${n.queued} jobs waiting, the limit is ${limits.queuedJobs}; nothing was queued.${adding(jobTypes.length)} Retry once some have started.`,
      await retryAfter(null),
      { Limit: limits.queuedJobs, Current: n.queued },
    );
  }
  if (kernels > 0 && n.kernels + kernels > limits.kernels) {
    throw new QuotaError(
      'KERNEL_QUOTA_EXCEEDED',
      `This tenant has ${n.kernels} notebook executions queued or running, the limit of concurrent kernels is ${limits.kernels}; nothing was queued.${adding(kernels)} Retry once one has finished.`,
      await retryAfter('Notebook'),
      { Limit: limits.kernels, Current: n.kernels },
    );
  }
}

/** A recorded job's entry on the queue. */
function queueEntry(row: JobRow): QueueEntry {
  const timeoutMinutes = row.scheduling.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
  return {
    jobId: row.id,
    priority: row.priority_rank,
    startAfter: row.run_after,
    // The worker enforces the timeout itself; pg-boss's expiry is only the backstop, and pg-boss
    // refuses one over 24 hours (the contract's longest timeout).
    expireInSeconds: Math.min(MAX_QUEUE_EXPIRY_SECONDS, Math.ceil(timeoutMinutes * 60) + 120),
  };
}

/** Puts a recorded job on the queue again (pg-boss ignores an id it already has). */
export async function enqueue(queue: JobQueue, row: JobRow): Promise<void> {
  await queue.send([queueEntry(row)]);
}

function startTimeOf(s: { executeImmediately: boolean; scheduledTime: string | null }, now: Date): Date {
  if (s.executeImmediately) return now;
  if (!s.scheduledTime) {
    throw new InvalidError('VALIDATION_FAILED', 'A job that does not execute immediately needs a scheduledTime.', [
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
      'VALIDATION_FAILED',
      `${/^[AEIOU]/.test(request.jobType) ? 'An' : 'A'} ${request.jobType} job works on ${ACCEPTED[request.jobType].join(', ')}, not on a ${resourceType}; nothing was queued.`,
      [{ field: 'body.resource.resourceType', message: `must be one of ${ACCEPTED[request.jobType].join(', ')}` }],
    );
  }
  const parameterDataset = (request.parameters as { datasetId?: unknown } | undefined)?.datasetId;
  if (parameterDataset !== undefined) await requireParameterDataset(db, scope, parameterDataset);
  if (request.jobType === 'ProcessMining') await checkModelParameters(db, scope, request.parameters ?? {});
  switch (resourceType) {
    case 'Dataset': {
      const dataset = await findDataset(db, scope.projectId, resourceId);
      if (!dataset) throw notFound('Dataset', 'DatasetId', resourceId);
      return { name: dataset.name };
    }
    case 'Investigation':
    case 'Pipeline': {
      const investigation = await findInvestigation(db, scope.projectId, resourceId);
      if (!investigation) throw notFound(resourceType, 'InvestigationId', resourceId);
      if (request.jobType === 'Analysis') {
        if ((await standardNotebookCount(db, resourceId)) === 0) {
          throw new InvalidError(
            'VALIDATION_FAILED',
            'The investigation has no standard notebook to run; nothing was queued.',
            [{ field: 'body.resource.resourceId', message: 'has no standard notebook' }],
          );
        }
      }
      return { name: investigation.name };
    }
    case 'Notebook': {
      const notebook = await datasetOfNotebook(db, scope.projectId, resourceId);
      if (!notebook) throw notFound('Notebook', 'NotebookId', resourceId);
      const jupyter = notebook.notebook_type === NOTEBOOK_TYPE.jupyter;
      if (request.jobType === 'Notebook' && !jupyter) {
        throw new InvalidError(
          'VALIDATION_FAILED',
          'A Notebook job runs a Jupyter notebook; run a standard one as an Analysis job.',
          [{ field: 'body.jobType', message: 'must be Analysis for a standard notebook' }],
        );
      }
      if (request.jobType === 'Analysis' && jupyter) {
        throw new InvalidError(
          'VALIDATION_FAILED',
          'An Analysis job runs a standard notebook; run a Jupyter one as a Notebook job.',
          [{ field: 'body.jobType', message: 'must be Notebook for a Jupyter notebook' }],
        );
      }
      if (jupyter) {
        const cells = (notebook.cells as StoredCell[] | null) ?? [];
        requireFittingParameters(cells, notebookParameters(request.parameters ?? {}));
        return { name: notebook.name };
      }
      if (!notebook.dataset_id && parameterDataset === undefined) {
        throw new InvalidError('VALIDATION_FAILED', 'The notebook is bound to no dataset; pass parameters.datasetId.', [
          { field: 'body.parameters.datasetId', message: 'is required for a notebook without a dataset' },
        ]);
      }
      return { name: notebook.name };
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
  if (!isUuid(value)) {
    throw new InvalidError('VALIDATION_FAILED', 'parameters.datasetId must be the id of a dataset of this project.', [
      { field: 'body.parameters.datasetId', message: 'must be a GUID' },
    ]);
  }
  if (!(await datasetExists(db, scope.projectId, value.toLowerCase()))) {
    throw notFound('Dataset', 'DatasetId', value.toLowerCase());
  }
}

const NOT_FOUND = {
  Dataset: 'DATASET_NOT_FOUND',
  Investigation: 'INVESTIGATION_NOT_FOUND',
  Pipeline: 'PIPELINE_NOT_FOUND',
  Notebook: 'NOTEBOOK_NOT_FOUND',
} as const;

function notFound(what: keyof typeof NOT_FOUND, idKey: string, id: string): NotFoundError {
  return new NotFoundError(NOT_FOUND[what], idKey, id, `No ${what} ${id} in this project; nothing was queued.`);
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
export async function requireJob(db: Db, scope: Scope, jobId: string): Promise<JobRow> {
  const row = await store.findJob(db, scope.projectId, jobId);
  if (!row) throw new NotFoundError('JOB_NOT_FOUND', 'JobId', jobId);
  return row;
}

export async function getJob(db: Db, scope: Scope, jobId: string): Promise<Job> {
  return jobView(db, await requireJob(db, scope, jobId));
}

/** Average seconds of finished jobs of a type over the last week, or the default. */
export async function typicalDuration(db: Db, jobType: string | null): Promise<number> {
  // Every status answer needs it and it changes slowly: remember it for a few seconds.
  const cached = typicalCache.get(jobType ?? '*');
  if (cached && cached.until > Date.now()) return cached.seconds;
  const seconds = (await store.averageDuration(db, jobType)) ?? DEFAULT_DURATION_SECONDS;
  typicalCache.set(jobType ?? '*', { seconds, until: Date.now() + 5_000 });
  return seconds;
}
const typicalCache = new Map<string, { seconds: number; until: number }>();

/** Where a queued job stands: jobs ahead of it (all tenants share the workers) and when it may start. */
export async function queueEstimate(db: Db, row: JobRow): Promise<{ position: number; startAt: Date } | null> {
  if (row.status !== 'Queued') return null;
  return estimateFrom(row, await store.queueFigures(db, row, WORKER_LIVE_SECONDS), await typicalDuration(db, null));
}

function estimateFrom(
  row: JobRow,
  r: { ahead: number; running: number; capacity: number },
  typical: number,
): { position: number; startAt: Date } {
  const slots = Math.max(1, r.capacity);
  // Jobs ahead and running share the slots; each takes a typical job's time.
  const waves = Math.floor((r.ahead + r.running) / slots);
  const earliest = Math.max(Date.now(), row.run_after.getTime());
  return { position: r.ahead + 1, startAt: new Date(earliest + waves * typical * 1000) };
}

/** The job as the job API shows it. */
export async function jobView(db: Db, row: JobRow): Promise<Job> {
  const progress = row.progress;
  const usage = row.usage;
  const started = row.started_at;
  const ended = row.ended_at;
  const elapsed = started ? ((ended ?? new Date()).getTime() - started.getTime()) / 1000 : null;
  const estimate = await queueEstimate(db, row);
  const typical = row.status === 'Queued' || row.status === 'Running' ? await typicalDuration(db, row.job_type) : 0;
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
    jobId: row.id,
    projectId: row.project_id,
    jobType: row.job_type,
    jobName: row.name,
    jobDescription: row.description,
    status: row.status,
    statusReason: row.status_reason,
    priority: row.priority,
    queuePosition: estimate?.position ?? null,
    progress: {
      percentage,
      currentStage: progress.stage ?? (row.status === 'Queued' ? 'Queued' : null),
      estimatedCompletion: completion ? completion.toISOString() : null,
      elapsedTime: elapsed === null ? null : describeSeconds(elapsed),
      elapsedSeconds: elapsed,
    },
    resource: {
      resourceType: row.resource_type,
      resourceId: row.resource_id,
      resourceName: row.resource_name ?? '',
    },
    execution: {
      startTime: isoOrNull(row.started_at),
      endTime: isoOrNull(row.ended_at),
      submittedBy: row.submitted_by,
      executionNode: row.worker_id,
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
    error: row.error,
    parameters: row.parameters,
    scheduling: row.scheduling,
    notifications: row.notifications,
    notificationLog: row.notified,
    retryOf: row.retry_of,
    retryReason: row.retry_reason,
    dateCreated: iso(row.created_at),
    lastUpdated: iso(row.updated_at),
  };
}

/** The answer to a submit. */
async function submittedView(db: Db, row: JobRow): Promise<JobSubmitted> {
  return submittedViewOf(row, await queueEstimate(db, row), await typicalDuration(db, row.job_type));
}

/** The answers to a batch submit, in its order, with the queue figures of all its jobs read at once. */
async function submittedViews(db: Db, rows: JobRow[]): Promise<JobSubmitted[]> {
  const queued = rows.filter((r) => r.status === 'Queued').map((r) => r.id);
  const figures = await store.queueFiguresOfJobs(db, queued, WORKER_LIVE_SECONDS);
  const typicalAll = await typicalDuration(db, null);
  return Promise.all(
    rows.map(async (row) => {
      const f = row.status === 'Queued' ? figures.get(row.id) : undefined;
      const estimate = f ? estimateFrom(row, f, typicalAll) : null;
      return submittedViewOf(row, estimate, await typicalDuration(db, row.job_type));
    }),
  );
}

function submittedViewOf(
  row: JobRow,
  estimate: { position: number; startAt: Date } | null,
  typical: number,
): JobSubmitted {
  return {
    jobId: row.id,
    jobType: row.job_type,
    status: row.status,
    queuePosition: estimate?.position ?? null,
    estimatedStartTime: estimate ? estimate.startAt.toISOString() : isoOrNull(row.started_at),
    estimatedDuration: describeSeconds(typical),
    estimatedDurationSeconds: typical,
    jobName: row.name,
    priority: row.priority,
    dateSubmitted: iso(row.created_at),
    submittedBy: row.submitted_by,
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
  const filter = {
    status: filters.status,
    jobType: filters.jobType,
    priority: filters.priority,
    submittedBy: filters.submittedBy,
    dateFrom: filters.dateFrom ? new Date(filters.dateFrom) : undefined,
    dateTo: filters.dateTo ? new Date(filters.dateTo) : undefined,
  };
  const offset = (paging.page - 1) * paging.pageSize;
  const { rows, counts } = await store.jobsOf(db, scope.projectId, filter, paging.pageSize, offset);
  const byStatus = {
    Running: 'running',
    Queued: 'queued',
    Completed: 'completed',
    Failed: 'failed',
    Cancelled: 'cancelled',
  };
  const totalCount = filters.status
    ? counts[byStatus[filters.status as JobRow['status']] as keyof typeof counts]
    : counts.total;
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
    const current = await store.findJob(tx, scope.projectId, jobId, true);
    if (!current) throw new NotFoundError('JOB_NOT_FOUND', 'JobId', jobId);
    if (current.status !== 'Queued' && current.status !== 'Running') {
      throw new ConflictError('JOB_FINISHED', `The job is ${current.status} and cannot be cancelled.`, {
        JobId: jobId,
        CurrentStatus: current.status,
      });
    }
    return lifecycle.jobCancelled(tx, current, request);
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
      'JOB_NOT_RETRYABLE',
      `Only Failed or Cancelled jobs can be retried; this one is ${original.status}.`,
      { JobId: jobId, CurrentStatus: original.status },
    );
  }
  if (body.updatedParameters && !body.modifyParameters) {
    throw new InvalidError('VALIDATION_FAILED', 'updatedParameters apply only with modifyParameters: true.', [
      { field: 'body.modifyParameters', message: 'must be true when updatedParameters is given' },
    ]);
  }
  const parameters = {
    ...original.parameters,
    ...(body.modifyParameters ? (body.updatedParameters ?? {}) : {}),
  };
  const scheduling = original.scheduling;
  // A retry runs now; `timeoutMinutes` among the updated parameters also sets its timeout.
  const timeout =
    typeof parameters.timeoutMinutes === 'number' ? parameters.timeoutMinutes : scheduling?.timeoutMinutes;
  const request: JobSubmit = {
    jobName: original.name,
    jobDescription: original.description,
    jobType: original.job_type,
    priority: body.priority ?? original.priority,
    resource: { resourceType: original.resource_type, resourceId: original.resource_id },
    parameters,
    scheduling: { executeImmediately: true, timeoutMinutes: timeout },
    notifications: original.notifications,
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

/** The results of a finished job; 409 while it is queued or running. */
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
      'JOB_NOT_FINISHED',
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
  const progress = row.progress;
  const quality = row.quality as { validRecords?: number; totalRecords?: number; warnings?: unknown[] } | null;
  const started = row.started_at?.getTime() ?? null;
  const ended = row.ended_at!.getTime();
  const created = row.created_at.getTime();
  const seconds = started === null ? 0 : (ended - started) / 1000;
  const usage = row.usage;
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
      processingErrors: row.error ? [{ type: row.error.errorType, message: row.error.message }] : [],
      warnings: (quality?.warnings as { type: string; message: string; count: number }[] | undefined) ?? [],
    };
  }
  return result;
}

// --- system status ------------------------------------------------------------------------------

/** Workers (shared by all tenants) and the tenant's queue and performance figures, from the store. */
export async function systemStatus(db: Db, tenantId: string, diskAvailableBytes: number) {
  const workers = await recentWorkers(db, WORKER_LIVE_SECONDS);
  const q = await store.tenantQueueFigures(db, tenantId);
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
