import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { LostJobError, removeArtifactFiles } from '../domain/artifacts';
import { enqueue, type StoredJobOutput } from '../domain/jobs';
import { describeSeconds } from '../domain/units';
import type { Engine } from '../engine/engine';
import type { Db, Row } from '../store/db';
import { notifyJobEnded, type Mailer } from './notify';
import type { Delivery, JobQueue } from './queue';
import { runners as defaultRunners, storeJobOutput, type JobContext, type JobRunner } from './runners';

export interface WorkerOptions {
  db: Db;
  queue: JobQueue;
  engine: Engine;
  dataDir: string;
  publicUrl: string;
  logger: Logger;
  /** Jobs this process runs at once. */
  capacity: number;
  mailer: Mailer | null;
  /** The code per job type; the benchmark swaps in trivial ones. */
  runners?: Record<string, JobRunner>;
  /** Each tenant's stored-bytes quota, which every output of a run is held to (0: none). */
  storageLimitBytes?: number;
}

/** Why a run was stopped before it finished. */
interface Stop {
  kind: 'cancelled' | 'timeout' | 'expired' | 'shutdown' | 'lost';
  message: string;
  /** Stop waiting for the job's code after a second, instead of letting it reach a safe point. */
  force?: boolean;
}

class StopError extends Error {
  constructor(readonly stop: Stop) {
    super(stop.message);
    this.name = 'Stopped';
  }
}

interface Run {
  attempt: number;
  stop(reason: Stop): void;
}

/** Every so often: heartbeat (worker row and its jobs), watch (cancel and takeover), sweep (lost jobs). */
const HEARTBEAT_MS = 5_000;
const WATCH_MS = 300;
const SWEEP_MS = 15_000;
/** A running job whose worker has not heartbeated it for this long, and that no worker took over, fails. */
const LOST_AFTER_SECONDS = 90;
/** How long a stopped job's code may take to reach a safe point (forceTermination: one second). */
const GRACE_MS = 10_000;
const FORCE_MS = 1_000;

/**
 * A worker process's pool: takes jobs from the queue (up to `capacity` at once), claims each in
 * the jobs table with a new attempt number, runs its code, and records the outcome. Every write
 * a run makes is fenced by its attempt, so a worker that lost its job (cancelled, or taken over
 * after it stopped heartbeating) cannot complete, fail or add outputs to it.
 */
export class Worker {
  readonly id = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly runs = new Map<string, Run>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly runners: Record<string, JobRunner>;
  private cpu = { usage: process.cpuUsage(), at: performance.now() };
  private stopping = false;

  constructor(private readonly o: WorkerOptions) {
    this.runners = o.runners ?? defaultRunners;
  }

  async start(): Promise<void> {
    await this.o.db.query(
      `INSERT INTO workers (id, hostname, pid, capacity, total_memory_bytes, cores, started_at, heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6, now(), now())`,
      [this.id, os.hostname(), process.pid, this.o.capacity, os.totalmem(), os.availableParallelism()],
    );
    await this.heartbeat(); // load and memory are there from the start, not after the first interval
    await this.o.queue.work(this.o.capacity, (d, signal) => this.handle(d, signal));
    const every = (ms: number, tick: () => Promise<void>) => {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        tick()
          .catch((err) => this.o.logger.warn({ err }, 'worker housekeeping failed'))
          .finally(() => (busy = false));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(HEARTBEAT_MS, () => this.heartbeat());
    every(WATCH_MS, () => this.watch());
    every(SWEEP_MS, () => this.sweep());
    this.o.logger.info({ worker: this.id, capacity: this.o.capacity }, 'worker started');
  }

  /** Stops taking jobs; running ones are stopped and put back on the queue for the next worker. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const run of this.runs.values()) run.stop({ kind: 'shutdown', message: 'The worker is shutting down' });
    await this.o.queue.stop(true);
    await this.o.db.query('UPDATE workers SET stopped_at = now(), active_jobs = 0 WHERE id = $1', [this.id]);
  }

  /** One delivery: claim, run, record. Throws only to have the queue deliver the job again. */
  private async handle(delivery: Delivery, queueSignal: AbortSignal): Promise<void> {
    const job = await this.claim(delivery.jobId);
    if (!job) return; // cancelled or finished meanwhile: nothing to run
    const jobId = String(job.id);
    const attempt = Number(job.attempt);
    const log = this.o.logger.child({ jobId, attempt, jobType: job.job_type });
    log.debug({ retryCount: delivery.retryCount }, 'job run starts');
    const controller = new AbortController();
    const stop = (reason: Stop) => {
      if (!controller.signal.aborted) controller.abort(new StopError(reason));
    };
    this.runs.set(jobId, { attempt, stop });
    await this.countActive();
    queueSignal.addEventListener('abort', () => stop({ kind: 'expired', message: 'The queue expired the job' }));
    const timeoutMinutes = Number((job.scheduling as { timeoutMinutes?: number }).timeoutMinutes ?? 120);
    const timeout = setTimeout(
      () =>
        stop({
          kind: 'timeout',
          message: `Timed out after ${describeSeconds(timeoutMinutes * 60)} (timeoutMinutes ${timeoutMinutes})`,
        }),
      timeoutMinutes * 60_000,
    );
    const workDir = path.join(this.o.dataDir, 'tmp', 'jobs', `${jobId}-${attempt}`);
    fs.mkdirSync(workDir, { recursive: true });
    const state = {
      progress: { percentage: 0, stage: 'Starting', recordsProcessed: 0, warnings: 0, errors: 0 } as Record<
        string,
        unknown
      >,
      outputs: [] as StoredJobOutput[],
      quality: { warnings: [] as { type: string; message: string; count: number }[] } as Record<string, unknown> & {
        warnings: { type: string; message: string; count: number }[];
      },
      cpuStart: process.cpuUsage(),
      peakMemory: process.memoryUsage().rss,
    };
    const fence = { jobId, attempt, storageLimitBytes: this.o.storageLimitBytes };
    const ctx: JobContext = {
      db: this.o.db,
      engine: this.o.engine,
      dataDir: this.o.dataDir,
      job,
      scope: { tenantId: String(job.tenant_id), projectId: String(job.project_id), actor: String(job.submitted_by) },
      signal: controller.signal,
      fence,
      workDir,
      progress: async (stage, percentage, extra = {}) => {
        state.progress = { ...state.progress, ...extra, stage, percentage: Math.min(99, Math.max(0, percentage)) };
        state.peakMemory = Math.max(state.peakMemory, process.memoryUsage().rss);
        const updated = await this.o.db.query(
          `UPDATE jobs SET progress = $3, updated_at = now() WHERE id = $1 AND attempt = $2 AND status = 'Running' RETURNING id`,
          [jobId, attempt, JSON.stringify(state.progress)],
        );
        if (updated.length === 0) await this.watch();
        controller.signal.throwIfAborted();
      },
      records: (processed, total) => {
        state.progress.recordsProcessed = processed;
        if (total !== undefined) state.progress.totalRecords = total;
      },
      warn: (type, message, count = 1) => {
        state.quality.warnings.push({ type, message, count });
        state.progress.warnings = Number(state.progress.warnings) + count;
      },
      output: async (o) => {
        const stored = await storeJobOutput(ctx, o);
        state.outputs.push(stored);
        return stored;
      },
      listOutput: (o) => {
        state.outputs.push(o);
      },
      quality: (validRecords, totalRecords) => {
        Object.assign(state.quality, { validRecords, totalRecords });
      },
    };
    let outcome: { kind: 'completed' } | { kind: 'failed'; error: Error } | { kind: 'stopped'; stop: Stop };
    try {
      const runner = this.runners[String(job.job_type)];
      if (!runner) throw new Error(`This worker cannot run ${String(job.job_type)} jobs`);
      await untilSettledOrAbandoned(runner(ctx), controller.signal);
      controller.signal.throwIfAborted();
      outcome = { kind: 'completed' };
    } catch (err) {
      if (controller.signal.aborted) outcome = { kind: 'stopped', stop: (controller.signal.reason as StopError).stop };
      else if (err instanceof LostJobError) outcome = { kind: 'stopped', stop: { kind: 'lost', message: err.message } };
      else outcome = { kind: 'failed', error: err as Error };
    } finally {
      clearTimeout(timeout);
      this.runs.delete(jobId);
      fs.rmSync(workDir, { recursive: true, force: true });
      await this.countActive().catch(() => undefined);
    }
    const cpu = process.cpuUsage(state.cpuStart);
    const usage = {
      cpuSeconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
      peakMemoryBytes: state.peakMemory,
      memoryBytes: process.memoryUsage().rss,
    };
    log.info({ outcome: outcome.kind === 'stopped' ? outcome.stop.kind : outcome.kind }, 'job run ended');
    if (outcome.kind === 'stopped' && outcome.stop.kind === 'shutdown') {
      // Back on the queue: the delivery fails, and pg-boss hands the job to the next worker.
      await this.o.db.query(
        `UPDATE jobs SET status = 'Queued', worker_id = NULL, progress = '{}', updated_at = now()
         WHERE id = $1 AND attempt = $2 AND status = 'Running'`,
        [jobId, attempt],
      );
      throw new Error('Worker shut down; the job goes back on the queue');
    }
    await this.finish(job, attempt, outcome, state, usage);
  }

  /** Claims a delivered job: Running with a new attempt, unless it was cancelled or has finished. */
  private async claim(jobId: string): Promise<Row | undefined> {
    const [job] = await this.o.db.query(
      `UPDATE jobs SET status = 'Running', attempt = attempt + 1, worker_id = $2, started_at = coalesce(started_at, now()),
         heartbeat_at = now(), updated_at = now(), progress = '{"percentage": 0, "stage": "Starting"}', outputs = '[]'
       WHERE id = $1 AND status IN ('Queued', 'Running') RETURNING *`,
      [jobId, this.id],
    );
    if (!job) return undefined;
    if (Number(job.attempt) > 1) {
      // A worker died with it: what that run wrote is dropped, and the job starts over.
      const stale = await this.o.db.query<{ id: string }>('DELETE FROM artifacts WHERE job_id = $1 RETURNING id', [
        jobId,
      ]);
      removeArtifactFiles(
        this.o.dataDir,
        stale.map((r) => r.id),
      );
      await this.o.db.query(
        `UPDATE executions SET status = 'Cancelled', ended_at = now() WHERE job_id = $1 AND status = 'Running' AND id IS DISTINCT FROM $2`,
        [jobId, job.execution_id ?? null],
      );
      this.o.logger.warn({ jobId, attempt: job.attempt }, 'job taken over from a worker that stopped');
    }
    return job;
  }

  /** Records how a run ended, if the run still holds the job; then sends its notifications. */
  private async finish(
    job: Row,
    attempt: number,
    outcome: { kind: 'completed' } | { kind: 'failed'; error: Error } | { kind: 'stopped'; stop: Stop },
    state: { progress: Record<string, unknown>; outputs: StoredJobOutput[]; quality: Record<string, unknown> },
    usage: Record<string, number>,
  ): Promise<void> {
    const jobId = String(job.id);
    const progress = { ...state.progress };
    let status: 'Completed' | 'Failed';
    let reason: string | null = null;
    let error: { errorType: string; message: string } | null = null;
    if (outcome.kind === 'completed') {
      status = 'Completed';
      Object.assign(progress, { percentage: 100, stage: 'Completed' });
    } else if (outcome.kind === 'failed') {
      status = 'Failed';
      reason = outcome.error.message;
      error = { errorType: outcome.error.name || 'Error', message: outcome.error.message };
      progress.errors = Number(progress.errors ?? 0) + 1;
    } else if (outcome.stop.kind === 'timeout' || outcome.stop.kind === 'expired') {
      status = 'Failed';
      reason = outcome.stop.message;
      error = { errorType: 'Timeout', message: outcome.stop.message };
    } else if (outcome.stop.kind === 'cancelled') {
      await this.keepOrDropPartial(jobId, attempt, state.outputs, progress);
      return;
    } else return; // lost: another worker holds the job now
    const [ended] = await this.o.db.query(
      `UPDATE jobs SET status = $3, status_reason = $4, error = $5, progress = $6, outputs = $7, quality = $8,
         usage = $9, ended_at = now(), updated_at = now()
       WHERE id = $1 AND attempt = $2 AND status = 'Running' RETURNING *`,
      [
        jobId,
        attempt,
        status,
        reason,
        error ? JSON.stringify(error) : null,
        JSON.stringify(progress),
        JSON.stringify(state.outputs),
        JSON.stringify(state.quality),
        JSON.stringify(usage),
      ],
    );
    if (!ended) {
      // Cancelled while finishing: the cancel wins, and it decides about the outputs.
      await this.keepOrDropPartial(jobId, attempt, state.outputs, progress);
      return;
    }
    if (ended.execution_id && status === 'Failed') {
      await this.o.db.query(
        `UPDATE executions SET status = 'Error', ended_at = now(), error = coalesce(error, $2) WHERE id = $1 AND status = 'Running'`,
        [ended.execution_id, JSON.stringify({ errorType: error!.errorType, errorMessage: reason, cellId: null })],
      );
      await this.o.db.query(
        `UPDATE notebooks SET status = 'Ready' WHERE id = (SELECT notebook_id FROM executions WHERE id = $1) AND status = 'Running'`,
        [ended.execution_id],
      );
    }
    await notifyJobEnded(this.o.db, this.o.mailer, this.o.logger, ended, this.o.publicUrl);
  }

  /** A cancelled run keeps the outputs it wrote when the cancel asked to preserve them, else drops them. */
  private async keepOrDropPartial(
    jobId: string,
    attempt: number,
    outputs: StoredJobOutput[],
    progress: Record<string, unknown>,
  ): Promise<void> {
    const [job] = await this.o.db.query('SELECT status, cancel_request FROM jobs WHERE id = $1 AND attempt = $2', [
      jobId,
      attempt,
    ]);
    if (!job || job.status !== 'Cancelled') return;
    const preserve =
      (job.cancel_request as { preservePartialResults?: boolean } | null)?.preservePartialResults ?? true;
    if (preserve) {
      await this.o.db.query('UPDATE jobs SET outputs = $2, progress = $3 WHERE id = $1', [
        jobId,
        JSON.stringify(outputs),
        JSON.stringify({ ...progress, stage: 'Cancelled' }),
      ]);
    } else {
      const dropped = await this.o.db.query<{ id: string }>('DELETE FROM artifacts WHERE job_id = $1 RETURNING id', [
        jobId,
      ]);
      removeArtifactFiles(
        this.o.dataDir,
        dropped.map((r) => r.id),
      );
      await this.o.db.query(`UPDATE jobs SET outputs = '[]', progress = $2 WHERE id = $1`, [
        jobId,
        JSON.stringify({ ...progress, stage: 'Cancelled' }),
      ]);
    }
  }

  /** Stops runs whose job was cancelled (from any API process) or taken over by another worker. */
  private async watch(): Promise<void> {
    if (this.runs.size === 0) return;
    const rows = await this.o.db.query(
      'SELECT id, status, attempt, cancel_request FROM jobs WHERE id = ANY($1::uuid[])',
      [[...this.runs.keys()]],
    );
    for (const row of rows) {
      const run = this.runs.get(String(row.id));
      if (!run) continue;
      if (row.status === 'Cancelled') {
        const request = row.cancel_request as { reason?: string; force?: boolean } | null;
        run.stop({ kind: 'cancelled', message: request?.reason ?? 'Cancelled', force: request?.force ?? false });
      } else if (row.status !== 'Running' || Number(row.attempt) !== run.attempt) {
        // Nothing it does can be written any more, so there is nothing to wait for.
        run.stop({ kind: 'lost', message: 'Another worker took the job over', force: true });
      }
    }
  }

  /** Keeps the worker's active job count current as runs start and end, not only on heartbeats. */
  private async countActive(): Promise<void> {
    await this.o.db.query('UPDATE workers SET active_jobs = $2 WHERE id = $1', [this.id, this.runs.size]);
  }

  /** The worker's row (load, memory) and its jobs' heartbeats. */
  private async heartbeat(): Promise<void> {
    const now = performance.now();
    const used = process.cpuUsage(this.cpu.usage);
    const cores = os.availableParallelism();
    const cpuPercent = ((used.user + used.system) / 1000 / (now - this.cpu.at) / cores) * 100;
    this.cpu = { usage: process.cpuUsage(), at: now };
    const rss = process.memoryUsage().rss;
    await this.o.db.query(
      `UPDATE workers SET heartbeat_at = now(), active_jobs = $2, cpu_percent = $3, memory_percent = $4, memory_bytes = $5
       WHERE id = $1`,
      [this.id, this.runs.size, Math.min(100, cpuPercent), (rss / os.totalmem()) * 100, rss],
    );
    if (this.runs.size > 0) {
      await this.o.db.query(
        `UPDATE jobs SET heartbeat_at = now(), usage = $3 WHERE id = ANY($1::uuid[]) AND worker_id = $2 AND status = 'Running'`,
        [
          [...this.runs.keys()],
          this.id,
          JSON.stringify({ cpuPercent: Math.round(cpuPercent * cores), memoryBytes: rss }),
        ],
      );
    }
  }

  /**
   * Fails running jobs that nobody heartbeats any more (their worker died and the queue's retries
   * ran out), and puts back on the queue any queued job the queue lost (a crash between recording
   * and queueing). Every worker sweeps; the statements are idempotent.
   */
  private async sweep(): Promise<void> {
    if (this.stopping) return;
    const lost = await this.o.db.query(
      `UPDATE jobs SET status = 'Failed', ended_at = now(), updated_at = now(),
         status_reason = 'Its worker stopped responding and no other worker took the job over; retry it.',
         error = '{"errorType": "WorkerLost", "message": "The worker running the job stopped responding."}'
       WHERE status = 'Running' AND heartbeat_at < now() - make_interval(secs => $1) RETURNING *`,
      [LOST_AFTER_SECONDS],
    );
    for (const job of lost) {
      this.o.logger.warn({ jobId: job.id, worker: job.worker_id }, 'job failed: its worker was lost');
      if (job.execution_id) {
        await this.o.db.query(
          `UPDATE executions SET status = 'Error', ended_at = now() WHERE id = $1 AND status = 'Running'`,
          [job.execution_id],
        );
        await this.o.db.query(
          `UPDATE notebooks SET status = 'Ready' WHERE id = (SELECT notebook_id FROM executions WHERE id = $1) AND status = 'Running'`,
          [job.execution_id],
        );
      }
      await notifyJobEnded(this.o.db, this.o.mailer, this.o.logger, job, this.o.publicUrl);
    }
    const waiting = await this.o.db.query(
      `SELECT * FROM jobs WHERE status = 'Queued' AND run_after < now() - interval '60 seconds'
       ORDER BY priority_rank DESC, created_at LIMIT 100`,
    );
    for (const job of waiting) await enqueue(this.o.queue, job);
  }
}

/**
 * Waits for a job's code. Once the job is stopped, its code gets time to reach a safe point
 * (DuckDB is interrupted at once): ten seconds, or one with forceTermination. After that the
 * worker stops waiting; the code's late writes are fenced off.
 */
async function untilSettledOrAbandoned(work: Promise<void>, signal: AbortSignal): Promise<void> {
  work.catch(() => undefined); // an abandoned run's late failure is expected, not unhandled
  let timer: NodeJS.Timeout | undefined;
  const abandoned = new Promise<void>((_, reject) => {
    const onAbort = () => {
      const force = (signal.reason as StopError | undefined)?.stop.force ?? false;
      timer = setTimeout(() => reject(signal.reason), force ? FORCE_MS : GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([work, abandoned]);
  } finally {
    clearTimeout(timer);
  }
}
