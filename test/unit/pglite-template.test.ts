import { PGlite } from '@electric-sql/pglite';
import { PGLITE_TEMPLATE_VARIABLE, startInMemoryPglitesFromTemplate } from '../support/pglite-template';

/** The test stores' shortcut (see pglite-template.ts): taken, and with nothing in it but initdb's. */
test('an in-memory PGlite of the tests starts from the global setup’s template, a database without a table', async () => {
  expect(process.env[PGLITE_TEMPLATE_VARIABLE]).toMatch(/pglite-template\.tar$/);
  startInMemoryPglitesFromTemplate();
  const pglite = await PGlite.create();
  try {
    expect(jest.mocked(PGlite.create).mock.calls).toEqual([[]]);
    const tables = await pglite.query(
      `SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`,
    );
    expect(tables.rows).toEqual([]);
    const [{ datname }] = (await pglite.query<{ datname: string }>('SELECT current_database() AS datname')).rows;
    expect(datname).toBe('postgres');
  } finally {
    await pglite.close();
  }
});
