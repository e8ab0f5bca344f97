import type { Db } from '../store/db';
import { eventChannel, eventsAfter, type EventFilter, type EventRow } from '../store/events';

/**
 * Follows the events table for the streams of this process. One LISTEN per process (started
 * with the first follower, stopped with the last) wakes the followers of the project a NOTIFY
 * names; each then reads what is new for its filter, in `seq` order. Events written by a worker
 * in another process arrive the same way. A slow poll covers notifications lost while the
 * listening connection was down.
 */

/** Events read per query; a follower behind by more reads again at once. */
const BATCH = 500;
/** Followers look for missed events this often, notification or not. */
const SAFETY_POLL_MS = 5_000;

/** Receives new events in order; false stops following (the stream ended or went away). */
export type Deliver = (events: EventRow[]) => Promise<boolean>;

interface Follower {
  filter: EventFilter;
  after: number;
  deliver: Deliver;
  busy: boolean;
  again: boolean;
  stopped: boolean;
  onEnd: (err?: unknown) => void;
}

export class EventFeed {
  private readonly followers = new Set<Follower>();
  private listening: Promise<() => Promise<void>> | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  /** Streams open in this process. */
  get size(): number {
    return this.followers.size;
  }

  /**
   * Delivers the events after `after` that match, then every new one, until `deliver` answers
   * false, `stop` is called, or reading fails (`onEnd` gets the error).
   */
  async follow(
    filter: EventFilter,
    after: number,
    deliver: Deliver,
    onEnd: (err?: unknown) => void,
  ): Promise<{ stop(): void }> {
    const follower: Follower = { filter, after, deliver, busy: false, again: false, stopped: false, onEnd };
    this.followers.add(follower);
    try {
      await this.listen();
    } catch (err) {
      this.end(follower, err);
      throw err;
    }
    void this.pump(follower);
    return { stop: () => this.end(follower) };
  }

  /** Ends every stream (the service is stopping). */
  async close(): Promise<void> {
    for (const f of [...this.followers]) this.end(f);
    await this.unlisten();
  }

  private async listen(): Promise<void> {
    if (!this.listening) {
      this.listening = this.db.listen(eventChannel(this.db), (payload) => this.wake(payload));
      this.listening.catch(() => (this.listening = undefined));
      this.poll = setInterval(() => this.wake(null), SAFETY_POLL_MS);
      this.poll.unref();
    }
    await this.listening;
  }

  private async unlisten(): Promise<void> {
    clearInterval(this.poll);
    this.poll = undefined;
    const listening = this.listening;
    this.listening = undefined;
    const stop = await listening?.catch(() => undefined);
    await stop?.().catch(() => undefined);
  }

  /** A NOTIFY names the project that has news; null means any project may have. */
  private wake(projectId: string | null): void {
    for (const f of this.followers) {
      if (projectId === null || f.filter.projectId === projectId) void this.pump(f);
    }
  }

  /** Reads and delivers until the follower is up to date; one read at a time per follower. */
  private async pump(f: Follower): Promise<void> {
    if (f.busy) {
      f.again = true;
      return;
    }
    f.busy = true;
    try {
      for (;;) {
        f.again = false;
        const events = await eventsAfter(this.db, f.filter, f.after, BATCH);
        if (f.stopped) return;
        if (events.length > 0) {
          f.after = events[events.length - 1].seq;
          if (!(await f.deliver(events))) return this.end(f);
        }
        if (events.length < BATCH && !f.again) break;
      }
    } catch (err) {
      this.end(f, err);
    } finally {
      f.busy = false;
    }
  }

  private end(f: Follower, err?: unknown): void {
    if (f.stopped) return;
    f.stopped = true;
    this.followers.delete(f);
    f.onEnd(err);
    if (this.followers.size === 0) void this.unlisten();
  }
}
