import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { JobQueue as QueuePort, QueueEntry, TenantLimits } from '../domain/jobs';
import type { Db } from '../store/db';

type PgBossModule = typeof import('pg-boss');
type PgBoss = InstanceType<PgBossModule['PgBoss']>;

/** The pg-boss queue every job goes through; its rows hold only the job id. */
const JOBS = 'assay-jobs';
/** Cron ticks of scheduled notebooks; each tick submits a job. */
const TICKS = 'assay-schedule-ticks';

/** How often an idle slot looks for due jobs without being notified (scheduled jobs coming due). */
const POLL_SECONDS = 2;

/** Jobs one fetch takes at most (fewer when fewer slots are free). */
export const FETCH_BATCH = 16;

/** How long stopping waits for the runs in flight. */
const STOP_WAIT_MS = 10_000;

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
  private dispatcher: Dispatcher | null = null;
  private unlisten: (() => Promise<void>) | null = null;

  private constructor(
    private readonly boss: PgBoss,
    private readonly db: Db,
    private readonly schema: string,
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
    return new JobQueue(
      boss,
      db,
      opts.schema,
      opts.logger,
      opts.tenantLimits ?? { queuedJobs: Infinity, kernels: Infinity },
    );
  }

  /**
   * Puts jobs on the queue in one statement; with `tx`, in that transaction: the job rows and
   * their queue entries commit together.
   */
  async send(entries: QueueEntry[], tx?: Db): Promise<void> {
    if (entries.length === 0) return;
    await this.boss.insert(
      JOBS,
      entries.map((e) => ({
        id: e.jobId,
        data: { jobId: e.jobId },
        priority: e.priority,
        startAfter: e.startAfter,
        expireInSeconds: e.expireInSeconds,
      })),
      tx ? { db: inTransaction(tx) } : undefined,
    );
  }

  /** Takes a job off the queue if it has not started; a started one is stopped by its worker. */
  async cancel(jobId: string): Promise<void> {
    await this.boss.cancel(JOBS, jobId);
  }

  /**
   * Runs `handle` for each delivery, at most `concurrency` at a time in this process. One
   * dispatcher per process fetches as many jobs as it has free slots, in one statement, when it
   * has reason to think some are waiting: a NOTIFY of a sent job (one fetch per NOTIFY, however
   * many slots are idle), a fetch that came back full (more may wait), or the poll (scheduled jobs
   * coming due). A slot that frees up fetches again only for one of these reasons, so an idle
   * queue costs no empty fetches between jobs, and a NOTIFY that arrived while every slot was busy
   * is not lost: it is remembered until a slot is free.
   */
  async work(concurrency: number, handle: (d: Delivery, signal: AbortSignal) => Promise<void>): Promise<void> {
    this.dispatcher = new Dispatcher(this.boss, this.logger, concurrency, handle);
    this.unlisten = await this.db.listen(notifyChannel(this.schema), (payload) => {
      // null: the listening connection came back, and NOTIFYs may have been missed meanwhile.
      if (payload === null || payload === JOBS) this.dispatcher?.wake();
    });
    this.dispatcher.start();
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
    await this.unlisten?.();
    // The runs in flight settle (and are completed or failed on the queue) before pg-boss stops.
    await this.dispatcher?.stop(wait ? STOP_WAIT_MS : 0);
    await this.boss.stop({ graceful: wait, timeout: STOP_WAIT_MS });
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

/** pg-boss's view of one of the service's transactions: its statements run in it. */
function inTransaction(tx: Db): { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> } {
  return { executeSql: async (text, values) => ({ rows: await tx.query(text, values) }) };
}

/**
 * pg-boss's NOTIFY channel for a queue schema: 'pgboss_' and the first 24 hex digits of the
 * schema name's SHA-224 (pg-boss's plans.notifyChannelSql computes the same in SQL).
 */
export function notifyChannel(schema: string): string {
  const name = /^".*"$/.test(schema) ? schema.slice(1, -1) : schema;
  return `pgboss_${createHash('sha224').update(name).digest('hex').slice(0, 24)}`;
}

type Handle = (d: Delivery, signal: AbortSignal) => Promise<void>;
type FetchedJob = { id: string; data: { jobId: string }; retryCount: number; expireInSeconds: number };

/**
 * Takes jobs from pg-boss for the slots of one process and settles each on its own: completed
 * when its handler resolves, failed (for pg-boss to deliver again) when it throws. It heartbeats
 * the jobs in flight and aborts a run whose pg-boss expiry passes.
 */
class Dispatcher {
  private readonly inFlight = new Map<string, AbortController>();
  private readonly settling = new Set<Promise<void>>();
  /** Whether jobs may be waiting: set by a NOTIFY, a full fetch or the poll; cleared when a fetch starts. */
  private wanted = true;
  private fetching = false;
  private stopping = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly completions: { id: string; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private completing = false;

  constructor(
    private readonly boss: PgBoss,
    private readonly logger: Logger,
    private readonly concurrency: number,
    private readonly handle: Handle,
  ) {}

  start(): void {
    const poll = setInterval(() => this.wake(), POLL_SECONDS * 1000);
    const heartbeat = setInterval(() => void this.heartbeat(), (HEARTBEAT_SECONDS * 1000) / 2);
    poll.unref();
    heartbeat.unref();
    this.timers.push(poll, heartbeat);
    this.pump();
  }

  /** Jobs may be waiting: fetch if a slot is free (now, or as soon as one is). */
  wake(): void {
    this.wanted = true;
    this.pump();
  }

  /** Stops fetching; waits up to `waitMs` for the runs in flight to settle on the queue. */
  async stop(waitMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    const deadline = Date.now() + waitMs;
    while ((this.settling.size > 0 || this.fetching) && Date.now() < deadline) {
      await Promise.race([Promise.allSettled([...this.settling]), sleep(Math.min(50, deadline - Date.now()))]);
    }
  }

  private pump(): void {
    if (this.stopping || this.fetching || !this.wanted) return;
    const free = this.concurrency - this.inFlight.size;
    if (free <= 0) return;
    const batchSize = Math.min(free, FETCH_BATCH);
    this.fetching = true;
    this.wanted = false;
    this.boss
      .fetch<{ jobId: string }>(JOBS, { batchSize, includeMetadata: true })
      .then((jobs) => {
        // A full fetch says nothing about what is left: look again once a slot is free.
        if (jobs.length >= batchSize) this.wanted = true;
        for (const job of jobs) {
          // Fetched while stopping: back on the queue for another worker, not started here.
          if (this.stopping) this.giveBack(job.id);
          else this.run(job as unknown as FetchedJob);
        }
      })
      .catch((err: unknown) => this.logger.error({ err }, 'fetching jobs failed; the poll tries again'))
      .finally(() => {
        this.fetching = false;
        this.pump();
      });
  }

  private run(job: FetchedJob): void {
    const controller = new AbortController();
    this.inFlight.set(job.id, controller);
    // pg-boss's own expiry (the worker enforces the job's timeout itself; this is the backstop).
    const expiry = setTimeout(() => controller.abort(), job.expireInSeconds * 1000);
    const settled = this.handle({ jobId: job.data.jobId, retryCount: job.retryCount }, controller.signal)
      .then(
        () => this.complete(job.id),
        (err: unknown) => this.boss.fail(JOBS, job.id, { message: (err as Error)?.message ?? String(err) }),
      )
      .then(
        () => undefined,
        (err: unknown) => this.logger.error({ err, jobId: job.id }, 'settling a job on the queue failed'),
      )
      .finally(() => {
        clearTimeout(expiry);
        this.inFlight.delete(job.id);
        this.settling.delete(settled);
        this.pump();
      });
    this.settling.add(settled);
  }

  /**
   * Completes a job on the queue. Completions that come while one is being written wait for it
   * and are then written together, in one statement: under load, one round trip for many jobs.
   */
  private complete(id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ id, resolve, reject });
      this.writeCompletions();
    });
  }

  private writeCompletions(): void {
    if (this.completing || this.completions.length === 0) return;
    this.completing = true;
    const batch = this.completions.splice(0);
    this.boss
      .complete(
        JOBS,
        batch.map((c) => c.id),
      )
      .then(
        () => batch.forEach((c) => c.resolve()),
        (err: unknown) => batch.forEach((c) => c.reject(err)),
      )
      .finally(() => {
        this.completing = false;
        this.writeCompletions();
      });
  }

  private giveBack(id: string): void {
    const failed: Promise<void> = this.boss
      .fail(JOBS, id, { message: 'The worker is shutting down' })
      .then(
        () => undefined,
        (err: unknown) => this.logger.error({ err, jobId: id }, 'giving a job back to the queue failed'),
      )
      .finally(() => this.settling.delete(failed));
    this.settling.add(failed);
  }

  private async heartbeat(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      await this.boss.touch(JOBS, [...this.inFlight.keys()]);
    } catch (err) {
      this.logger.warn({ err }, 'heartbeat of the jobs in flight failed');
    }
  }
}
