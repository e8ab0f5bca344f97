import { READ_CACHE_LIMITS, ReadCache, changeChannel, weakEtag } from '../../src/domain/readCache';
import type { Db, ListenOptions } from '../../src/store/db';

/**
 * The cache's own rules, on a store whose notices the test sends: bounds, staleness of reads under
 * way, and the listening state. (test/server/read-cache.test.ts checks it against the real stores.)
 */

const scope = { tenantId: 'tenant-a', projectId: 'project-a', actor: 'key' };

/** A store that only listens: the test calls `notify` and `state` as the database connection would. */
function noticeBoard() {
  let onNotify: (payload: string | null) => void = () => undefined;
  let options: ListenOptions = {};
  const channels: string[] = [];
  const db = {
    schema: 'unit',
    listen: async (channel: string, notify: (payload: string | null) => void, opts: ListenOptions = {}) => {
      channels.push(channel);
      onNotify = notify;
      options = opts;
      return async () => undefined;
    },
  } as unknown as Db;
  return {
    db,
    channels,
    notify: (payload: string | null) => onNotify(payload),
    state: (listening: boolean) => options.onState?.(listening),
    options: () => options,
  };
}

/** Reads a notebook into the cache as Notebooks.getServed does, with `bytes` of JSON. */
function fill(cache: ReadCache, id: string, bytes = 10, s = scope) {
  const read = cache.beginRead(id);
  return cache.endRead(read, s, Buffer.alloc(bytes, 'a'));
}

describe('ReadCache', () => {
  test('listens on the schema’s channel, for its own writes too', async () => {
    const board = noticeBoard();
    const cache = await ReadCache.open(board.db);
    expect(board.channels).toEqual([changeChannel(board.db)]);
    expect(changeChannel(board.db)).toBe('assay_changes_unit');
    expect(board.options().ownWrites).toBe(true);
    expect(cache.listening).toBe(true);
  });

  test('serves a stored answer to its own tenant and project only', async () => {
    const cache = await ReadCache.open(noticeBoard().db);
    const stored = fill(cache, 'n1');
    expect(cache.lookup(scope, 'n1')).toBe(stored);
    expect(cache.lookup({ ...scope, projectId: 'project-b' }, 'n1')).toBeUndefined();
    expect(cache.lookup({ ...scope, tenantId: 'tenant-b' }, 'n1')).toBeUndefined();
    expect(stored.etag).toBe(weakEtag(stored.json));
  });

  test('a notice for a notebook drops its answer; a read under way when it came is not kept', async () => {
    const board = noticeBoard();
    const cache = await ReadCache.open(board.db);
    fill(cache, 'n1');
    fill(cache, 'n2');
    board.notify('notebook:n1');
    expect(cache.lookup(scope, 'n1')).toBeUndefined();
    expect(cache.lookup(scope, 'n2')).toBeDefined();

    const read = cache.beginRead('n3');
    const other = cache.beginRead('n4');
    board.notify('notebook:n3'); // the row the read got may be older than this change
    const answer = cache.endRead(read, scope, Buffer.from('{"old":true}'));
    expect(answer.json.toString()).toBe('{"old":true}'); // still answered, just not kept
    expect(cache.lookup(scope, 'n3')).toBeUndefined();
    cache.endRead(other, scope, Buffer.from('{}'));
    expect(cache.lookup(scope, 'n4')).toBeDefined();
  });

  test('missed notices (null) or an unknown kind of notice empty the cache and spoil the reads under way', async () => {
    const board = noticeBoard();
    const cache = await ReadCache.open(board.db);
    fill(cache, 'n1');
    const read = cache.beginRead('n2');
    board.notify(null);
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    cache.endRead(read, scope, Buffer.from('{}'));
    expect(cache.lookup(scope, 'n2')).toBeUndefined();
    fill(cache, 'n1');
    board.notify('something-new:x');
    expect(cache.size.entries).toBe(0);
  });

  test('while the listening connection is down nothing is served or kept; once back, it starts empty', async () => {
    const board = noticeBoard();
    const cache = await ReadCache.open(board.db);
    fill(cache, 'n1');
    const before = cache.beginRead('n2');
    board.state(false);
    expect(cache.listening).toBe(false);
    expect(cache.lookup(scope, 'n1')).toBeUndefined();
    fill(cache, 'n3');
    expect(cache.size.entries).toBe(0);
    board.state(true);
    cache.endRead(before, scope, Buffer.from('{}')); // began before the outage: may have missed a notice
    expect(cache.lookup(scope, 'n1')).toBeUndefined();
    expect(cache.lookup(scope, 'n2')).toBeUndefined();
    fill(cache, 'n4');
    expect(cache.lookup(scope, 'n4')).toBeDefined();
  });

  test('holds at most `entries` answers, evicting the least recently used', async () => {
    const cache = await ReadCache.open(noticeBoard().db, { entries: 3, bytes: 1_000, entryBytes: 100 });
    fill(cache, 'a');
    fill(cache, 'b');
    fill(cache, 'c');
    cache.lookup(scope, 'a'); // now b is the least recently used
    fill(cache, 'd');
    expect(cache.size.entries).toBe(3);
    expect(cache.lookup(scope, 'b')).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect(cache.lookup(scope, id)).toBeDefined();
  });

  test('holds at most `bytes`, and never an answer over `entryBytes` (the edges included)', async () => {
    const cache = await ReadCache.open(noticeBoard().db, { entries: 100, bytes: 250, entryBytes: 100 });
    fill(cache, 'at-limit', 100);
    expect(cache.lookup(scope, 'at-limit')).toBeDefined();
    const tooLarge = fill(cache, 'over', 101);
    expect(tooLarge.json.byteLength).toBe(101);
    expect(cache.lookup(scope, 'over')).toBeUndefined();
    fill(cache, 'second', 100);
    fill(cache, 'third', 50); // 250 bytes: exactly the bound
    expect(cache.size).toEqual({ entries: 3, bytes: 250 });
    fill(cache, 'fourth', 1); // 251: the oldest goes
    expect(cache.size).toEqual({ entries: 3, bytes: 151 });
    expect(cache.lookup(scope, 'at-limit')).toBeUndefined();
  });

  test('replacing an answer counts its bytes once', async () => {
    const cache = await ReadCache.open(noticeBoard().db, { entries: 10, bytes: 1_000, entryBytes: 100 });
    fill(cache, 'a', 40);
    fill(cache, 'a', 60);
    expect(cache.size).toEqual({ entries: 1, bytes: 60 });
  });

  test('the default bounds hold a 1 MiB answer, and 64 MiB in all', () => {
    expect(READ_CACHE_LIMITS).toEqual({ entries: 1_000, bytes: 64 * 1024 * 1024, entryBytes: 1024 * 1024 });
  });

  test('a revoked key notice is told to the key cache, not taken for a notebook', async () => {
    const board = noticeBoard();
    const cache = await ReadCache.open(board.db);
    fill(cache, 'n1');
    board.notify('key:0123abcd');
    expect(cache.lookup(scope, 'n1')).toBeDefined();
  });

  test('the ETag is the one express would give the same body', () => {
    // express 5 (etag 1.8): W/"<length hex>-<base64 SHA-1 of the body, first 27 characters>"
    expect(weakEtag(Buffer.from('{"a":1}'))).toBe('W/"7-n4nHQM60bXQYySSnisV5QdXpZSA"');
  });
});
