import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal, rows } from './duck';
import { casesOf, type Log } from './log';

/** The per-case columns an enrichment adds, as attribute names of the resulting log. */
export const ENRICHED_COLUMNS = [
  'case:duration_seconds',
  'case:variant_id',
  'case:variant_rank',
  'case:event_count',
  'case:has_rework',
  'case:start_activity',
  'case:end_activity',
] as const;

/**
 * Writes the events of `log` with per-case columns added (duration, variant id and rank, event
 * count, rework flag, start and end activity) to a Parquet file with the import's columns, so
 * the result is a log like any imported one. Values are text, as imported attributes are.
 * A variant's id is a hash of its activities (stable across datasets); its rank counts cases,
 * most frequent first, ties by first case.
 */
export async function writeEnrichedLog(con: DuckDBConnection, log: Log, target: string): Promise<{ events: number }> {
  const replaced = ENRICHED_COLUMNS.map((c) => ident(`a:${c}`));
  const existing = new Set(
    (await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${log.relation})`)).map((r) =>
      String(r.column_name),
    ),
  );
  // `timed` stays: the file is written in the log's order, as an import writes it (see log.ts).
  const exclude = ['seq', ...replaced.filter((c) => existing.has(c.slice(1, -1)))];
  const cases = await casesOf(con, log);
  await con.run(
    `COPY (
       WITH c AS (
         SELECT case_key, duration_s, events, trace[1] AS first_activity, trace[len(trace)] AS last_activity,
           len(trace) <> len(list_distinct(trace)) AS rework, md5(array_to_string(trace, chr(31))) AS variant
         FROM ${cases}),
       v AS (
         SELECT variant, row_number() OVER (ORDER BY count(*) DESC, min(case_key)) AS variant_rank FROM c GROUP BY variant)
       SELECT e.* EXCLUDE (${exclude.join(', ')}),
         CAST(round(c.duration_s, 3) AS VARCHAR) AS ${replaced[0]},
         substr(c.variant, 1, 12) AS ${replaced[1]},
         CAST(v.variant_rank AS VARCHAR) AS ${replaced[2]},
         CAST(c.events AS VARCHAR) AS ${replaced[3]},
         CAST(c.rework AS VARCHAR) AS ${replaced[4]},
         c.first_activity AS ${replaced[5]},
         c.last_activity AS ${replaced[6]}
       FROM ${log.relation} e JOIN c USING (case_key) JOIN v USING (variant)
       ORDER BY e.case_key, e.seq
     ) TO ${literal(target)} (FORMAT parquet, COMPRESSION zstd)`,
  );
  const [r] = await rows(con, `SELECT count(*) AS n FROM read_parquet(${literal(target)})`);
  return { events: Number(r.n) };
}
