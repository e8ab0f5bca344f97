import type { Db } from './db';

/**
 * The event history of jobs and executions. `seq` orders every event of the database and is the
 * event id streams send and resume from. Appends are serialised by a transaction-level advisory
 * lock, so events become visible in `seq` order: a reader that has seen event N never later
 * finds a smaller one it skipped. Each append NOTIFYs the project on the events channel, so a
 * stream in any process wakes up.
 */

export type EventType =
  | 'job.status'
  | 'job.progress'
  | 'execution.status'
  | 'cell.started'
  | 'cell.output'
  | 'cell.completed'
  | 'block.completed'
  | 'log';

export const EVENT_TYPES: readonly EventType[] = [
  'job.status',
  'job.progress',
  'execution.status',
  'cell.started',
  'cell.output',
  'cell.completed',
  'block.completed',
  'log',
];

export interface EventRow {
  seq: number;
  project_id: string;
  job_id: string | null;
  execution_id: string | null;
  notebook_id: string | null;
  type: EventType;
  data: Record<string, unknown>;
  created_at: Date;
}

/** An event to append: the ids it does not name are read from its execution or its job. */
export interface NewEvent {
  type: EventType;
  data: Record<string, unknown>;
  projectId?: string;
  jobId?: string;
  executionId?: string;
  notebookId?: string;
}

/**
 * Serialises appends on PostgreSQL (any number; it only has to differ from the project's other
 * lock keys). PGlite has one connection, whose transactions run one after another: no lock needed.
 */
const APPEND_LOCK = 7_427_301;

/** The NOTIFY channel of this database's events: one per schema, so schemas sharing a database stay apart. */
export function eventChannel(db: Db): string {
  return `assay_events_${db.schema}`.slice(0, 63);
}

/** The CTE body that serialises appends (see APPEND_LOCK). */
function appendLockSql(db: Db): string {
  return db.kind === 'pglite' ? 'SELECT 1' : `SELECT pg_advisory_xact_lock(${APPEND_LOCK})`;
}

/**
 * CTEs that append a `job.status` event ({jobId, status, reason}) for every job row of a CTE
 * named `changed`, and NOTIFY each project, in the statement that changed the rows: one round
 * trip for a change and its event. `$channel` is the parameter that holds eventChannel(db);
 * the statement must read `notified` (e.g. `WHERE (SELECT count(*) FROM notified) >= 0`).
 */
export function jobStatusEventCtes(db: Db, channel: number): string {
  return `locked AS (${appendLockSql(db)}),
     added AS (
       INSERT INTO events (project_id, job_id, notebook_id, type, data)
       SELECT c.project_id, c.id, CASE WHEN c.resource_type = 'Notebook' THEN c.resource_id END, 'job.status',
              jsonb_build_object('jobId', c.id, 'status', c.status, 'reason', c.status_reason)
       FROM changed c, locked
       RETURNING project_id
     ),
     notified AS (SELECT pg_notify($${channel}, project_id::text) FROM added)`;
}

/** Appends an event (in the caller's transaction, if any); null when its job or execution is gone. */
export async function appendEvent(db: Db, e: NewEvent): Promise<number | null> {
  const [row] = await db.query<{ seq: number }>(
    `WITH locked AS (${appendLockSql(db)}),
     execution AS (SELECT job_id, notebook_id FROM executions WHERE id = $3::uuid),
     job AS (
       SELECT id, CASE WHEN resource_type = 'Notebook' THEN resource_id END AS notebook_id FROM jobs
       WHERE id = COALESCE($2::uuid, (SELECT job_id FROM execution))
     ),
     source AS (
       SELECT COALESCE($2::uuid, (SELECT job_id FROM execution)) AS job_id,
              -- A notebook job's own events belong to its notebook too (the notebookId filter shows them).
              COALESCE($4::uuid, (SELECT notebook_id FROM execution), (SELECT notebook_id FROM job)) AS notebook_id
     ),
     added AS (
       INSERT INTO events (project_id, job_id, execution_id, notebook_id, type, data)
       SELECT COALESCE($1::uuid, (SELECT project_id FROM jobs WHERE id = source.job_id)),
              source.job_id, $3::uuid, source.notebook_id, $5, $6::jsonb
       FROM source, locked
       WHERE COALESCE($1::uuid, (SELECT project_id FROM jobs WHERE id = source.job_id)) IS NOT NULL
       RETURNING seq, project_id
     )
     SELECT seq, pg_notify($7, project_id::text) FROM added`,
    [
      e.projectId ?? null,
      e.jobId ?? null,
      e.executionId ?? null,
      e.notebookId ?? null,
      e.type,
      JSON.stringify(e.data),
      eventChannel(db),
    ],
  );
  return row?.seq ?? null;
}

/** Which events a stream wants. */
export interface EventFilter {
  projectId: string;
  jobId?: string;
  /** The execution's own events and those of its job. */
  execution?: { id: string; jobId: string };
  notebookId?: string;
  types?: EventType[];
}

/** Events after `after` (an event id) that match, oldest first, at most `limit`. */
export async function eventsAfter(db: Db, f: EventFilter, after: number, limit: number): Promise<EventRow[]> {
  const where = ['project_id = $1', 'seq > $2'];
  const params: unknown[] = [f.projectId, after];
  const add = (clause: (n: number) => string, value: unknown) => {
    params.push(value);
    where.push(clause(params.length));
  };
  if (f.jobId) add((n) => `job_id = $${n}`, f.jobId);
  if (f.execution) {
    params.push(f.execution.id, f.execution.jobId);
    const [ex, job] = [params.length - 1, params.length];
    where.push(`(execution_id = $${ex} OR (execution_id IS NULL AND job_id = $${job}))`);
  }
  if (f.notebookId) add((n) => `notebook_id = $${n}`, f.notebookId);
  if (f.types) add((n) => `type = ANY($${n}::text[])`, f.types);
  params.push(limit);
  return db.query<EventRow>(
    `SELECT * FROM events WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $${params.length}`,
    params,
  );
}

/** The newest event id of the database (0 when there is none): where a stream without history starts. */
export async function lastEventId(db: Db): Promise<number> {
  const [row] = await db.query<{ seq: number | null }>('SELECT max(seq) AS seq FROM events');
  return row?.seq ?? 0;
}

/** Keeps the newest `keep` events of a job and deletes the older ones. */
export async function pruneJobEvents(db: Db, jobId: string, keep: number): Promise<void> {
  await db.query(
    `DELETE FROM events WHERE job_id = $1 AND seq < (
       SELECT seq FROM events WHERE job_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)`,
    [jobId, keep - 1],
  );
}

/** A job's log lines after event `after`, oldest first, at most `limit`. */
export async function jobLogLines(db: Db, jobId: string, after: number, limit: number): Promise<EventRow[]> {
  return db.query<EventRow>(
    `SELECT * FROM events WHERE job_id = $1 AND type = 'log' AND seq > $2 ORDER BY seq LIMIT $3`,
    [jobId, after, limit],
  );
}

// --- stream tickets -----------------------------------------------------------------------------

export interface StreamTicketRow {
  ticket_hash: string;
  tenant_id: string;
  project_id: string;
  key_id: string;
  /** The one stream it opens: the request path without its query. */
  stream: string;
  expires_at: Date;
}

export async function insertStreamTicket(db: Db, t: StreamTicketRow): Promise<void> {
  await db.query('DELETE FROM stream_tickets WHERE expires_at < now()');
  await db.query(
    `INSERT INTO stream_tickets (ticket_hash, tenant_id, project_id, key_id, stream, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [t.ticket_hash, t.tenant_id, t.project_id, t.key_id, t.stream, t.expires_at],
  );
}

/** A ticket that has not expired, whose key is still valid. */
export async function findStreamTicket(db: Db, hash: string): Promise<StreamTicketRow | null> {
  const [row] = await db.query<StreamTicketRow>(
    `SELECT t.* FROM stream_tickets t JOIN api_keys k ON k.id = t.key_id
     WHERE t.ticket_hash = $1 AND t.expires_at > now() AND k.revoked_at IS NULL`,
    [hash],
  );
  return row ?? null;
}
