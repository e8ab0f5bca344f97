import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/** A row as it comes back from a query. */
export type Row = Record<string, unknown>;

/**
 * The whole database port: one way to run SQL and one way to run a transaction. Both stores
 * (PGlite and PostgreSQL) speak the same dialect, so everything above this file is store-agnostic.
 */
export interface Db {
  query<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs `work` in one transaction; it commits when `work` resolves and rolls back when it throws. */
  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
  /**
   * Calls `onNotify` with the payload of every NOTIFY on `channel`, from any process on the same
   * database, until the returned function is called. On PostgreSQL a connection of its own
   * listens and comes back after a failure; `onNotify(null)` then says notifications may have been missed.
   */
  listen(
    channel: string,
    onNotify: (payload: string | null) => void,
    options?: ListenOptions,
  ): Promise<() => Promise<void>>;
  readonly kind: 'pglite' | 'postgres';
  /** The schema the service's tables are in (the connection's search path), read once when it opens. */
  readonly schema: string;
  /** The embedded database itself, for the job queue to share (PGlite has a single connection). */
  readonly embedded?: PGlite;
}

/** How a listener wants to hear about notifications beyond the plain ones. */
export interface ListenOptions {
  /**
   * Also hear this process's own notifications on the connection that made them, before the write
   * (its statement, or its transaction's COMMIT) resolves: a cache then never serves this process a
   * read older than its own write. On PostgreSQL each pool connection LISTENs too; PGlite does it anyway.
   */
  ownWrites?: boolean;
  /** Told false when the listening connection is lost (notifications are being missed), true once it listens again. */
  onState?: (listening: boolean) => void;
}

/** Opens PostgreSQL when `databaseUrl` is set, else PGlite in `dataDir/pglite` (created if needed). */
export async function openDb(opts: { databaseUrl?: string; dataDir?: string; inMemory?: boolean }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  let dir: string | undefined;
  if (!opts.inMemory) {
    if (!opts.dataDir) throw new Error('openDb needs a dataDir for PGlite');
    dir = path.join(opts.dataDir, 'pglite');
    fs.mkdirSync(dir, { recursive: true });
  }
  return openPglite(dir);
}

/** bigint (int8) columns as JS numbers on both stores: counts and byte sizes stay far below 2^53. */
const INT8 = 20;
const int8AsNumber = (value: string) => Number(value);

async function openPglite(dir: string | undefined): Promise<Db> {
  const options = { parsers: { [INT8]: int8AsNumber } };
  const pglite = dir ? await PGlite.create(dir, options) : await PGlite.create(options);
  const schema = await currentSchema((sql) => pglite.query<{ schema: string }>(sql).then((r) => r.rows));
  type Queryable = Pick<typeof pglite, 'query' | 'exec'>;
  const wrap = (q: Queryable, inTx: boolean): Db => ({
    kind: 'pglite',
    schema,
    embedded: pglite,
    async query<T = Row>(sql: string, params: unknown[] = []) {
      return (await q.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
    transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
      // PGlite has one connection; a nested transaction would deadlock, so reuse the open one.
      if (inTx) return work(wrap(q, true));
      return pglite.transaction((tx) => work(wrap(tx, true)));
    },
    close: () => pglite.close(),
    // One process owns the embedded store, and PGlite calls listeners before the notifying write resolves.
    listen: async (channel, onNotify) => {
      const stop = await pglite.listen(channel, (payload) => onNotify(payload));
      return () => stop();
    },
  });
  return wrap(pglite, false);
}

async function openPostgres(url: string): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    types: {
      getTypeParser: (oid: number, format?: string) =>
        oid === INT8 ? int8AsNumber : pg.types.getTypeParser(oid, format as 'text'),
    },
  });
  // An idle connection the server ended (a restart, pg_terminate_backend) leaves the pool by itself and
  // the next query opens another; unheard, the pool's 'error' event would end the process.
  pool.on('error', () => undefined);
  const schema = await currentSchema((sql) => pool.query<{ schema: string }>(sql).then((r) => r.rows));
  const ownWrites = poolListens();
  // The pool's connections, each made to LISTEN first when a listener asked to hear its own writes.
  const queryOnce = async (sql: string, params?: unknown[]) => {
    if (!ownWrites.active()) return pool.query(sql, params);
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      await ownWrites.prepare(client);
      return await client.query(sql, params);
    } catch (err) {
      failure = err as Error;
      throw err;
    } finally {
      client.release(failure); // as pool.query does: a connection that failed a query is not reused
    }
  };
  const pooled: Client = {
    async query(sql: string, params?: unknown[]) {
      try {
        return await queryOnce(sql, params);
      } catch (err) {
        // A pool connection the server ended while idle (a restart, pg_terminate_backend) answers its
        // next statement with that ending before the pool has noticed: the statement did not run
        // (or was rolled back), so it is sent once more, on a new connection.
        if (!connectionEnded(err)) throw err;
        return queryOnce(sql, params);
      }
    },
  };
  /** A pool connection in a transaction; nothing has run yet, so one the server ended while idle is replaced, once. */
  const begin = async (): Promise<pg.PoolClient> => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      try {
        await ownWrites.prepare(client);
        await client.query('BEGIN');
        return client;
      } catch (err) {
        client.release(err as Error);
        if (!connectionEnded(err) || attempt > 1) throw err;
      }
    }
  };
  type Client = { query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }> };
  const wrap = (c: Client, inTx: boolean): Db => ({
    kind: 'postgres',
    schema,
    async query<T = Row>(sql: string, params: unknown[] = []) {
      return (await c.query(sql, params)).rows as T[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
    async transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
      if (inTx) return work(wrap(c, true));
      const client = await begin();
      let broken: Error | undefined;
      try {
        const result = await work(wrap(client, true));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        // A connection that is gone has nothing to roll back; the work's own error is the answer.
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
        throw err;
      } finally {
        client.release(broken); // a connection that could not roll back is not reused
      }
    },
    close: () => pool.end(),
    listen: async (channel, onNotify, options = {}) => {
      const stopOwn = options.ownWrites ? ownWrites.add(channel, onNotify) : () => undefined;
      const stop = await listenOnPostgres(url, channel, onNotify, options.onState);
      return async () => {
        stopOwn();
        await stop();
      };
    },
  });
  return wrap(pooled, false);
}

/** SQLSTATEs of a connection the server ended (admin_shutdown, crash_shutdown, cannot_connect_now). */
const CONNECTION_ENDED = new Set(['57P01', '57P02', '57P03']);

function connectionEnded(err: unknown): boolean {
  return CONNECTION_ENDED.has((err as { code?: unknown } | null)?.code as string);
}

/** The connection's current schema; it must exist (the harness creates each test's schema first). */
async function currentSchema(query: (sql: string) => Promise<{ schema: string }[]>): Promise<string> {
  const [row] = await query('SELECT current_schema() AS schema');
  if (!row?.schema) throw new Error("The database has no current schema: create the search path's schema first");
  return row.schema;
}

/**
 * The channels on which this process wants to hear its own writes, LISTENed on each pool connection
 * before its first use after they were registered. A connection that notifies and listens gets its
 * own notification before the ReadyForQuery that resolves the statement (or COMMIT), so the process
 * hears its own write before the write resolves; the connection of its own (listenOnPostgres) may
 * hear it a little later.
 */
function poolListens() {
  const channels = new Map<string, Set<(payload: string) => void>>();
  const heard = new WeakMap<pg.PoolClient, Set<string>>();
  return {
    active: () => channels.size > 0,
    async prepare(client: pg.PoolClient): Promise<void> {
      if (channels.size === 0) return;
      let mine = heard.get(client);
      if (!mine) {
        mine = new Set();
        heard.set(client, mine);
        client.on('notification', (n) => {
          for (const onNotify of channels.get(n.channel) ?? []) onNotify(n.payload ?? '');
        });
      }
      for (const channel of channels.keys()) {
        if (mine.has(channel)) continue;
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        mine.add(channel);
      }
    },
    add(channel: string, onNotify: (payload: string) => void): () => void {
      const set = channels.get(channel) ?? new Set();
      set.add(onNotify);
      channels.set(channel, set);
      return () => {
        set.delete(onNotify);
        if (set.size === 0) channels.delete(channel);
      };
    },
  };
}

/** How long a lost listening connection waits before it tries again. */
const RELISTEN_MS = 1_000;

/** A connection of its own that LISTENs on `channel` and reconnects when it is lost. */
async function listenOnPostgres(
  url: string,
  channel: string,
  onNotify: (payload: string | null) => void,
  onState: (listening: boolean) => void = () => undefined,
): Promise<() => Promise<void>> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    // keepAlive: a connection that silently went away is noticed by TCP, not only by the next query.
    const c = new pg.Client({ connectionString: url, keepAlive: true });
    c.on('notification', (n) => {
      if (n.channel === channel) onNotify(n.payload ?? '');
    });
    const lost = () => {
      // The connection is gone: say so at once, listen again shortly, and then tell the listener it may have missed some.
      if (client !== c || stopped) return;
      client = undefined;
      onState(false);
      void c.end().catch(() => undefined);
      retry = setTimeout(() => void reconnect(), RELISTEN_MS);
    };
    c.on('error', lost);
    c.on('end', lost);
    await c.connect();
    await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    if (stopped) {
      await c.end(); // stopped while (re)connecting
      return;
    }
    client = c;
  };
  const reconnect = async () => {
    if (stopped) return;
    try {
      await connect();
      if (stopped) return;
      onState(true);
      onNotify(null);
    } catch {
      retry = setTimeout(() => void reconnect(), RELISTEN_MS);
    }
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}

/** A trivial query: resolves when the store answers, throws when it does not. */
export async function ping(db: Db): Promise<void> {
  await db.query('SELECT 1');
}
