import type { Db } from './db';
import * as m001 from './migrations/001_initial';
import * as m002 from './migrations/002_executions';
import * as m003 from './migrations/003_artifacts';
import * as m004 from './migrations/004_jobs';
import * as m005 from './migrations/005_stored_bytes';
import * as m006 from './migrations/006_tenant_limits';
import * as m007 from './migrations/007_events';
import * as m008 from './migrations/008_share_links';
import * as m009 from './migrations/009_models';
import * as m010 from './migrations/010_change_notices';

/** Every migration in order; a migration is never edited once released, only followed by a new one. */
const migrations: { version: number; sql: string }[] = [
  { version: 1, sql: m001.sql },
  { version: 2, sql: m002.sql },
  { version: 3, sql: m003.sql },
  { version: 4, sql: m004.sql },
  { version: 5, sql: m005.sql },
  { version: 6, sql: m006.sql },
  { version: 7, sql: m007.sql },
  { version: 8, sql: m008.sql },
  { version: 9, sql: m009.sql },
  { version: 10, sql: m010.sql },
];

/**
 * Applies the migrations this database has not seen, each in its own transaction. An advisory
 * lock makes concurrent starts (API and workers on one PostgreSQL) apply each one exactly once.
 */
export async function migrate(db: Db): Promise<number[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied: number[] = [];
  for (const migration of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(727274)');
      const seen = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version]);
      if (seen.length > 0) return false;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}
