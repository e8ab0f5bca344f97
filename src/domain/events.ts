import { randomBytes } from 'node:crypto';
import type { Db } from '../store/db';
import * as store from '../store/events';
import { jobById } from '../store/jobs';
import { AuthError, InvalidError } from './errors';
import { requireExecution } from './executions';
import { requireJob } from './jobs';
import { isUuid, type Scope } from './scope';
import { hashToken, type Caller } from './tenants';

/**
 * What an event stream shows and when it ends, stream tickets, and a job's log lines. The events
 * themselves are written by the lifecycle (src/domain/lifecycle.ts); the feed that follows
 * them is src/domain/eventFeed.ts.
 */

/** Which of a project's streams, named as its operation names it. */
export type StreamOf =
  | { kind: 'job'; jobId: string }
  | { kind: 'execution'; notebookId: string; executionId: string }
  | { kind: 'project'; jobId?: string; notebookId?: string; types?: store.EventType[] };

/** A stream ready to follow: its filter, and the job whose last status ends it (none: it never ends). */
export interface StreamPlan {
  filter: store.EventFilter;
  endsWithJob: string | null;
  /** The job has ended already: replay what is kept, then close. */
  endedAlready: boolean;
  /** Where the stream starts when the client sends no `Last-Event-ID`. */
  defaultAfter: number;
}

const FINAL_JOB_STATUSES = new Set(['Completed', 'Failed', 'Cancelled']);

/** True for the event that ends the stream of `jobId`: the job's Completed, Failed or Cancelled. */
export function endsStream(event: store.EventRow, jobId: string | null): boolean {
  return (
    jobId !== null &&
    event.type === 'job.status' &&
    event.job_id === jobId &&
    FINAL_JOB_STATUSES.has(String(event.data.status))
  );
}

/** Plans a stream; 404 when its job or execution is not in the project. */
export async function planStream(db: Db, scope: Scope, of: StreamOf): Promise<StreamPlan> {
  const projectId = scope.projectId;
  if (of.kind === 'project') {
    return {
      filter: { projectId, jobId: of.jobId, notebookId: of.notebookId, types: of.types },
      endsWithJob: null,
      endedAlready: false,
      defaultAfter: await store.lastEventId(db),
    };
  }
  if (of.kind === 'job') {
    const job = await requireJob(db, scope, of.jobId);
    return {
      filter: { projectId, jobId: job.id },
      endsWithJob: job.id,
      endedAlready: FINAL_JOB_STATUSES.has(job.status),
      defaultAfter: 0,
    };
  }
  const execution = await requireExecution(db, scope, of.notebookId, of.executionId);
  const job = await jobById(db, execution.job_id);
  return {
    filter: { projectId, execution: { id: execution.id, jobId: execution.job_id } },
    endsWithJob: execution.job_id,
    endedAlready: !job || FINAL_JOB_STATUSES.has(job.status),
    defaultAfter: 0,
  };
}

/** The event types of a `type` filter (`job.status,log`); the contract's pattern allows only known names. */
export function typesOf(filter: string | undefined): store.EventType[] | undefined {
  if (!filter) return undefined;
  const names = [...new Set(filter.split(','))];
  const unknown = names.filter((n) => !(store.EVENT_TYPES as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new InvalidError('VALIDATION_FAILED', `Unknown event type ${unknown.join(', ')}.`, [
      { field: 'type', message: `must name event types among ${store.EVENT_TYPES.join(', ')}` },
    ]);
  }
  return names as store.EventType[];
}

// --- stream tickets -----------------------------------------------------------------------------

/** How long a ticket opens its stream. */
export const TICKET_SECONDS = 60;
const TICKET_PREFIX = 'st_';

const STREAM_PATHS = [
  /^\/api\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/execution\/job\/([0-9a-f-]{36})\/events$/,
  /^\/api\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/notebook\/([0-9a-f-]{36})\/execution\/([0-9a-f-]{36})\/events$/,
  /^\/api\/([0-9a-f-]{36})\/([0-9a-f-]{36})\/events$/,
];

/** Which stream a path names, when it is one of this project's; null otherwise. */
function streamOfPath(scope: Scope, streamPath: string): StreamOf | null {
  const p = streamPath.toLowerCase();
  for (const [i, pattern] of STREAM_PATHS.entries()) {
    const m = pattern.exec(p);
    if (!m || m[1] !== scope.tenantId || m[2] !== scope.projectId || !m.slice(1).every(isUuid)) continue;
    if (i === 0) return { kind: 'job', jobId: m[3] };
    if (i === 1) return { kind: 'execution', notebookId: m[3], executionId: m[4] };
    return { kind: 'project' };
  }
  return null;
}

/** A ticket that opens one stream of the project for TICKET_SECONDS; 404 when its job or execution is not there. */
export async function mintStreamTicket(
  db: Db,
  caller: Caller,
  scope: Scope,
  streamPath: string,
): Promise<{ ticket: string; stream: string; expiresAt: string }> {
  const of = streamOfPath(scope, streamPath);
  if (!of) {
    throw new InvalidError('VALIDATION_FAILED', 'The stream is not an event stream of this project.', [
      {
        field: 'stream',
        message: `must be the path of a job's, an execution's or this project's events, under /api/${scope.tenantId}/${scope.projectId}/`,
      },
    ]);
  }
  await planStream(db, scope, of); // the job or execution must exist
  const ticket = TICKET_PREFIX + randomBytes(32).toString('base64url');
  const stream = streamPath.toLowerCase();
  const expiresAt = new Date(Date.now() + TICKET_SECONDS * 1000);
  await store.insertStreamTicket(db, {
    ticket_hash: hashToken(ticket),
    tenant_id: caller.tenantId,
    project_id: scope.projectId,
    key_id: caller.keyId,
    stream,
    expires_at: expiresAt,
  });
  return { ticket, stream, expiresAt: expiresAt.toISOString() };
}

/** The caller a ticket stands for, when it is valid for the stream at `streamPath`; 401 otherwise. */
export async function callerOfTicket(db: Db, ticket: string, streamPath: string): Promise<Caller> {
  const row = ticket.startsWith(TICKET_PREFIX) ? await store.findStreamTicket(db, hashToken(ticket)) : null;
  if (!row || row.stream !== streamPath.toLowerCase()) {
    throw new AuthError(
      'STREAM_TICKET_INVALID',
      'The stream ticket is unknown, has expired or was made for another stream; get a new one from POST .../events/ticket.',
    );
  }
  return { tenantId: row.tenant_id, keyId: row.key_id };
}

// --- log lines ----------------------------------------------------------------------------------

/** Lines the logs operation answers at most per call. */
export const LOG_LINES_PER_READ = 2_000;

/** A job's log lines after event `since`, as text, and the `since` to pass next time. */
export async function jobLogText(
  db: Db,
  scope: Scope,
  jobId: string,
  since: number | undefined,
  limit: number | undefined,
): Promise<{ text: string; next: number }> {
  const job = await requireJob(db, scope, jobId);
  const rows = await store.jobLogLines(
    db,
    job.id,
    since ?? 0,
    Math.min(limit ?? LOG_LINES_PER_READ, LOG_LINES_PER_READ),
  );
  const text = rows
    .map((r) => `${r.seq} ${r.created_at.toISOString()} ${String(r.data.source)} ${String(r.data.line)}\n`)
    .join('');
  return { text, next: rows.at(-1)?.seq ?? since ?? 0 };
}
