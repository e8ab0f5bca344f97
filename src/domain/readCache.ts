import { createHash } from 'node:crypto';
import type { Db } from '../store/db';
import { forgetKey } from './tenants';
import type { Scope } from './scope';

/**
 * Notebook answers this process has built, kept serialised with their ETag so that a read the
 * store has not changed costs neither a query nor a serialisation. It is right only while it hears
 * every change, so:
 *
 * - Every change of what an answer shows sends a notice from the database itself (triggers,
 *   store/migrations/010_change_notices.ts), whatever process or code path made it; this process
 *   hears its own before the write resolves (ListenOptions.ownWrites), other processes' within the
 *   notification latency.
 * - While the listening connection is down, nothing is served from or stored in the cache, and it
 *   is emptied when the connection is lost and again when it is back.
 * - A read that started before a notice for its notebook arrived may hold the old row: its answer
 *   is not stored (see `Read.stale`).
 *
 * The same notices drop revoked API keys from the key cache (domain/tenants.ts) at once.
 */

/** Bounds of one process's cache; an answer larger than `entryBytes` is never kept. */
export const READ_CACHE_LIMITS = {
  entries: 1_000,
  bytes: 64 * 1024 * 1024,
  entryBytes: 1024 * 1024,
} as const;

/** A notebook's answer as it is sent: UTF-8 JSON and its ETag. */
export interface CachedAnswer {
  tenantId: string;
  projectId: string;
  json: Buffer;
  etag: string;
}

/** A read of a notebook from the store, from before its query to the storing of its answer. */
interface Read {
  notebookId: string;
  stale: boolean;
}

/** The channel of the change notices of the service whose tables are in `db.schema`. */
export function changeChannel(db: Db): string {
  return `assay_changes_${db.schema}`.slice(0, 63);
}

export class ReadCache {
  private readonly answers = new Map<string, CachedAnswer>();
  private bytes = 0;
  private readonly reads = new Set<Read>();
  private live = false;
  private stopListening: (() => Promise<void>) | undefined;

  private constructor(private readonly limits: { entries: number; bytes: number; entryBytes: number }) {}

  /** A cache that follows the change notices of `db`; it serves nothing until it listens. */
  static async open(
    db: Db,
    limits: { entries: number; bytes: number; entryBytes: number } = READ_CACHE_LIMITS,
  ): Promise<ReadCache> {
    const cache = new ReadCache(limits);
    cache.stopListening = await db.listen(changeChannel(db), (notice) => cache.heard(notice), {
      ownWrites: true,
      onState: (listening) => cache.setListening(listening),
    });
    cache.setListening(true);
    return cache;
  }

  async close(): Promise<void> {
    this.setListening(false);
    await this.stopListening?.();
  }

  /** Whether it hears the change notices now, and so serves and keeps answers. */
  get listening(): boolean {
    return this.live;
  }

  /** Entries and bytes held now (for tests and metrics). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.answers.size, bytes: this.bytes };
  }

  /** The cached answer of a notebook of this tenant's project; another project's id is a miss. */
  lookup(scope: Scope, notebookId: string): CachedAnswer | undefined {
    if (!this.live) return undefined;
    const hit = this.answers.get(notebookId);
    if (!hit || hit.projectId !== scope.projectId || hit.tenantId !== scope.tenantId) return undefined;
    // Most recently used last: the oldest entry is the first of the map, the one to evict.
    this.answers.delete(notebookId);
    this.answers.set(notebookId, hit);
    return hit;
  }

  /** Call before querying the store for a notebook; pass the result to `store`. */
  beginRead(notebookId: string): Read {
    const read = { notebookId, stale: !this.live };
    this.reads.add(read);
    return read;
  }

  /** Ends a read that produced nothing to keep (it failed, or its answer comes in pieces). */
  abandonRead(read: Read): void {
    this.reads.delete(read);
  }

  /**
   * Ends a read with its answer, and gives that answer with its ETag. The answer is kept unless a
   * notice for the notebook arrived since the read began (the row it read may be older than the
   * notice), the cache stopped listening, or it is too large.
   */
  endRead(read: Read, scope: Scope, json: Buffer): CachedAnswer {
    this.reads.delete(read);
    const answer = { tenantId: scope.tenantId, projectId: scope.projectId, json, etag: weakEtag(json) };
    if (read.stale || !this.live || json.byteLength > this.limits.entryBytes) return answer;
    this.drop(read.notebookId);
    this.answers.set(read.notebookId, answer);
    this.bytes += json.byteLength;
    while (this.answers.size > this.limits.entries || this.bytes > this.limits.bytes) {
      this.drop(this.answers.keys().next().value!);
    }
    return answer;
  }

  /** A notebook changed: forget its answer, and do not keep an answer whose read was under way. */
  invalidate(notebookId: string): void {
    this.drop(notebookId);
    for (const read of this.reads) if (read.notebookId === notebookId) read.stale = true;
  }

  /** Anything may have changed (notices were missed): forget everything, keep nothing read so far. */
  clear(): void {
    this.answers.clear();
    this.bytes = 0;
    for (const read of this.reads) read.stale = true;
  }

  private heard(notice: string | null): void {
    if (notice === null) return this.clear();
    const colon = notice.indexOf(':');
    const kind = notice.slice(0, colon);
    const id = notice.slice(colon + 1);
    if (kind === 'notebook') this.invalidate(id);
    else if (kind === 'key') forgetKey(id);
    else this.clear(); // a notice this version does not know: be safe
  }

  private setListening(listening: boolean): void {
    this.live = listening;
    this.clear();
  }

  private drop(notebookId: string): void {
    const old = this.answers.get(notebookId);
    if (!old) return;
    this.answers.delete(notebookId);
    this.bytes -= old.json.byteLength;
  }
}

/** The ETag express gives a body (W/"<length in hex>-<SHA-1, base64, 27 characters>"), computed once per answer. */
export function weakEtag(body: Buffer): string {
  const hash = createHash('sha1').update(body).digest('base64').slice(0, 27);
  return `W/"${body.byteLength.toString(16)}-${hash}"`;
}
