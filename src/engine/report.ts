import type {
  BottlenecksResult,
  ConformanceResult,
  DiscoveryResult,
  SummaryResult,
  ThroughputTimeResult,
  VariantsResult,
} from '../api/types';

/** The HTML report of a ProcessMining job: one self-contained page, the process map inline. */

export interface ReportInput {
  title: string;
  datasetName: string;
  generatedAt: Date;
  /** The calculators' results, in the contract's shapes (as in the job's metrics file). */
  summary: SummaryResult;
  throughput: ThroughputTimeResult;
  variants: VariantsResult['variants'];
  bottlenecks: BottlenecksResult['edges'];
  processMapSvg: string;
  filters: string[];
  /** A model discovered from the log (parameters.discovery), with its drawing. */
  discovered?: { result: DiscoveryResult; name: string; svg: string };
  /** The log checked against a model (parameters.modelId), with the model's drawing. */
  conformance?: { result: ConformanceResult; name: string; svg: string };
}

/** Activities with the most deviations that the report lists. */
const REPORT_DEVIATING_ACTIVITIES = 10;

export function renderReport(r: ReportInput): string {
  const row = (cells: (string | number | null)[]) => `<tr>${cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`;
  const head = (cells: string[]) => `<tr>${cells.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  // The SVG comes from Graphviz with activity names escaped by it; drop its XML prolog to inline it.
  const svg = inlineSvg(r.processMapSvg);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f3f3f3}.map svg{max-width:100%;height:auto}</style>
</head><body>
<h1>${esc(r.title)}</h1>
<p>Dataset: ${esc(r.datasetName)}. Generated ${esc(r.generatedAt.toISOString())}.${r.filters.length ? ` Filters: ${esc(r.filters.join('; '))}.` : ''}</p>
<h2>Summary</h2>
<table>${head(['cases', 'events', 'activities', 'variants', 'first event', 'last event'])}
${row([r.summary.caseCount, r.summary.eventCount, r.summary.activityCount, r.summary.variantCount, r.summary.startTime, r.summary.endTime])}</table>
<h2>Throughput time</h2>
<table>${head(['timed cases', 'mean', 'median', '90th percentile'])}
${row([r.throughput.caseCount, duration(r.throughput.meanSeconds), duration(r.throughput.medianSeconds), duration(r.throughput.p90Seconds)])}</table>
<h2>Process map</h2>
<div class="map">${svg}</div>
<h2>Top variants</h2>
<table>${head(['#', 'cases', 'share', 'mean duration', 'activities'])}
${r.variants.map((v, i) => row([i + 1, v.caseCount, `${(v.share * 100).toFixed(1)} %`, duration(v.meanDurationSeconds), v.activities.join(' → ')])).join('\n')}</table>
<h2>Bottlenecks (slowest transitions)</h2>
<table>${head(['from', 'to', 'count', 'mean wait'])}
${r.bottlenecks.map((b) => row([b.from, b.to, b.count, duration(b.meanDurationSeconds)])).join('\n')}</table>
${r.discovered ? discoveredSection(r.discovered, head, row) : ''}${r.conformance ? conformanceSection(r.conformance, head, row) : ''}</body></html>
`;
}

type Cells = (cells: (string | number | null)[]) => string;

function discoveredSection(d: NonNullable<ReportInput['discovered']>, head: (c: string[]) => string, row: Cells) {
  const x = d.result;
  return `<h2>Discovered model: ${esc(d.name)}</h2>
<table>${head(['algorithm', 'noise threshold', 'places', 'transitions', 'activities', 'fitness of the log'])}
${row([x.algorithm === 'inductive' ? (x.noiseThreshold > 0 ? 'Inductive Miner (IMf)' : 'Inductive Miner') : x.algorithm, x.noiseThreshold, x.places, x.transitions, x.activities.length, x.fitness.toFixed(4)])}</table>
<div class="map">${inlineSvg(d.svg)}</div>
`;
}

function conformanceSection(c: NonNullable<ReportInput['conformance']>, head: (c: string[]) => string, row: Cells) {
  const x = c.result;
  const top = x.deviationsByActivity.slice(0, REPORT_DEVIATING_ACTIVITIES);
  return `<h2>Conformance to ${esc(c.name)}</h2>
<table>${head(['cases', 'variants', 'fitting cases', 'average trace fitness', 'unaligned variants'])}
${row([x.cases, x.variants, `${x.fittingCases} (${x.percentFittingCases.toFixed(1)} %)`, x.averageTraceFitness.toFixed(4), x.unalignedVariants])}</table>
<h3>Activities with the most deviations</h3>
<table>${head(['activity', 'log moves (not allowed there)', 'model moves (missing)'])}
${top.map((a) => row([a.activity, a.logMoves, a.modelMoves])).join('\n')}</table>
<div class="map">${inlineSvg(c.svg)}</div>
`;
}

/** Graphviz SVG inline: its XML prolog and doctype dropped (it escapes the names itself). */
function inlineSvg(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/, '');
}

/** Seconds for people: `3 d 4 h`, `2 h 5 min`, `42 s`. */
export function duration(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const s = Math.round(seconds);
  if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

function esc(value: string | number | null): string {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}
