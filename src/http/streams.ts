import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { QuotaError } from '../domain/errors';
import type { EventFeed } from '../domain/eventFeed';
import { endsStream, type StreamPlan } from '../domain/events';
import type { RawReply } from './reply';

/**
 * Event streams as Server-Sent Events: the frames, the keep-alive comments, the cap on streams
 * per API key, and the end of a job's stream after its last status. What a stream shows is
 * planned in src/domain/events.ts; src/domain/eventFeed.ts follows the events table.
 */

/** How long a stream of a job that has ended waits for its last status to be written, if it is not yet. */
const ENDED_GRACE_MS = 2_000;
/** Reconnection delay a browser's EventSource is told to use. */
const RETRY_MS = 3_000;

export interface StreamSettings {
  perKey: number;
  heartbeatSeconds: number;
}

/** Open streams per API key in this process. */
export class StreamCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly perKey: number) {}

  /** Counts a stream of `keyId`; 429 when the key has as many open as it may. */
  take(keyId: string): () => void {
    const current = this.open.get(keyId) ?? 0;
    if (current >= this.perKey) {
      throw new QuotaError(
        'TOO_MANY_STREAMS',
        `This API key has ${current} event streams open, the most it may have; close one and retry.`,
        5,
        { Limit: this.perKey, Current: current },
      );
    }
    this.open.set(keyId, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(keyId) ?? 1) - 1;
      if (left > 0) this.open.set(keyId, left);
      else this.open.delete(keyId);
    };
  }
}

/** The `Last-Event-ID` header, else the `lastEventId` query parameter, else none. */
export function resumeFrom(header: string | undefined, query: number | undefined): number | undefined {
  if (header !== undefined && /^[0-9]{1,15}$/.test(header.trim())) return Number(header.trim());
  return query;
}

/**
 * Opens a stream: the events after `after` (or the plan's start), then each new one as it is
 * written, until the job's last status, the client going away, or the service stopping.
 */
export async function eventStream(
  feed: EventFeed,
  plan: StreamPlan,
  after: number | undefined,
  settings: StreamSettings,
  release: () => void,
): Promise<RawReply<200>> {
  const out = new PassThrough();
  out.write(`retry: ${RETRY_MS}\n: stream open\n\n`);
  let finished = false;
  const heartbeat = setInterval(() => out.write(': keep-alive\n\n'), settings.heartbeatSeconds * 1000);
  let grace: NodeJS.Timeout | undefined;
  // Set once following has started; `finish` may run before (the feed failed to start).
  const following: { current?: { stop(): void } } = {};
  const finish = () => {
    if (finished) return;
    finished = true;
    clearInterval(heartbeat);
    clearTimeout(grace);
    release();
    following.current?.stop();
    out.end();
  };
  out.once('close', finish);
  following.current = await feed.follow(
    plan.filter,
    after ?? plan.defaultAfter,
    async (events) => {
      for (const e of events) {
        if (out.destroyed || finished) return false;
        const frame = `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
        if (!out.write(frame)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
        if (endsStream(e, plan.endsWithJob)) {
          finish();
          return false;
        }
      }
      return !finished;
    },
    () => finish(),
  );
  // A job that has ended streams its history and closes, even if its last status was never written.
  if (plan.endedAlready) grace = setTimeout(finish, ENDED_GRACE_MS);
  if (finished) following.current.stop();
  return {
    status: 200,
    stream: out,
    contentType: 'text/event-stream; charset=utf-8',
    headers: { 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' },
  };
}
