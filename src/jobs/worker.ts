import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { removeArtifactFiles } from '../domain/artifacts';
import { LostJobError, StopError, type Stop } from '../domain/jobErrors';
import { enqueue, type StoredJobOutput } from '../domain/jobs';
import { describeSeconds } from '../domain/units';
import type { Engine } from '../engine/engine';
import { DEFAULT_TIMEOUT_MINUTES } from '../domain/constants';
import * as lifecycle from '../domain/lifecycle';
import { deleteArtifactsOfJob } from '../store/artifacts';
import type { Db } from '../store/db';
import {
  heartbeatJobs,
  jobById,
  keepCancelledOutputs,
  overdueQueuedJobs,
  watchedJobs,
  type JobRow,
} from '../store/jobs';
import * as workers from '../store/workers';
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
    await workers.insertWorker(this.o.db, {
      id: this.id,
      hostname: os.hostname(),
      pid: process.pid,
      capacity: this.o.capacity,
      total_memory_bytes: os.totalmem(),
      cores: os.availableParallelism(),
    });
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
    await workers.stopWorker(this.o.db, this.id);
  }

  /** One delivery: claim, run, record. Throws only to have the queue deliver the job again. */
  private async handle(delivery: Delivery, queueSignal: AbortSignal): Promise<void> {
    const job = await this.claim(delivery.jobId);
    if (!job) return; // cancelled or finished meanwhile: nothing to run
    const jobId = job.id;
    const attempt = job.attempt;
    const log = this.o.logger.child({ jobId, attempt, jobType: job.job_type });
    log.debug({ retryCount: delivery.retryCount }, 'job run starts');
    const controller = new AbortController();
    const stop = (reason: Stop) => {
      if (!controller.signal.aborted) controller.abort(new StopError(reason));
    };
    this.runs.set(jobId, { attempt, stop });
    queueSignal.addEventListener('abort', () => stop({ kind: 'expired', message: 'The queue expired the job' }));
    const timeoutMinutes = job.scheduling.timeoutMinutes ?? DEFAULT_TIMEOUT_MINUTES;
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
    const report = lifecycle.runReporter(this.o.db, jobId);
    // Warnings are noted synchronously; they reach the stream with the next progress, or before the end.
    const pendingLines: string[] = [];
    const flushLines = async () => {
      for (const l of pendingLines.splice(0)) await report.log('job', l);
    };
    const ctx: JobContext = {
      db: this.o.db,
      engine: this.o.engine,
      dataDir: this.o.dataDir,
      job,
      scope: { tenantId: job.tenant_id, projectId: job.project_id, actor: job.submitted_by },
      signal: controller.signal,
      fence,
      workDir,
      report,
      progress: async (stage, percentage, extra = {}) => {
        await flushLines();
        if (stage !== state.progress.stage) await report.log('job', stage);
        state.progress = { ...state.progress, ...extra, stage, percentage: Math.min(99, Math.max(0, percentage)) };
        state.peakMemory = Math.max(state.peakMemory, process.memoryUsage().rss);
        if (!(await lifecycle.jobProgressed(this.o.db, jobId, attempt, state.progress))) await this.watch();
        controller.signal.throwIfAborted();
      },
      records: (processed, total) => {
        state.progress.recordsProcessed = processed;
        if (total !== undefined) state.progress.totalRecords = total;
      },
      warn: (type, message, count = 1) => {
        pendingLines.push(`${type}: ${message}${count > 1 ? ` (${count})` : ''}`);
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
      const runner = this.runners[job.job_type];
      if (!runner) throw new Error(`This worker cannot run ${job.job_type} jobs`);
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
      await workers.releaseSlot(this.o.db, this.id).catch(() => undefined);
    }
    const cpu = process.cpuUsage(state.cpuStart);
    const usage = {
      cpuSeconds: Math.round((cpu.user + cpu.system) / 1000) / 1000,
      peakMemoryBytes: state.peakMemory,
      memoryBytes: process.memoryUsage().rss,
    };
    log.info({ outcome: outcome.kind === 'stopped' ? outcome.stop.kind : outcome.kind }, 'job run ended');
    if (outcome.kind === 'failed') pendingLines.push(`${outcome.error.name || 'Error'}: ${outcome.error.message}`);
    await flushLines().catch((err: unknown) => log.warn({ err }, 'log lines of the run were not stored'));
    if (outcome.kind === 'stopped' && outcome.stop.kind === 'shutdown') {
      // Back on the queue: the delivery fails, and pg-boss hands the job to the next worker.
      await lifecycle.jobReleased(this.o.db, job, attempt);
      throw new Error('Worker shut down; the job goes back on the queue');
    }
    await this.finish(job, attempt, outcome, state, usage);
  }

  /** Claims a delivered job: Running with a new attempt, unless it was cancelled or has finished. */
  private async claim(jobId: string): Promise<JobRow | null> {
    const job = await lifecycle.jobStarted(this.o.db, jobId, this.id);
    if (!job) return null;
    if (job.attempt > 1) {
      try {
        // A worker died with it: what that run wrote is dropped, and the job starts over.
        removeArtifactFiles(this.o.dataDir, await deleteArtifactsOfJob(this.o.db, jobId));
        await lifecycle.otherExecutionsOfJobCancelled(this.o.db, jobId, job.execution_id);
      } catch (err) {
        // The claim took a slot; the run does not start, so the slot is free again.
        await workers.releaseSlot(this.o.db, this.id).catch(() => undefined);
        throw err;
      }
      this.o.logger.warn({ jobId, attempt: job.attempt }, 'job taken over from a worker that stopped');
    }
    return job;
  }

  /** Records how a run ended, if the run still holds the job; then sends its notifications. */
  private async finish(
    job: JobRow,
    attempt: number,
    outcome: { kind: 'completed' } | { kind: 'failed'; error: Error } | { kind: 'stopped'; stop: Stop },
    state: { progress: Record<string, unknown>; outputs: StoredJobOutput[]; quality: Record<string, unknown> },
    usage: Record<string, number>,
  ): Promise<void> {
    const jobId = job.id;
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
    const ended = await lifecycle.jobEnded(this.o.db, job, attempt, {
      status,
      status_reason: reason,
      error,
      progress,
      outputs: state.outputs,
      quality: state.quality,
      usage,
    });
    if (!ended) {
      // Cancelled while finishing: the cancel wins, and it decides about the outputs.
      await this.keepOrDropPartial(jobId, attempt, state.outputs, progress);
      return;
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
    const job = await jobById(this.o.db, jobId);
    if (!job || job.attempt !== attempt || job.status !== 'Cancelled') return;
    const preserve = job.cancel_request?.preservePartialResults ?? true;
    if (!preserve) removeArtifactFiles(this.o.dataDir, await deleteArtifactsOfJob(this.o.db, jobId));
    await keepCancelledOutputs(this.o.db, jobId, preserve ? outputs : [], { ...progress, stage: 'Cancelled' });
  }

  /** Stops runs whose job was cancelled (from any API process) or taken over by another worker. */
  private async watch(): Promise<void> {
    if (this.runs.size === 0) return;
    for (const row of await watchedJobs(this.o.db, [...this.runs.keys()])) {
      const run = this.runs.get(row.id);
      if (!run) continue;
      if (row.status === 'Cancelled') {
        const request = row.cancel_request;
        run.stop({ kind: 'cancelled', message: request?.reason ?? 'Cancelled', force: request?.force ?? false });
      } else if (row.status !== 'Running' || row.attempt !== run.attempt) {
        // Nothing it does can be written any more, so there is nothing to wait for.
        run.stop({ kind: 'lost', message: 'Another worker took the job over', force: true });
      }
    }
  }

  /** The worker's row (load, memory) and its jobs' heartbeats. */
  private async heartbeat(): Promise<void> {
    const now = performance.now();
    const used = process.cpuUsage(this.cpu.usage);
    const cores = os.availableParallelism();
    const cpuPercent = ((used.user + used.system) / 1000 / (now - this.cpu.at) / cores) * 100;
    this.cpu = { usage: process.cpuUsage(), at: now };
    const rss = process.memoryUsage().rss;
    await workers.heartbeatWorker(this.o.db, {
      id: this.id,
      active_jobs: this.runs.size,
      cpu_percent: Math.min(100, cpuPercent),
      memory_percent: (rss / os.totalmem()) * 100,
      memory_bytes: rss,
    });
    if (this.runs.size > 0) {
      const usage = { cpuPercent: Math.round(cpuPercent * cores), memoryBytes: rss };
      await heartbeatJobs(this.o.db, [...this.runs.keys()], this.id, usage);
    }
  }

  /**
   * Fails running jobs that nobody heartbeats any more (their worker died and the queue's retries
   * ran out), and puts back on the queue any queued job the queue lost (a crash between recording
   * and queueing). Every worker sweeps; the statements are idempotent.
   */
  private async sweep(): Promise<void> {
    if (this.stopping) return;
    for (const job of await lifecycle.jobsLost(this.o.db, LOST_AFTER_SECONDS)) {
      this.o.logger.warn({ jobId: job.id, worker: job.worker_id }, 'job failed: its worker was lost');
      await notifyJobEnded(this.o.db, this.o.mailer, this.o.logger, job, this.o.publicUrl);
    }
    for (const job of await overdueQueuedJobs(this.o.db)) await enqueue(this.o.queue, job);
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
  let onAbort = () => {};
  const abandoned = new Promise<void>((_, reject) => {
    onAbort = () => {
      const force = (signal.reason as StopError | undefined)?.stop.force ?? false;
      timer = setTimeout(() => reject(signal.reason), force ? FORCE_MS : GRACE_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([work, abandoned]);
  } finally {
    // A signal aborted after the code settled (the queue stopping) must not start a grace timer
    // that nothing clears: it would hold the process for ten seconds.
    signal.removeEventListener('abort', onAbort);
    clearTimeout(timer);
  }
}
