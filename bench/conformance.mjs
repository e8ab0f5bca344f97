// Conformance benchmark: optimal alignments of every variant of the public logs of ../shared/data
// against their reference models (../shared/data/conformance), with pm4py 2.7.14's times on the
// same kind of machine as anchors; then the Inductive Miner's model of each log aligned against
// that log (it must fit perfectly). The variants come from the engine (DuckDB), as the
// `conformance` calculator will get them; each alignment run is timed in its own child process,
// so its peak RSS is its own. Prints figures; asserts nothing (see README, Benchmarks).
//
//   node bench/conformance.mjs            all of it
//   BENCH_SKIP_IM=1 node bench/...        without the Inductive Miner part (BPIC 2012 takes minutes)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const DATA = process.env.ASSAY_SHARED_DATA
  ? path.resolve(process.env.ASSAY_SHARED_DATA)
  : path.resolve(root, '..', 'shared', 'data');
const REFS = path.join(DATA, 'conformance');
const PM4PY = { caseIdColumn: 'case:concept:name', activityColumn: 'concept:name', timestampColumn: 'time:timestamp' };
const SEPSIS = { caseIdColumn: 'Case ID', activityColumn: 'Activity', timestampColumn: 'Complete Timestamp' };

/** [name, log file, CSV mapping, model, reference figures, pm4py's seconds]. */
const RUNS = [
  [
    'running-example',
    'running-example.xes',
    null,
    'running-example.model.pnml',
    'running-example.conformance.json',
    0.08,
  ],
  [
    'roadtraffic100traces',
    'roadtraffic100traces.xes',
    null,
    'roadtraffic100traces.model.pnml',
    'roadtraffic100traces.conformance.json',
    0.13,
  ],
  ['receipt', '08_receipt.xes.gz', null, 'receipt.model.pnml', 'receipt.conformance.json', 0.67],
  ['sepsis', 'sepsis.csv', SEPSIS, 'sepsis.model.pnml', 'sepsis.conformance.json', 35],
  [
    'bpic2012 variants',
    '17_bpic2012_1t_per_variant.xes.gz',
    null,
    'bpic2012-variants.model.pnml',
    null,
    '>900 (not finished)',
  ],
];
/** The logs the Inductive Miner is checked on (every log of ../shared/data). */
const IM_LOGS = [
  ['running-example.xes', null],
  ['running-example.csv', PM4PY],
  ['roadtraffic100traces.xes', null],
  ['roadtraffic100traces.csv', PM4PY],
  ['08_receipt.xes.gz', null],
  ['receipt.csv', PM4PY],
  ['interval_event_log.xes', null],
  ['19_roadtraffic_1t_per_variant.xes.gz', null],
  ['sepsis.csv', SEPSIS],
  ['17_bpic2012_1t_per_variant.xes.gz', null],
];

if (process.argv[2] === '--align') {
  await alignChild(process.argv[3], process.argv[4], process.argv[5]);
} else {
  await main();
}

/** In a child process: aligns the variants of a JSON file against a model (PNML file, or `im` to discover one). */
async function alignChild(variantsFile, model, out) {
  const { conformance } = require(path.join(root, 'dist/engine/models/alignments.js'));
  const { parsePnml } = require(path.join(root, 'dist/engine/models/pnml.js'));
  const { inductiveMiner } = require(path.join(root, 'dist/engine/models/inductive.js'));
  const variants = JSON.parse(fs.readFileSync(variantsFile, 'utf8'));
  const rssBefore = process.memoryUsage().rss;
  let mineSeconds = null;
  let net;
  if (model === 'im') {
    const t = performance.now();
    net = inductiveMiner(variants);
    mineSeconds = (performance.now() - t) / 1000;
  } else {
    net = parsePnml(fs.readFileSync(model));
  }
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await conformance(variants, net);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  fs.writeFileSync(
    out,
    JSON.stringify({
      seconds,
      cpuSeconds,
      mineSeconds,
      rssBeforeMiB: rssBefore / 2 ** 20,
      peakRssMiB: peakRssMiB(),
      transitions: net.transitions.length,
      result,
    }),
  );
}

/** This process's own peak RSS (VmHWM; getrusage's figure would include the parent's, inherited at exec). */
function peakRssMiB() {
  const line = fs
    .readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return line ? Number(line.replace(/\D+/g, '')) / 1024 : process.resourceUsage().maxRSS / 1024;
}

async function variantsOf(work, file, mapping) {
  const { openEngine, rows } = require(path.join(root, 'dist/engine/duck.js'));
  const { importEventLog } = require(path.join(root, 'dist/engine/importLog.js'));
  const { defineLog } = require(path.join(root, 'dist/engine/log.js'));
  const con = await openEngine({ memoryLimit: '1GB' });
  try {
    const format = file.endsWith('.xes.gz') ? 'xes.gz' : file.endsWith('.xes') ? 'xes' : 'csv';
    const parquet = path.join(work, `${file}.parquet`);
    await importEventLog(con, { source: path.join(DATA, file), format, mapping, parquet, workDir: work });
    const log = await defineLog(con, `read_parquet('${parquet}')`);
    const list = await rows(con, `SELECT trace, count(*) AS cases FROM ${log.cases} GROUP BY trace`);
    return list.map((r) => ({ activities: r.trace.map(String), cases: Number(r.cases) }));
  } finally {
    con.closeSync();
  }
}

function runChild(work, variants, model) {
  const input = path.join(work, `variants-${Math.random().toString(36).slice(2)}.json`);
  const output = `${input}.out`;
  fs.writeFileSync(input, JSON.stringify(variants));
  execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--align', input, model, output], {
    stdio: 'inherit',
  });
  return JSON.parse(fs.readFileSync(output, 'utf8'));
}

function matches(result, ref) {
  if (!ref) return 'no reference';
  const byVariant = new Map(ref.perVariant.map((v) => [JSON.stringify(v.variant), v]));
  let same = 0;
  for (const v of result.perVariant) {
    const r = byVariant.get(JSON.stringify(v.variant));
    if (r && r.cases === v.cases && r.deviations === v.deviations && r.fitness === v.fitness) same++;
  }
  const totals =
    result.fittingCases === ref.fittingCases &&
    result.percentFittingCases === ref.percentFittingCases &&
    result.averageTraceFitness === ref.averageTraceFitness;
  return `${same}/${ref.perVariant.length} variants exact, totals ${totals ? 'exact' : 'DIFFER'}`;
}

async function main() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-bench-conformance-'));
  console.log(
    `Conformance benchmark (${os.cpus().length} cores, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)})`,
  );
  console.log('\nAlignments against the reference models (pm4py 2.7.14 on a machine of this kind as anchor):');
  try {
    for (const [name, file, mapping, model, refFile, pm4py] of RUNS) {
      const variants = await variantsOf(work, file, mapping);
      const ref = refFile ? JSON.parse(fs.readFileSync(path.join(REFS, refFile), 'utf8')) : null;
      const r = runChild(work, variants, path.join(REFS, model));
      console.log(
        `  ${name.padEnd(20)} ${String(variants.length).padStart(5)} variants  ${r.seconds.toFixed(3).padStart(7)} s` +
          ` (CPU ${r.cpuSeconds.toFixed(3)} s)` +
          `  ${Math.round(variants.length / r.seconds)
            .toString()
            .padStart(7)} variants/s  peak RSS ${r.peakRssMiB.toFixed(0)} MiB` +
          `  unaligned ${r.result.unalignedVariants}  avg fitness ${r.result.averageTraceFitness.toFixed(6)}` +
          `  pm4py ${pm4py} s  [${matches(r.result, ref)}]`,
      );
    }
    if (process.env.BENCH_SKIP_IM) return;
    console.log('\nThe Inductive Miner (noise 0) on each log, its model aligned against the same log (must fit):');
    for (const [file, mapping] of IM_LOGS) {
      const variants = await variantsOf(work, file, mapping);
      const r = runChild(work, variants, 'im');
      const misfits = r.result.perVariant.filter((v) => v.deviations !== 0).length;
      console.log(
        `  ${file.padEnd(38)} ${String(variants.length).padStart(5)} variants  mine ${r.mineSeconds.toFixed(2)} s` +
          `  align ${r.seconds.toFixed(2).padStart(6)} s  ${String(r.transitions).padStart(3)} transitions` +
          `  peak RSS ${r.peakRssMiB.toFixed(0)} MiB  fitness ${r.result.averageTraceFitness}` +
          `  variants not fitting ${misfits}, unaligned ${r.result.unalignedVariants}`,
      );
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
