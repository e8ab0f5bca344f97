import type { DuckDBConnection } from '@duckdb/node-api';
import { literal } from '../../src/engine/duck';

/**
 * Writes a copy of an imported log as versions before the sorted layout stored it: without the
 * `timed` column, events in no particular order (here scrambled on purpose). Data directories of
 * a deployment may still hold such files; the engine must give the same figures on them.
 */
export async function writeOlderLayout(con: DuckDBConnection, parquet: string, target: string): Promise<void> {
  await con.run(
    `COPY (SELECT * EXCLUDE (timed) FROM read_parquet(${literal(parquet)}) ORDER BY hash(event_index))
     TO ${literal(target)} (FORMAT parquet, COMPRESSION zstd)`,
  );
}
