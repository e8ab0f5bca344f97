import type { Logger } from 'pino';
import type { JobQueue as QueuePort, TenantLimits } from '../domain/jobs';
import type { Db } from '../store/db';

type PgBossModule = typeof import('pg-boss');
type PgBoss = InstanceType<PgBossModule['PgBoss']>;

/** The pg-boss queue every job goes through; its rows hold only the job id. */
const JOBS = 'assay-jobs';
/** Cron ticks of scheduled notebooks; each tick submits a job. */
const TICKS = 'assay-schedule-ticks';

/** How often an idle slot looks for due jobs without being notified (scheduled jobs coming due). */
const POLL_SECONDS = 2;

/** Seconds without a heartbeat after which pg-boss takes a job from its worker and retries it. */
export const HEARTBEAT_SECONDS = 10;

/** What a job's worker is told: its id. Everything else is read from the jobs table. */
export interface Delivery {
  jobId: string;
  /** pg-boss retries a job whose worker died; this counts those deliveries. */
  retryCount: number;
}

/**
 * The job queue: pg-boss on the service's own database (PGlite through its adapter, or
 * PostgreSQL with its own pool). pg-boss delivers job ids by priority, first in first out within
 * one, wakes workers by LISTEN/NOTIFY, and hands a job whose worker stopped heartbeating to another.
 */
export class JobQueue implements QueuePort {
  private constructor(
    private readonly boss: PgBoss,
    private readonly logger: Logger,
    /** What each tenant may hold of the queue, checked when a job is submitted. */
    readonly tenantLimits: TenantLimits,
  ) {}

  static async open(
    db: Db,
    opts: { databaseUrl?: string; schema: string; logger: Logger; tenantLimits?: TenantLimits },
  ): Promise<JobQueue> {
    // pg-boss is ESM-only; this service is CommonJS.
    const { PgBoss, fromPglite } = await import('pg-boss');
    const common = {
      schema: opts.schema,
      useListenNotify: true,
      // How soon a dead worker's job is noticed: heartbeats are checked this often.
      superviseIntervalSeconds: 5,
      monitorIntervalSeconds: 5,
      // Schedules are checked this often, so a tick comes at most a few seconds late.
      cronMonitorIntervalSeconds: 5,
      cronWorkerIntervalSeconds: 2,
    };
    const boss = db.embedded
      ? new PgBoss({ ...common, db: fromPglite(db.embedded), backend: 'pglite' })
      : new PgBoss({ ...common, connectionString: opts.databaseUrl, max: 4 });
    boss.on('error', (err: Error) => opts.logger.error({ err }, 'job queue error'));
    await boss.start();
    const queue = {
      heartbeatSeconds: HEARTBEAT_SECONDS,
      // A worker that dies loses its delivery; pg-boss delivers the job again this many times.
      retryLimit: 3,
      retryDelay: 0,
      notify: true,
    };
    if (!(await boss.getQueue(JOBS))) await createQueueOnce(boss, JOBS, queue);
    if (!(await boss.getQueue(TICKS))) await createQueueOnce(boss, TICKS, { notify: true });
    return new JobQueue(boss, opts.logger, opts.tenantLimits ?? { queuedJobs: Infinity, kernels: Infinity });
  }

  /** Puts a job on the queue; `priority` is the job's rank (higher first), `startAfter` for scheduled jobs. */
  async send(jobId: string, o: { priority: number; startAfter?: Date; expireInSeconds: number }): Promise<void> {
    await this.boss.send(
      JOBS,
      { jobId },
      { id: jobId, priority: o.priority, startAfter: o.startAfter, expireInSeconds: o.expireInSeconds },
    );
  }

  /** Takes a job off the queue if it has not started; a started one is stopped by its worker. */
  async cancel(jobId: string): Promise<void> {
    await this.boss.cancel(JOBS, jobId);
  }

  /**
   * Runs `handle` for each delivery, at most `concurrency` at a time in this process. Each slot
   * is a pg-boss worker of its own that, having finished a job, looks for the next one at once:
   * a NOTIFY that arrived while it was busy says nothing about how many jobs are waiting, and
   * otherwise it would sleep until its next poll.
   */
  async work(concurrency: number, handle: (d: Delivery, signal: AbortSignal) => Promise<void>): Promise<void> {
    for (let slot = 0; slot < concurrency; slot++) {
      let self = '';
      self = await this.boss.work<{ jobId: string }>(
        JOBS,
        {
          batchSize: 1,
          includeMetadata: true,
          // NOTIFY wakes a slot when a job is sent; polling catches scheduled jobs coming due.
          pollingIntervalSeconds: POLL_SECONDS,
          notifyPollingIntervalSeconds: POLL_SECONDS,
        },
        async ([job]) => {
          try {
            await handle(
              { jobId: job.data.jobId, retryCount: (job as unknown as { retryCount: number }).retryCount },
              job.signal,
            );
          } finally {
            this.boss.notifyWorker(self);
          }
        },
      );
    }
  }

  /** Calls `tick` on every beat of a schedule; ticks are delivered once however many processes listen. */
  async workTicks(handle: (key: string, data: Record<string, unknown>) => Promise<void>): Promise<void> {
    await this.boss.work<{ key: string; data: Record<string, unknown> }>(
      TICKS,
      { pollingIntervalSeconds: 5 },
      async ([job]) => handle(job.data.key, job.data.data),
    );
  }

  /** Registers (or replaces) a five-field UTC cron schedule under `key`. */
  async schedule(key: string, cron: string, data: Record<string, unknown>): Promise<void> {
    await this.boss.schedule(TICKS, cron, { key, data }, { key, tz: 'UTC' });
  }

  async unschedule(key: string): Promise<void> {
    await this.boss.unschedule(TICKS, key);
  }

  /** Stops taking jobs; with `wait`, lets the handlers in flight settle first. */
  async stop(wait = true): Promise<void> {
    await this.boss.stop({ graceful: wait, timeout: 10_000 });
    this.logger.debug('job queue stopped');
  }
}

/** Creates a queue; another process creating it at the same moment is fine. */
async function createQueueOnce(boss: PgBoss, name: string, options: Record<string, unknown>): Promise<void> {
  try {
    await boss.createQueue(name, options);
  } catch (err) {
    if (!(await boss.getQueue(name))) throw err;
  }
}
