import { openDb, type Db } from '../../src/store/db';

/**
 * PostgreSQL connections the server ends while they sit idle in the pool (a restart, a failover,
 * `pg_terminate_backend`): the next statement and the next transaction run on a new connection
 * instead of failing with the ending ("terminating connection due to administrator command").
 */
const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let db: Db;
let admin: Db;
const name = `reconnect_${process.pid}_${Date.now()}`;

beforeAll(async () => {
  db = await openDb({ databaseUrl: `${POSTGRES_URL}?application_name=${name}` });
  admin = await openDb({ databaseUrl: POSTGRES_URL });
});
afterAll(async () => {
  await db.close();
  await admin.close();
});

/** Opens `n` pool connections at once (so the pool holds that many idle), then ends them all from outside. */
async function endIdleConnections(n: number): Promise<number> {
  await Promise.all(Array.from({ length: n }, () => db.query('SELECT pg_sleep(0.05)')));
  const [{ ended }] = await admin.query<{ ended: number }>(
    'SELECT count(*)::int AS ended FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t',
    [name],
  );
  return ended;
}

test('a statement on a pool connection the server ended while idle is sent again on a new one', async () => {
  expect(await endIdleConnections(4)).toBe(4);
  // At once, before the pool has heard of the endings: every idle connection is a dead one.
  const answers = await Promise.all(
    Array.from({ length: 4 }, (_, i) => db.query<{ n: number }>('SELECT $1::int AS n', [i])),
  );
  expect(answers.map(([row]) => row.n)).toEqual([0, 1, 2, 3]);
});

test('a transaction that begins on a pool connection the server ended while idle begins again on a new one', async () => {
  expect(await endIdleConnections(4)).toBe(4);
  const results = await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      db.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT $1::int AS n', [i]))[0].n),
    ),
  );
  expect(results).toEqual([0, 1, 2, 3]);
});

test('an error of the work itself is not retried and leaves the connection usable', async () => {
  await expect(db.transaction(() => Promise.reject(new Error('the work failed')))).rejects.toThrow('the work failed');
  await expect(db.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
  expect(await db.query<{ n: number }>('SELECT 1 AS n')).toEqual([{ n: 1 }]);
});
