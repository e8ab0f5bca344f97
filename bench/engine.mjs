// Engine benchmark: import and analysis speed on the public logs of ../shared/data and on a
// generated log of 1,000,000+ events. Prints figures; asserts nothing (see README, Benchmarks).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { createGunzip } from 'node:zlib';

const require = createRequire(import.meta.url);
// BENCH_ROOT points at another checkout's build (its dist/) to compare two versions on the same machine.
const root = path.resolve(process.env.BENCH_ROOT ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
const { Engine, eventsFile, parquetRelation } = require(path.join(root, 'dist/engine/engine.js'));
const { rows: query } = require(path.join(root, 'dist/engine/duck.js'));
const { defineLog } = require(path.join(root, 'dist/engine/log.js'));
const { calculate } = require(path.join(root, 'dist/engine/pipeline.js'));
const { applyFilter } = require(path.join(root, 'dist/engine/filters.js'));

const DATA = process.env.ASSAY_SHARED_DATA
  ? path.resolve(process.env.ASSAY_SHARED_DATA)
  : path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'shared', 'data');
const MEMORY_LIMIT = process.env.BENCH_DUCKDB_MEMORY ?? '1GB';
const GENERATED_CASES = Number(process.env.BENCH_CASES ?? 115_000);
const PM4PY = { caseIdColumn: 'case:concept:name', activityColumn: 'concept:name', timestampColumn: 'time:timestamp' };
const SEPSIS = { caseIdColumn: 'Case ID', activityColumn: 'Activity', timestampColumn: 'Complete Timestamp' };

/** A deterministic PRNG, so the generated log is the same on every run. */
function prng(seed) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** Writes a CSV log of `cases` cases walking a small process with loops and choices (about 10 events each). */
async function generateLog(file, cases) {
  const rand = prng(42);
  const out = fs.createWriteStream(file);
  out.write('case,activity,time,resource\n');
  const next = {
    register: ['check', 'check', 'examine'],
    check: ['decide', 'examine'],
    examine: ['check', 'decide'],
    decide: ['approve', 'reject', 'rework'],
    rework: ['check'],
    approve: ['pay'],
    reject: ['notify'],
    pay: ['close'],
    notify: ['close'],
  };
  let events = 0;
  let buffer = '';
  for (let c = 0; c < cases; c++) {
    let t = Date.UTC(2023, 0, 1) + Math.floor(rand() * 365 * 86_400_000);
    let activity = 'register';
    for (let step = 0; step < 30; step++) {
      buffer += `c${c},${activity},${new Date(t).toISOString()},r${Math.floor(rand() * 50)}\n`;
      events++;
      if (activity === 'close') break;
      const options = next[activity];
      activity = options[Math.floor(rand() * options.length)];
      t += Math.floor(rand() * 3 * 86_400_000);
    }
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await new Promise((r) => out.once('drain', r));
      buffer = '';
    }
  }
  out.write(buffer);
  await new Promise((r) => out.end(r));
  return events;
}

async function time(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function benchLog(engine, label, file, format, mapping, withAnchors = false) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-'));
  // The process's memory during the import (its worker thread included), sampled every 5 ms.
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 5);
  const imported = await time(() => engine.importLog(file, format, mapping, dir)).finally(() => clearInterval(sampler));
  const events = imported.value.result.eventCount;
  const row = { label, events, importMs: imported.ms, eventsPerSecond: events / (imported.ms / 1000) };
  row.importRssMiB = (rssPeak - rssBefore) / 2 ** 20;
  await engine.withConnection(async (con) => {
    // Ordering the events of every case (and materializing the log) is paid once per log or filter step.
    const ordered = await time(() => defineLog(con, parquetRelation(eventsFile(dir))));
    row.order = ordered.ms;
    const log = ordered.value;
    for (const calculator of ['summary', 'variants', 'processMap', 'throughputTime']) {
      row[calculator] = (await time(() => calculate(con, log, { calculatorType: calculator }))).ms;
    }
    const activity = imported.value.profile.activities[0];
    row.chain = (
      await time(async () => {
        const filtered = await defineLog(
          con,
          await applyFilter(con, log, { filterType: 'activityPresence', activities: [activity] }),
        );
        return calculate(con, filtered, { calculatorType: 'throughputTime' });
      })
    ).ms;
  });
  if (withAnchors) row.anchors = await anchors(engine, file, dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return row;
}

/**
 * What DuckDB does alone on the same data, in the same run: read the CSV into a table (its own
 * sniffing and types), and group the log's directly-follows pairs, given as a table, by edge.
 */
async function anchors(engine, file, dir) {
  return engine.withConnection(async (con) => {
    const readCsv = await time(() =>
      con.run(`CREATE OR REPLACE TEMP TABLE anchor_csv AS SELECT * FROM read_csv('${file}')`),
    );
    const [{ n }] = await query(con, 'SELECT count(*) AS n FROM anchor_csv');
    // The pairs themselves are built untimed: the anchor is the grouping alone.
    await con.run(
      `CREATE OR REPLACE TEMP TABLE anchor_pairs AS
       SELECT * FROM (SELECT lag(activity) OVER w AS source, activity AS target, epoch_us(ts) - epoch_us(lag(ts) OVER w) AS wait
                      FROM read_parquet('${eventsFile(dir)}') WINDOW w AS (PARTITION BY case_key ORDER BY ts, event_index))
       WHERE source IS NOT NULL`,
    );
    const groupBy = await time(() =>
      query(con, 'SELECT source, target, count(*), avg(wait), median(wait) FROM anchor_pairs GROUP BY 1, 2'),
    );
    return { readCsvMs: readCsv.ms, readCsvRows: Number(n), groupByMs: groupBy.ms };
  });
}

const engine = await Engine.open({
  memoryLimit: MEMORY_LIMIT,
  tempDirectory: path.join(os.tmpdir(), 'assay-bench-duckdb'),
});
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-gen-'));
const generated = path.join(work, 'generated.csv');
const generatedEvents = await generateLog(generated, GENERATED_CASES);
const logs = [
  ['receipt.csv', path.join(DATA, 'receipt.csv'), 'csv', PM4PY],
  ['sepsis.csv', path.join(DATA, 'sepsis.csv'), 'csv', SEPSIS],
  ['08_receipt.xes.gz', path.join(DATA, '08_receipt.xes.gz'), 'xes.gz', null],
  ['17_bpic2012 (xes.gz)', path.join(DATA, '17_bpic2012_1t_per_variant.xes.gz'), 'xes.gz', null],
  [
    `generated (${GENERATED_CASES} cases)`,
    generated,
    'csv',
    { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time', resourceColumn: 'resource' },
    true,
  ],
];
/**
 * Anchors for an XES import, measured in this run: the gunzip of the file alone, then the gunzip
 * with a byte scan that finds every '<' (the least an XML reader does), both streamed in 1 MiB chunks.
 */
async function xesAnchors(file) {
  const pass = (scan) =>
    time(async () => {
      let tags = 0;
      const gunzip = fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 20 }));
      for await (const chunk of gunzip) {
        if (!scan) continue;
        for (let i = chunk.indexOf(60); i >= 0; i = chunk.indexOf(60, i + 1)) tags++;
      }
      return tags;
    });
  await pass(false); // warm-up: the file in the page cache
  return { gunzipMs: (await pass(false)).ms, scanMs: (await pass(true)).ms };
}

const bpic = logs.find(([label]) => label.startsWith('17_bpic2012'));
const gunzipAnchors = await xesAnchors(bpic[1]);
let peakRss = process.memoryUsage().rss;
const rows = [];
for (const [label, file, format, mapping, withAnchors] of logs) {
  rows.push(await benchLog(engine, label, file, format, mapping, withAnchors));
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
engine.close();
fs.rmSync(work, { recursive: true, force: true });

const ms = (v) => v.toFixed(0).padStart(8);
console.log(
  `\nAssay engine benchmark, ${new Date().toISOString()}, DuckDB memory limit ${MEMORY_LIMIT}, ${os.cpus().length} cores`,
);
console.log(`generated log: ${generatedEvents} events; times in ms (import = parse + write Parquet + profile;`);
console.log(
  'order = what defining a log costs before its first calculator (ordering its events if the file is not stored in order); filter+calc includes its own order)',
);
console.log(`build measured: ${root}\n`);
console.log(
  `${'log'.padEnd(28)}${'events'.padStart(10)}${'import'.padStart(9)}${'events/s'.padStart(11)}${'order'.padStart(8)}${'summary'.padStart(9)}${'variants'.padStart(9)}${'procmap'.padStart(9)}${'thruput'.padStart(9)}${'filter+calc'.padStart(12)}`,
);
for (const r of rows) {
  console.log(
    `${r.label.padEnd(28)}${String(r.events).padStart(10)}${ms(r.importMs).padStart(9)}${Math.round(r.eventsPerSecond).toString().padStart(11)}${ms(r.order).padStart(8)}${ms(r.summary).padStart(9)}${ms(r.variants).padStart(9)}${ms(r.processMap).padStart(9)}${ms(r.throughputTime).padStart(9)}${ms(r.chain).padStart(12)}`,
  );
}
const bpicEvents = rows.find((r) => r.label === bpic[0]).events;
// The anchors of the XES import, for the same log.
for (const [label, anchorMs] of [
  ['  anchor: gunzip alone', gunzipAnchors.gunzipMs],
  ['  anchor: gunzip + scan', gunzipAnchors.scanMs],
]) {
  console.log(
    `${label.padEnd(28)}${String(bpicEvents).padStart(10)}${ms(anchorMs).padStart(9)}${Math.round(
      bpicEvents / (anchorMs / 1000),
    )
      .toString()
      .padStart(11)}`,
  );
}
const bpicRow = rows.find((r) => r.label === bpic[0]);
console.log(
  `\ngoals on ${bpic[0]}: XES import >= 400k events/s: ${bpicRow.eventsPerSecond >= 4e5 ? 'met' : 'NOT MET'} (${Math.round(bpicRow.eventsPerSecond)}); peak RSS during the import < 300 MiB above the RSS before it: ${bpicRow.importRssMiB < 300 ? 'met' : 'NOT MET'} (${bpicRow.importRssMiB.toFixed(0)} MiB)`,
);
const big = rows.at(-1);
const anchor = big.anchors;
const readCsvRate = anchor.readCsvRows / (anchor.readCsvMs / 1000);
console.log(
  `\nanchors on the generated log, DuckDB alone in the same run: read_csv into a table ${ms(anchor.readCsvMs).trim()} ms (${Math.round(readCsvRate)} rows/s); GROUP BY of its directly-follows pairs (count, mean, median) ${ms(anchor.groupByMs).trim()} ms`,
);
console.log(
  `peak RSS of this process: ${(peakRss / 2 ** 20).toFixed(0)} MiB (DuckDB limited to ${MEMORY_LIMIT}; it spills to disk past it)`,
);
const mapMs = big.order + big.processMap;
console.log(
  `goals on the generated log: CSV import >= 1M events/s: ${big.eventsPerSecond >= 1e6 ? 'met' : 'NOT MET'} (${Math.round(big.eventsPerSecond)}, ${(big.eventsPerSecond / readCsvRate).toFixed(2)} of read_csv alone); process map < 400 ms: ${mapMs < 400 ? 'met' : 'NOT MET'} (${mapMs.toFixed(0)} ms with the order, ${(mapMs / anchor.groupByMs).toFixed(1)}x the GROUP BY alone); variants < 1 s: ${big.order + big.variants < 1000 ? 'met' : 'NOT MET'} (${(big.order + big.variants).toFixed(0)} ms with the order)`,
);
