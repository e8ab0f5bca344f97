import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { storeArtifact, type ArtifactFence } from '../domain/artifacts';
import { datasetDir, storeDerivedDataset } from '../domain/datasets';
import { releaseExecution, runExecution } from '../domain/executions';
import { JobInputError, NotebookError } from '../domain/jobErrors';
import type { ModelParameters, StoredJobOutput } from '../domain/jobs';
import type { Scope } from '../domain/scope';
import * as calc from '../engine/calculators';
import { ENRICHED_COLUMNS, writeEnrichedLog } from '../engine/enrich';
import { eventsFile, parquetRelation, type Engine } from '../engine/engine';
import { applyFilter } from '../engine/filters';
import { defineLog, sizeOf, type Log } from '../engine/log';
import { renderProcessMap } from '../engine/render';
import { renderReport, type ReportInput } from '../engine/report';
import * as modelBlocks from '../engine/models/analysis';
import type { ConformanceResult, DiscoveryResult } from '../api/types';
import { getModel, modelFile, projectModels } from '../domain/models';
import { randomUUID } from 'node:crypto';
import * as lifecycle from '../domain/lifecycle';
import { findDataset, type DatasetRow } from '../store/datasets';
import type { Db } from '../store/db';
import { datasetOfInvestigation } from '../store/investigations';
import type { JobRow } from '../store/jobs';
import { datasetOfNotebook, findNotebook, NOTEBOOK_TYPE, notebooksOfInvestigation } from '../store/notebooks';

/** What a job's code gets from its worker: the job, a stop signal, and fenced ways to report. */
export interface JobContext {
  db: Db;
  engine: Engine;
  dataDir: string;
  /** The job's row as claimed. */
  job: JobRow;
  scope: Scope;
  signal: AbortSignal;
  fence: ArtifactFence;
  /** A private directory for the run's scratch files, removed afterwards. */
  workDir: string;
  /** Cells, blocks and log lines for the job's event stream. */
  report: lifecycle.RunReporter;
  /** Reports the stage and percentage (and any other progress fields) to the job's row; a new stage is also a log line. */
  progress(stage: string, percentage: number, extra?: Record<string, unknown>): Promise<void>;
  /** Counts records read so far and in all. */
  records(processed: number, total?: number): void;
  warn(type: string, message: string, count?: number): void;
  /** Stores a file as an artifact of the job and lists it among its outputs. */
  output(o: OutputFile): Promise<StoredJobOutput>;
  /** Lists an output that is not a file of the job (an enriched dataset). */
  listOutput(o: StoredJobOutput): void;
  /** Input quality figures for the results. */
  quality(validRecords: number, totalRecords: number): void;
}

export interface OutputFile {
  role: 'primary' | 'additional';
  type: string;
  title: string;
  format: string;
  fileName: string;
  contentType: string;
  content?: string | Buffer;
  /** A file already on disk, read instead of `content`. */
  file?: string;
  recordCount?: number;
}

/** The code of one job type. It throws to fail the job; the worker records everything else. */
export type JobRunner = (ctx: JobContext) => Promise<void>;

export const runners: Record<string, JobRunner> = {
  ProcessMining: processMining,
  DataEnrichment: dataEnrichment,
  Analysis: analysis,
};

/** The dataset a job analyses: `parameters.datasetId`, else the one its resource is bound to. */
async function datasetOf(ctx: JobContext): Promise<DatasetRow> {
  const parameters = ctx.job.parameters as { datasetId?: string };
  const projectId = ctx.scope.projectId;
  const resourceId = ctx.job.resource_id;
  let id: string | null | undefined = parameters.datasetId?.toLowerCase();
  if (!id && ctx.job.resource_type === 'Dataset') id = resourceId;
  else if (!id && ctx.job.resource_type === 'Notebook')
    id = (await datasetOfNotebook(ctx.db, projectId, resourceId))?.dataset_id;
  else if (!id) id = await datasetOfInvestigation(ctx.db, projectId, resourceId);
  const dataset = id ? await findDataset(ctx.db, projectId, id) : null;
  if (!dataset) {
    throw new JobInputError(`The job's ${ctx.job.resource_type.toLowerCase()} or its dataset no longer exists.`);
  }
  return dataset;
}

/** Loads the dataset's log, narrowed to `parameters.timeWindow` when given. */
async function loadLog(
  ctx: JobContext,
  con: DuckDBConnection,
  dataset: DatasetRow,
): Promise<{ log: Log; filters: string[] }> {
  await ctx.progress('Loading data', 5);
  const relation = parquetRelation(eventsFile(datasetDir(ctx.dataDir, dataset.id)));
  let log = await defineLog(con, relation);
  const total = await sizeOf(con, log);
  ctx.records(0, total.events);
  const filters: string[] = [];
  const window = (ctx.job.parameters as { timeWindow?: { startDate?: string; endDate?: string } }).timeWindow;
  if (window && (window.startDate || window.endDate)) {
    await ctx.progress('Filtering', 15);
    const filtered = await applyFilter(con, log, {
      filterType: 'dateRange',
      startDate: window.startDate,
      endDate: window.endDate,
    });
    log = await defineLog(con, filtered);
    filters.push(`cases within ${window.startDate ?? '…'} to ${window.endDate ?? '…'}`);
  }
  const kept = await sizeOf(con, log);
  if (kept.events === 0) ctx.warn('EmptyTimeWindow', 'No case lies within the time window.', 1);
  ctx.records(total.events, total.events);
  const stats = dataset.import_warnings;
  const invalid = stats?.invalidRowCount ?? 0;
  ctx.quality(total.events, total.events + invalid);
  if (invalid > 0) ctx.warn('DataQuality', 'Rows of the uploaded file that could not be imported.', invalid);
  return { log, filters };
}

/**
 * A full analysis of a dataset: summary, variants, throughput time, bottlenecks and process map,
 * written as an HTML report (primary), the process map SVG, a metrics JSON and an enriched CSV.
 */
async function processMining(ctx: JobContext): Promise<void> {
  const dataset = await datasetOf(ctx);
  const enrichedParquet = path.join(ctx.workDir, 'enriched.parquet');
  const enrichedCsv = path.join(ctx.workDir, 'enriched.csv');
  const results = await ctx.engine.withConnection(async (con) => {
    const { log, filters } = await loadLog(ctx, con, dataset);
    await ctx.progress('Calculating', 30);
    const summary = await calc.summary(con, log);
    const variants = await calc.variants(con, log, 10);
    await ctx.progress('Calculating', 45);
    const throughput = await calc.throughputTime(con, log);
    const map = await calc.processMap(con, log);
    await ctx.progress('Calculating', 60);
    const bottlenecks = await calc.bottlenecks(con, log, 10);
    const models = await modelSections(ctx, con, log);
    await ctx.progress('Enriching', 70);
    await writeEnrichedLog(con, log, enrichedParquet);
    return { summary, variants, throughput, map, bottlenecks, filters, ...models };
  }, ctx.signal);
  const drawn = await drawnModels(ctx, results);
  await ctx.progress('Rendering', 80);
  const svg = await renderProcessMap(results.map);
  ctx.signal.throwIfAborted();
  await ctx.progress('Writing outputs', 90);
  fs.mkdirSync(path.join(ctx.workDir, 'csv'), { recursive: true });
  fs.renameSync(enrichedParquet, eventsFile(path.join(ctx.workDir, 'csv')));
  await ctx.engine.exportLog(path.join(ctx.workDir, 'csv'), 'csv', enrichedCsv, ctx.signal);
  const name = dataset.name;
  const report = renderReport({
    title: String(ctx.job.name),
    datasetName: name,
    generatedAt: new Date(),
    summary: results.summary,
    throughput: results.throughput,
    variants: results.variants.variants,
    bottlenecks: results.bottlenecks.edges,
    processMapSvg: svg,
    filters: results.filters,
    ...drawn,
  });
  await ctx.output({
    role: 'primary',
    type: 'ProcessMiningReport',
    title: `${String(ctx.job.name)} Report`,
    format: 'html',
    fileName: 'report.html',
    contentType: 'text/html; charset=utf-8',
    content: report,
  });
  await ctx.output({
    role: 'additional',
    type: 'ProcessMap',
    title: `${name} Process Map`,
    format: 'svg',
    fileName: 'process-map.svg',
    contentType: 'image/svg+xml',
    content: svg,
  });
  const metrics = {
    datasetId: dataset.id,
    filters: results.filters,
    summary: results.summary,
    throughputTime: results.throughput,
    variants: results.variants,
    bottlenecks: results.bottlenecks,
    processMap: results.map,
    ...(results.discovery ? { discovery: results.discovery } : {}),
    ...(results.conformance ? { conformance: results.conformance } : {}),
  };
  await ctx.output({
    role: 'additional',
    type: 'Metrics',
    title: `${name} Metrics`,
    format: 'json',
    fileName: 'metrics.json',
    contentType: 'application/json',
    content: JSON.stringify(metrics, null, 2),
  });
  await ctx.output({
    role: 'additional',
    type: 'EnrichedDataset',
    title: `${name} Enriched`,
    format: 'csv',
    fileName: 'enriched.csv',
    contentType: 'text/csv; charset=utf-8',
    file: enrichedCsv,
    recordCount: results.summary.eventCount,
  });
}

/**
 * The model parts of a ProcessMining job (parameters checked at submit): `discovery` finds a model
 * with the Inductive Miner and stores it in the project; `modelId` checks the log against a model.
 */
async function modelSections(ctx: JobContext, con: DuckDBConnection, log: Log) {
  const p = ctx.job.parameters as ModelParameters;
  if (!p.discovery && !p.modelId) return {};
  const models = projectModels(ctx.db, ctx.scope, {
    signal: ctx.signal,
    storageLimitBytes: ctx.fence.storageLimitBytes,
  });
  await ctx.progress('Checking conformance', 62);
  const discovery = p.discovery
    ? await modelBlocks.discovery(con, log, { noiseThreshold: p.discovery.noiseThreshold ?? 0 }, models)
    : undefined;
  const conformance = p.modelId
    ? await modelBlocks.conformance(con, log, { modelId: p.modelId.toLowerCase(), limit: 100 }, models)
    : undefined;
  return { discovery, conformance };
}

/** The report's model sections: each model's name and drawing next to its figures. */
async function drawnModels(
  ctx: JobContext,
  r: { discovery?: DiscoveryResult; conformance?: ConformanceResult },
): Promise<Pick<ReportInput, 'discovered' | 'conformance'>> {
  const drawing = async (id: string) => ({
    name: (await getModel(ctx.db, ctx.scope, id)).name,
    svg: (await modelFile(ctx.db, ctx.scope, id, 'svg')).body.toString('utf8'),
  });
  return {
    ...(r.discovery ? { discovered: { result: r.discovery, ...(await drawing(r.discovery.modelId)) } } : {}),
    ...(r.conformance ? { conformance: { result: r.conformance, ...(await drawing(r.conformance.modelId)) } } : {}),
  };
}

/** The dataset with per-case columns added, stored as a new dataset of the project. */
async function dataEnrichment(ctx: JobContext): Promise<void> {
  const dataset = await datasetOf(ctx);
  const target = path.join(ctx.workDir, 'enriched.parquet');
  const events = await ctx.engine.withConnection(async (con) => {
    const { log } = await loadLog(ctx, con, dataset);
    await ctx.progress('Enriching', 40);
    return (await writeEnrichedLog(con, log, target)).events;
  }, ctx.signal);
  await ctx.progress('Writing outputs', 70);
  const name = String((ctx.job.parameters as { outputName?: unknown }).outputName ?? `${dataset.name} (enriched)`);
  const created = await storeDerivedDataset(ctx.db, ctx.engine, ctx.dataDir, ctx.scope, {
    name,
    parquet: target,
    fromDatasetId: dataset.id,
    signal: ctx.signal,
    storageLimitBytes: ctx.fence.storageLimitBytes,
  });
  ctx.listOutput({
    role: 'primary',
    type: 'EnrichedDataset',
    title: name,
    format: 'csv',
    sizeBytes: created.sizeBytes,
    sha256: (await findDataset(ctx.db, ctx.scope.projectId, created.datasetId))!.sha256,
    datasetId: created.datasetId,
    recordCount: events,
  });
  ctx.warn('NewColumns', `Added ${ENRICHED_COLUMNS.join(', ')}.`, ENRICHED_COLUMNS.length);
}

/**
 * Standard notebooks block by block: the notebook of the job, or every standard notebook of an
 * investigation (Pipeline) in `notebookOrder`. Each run is an execution, with results in
 * the execution shape the notebook API documents.
 */
async function analysis(ctx: JobContext): Promise<void> {
  const parameters = ctx.job.parameters as {
    executionMode?: string;
    cellRange?: { startCell: string; endCell: string };
    datasetId?: string;
  };
  const executions: { executionId: string; notebookId: string; name: string }[] = [];
  if (ctx.job.resource_type === 'Notebook') {
    const notebookId = ctx.job.resource_id;
    const nb = await findNotebook(ctx.db, ctx.scope.projectId, notebookId);
    if (!nb) throw new JobInputError('The notebook no longer exists.');
    const executionId = ctx.job.execution_id ?? (await newExecution(ctx, notebookId));
    executions.push({ executionId, notebookId, name: nb.name });
  } else {
    for (const nb of await notebooksOfInvestigation(ctx.db, ctx.job.resource_id)) {
      if (nb.notebook_type !== NOTEBOOK_TYPE.standard) continue;
      executions.push({ executionId: await newExecution(ctx, nb.id), notebookId: nb.id, name: nb.name });
    }
  }
  const summary: Record<string, unknown>[] = [];
  let records = 0;
  try {
    for (const [i, e] of executions.entries()) {
      const share = 100 / executions.length;
      const outcome = await runExecution(
        ctx.db,
        ctx.engine,
        ctx.dataDir,
        ctx.scope,
        e.executionId,
        { executionMode: parameters.executionMode, cellRange: parameters.cellRange, datasetId: parameters.datasetId },
        {
          signal: ctx.signal,
          fence: ctx.fence,
          onBlock: async (done, total, o) => {
            await ctx.report.blockCompleted(e.executionId, {
              blockId: o.blockId,
              index: done - 1,
              status: o.status,
              durationMs: Math.round(o.durationSeconds * 1000),
              casesIn: o.casesIn,
              casesOut: o.casesOut,
            });
            await ctx.progress(
              `Running ${e.name}: block ${done} of ${total}`,
              i * share + (done / total) * share * 0.95,
              {
                cellsDone: done,
                cellsTotal: total,
                currentCell: o.blockId,
              },
            );
          },
        },
      );
      records += outcome.eventsIn;
      ctx.records(records);
      summary.push({ notebookId: e.notebookId, executionId: e.executionId, name: e.name, ...outcome });
      if (outcome.status === 'Error') throw new NotebookError(`${e.name}: ${outcome.error}`);
    }
  } finally {
    // Executions a stopped pipeline never reached are released, not left Running.
    for (const e of executions.slice(summary.length)) {
      await releaseExecution(ctx.db, e.executionId, 'Cancelled', 'The job stopped before this notebook ran.');
    }
  }
  await ctx.progress('Writing outputs', 97);
  await ctx.output({
    role: 'primary',
    type: 'BlockResults',
    title: `${ctx.job.name} results`,
    format: 'json',
    fileName: 'executions.json',
    contentType: 'application/json',
    content: JSON.stringify({ executions: summary }, null, 2),
  });
}

/** An execution of one notebook of a job that was submitted for a resource, not executed. */
async function newExecution(ctx: JobContext, notebookId: string): Promise<string> {
  const id = randomUUID();
  await lifecycle.executionAccepted(ctx.db, {
    id,
    notebookId,
    jobId: ctx.job.id,
    parameters: {},
    createdBy: ctx.job.submitted_by,
  });
  return id;
}

/** Stores an output file of a job under the fence. */
export async function storeJobOutput(ctx: Pick<JobContext, 'db' | 'dataDir' | 'scope' | 'fence'>, o: OutputFile) {
  const artifact = await storeArtifact(ctx.db, ctx.dataDir, ctx.scope.projectId, {
    content: o.content ?? { file: o.file! },
    fileName: o.fileName,
    contentType: o.contentType,
    kind: o.type,
    title: o.title,
    fence: ctx.fence,
  });
  const stored: StoredJobOutput = {
    role: o.role,
    type: o.type,
    title: o.title,
    format: o.format,
    sizeBytes: artifact.sizeBytes,
    sha256: artifact.sha256,
    artifactId: artifact.id,
    ...(o.recordCount !== undefined ? { recordCount: o.recordCount } : {}),
  };
  return stored;
}
