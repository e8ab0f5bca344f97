import { EventEmitter } from 'node:events';
import type { Db } from '../store/db';
import { deleteExecution, type ExecutionError, type ExecutionStatus } from '../store/executions';
import { saveProgress, type CancelRequest, type JobKind, type JobProgress, type JobRow } from '../store/jobs';
import type { NotebookStatus } from '../store/notebooks';
import { appendEvent, pruneJobEvents, type NewEvent } from '../store/events';
import * as t from '../store/transitions';
import { cutText } from './text';
import { EVENTS_KEPT_PER_JOB, LOG_LINE_CHARS, LOG_LINES_PER_RUN, OUTPUT_EVENTS_PER_RUN } from './constants';

/**
 * The one place where jobs, executions and notebooks change state, and where every change is
 * announced. Workers, runners and the domain call these functions; nothing else writes a status.
 * Each announcement goes to the in-process emitter (`lifecycleEvents`) and, as an event of the
 * job's stream, to the events table, which streams in any process replay and follow.
 */

/** What the lifecycle announces. */
export type LifecycleEvent =
  | {
      kind: 'job.status';
      jobId: string;
      projectId: string;
      jobType: JobKind;
      status: JobRow['status'];
      reason: string | null;
      /** Seconds from the job's first start to its end, once it has ended after starting; else null. */
      runSeconds: number | null;
    }
  | { kind: 'job.progress'; jobId: string; progress: JobProgress }
  | { kind: 'execution.status'; executionId: string; status: ExecutionStatus; error: ExecutionError | null }
  | { kind: 'notebook.status'; notebookId: string; status: NotebookStatus };

/** Every state change of this process, as it happens (`'change'` events of {@link LifecycleEvent}). */
export const lifecycleEvents = new EventEmitter();
lifecycleEvents.setMaxListeners(0);

async function announce(db: Db, event: LifecycleEvent): Promise<void> {
  lifecycleEvents.emit('change', event);
  const stored = storedEvent(event);
  if (stored) await appendEvent(db, stored);
}

/** The `job.status` announcement of a job row. */
function jobStatusEvent(row: JobRow): LifecycleEvent {
  return {
    kind: 'job.status',
    jobId: row.id,
    projectId: row.project_id,
    jobType: row.job_type,
    status: row.status,
    reason: row.status_reason,
    runSeconds: row.started_at && row.ended_at ? (+new Date(row.ended_at) - +new Date(row.started_at)) / 1000 : null,
  };
}

/** The stream event of an announcement (a notebook's status is shown by its execution's). */
function storedEvent(event: LifecycleEvent): NewEvent | null {
  switch (event.kind) {
    case 'job.status':
      return {
        type: 'job.status',
        jobId: event.jobId,
        projectId: event.projectId,
        data: { jobId: event.jobId, status: event.status, reason: event.reason },
      };
    case 'job.progress':
      return {
        type: 'job.progress',
        jobId: event.jobId,
        data: { jobId: event.jobId, ...progressFields(event.progress) },
      };
    case 'execution.status':
      return {
        type: 'execution.status',
        executionId: event.executionId,
        data: { executionId: event.executionId, status: event.status, error: event.error },
      };
    case 'notebook.status':
      return null;
  }
}

/** The progress fields a `job.progress` event carries (a run may keep others for itself). */
function progressFields(p: JobProgress): Record<string, unknown> {
  const fields: Record<string, unknown> = { percentage: p.percentage ?? 0, stage: p.stage ?? '' };
  for (const key of ['recordsProcessed', 'totalRecords', 'warnings', 'errors', 'cellsDone', 'cellsTotal'] as const) {
    if (typeof p[key] === 'number') fields[key] = p[key];
  }
  if (p.currentCell !== undefined) fields.currentCell = p.currentCell;
  return fields;
}

async function jobChanged(db: Db, row: JobRow): Promise<JobRow> {
  await announce(db, jobStatusEvent(row));
  return row;
}

/** Announces a job change whose event the changing statement stored already (one round trip for both). */
function jobChangedAndStored(row: JobRow): JobRow {
  lifecycleEvents.emit('change', jobStatusEvent(row));
  return row;
}

// --- jobs ---------------------------------------------------------------------------------------

/** Records a submitted job as Queued (the caller puts it on the queue). */
export async function jobQueued(db: Db, job: t.NewJobRow): Promise<JobRow> {
  return jobChangedAndStored(await t.insertQueuedJob(db, job));
}

/** A worker takes a delivered job (a new attempt), unless it was cancelled or has ended meanwhile. */
export async function jobStarted(db: Db, jobId: string, workerId: string): Promise<JobRow | null> {
  const row = await t.claimJob(db, jobId, workerId);
  return row && jobChangedAndStored(row);
}

/** A run's progress, while its attempt holds the job; false when it no longer does. */
export async function jobProgressed(db: Db, jobId: string, attempt: number, progress: JobProgress): Promise<boolean> {
  const saved = await saveProgress(db, jobId, attempt, progress);
  if (saved) await announce(db, { kind: 'job.progress', jobId, progress });
  return saved;
}

/** A run given back by a worker that shuts down: Queued for the next one. */
export async function jobReleased(db: Db, job: JobRow, attempt: number): Promise<void> {
  await t.requeueJob(db, job.id, attempt);
  await announce(db, {
    kind: 'job.status',
    jobId: job.id,
    projectId: job.project_id,
    jobType: job.job_type,
    status: 'Queued',
    reason: null,
    runSeconds: null,
  });
}

/**
 * How a run ended (Completed or Failed), while its attempt holds the job; a failed job's
 * execution ends with it and its notebook is free again. Null when the run lost the job.
 */
export async function jobEnded(
  db: Db,
  job: JobRow,
  attempt: number,
  end: Parameters<typeof t.endJob>[3],
): Promise<JobRow | null> {
  // A failed job's execution ends first: the job's end is its stream's last event (streams close after it).
  const executionEnds = job.execution_id !== null && end.status === 'Failed';
  if (!executionEnds) {
    const row = await t.endJob(db, job.id, attempt, end, { announce: true, keepEvents: EVENTS_KEPT_PER_JOB });
    return row && jobChangedAndStored(row);
  }
  const row = await t.endJob(db, job.id, attempt, end, { announce: false });
  if (!row) return null;
  const error = { errorType: end.error?.errorType ?? 'Error', errorMessage: end.status_reason ?? '', cellId: null };
  await executionStopped(db, row.execution_id!, 'Error', error);
  await jobChanged(db, row);
  await pruneJobEvents(db, row.id, EVENTS_KEPT_PER_JOB);
  return row;
}

/** Cancels a queued or running job (its row locked by the caller), and its execution. */
export async function jobCancelled(tx: Db, job: JobRow, request: CancelRequest): Promise<JobRow> {
  const row = await t.cancelJob(tx, job.id, request);
  if (job.execution_id && (await t.stopExecution(tx, job.execution_id, 'Cancelled', null))) {
    await announce(tx, { kind: 'execution.status', executionId: job.execution_id, status: 'Cancelled', error: null });
  }
  return jobChanged(tx, row);
}

/** Fails running jobs nobody heartbeats any more; their executions end and notebooks are freed. */
export async function jobsLost(db: Db, seconds: number): Promise<JobRow[]> {
  const lost = await t.failLostJobs(db, seconds);
  for (const job of lost) {
    if (job.execution_id) await executionStopped(db, job.execution_id, 'Error', null);
    await jobChanged(db, job);
  }
  return lost;
}

// --- executions ---------------------------------------------------------------------------------

/** An execution accepted for a job: Running from acceptance, its notebook Running too. */
export async function executionAccepted(
  db: Db,
  e: { id: string; notebookId: string; jobId: string; parameters: Record<string, unknown>; createdBy: string },
  startedNow = false,
): Promise<void> {
  await t.insertRunningExecution(db, {
    id: e.id,
    notebook_id: e.notebookId,
    job_id: e.jobId,
    parameters: e.parameters,
    created_by: e.createdBy,
    started: startedNow,
  });
  await t.notebookRunning(db, e.notebookId);
  await announce(db, { kind: 'execution.status', executionId: e.id, status: 'Running', error: null });
  await announce(db, { kind: 'notebook.status', notebookId: e.notebookId, status: 'Running' });
}

/**
 * An accepted execution whose job was not queued: refused by a rule, it leaves no trace; failed
 * by the queue, it stays as an Error. Its notebook is free again.
 */
export async function executionNotQueued(
  db: Db,
  executionId: string,
  notebookId: string,
  queueError: string | null,
): Promise<void> {
  if (queueError === null) await deleteExecution(db, executionId);
  else
    await executionStopped(db, executionId, 'Error', {
      errorType: 'QueueError',
      errorMessage: queueError,
      cellId: null,
    });
  await t.releaseNotebook(db, notebookId);
  await announce(db, { kind: 'notebook.status', notebookId, status: 'Ready' });
}

/** A worker starts an accepted execution (again, after a takeover). */
export async function executionStarted(db: Db, executionId: string, notebookId: string): Promise<void> {
  await t.startExecution(db, executionId);
  await t.notebookRunning(db, notebookId);
  await announce(db, { kind: 'execution.status', executionId, status: 'Running', error: null });
}

/** Ends a running execution without results (cancelled, failed, its job gone); its notebook is free again. */
export async function executionStopped(
  db: Db,
  executionId: string,
  status: 'Cancelled' | 'Error',
  error: ExecutionError | null,
  /** The cells or blocks it got through, when known. */
  cellResults: unknown[] | null = null,
): Promise<void> {
  const stopped = await t.stopExecution(db, executionId, status, error, cellResults);
  await t.releaseNotebookOfExecution(db, executionId);
  if (stopped) await announce(db, { kind: 'execution.status', executionId, status, error });
}

/** A takeover ends what the dead attempt left running, but for the job's own execution. */
export async function otherExecutionsOfJobCancelled(db: Db, jobId: string, keep: string | null): Promise<void> {
  for (const executionId of await t.cancelOtherExecutionsOfJob(db, jobId, keep)) {
    await announce(db, { kind: 'execution.status', executionId, status: 'Cancelled', error: null });
  }
}

/**
 * A finished execution (Completed or Error) with its results, and its notebook after it: in one
 * transaction, and with a fence only while the run still holds its job (false: nothing written).
 */
export async function executionFinished(
  db: Db,
  e: {
    executionId: string;
    notebookId: string;
    results: Omit<Parameters<typeof t.endExecution>[2], 'endedAt'>;
    /** `papermill`: keys merged into the notebook metadata's `papermill` (the run's `parameters`). */
    notebook: { status: NotebookStatus; seconds: number; cells?: unknown[]; papermill?: Record<string, unknown> };
    fence: { jobId: string; attempt: number } | null;
    /** More writes of the same outcome, in the same transaction (blocks' last runs). */
    alongside?: (tx: Db, ended: Date) => Promise<void>;
  },
): Promise<boolean> {
  const ended = new Date();
  const written = await db.transaction(async (tx) => {
    if (!(await t.endExecution(tx, e.executionId, { ...e.results, endedAt: ended }, e.fence))) return false;
    await t.notebookRan(tx, e.notebookId, { ...e.notebook, at: ended });
    await e.alongside?.(tx, ended);
    return true;
  });
  if (written) {
    await announce(db, {
      kind: 'execution.status',
      executionId: e.executionId,
      status: e.results.status,
      error: e.results.error,
    });
    await announce(db, { kind: 'notebook.status', notebookId: e.notebookId, status: e.notebook.status });
  }
  return written;
}

// --- what a run reports as it goes ----------------------------------------------------------------

/** What one run of a job reports between its state changes: cells, blocks and log lines. */
export interface RunReporter {
  cellStarted(executionId: string, cell: { cellId: string; index: number }): Promise<void>;
  /** An output as the results show it (inline content bounded like theirs). */
  cellOutput(executionId: string, cellId: string, output: Record<string, unknown>): Promise<void>;
  cellCompleted(
    executionId: string,
    cell: {
      cellId: string;
      index: number;
      status: string;
      durationMs: number;
      errorType?: string;
      errorMessage?: string;
    },
  ): Promise<void>;
  blockCompleted(
    executionId: string,
    block: { blockId: string; index: number; status: string; durationMs: number; casesIn: number; casesOut: number },
  ): Promise<void>;
  /** Text written by the job's code (`job`) or a kernel's stderr, one event per line. */
  log(source: 'job' | 'stderr', text: string): Promise<void>;
}

/**
 * The reporter of one run of `jobId`. Whatever the run's code does, it adds at most
 * LOG_LINES_PER_RUN log lines and OUTPUT_EVENTS_PER_RUN outputs to the stream; each cap, once
 * reached, is said once.
 */
export function runReporter(db: Db, jobId: string): RunReporter {
  let logLines = 0;
  let outputs = 0;
  const append = (type: NewEvent['type'], data: Record<string, unknown>, executionId?: string) =>
    appendEvent(db, { type, jobId, executionId, data }).then(() => undefined);
  const line = (source: string, text: string) =>
    append('log', {
      jobId,
      source,
      line:
        text.length > LOG_LINE_CHARS ? `${cutText(text, LOG_LINE_CHARS)} [cut at ${LOG_LINE_CHARS} characters]` : text,
    });
  return {
    cellStarted: (executionId, cell) => append('cell.started', { executionId, ...cell }, executionId),
    async cellOutput(executionId, cellId, output) {
      outputs++;
      if (outputs > OUTPUT_EVENTS_PER_RUN) return;
      if (outputs === OUTPUT_EVENTS_PER_RUN) {
        await line('job', `Outputs after the first ${OUTPUT_EVENTS_PER_RUN} are in the results only.`);
      }
      await append('cell.output', { executionId, cellId, output }, executionId);
    },
    cellCompleted: (executionId, cell) => append('cell.completed', { executionId, ...cell }, executionId),
    blockCompleted: (executionId, block) => append('block.completed', { executionId, ...block }, executionId),
    async log(source, text) {
      const lines = text.replace(/\r?\n$/, '').split(/\r?\n/);
      for (const l of lines) {
        logLines++;
        if (logLines > LOG_LINES_PER_RUN) return;
        if (logLines === LOG_LINES_PER_RUN) {
          await line('job', `Log lines after the first ${LOG_LINES_PER_RUN - 1} of this run were dropped.`);
          return;
        }
        await line(source, l);
      }
    },
  };
}
