import type { Db } from './db';

/** Worker processes: one row each, with its heartbeat, capacity and load. */

export interface WorkerRow {
  id: string;
  hostname: string;
  pid: number;
  capacity: number;
  active_jobs: number;
  cpu_percent: number;
  memory_percent: number;
  memory_bytes: number;
  total_memory_bytes: number;
  cores: number;
  started_at: Date;
  heartbeat_at: Date;
  stopped_at: Date | null;
}

export async function insertWorker(
  db: Db,
  w: Pick<WorkerRow, 'id' | 'hostname' | 'pid' | 'capacity' | 'total_memory_bytes' | 'cores'>,
): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, hostname, pid, capacity, total_memory_bytes, cores, started_at, heartbeat_at)
     VALUES ($1, $2, $3, $4, $5, $6, now(), now())`,
    [w.id, w.hostname, w.pid, w.capacity, w.total_memory_bytes, w.cores],
  );
}

/** The worker's heartbeat with its load. */
export async function heartbeatWorker(
  db: Db,
  w: Pick<WorkerRow, 'id' | 'active_jobs' | 'cpu_percent' | 'memory_percent' | 'memory_bytes'>,
): Promise<void> {
  await db.query(
    `UPDATE workers SET heartbeat_at = now(), active_jobs = $2, cpu_percent = $3, memory_percent = $4, memory_bytes = $5
     WHERE id = $1`,
    [w.id, w.active_jobs, w.cpu_percent, w.memory_percent, w.memory_bytes],
  );
}

/**
 * A run of the worker ended: one slot fewer in use. (A claim takes its slot in the claiming
 * statement, transitions.claimJob; the heartbeat writes the exact count every few seconds.)
 */
export async function releaseSlot(db: Db, id: string): Promise<void> {
  await db.query('UPDATE workers SET active_jobs = greatest(active_jobs - 1, 0) WHERE id = $1', [id]);
}

export async function stopWorker(db: Db, id: string): Promise<void> {
  await db.query('UPDATE workers SET stopped_at = now(), active_jobs = 0 WHERE id = $1', [id]);
}

/** Workers that have not stopped and were heard of in the last hour, with whether they are alive now. */
export async function recentWorkers(db: Db, liveSeconds: number): Promise<(WorkerRow & { alive: boolean })[]> {
  return db.query<WorkerRow & { alive: boolean }>(
    `SELECT *, heartbeat_at > now() - make_interval(secs => $1) AS alive FROM workers
     WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '1 hour' ORDER BY started_at`,
    [liveSeconds],
  );
}

/** How many workers heartbeated within `liveSeconds` (the queue is served while there is one). */
export async function liveWorkerCount(db: Db, liveSeconds: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $1)`,
    [liveSeconds],
  );
  return row.n;
}

/** The workers that heartbeated within `liveSeconds`, their job slots, and how many of those run a job. */
export async function liveWorkerSlots(db: Db, liveSeconds: number) {
  const [row] = await db.query<{ workers: number; slots: number; busy: number }>(
    `SELECT count(*)::int AS workers, coalesce(sum(capacity), 0)::int AS slots, coalesce(sum(active_jobs), 0)::int AS busy
     FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $1)`,
    [liveSeconds],
  );
  return row;
}
