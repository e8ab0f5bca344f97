import fs from 'node:fs';
import path from 'node:path';
import type { CellResult } from '../api/types';
import { deleteArtifacts, storeArtifact } from '../domain/artifacts';
import { CellError, JobInputError, KernelDiedError, LostJobError, RunFileError } from '../domain/jobErrors';
import type { StoredCell } from '../domain/cells';
import { datasetDir, deleteDataset, storeDataset } from '../domain/datasets';
import { cleanText, runInKernel, type CellOutcome, type CellToRun, type NbOutput } from '../kernels/execute';
import { INJECTED_PARAMETERS_TAG, injectedParametersSource, parametersCellIndex } from '../domain/parameters';
import type { KernelPlace, KernelServers } from '../kernels/servers';
import { renderNotebookReport } from '../kernels/report';
import { copyRunFile, readRunFile } from '../kernels/runFiles';
import type { JobContext, JobRunner } from './runners';
import { InvalidError } from '../domain/errors';
import { requireInstalledKernel, selectRange } from '../domain/runChecks';
import * as lifecycle from '../domain/lifecycle';
import { cutText } from '../domain/text';
import { findNotebook, type NotebookRow } from '../store/notebooks';
import { randomUUID } from 'node:crypto';

/** Output content larger than this is truncated in the status; the whole output is an artifact. */
const INLINE_LIMIT = 64 * 1024;
/** Output content one execution keeps inline (in the store); beyond it outputs are files only. */
const INLINE_TOTAL_LIMIT = 1024 * 1024;
/** Output one notebook keeps in its cells (read by every GET of the notebook). */
const NOTEBOOK_OUTPUTS_LIMIT = 2 * 1024 * 1024;
/** The manifest of what a notebook published through the `assay` module, and its limits. */
const MANIFEST = 'assay-outputs.json';
const MANIFEST_LIMIT_BYTES = 1024 * 1024;
const MAX_PUBLISHED = 100;

/** An output of a cell as the execution stores it (the contract's ExecutionOutput plus its artifact). */
interface StoredOutput {
  cellId: string;
  outputType: string;
  contentType?: string;
  title?: string;
  content?: unknown;
  truncated?: boolean;
  sizeBytes?: number;
  artifactId?: string;
}

/** Settings of Notebook jobs (the configuration's kernel limits). */
export interface NotebookRunnerOptions {
  /** Largest file (enriched dataset, model) a notebook may publish. */
  publishLimitBytes: number;
  /** Bytes one run may publish in all (its run directory's size: no run publishes more than it wrote). */
  publishTotalBytes: number;
}

/**
 * Jupyter notebooks as Notebook jobs: the notebook's code cells (all, or a range) run in order
 * in a fresh kernel of its kernelspec, in a sandbox of the execution's own, with the execution's
 * parameters injected after the cell tagged `parameters`. The bound dataset is handed in
 * read-only as `dataset.csv`; what the notebook publishes through the `assay` module becomes
 * datasets and model files of the project, read from the run directory as hostile input once
 * every process of the run has ended.
 */
export function notebookRunner(servers: KernelServers, options: NotebookRunnerOptions): JobRunner {
  return async (ctx) => {
    const plan = await planRun(ctx, servers);
    const notebookId = plan.notebook.id;
    const executionId = ctx.job.execution_id ?? (await newExecution(ctx, notebookId));
    await lifecycle.executionStarted(ctx.db, executionId, notebookId);
    const started = Date.now();

    const outcomes: CellOutcome[] = [];
    let place: KernelPlace | undefined;
    // A cancel or timeout ends the sandbox at once, whatever the run is waiting for.
    const stopPlace = () => void place?.stop();
    ctx.signal.addEventListener('abort', stopPlace);
    try {
      await ctx.progress('Preparing kernel', 2, { cellsDone: 0, cellsTotal: plan.cells.length, currentCell: null });
      ctx.signal.throwIfAborted();
      place = await openPlace(ctx, servers, plan.notebook);
      const run = await runCells(ctx, place, plan, executionId, outcomes);
      // Nothing of the run may still be writing while its files are read.
      await place.stop();
      const memory = Boolean(run.died?.memory) || place.memoryRanOut();
      await ctx.progress('Writing outputs', 92, { cellsDone: outcomes.length, currentCell: null });
      const outputs = await storeOutputs(ctx, executionId, outcomes);
      const cellFailure = outcomes.find((o) => o.status === 'Error');
      let failed: RunFailure | null = cellFailure
        ? {
            errorType: cellFailure.errorType ?? 'Error',
            errorMessage: cellFailure.errorMessage ?? '',
            cellId: cellFailure.cellId,
          }
        : null;
      const products = emptyProducts();
      if (!failed) {
        try {
          await publishProducts(ctx, place.runDir, executionId, options, products);
        } catch (err) {
          if (!(err instanceof RunFileError)) throw err;
          failed = { errorType: err.name, errorMessage: err.message, cellId: null };
        }
      }
      const executed = executedCells(plan, outcomes);
      if (plan.options.generateReport) products.reports.push(await storeReport(ctx, plan.notebook.name, executed));
      ctx.signal.throwIfAborted();
      const finished = await finishExecution(ctx, notebookId, executionId, {
        status: failed ? 'Error' : 'Completed',
        cells: cellResults(plan.cells, outcomes),
        outputs,
        products,
        error: failed,
        executed,
        parameters: plan.options.parameters ?? {},
        resources: run.resources,
        kernelDead: Boolean(run.died),
        seconds: (Date.now() - started) / 1000,
      });
      if (!finished) {
        // Cancelled or taken over while the outputs were written: what this run published goes.
        await takeBack(ctx, products);
        throw ctx.signal.aborted ? ctx.signal.reason : new LostJobError(String(ctx.job.id));
      }
      throwIfFailed(run, memory, cellFailure, failed);
    } catch (err) {
      await recordStop(ctx, executionId, err, cellResults(plan.cells, outcomes));
      throw err;
    } finally {
      ctx.signal.removeEventListener('abort', stopPlace);
      await place?.dispose();
    }
  };
}

/** Why a run failed, as the execution records it. */
interface RunFailure {
  errorType: string;
  errorMessage: string;
  cellId: string | null;
}

/** How a run was asked for: from POST .../execute, the execution's options; from the job API, parameters. */
interface RunOptions {
  executionMode?: string;
  cellRange?: { startCell: string; endCell: string };
  parameters?: Record<string, unknown>;
  generateReport?: boolean;
}

/** What a run will do, checked before anything starts. */
interface RunPlan {
  notebook: NotebookRow;
  options: RunOptions;
  kernelName: string;
  stored: StoredCell[];
  cells: CellToRun[];
}

/** Reads the notebook and picks the cells; the kernel and the range were checked at submit, but may have changed since. */
async function planRun(ctx: JobContext, servers: KernelServers): Promise<RunPlan> {
  const notebook = await findNotebook(ctx.db, ctx.scope.projectId, ctx.job.resource_id);
  if (!notebook) throw new JobInputError('The notebook no longer exists.');
  const raw = ctx.job.parameters;
  const options: RunOptions = 'executionMode' in raw ? (raw as RunOptions) : { parameters: raw };
  const kernelName = notebook.kernel_type ?? 'python3';
  const stored = (notebook.cells as StoredCell[] | null) ?? [];
  try {
    requireInstalledKernel(await servers.kernelNames(), kernelName, 'kernelType', 'nothing ran');
    return { notebook, options, kernelName, stored, cells: cellsToRun(stored, options) };
  } catch (err) {
    throw err instanceof InvalidError ? new JobInputError(err.message) : err;
  }
}

/** A sandbox of the run's own, with the bound dataset handed in as `dataset.csv`. */
async function openPlace(ctx: JobContext, servers: KernelServers, notebook: NotebookRow): Promise<KernelPlace> {
  const binding = (notebook.integration as { datasetBinding?: string | null } | null)?.datasetBinding;
  return servers.open(ctx.scope.tenantId, ctx.workDir, async (inputDir) => {
    if (binding) {
      const target = path.join(inputDir, 'dataset.csv');
      await ctx.engine.exportLog(datasetDir(ctx.dataDir, binding), 'csv', target, ctx.signal);
    }
  });
}

/** Runs the plan's cells in a fresh kernel of the sandbox, reporting progress per cell. */
function runCells(ctx: JobContext, place: KernelPlace, plan: RunPlan, executionId: string, outcomes: CellOutcome[]) {
  const setup = [
    'import os as _os, sys as _sys',
    `_os.chdir(${JSON.stringify(place.inside.runDir)})`,
    `_os.environ['ASSAY_RUN_DIR'] = ${JSON.stringify(place.inside.runDir)}`,
    `_os.environ['ASSAY_INPUT_DIR'] = ${JSON.stringify(place.inside.inputDir)}`,
    ...(place.inside.python ? [`_sys.path.insert(0, ${JSON.stringify(place.inside.python)})`] : []),
    'del _os, _sys',
  ].join('\n');
  const total = plan.cells.length;
  const liveBudget = { inline: INLINE_TOTAL_LIMIT };
  return runInKernel(place, {
    kernelName: plan.kernelName,
    setup,
    cells: plan.cells,
    signal: ctx.signal,
    onCellStart: async (index, cell) => {
      await ctx.progress(`Running cell ${index + 1} of ${total}`, 5 + (index / total) * 85, {
        cellsDone: index,
        cellsTotal: total,
        currentCell: cell.cellId,
      });
      await ctx.report.cellStarted(executionId, { cellId: cell.cellId, index });
    },
    onCellDone: async (index, outcome) => {
      outcomes.push(outcome);
      for (const out of outcome.outputs) {
        if (out.output_type === 'stream' && out.name === 'stderr') await ctx.report.log('stderr', out.text);
        await ctx.report.cellOutput(executionId, outcome.cellId, liveOutput(outcome.cellId, out, liveBudget));
      }
      await ctx.report.cellCompleted(executionId, {
        cellId: outcome.cellId,
        index,
        status: outcome.status,
        durationMs: Math.round(outcome.durationSeconds * 1000),
        ...(outcome.errorType !== undefined && { errorType: outcome.errorType }),
        ...(outcome.errorMessage !== undefined && { errorMessage: cutText(outcome.errorMessage, INLINE_LIMIT) }),
      });
    },
  });
}

/** The HTML report of the executed notebook, stored as the run's primary output. */
async function storeReport(ctx: JobContext, notebookName: string, executed: ReturnType<typeof executedCells>) {
  const title = `${notebookName} report`;
  const report = await ctx.output({
    role: 'primary',
    type: 'NotebookReport',
    title,
    format: 'html',
    fileName: 'notebook-report.html',
    contentType: 'text/html; charset=utf-8',
    content: renderNotebookReport(notebookName, executed),
  });
  return { name: title, format: 'html', artifactId: report.artifactId! };
}

/** Fails the job when the kernel died, a cell failed or publishing was refused (the execution is already recorded). */
function throwIfFailed(
  run: { died?: { cellId: string; reason: string } | null },
  memory: boolean,
  cellFailure: CellOutcome | undefined,
  failed: RunFailure | null,
): void {
  if (run.died) {
    throw new KernelDiedError(
      `The kernel died in cell ${run.died.cellId} (${run.died.reason})${memory ? '; memory ran out' : ''}.`,
    );
  }
  if (cellFailure) {
    throw new CellError(`Cell ${cellFailure.cellId} failed: ${cellFailure.errorType}: ${cellFailure.errorMessage}`);
  }
  if (failed) throw new CellError(`${failed.errorType}: ${failed.errorMessage}`);
}

/**
 * Records a run that stopped before its execution was finished: Cancelled when the user or a
 * shutdown stopped it, Error otherwise. A dead kernel or a failed cell was recorded already.
 */
async function recordStop(ctx: JobContext, executionId: string, err: unknown, cells: CellResult[]): Promise<void> {
  if (!ctx.signal.aborted && (err instanceof KernelDiedError || err instanceof CellError)) return;
  const reason = (ctx.signal.aborted ? ctx.signal.reason : err) as Error;
  const kind = stopKind(ctx.signal);
  await lifecycle.executionStopped(
    ctx.db,
    executionId,
    kind === 'cancelled' || kind === 'shutdown' ? 'Cancelled' : 'Error',
    { errorType: reason.name, errorMessage: reason.message, cellId: null },
    cells,
  );
}

/** Why the worker stopped the run (cancelled, timeout, shutdown), if it did. */
function stopKind(signal: AbortSignal): string | null {
  return signal.aborted ? ((signal.reason as { stop?: { kind?: string } }).stop?.kind ?? 'cancelled') : null;
}

/** The code cells to run, with the injected parameters cell where papermill puts it. */
function cellsToRun(
  stored: StoredCell[],
  options: {
    executionMode?: string;
    cellRange?: { startCell: string; endCell: string };
    parameters?: Record<string, unknown>;
  },
): CellToRun[] {
  const chosen = selectRange(stored, options, { one: 'a cell', many: 'cells' });
  // The parameters a previous run injected are not the notebook's code: this run injects its own.
  const cells: CellToRun[] = chosen
    .filter((c) => c.cell_type === 'code' && !isInjected(c))
    .map((c) => ({ cellId: c.id, source: c.source }));
  const given = options.parameters ?? {};
  if (Object.keys(given).length > 0) {
    const tagged = parametersCellIndex(
      stored.map((c) => ({ cellType: c.cell_type, source: c.source, tags: tagsOf(c) })),
    );
    const injected = { cellId: INJECTED_CELL_ID, source: injectedParametersSource(given) };
    const after = tagged >= 0 ? cells.findIndex((c) => c.cellId === stored[tagged].id) : -1;
    cells.splice(after + 1, 0, injected);
  }
  return cells;
}

/** The id of the injected parameters cell, in results and in the executed notebook. */
const INJECTED_CELL_ID = 'injected-parameters';

function isInjected(cell: StoredCell): boolean {
  return tagsOf(cell).includes(INJECTED_PARAMETERS_TAG);
}

function tagsOf(cell: StoredCell): string[] {
  return ((cell.metadata as { tags?: string[] }).tags ?? []) as string[];
}

/**
 * Per-cell outputs for the status and results: small ones inline, images and large ones as
 * artifacts. What is kept inline (in the store, read by every status request) is bounded per
 * execution; beyond it outputs are only files.
 */
async function storeOutputs(ctx: JobContext, executionId: string, outcomes: CellOutcome[]): Promise<StoredOutput[]> {
  const stored: StoredOutput[] = [];
  const budget = { inline: INLINE_TOTAL_LIMIT };
  const artifact = (content: Buffer | string, fileName: string, contentType: string, kind: string, title: string) =>
    storeArtifact(ctx.db, ctx.dataDir, ctx.scope.projectId, {
      content,
      fileName,
      contentType,
      kind,
      title,
      executionId,
      fence: ctx.fence,
    });
  for (const o of outcomes) {
    for (const [i, out] of o.outputs.entries()) {
      const base = { cellId: o.cellId, fileName: `${o.cellId}-${i}` };
      if (out.output_type === 'stream') {
        stored.push(
          await inline(base, 'stream', 'text/plain', out.text, `${out.name} of ${o.cellId}`, artifact, budget),
        );
      } else if (out.output_type === 'error') {
        const content = cutText(`${out.ename}: ${out.evalue}`, INLINE_LIMIT);
        stored.push({ cellId: o.cellId, outputType: 'error', contentType: 'text/plain', title: out.ename, content });
      } else {
        const data = out.data;
        const title = `Output of ${o.cellId}`;
        if (typeof data['image/png'] === 'string') {
          const png = Buffer.from(data['image/png'], 'base64');
          const a = await artifact(png, `${base.fileName}.png`, 'image/png', 'Plot', `Plot of ${o.cellId}`);
          stored.push({
            cellId: o.cellId,
            outputType: 'image/png',
            contentType: 'image/png',
            title: `Plot of ${o.cellId}`,
            sizeBytes: png.length,
            artifactId: a.id,
          });
        } else if (data['application/json'] !== undefined) {
          stored.push(await inlineJson(base, data['application/json'], title, artifact, budget));
        } else if (data['text/html'] !== undefined) {
          stored.push(
            await inline(base, out.output_type, 'text/html', textOf(data['text/html']), title, artifact, budget),
          );
        } else if (data['text/plain'] !== undefined) {
          stored.push(
            await inline(base, out.output_type, 'text/plain', textOf(data['text/plain']), title, artifact, budget),
          );
        }
      }
    }
  }
  return stored;
}

/**
 * An output as a `cell.output` event shows it while the run goes on: the results' shape and
 * inline bounds (`budget` is the run's), without the files the results add once the run ends.
 */
function liveOutput(cellId: string, out: NbOutput, budget: { inline: number }): Record<string, unknown> {
  const textOutput = (outputType: string, contentType: string, title: string, text: string) => {
    const size = Buffer.byteLength(text);
    const room = Math.max(0, Math.min(INLINE_LIMIT, budget.inline));
    const content = size <= room ? text : cutText(text, room);
    budget.inline -= Buffer.byteLength(content);
    return {
      cellId,
      outputType,
      contentType,
      title,
      content,
      sizeBytes: size,
      ...(size > room && { truncated: true }),
    };
  };
  if (out.output_type === 'stream') return textOutput('stream', 'text/plain', `${out.name} of ${cellId}`, out.text);
  if (out.output_type === 'error') {
    const content = cutText(`${out.ename}: ${out.evalue}`, INLINE_LIMIT);
    return { cellId, outputType: 'error', contentType: 'text/plain', title: out.ename, content };
  }
  const data = out.data;
  const title = `Output of ${cellId}`;
  if (typeof data['image/png'] === 'string') {
    const sizeBytes = Buffer.from(data['image/png'], 'base64').length;
    return { cellId, outputType: 'image/png', contentType: 'image/png', title: `Plot of ${cellId}`, sizeBytes };
  }
  if (data['application/json'] !== undefined) {
    const text = JSON.stringify(data['application/json']);
    const size = Buffer.byteLength(text);
    const kind = { cellId, outputType: 'application/json', contentType: 'application/json', title, sizeBytes: size };
    if (size > Math.min(INLINE_LIMIT, budget.inline)) return { ...kind, truncated: true };
    budget.inline -= size;
    return { ...kind, content: data['application/json'] };
  }
  if (data['text/html'] !== undefined)
    return textOutput(out.output_type, 'text/html', title, textOf(data['text/html']));
  return textOutput(out.output_type, 'text/plain', title, textOf(data['text/plain'] ?? ''));
}

type StoreFile = (c: string, f: string, t: string, k: string, ti: string) => Promise<{ id: string }>;

/** A text output: inline when small and the execution's inline budget allows, else a file with a head inline. */
async function inline(
  base: { cellId: string; fileName: string },
  outputType: string,
  contentType: string,
  text: string,
  title: string,
  artifact: StoreFile,
  budget: { inline: number },
): Promise<StoredOutput> {
  const size = Buffer.byteLength(text);
  const cellId = base.cellId;
  if (size <= Math.min(INLINE_LIMIT, budget.inline)) {
    budget.inline -= size;
    return { cellId, outputType, contentType, title, content: text, sizeBytes: size };
  }
  const ext = contentType === 'text/html' ? 'html' : 'txt';
  const a = await artifact(text, `${base.fileName}.${ext}`, `${contentType}; charset=utf-8`, 'CellOutput', title);
  const head = cutText(text, Math.min(INLINE_LIMIT, budget.inline));
  budget.inline -= Buffer.byteLength(head);
  return { cellId, outputType, contentType, title, content: head, truncated: true, sizeBytes: size, artifactId: a.id };
}

/** A JSON output: inline when small and the budget allows, else a file only. */
async function inlineJson(
  base: { cellId: string; fileName: string },
  value: unknown,
  title: string,
  artifact: StoreFile,
  budget: { inline: number },
): Promise<StoredOutput> {
  const text = JSON.stringify(value);
  const size = Buffer.byteLength(text);
  const kind = { cellId: base.cellId, outputType: 'application/json', contentType: 'application/json', title };
  if (size <= Math.min(INLINE_LIMIT, budget.inline)) {
    budget.inline -= size;
    return { ...kind, content: value, sizeBytes: size };
  }
  const a = await artifact(text, `${base.fileName}.json`, 'application/json', 'CellOutput', title);
  return { ...kind, truncated: true, sizeBytes: size, artifactId: a.id };
}

/** A MIME bundle's text value: a string, or lines nbformat may split it into; anything else as JSON. */
function textOf(value: unknown): string {
  const part = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
  return Array.isArray(value) ? value.map(part).join('') : part(value);
}

type Products = ReturnType<typeof emptyProducts>;

function emptyProducts() {
  return {
    enrichedDatasets: [] as {
      name: string;
      datasetId: string;
      recordCount: number;
      newColumns: string[];
      format: string;
    }[],
    models: [] as {
      name: string;
      modelType: string;
      accuracy: number | null;
      metrics: Record<string, number>;
      artifactId: string;
    }[],
    reports: [] as { name: string; format: string; artifactId: string }[],
  };
}

/**
 * What the notebook published through the `assay` module: enriched datasets and models, named
 * in the run's manifest. Files are copied out of the run directory (never linked or moved) and
 * must be regular files; an enriched dataset that loses rows on import fails the step.
 */
async function publishProducts(
  ctx: JobContext,
  runDir: string,
  executionId: string,
  limits: NotebookRunnerOptions,
  products: Products,
): Promise<void> {
  const manifest = await readRunFile(runDir, MANIFEST, MANIFEST_LIMIT_BYTES);
  if (!manifest) return;
  let remaining = limits.publishTotalBytes;
  try {
    for (const [index, entry] of parseManifest(manifest).entries()) {
      ctx.signal.throwIfAborted();
      const copy = path.join(ctx.workDir, `published-${index}${entry.kind === 'enriched' ? '.csv' : ''}`);
      // A sparse file, or one named many times, must not turn a small run into many large copies.
      remaining -= await copyRunFile(runDir, entry.file, copy, Math.min(limits.publishLimitBytes, remaining));
      if (entry.kind === 'enriched') {
        products.enrichedDatasets.push(await publishEnriched(ctx, copy, entry));
      } else {
        const a = await storeArtifact(ctx.db, ctx.dataDir, ctx.scope.projectId, {
          content: { file: copy },
          fileName: entry.file,
          contentType: 'application/octet-stream',
          kind: 'AnalyticsModel',
          title: entry.name,
          executionId,
          fence: ctx.fence,
        });
        products.models.push({
          name: entry.name,
          modelType: entry.modelType,
          accuracy: entry.metrics.accuracy ?? null,
          metrics: entry.metrics,
          artifactId: a.id,
        });
      }
    }
  } catch (err) {
    // All or nothing: what was published before the refusal (or a cancel) is taken back.
    await takeBack(ctx, products);
    throw err;
  }
}

/** Deletes the datasets, models and reports a run published. */
async function takeBack(ctx: JobContext, products: Products): Promise<void> {
  const files = [...products.models, ...products.reports].map((p) => p.artifactId);
  await deleteArtifacts(ctx.db, ctx.dataDir, files);
  for (const d of products.enrichedDatasets) await deleteDataset(ctx.db, ctx.dataDir, ctx.scope, d.datasetId);
  products.models.length = 0;
  products.reports.length = 0;
  products.enrichedDatasets.length = 0;
}

/** Imports an enriched CSV as a dataset of the project; every row the notebook wrote must arrive. */
async function publishEnriched(ctx: JobContext, file: string, entry: EnrichedEntry) {
  const header = firstLine(file).split(',');
  const dataset = await storeDataset(
    ctx.db,
    ctx.engine,
    ctx.dataDir,
    ctx.scope,
    { path: file, originalName: entry.file, size: fs.statSync(file).size },
    {
      name: entry.name,
      caseIdColumn: 'case_id',
      activityColumn: 'activity',
      timestampColumn: 'timestamp',
      resourceColumn: header.includes('resource') ? 'resource' : undefined,
    },
    { storageLimitBytes: ctx.fence.storageLimitBytes },
  ).catch((err: unknown) => {
    throw new RunFileError(`The enriched dataset '${entry.name}' could not be imported: ${(err as Error).message}`);
  });
  const warnings = dataset.importWarnings.warnings;
  if (dataset.eventCount !== entry.recordCount || dataset.importWarnings.invalidRowCount > 0) {
    await deleteDataset(ctx.db, ctx.dataDir, ctx.scope, dataset.datasetId);
    const first = warnings[0] ? ` (first: line ${String(warnings[0].line)}: ${warnings[0].message})` : '';
    throw new RunFileError(
      `The enriched dataset '${entry.name}' has ${entry.recordCount} rows, but ${dataset.eventCount ?? 0} could be imported${first}; nothing was published.`,
    );
  }
  return {
    name: entry.name,
    datasetId: dataset.datasetId,
    recordCount: entry.recordCount,
    newColumns: entry.newColumns,
    format: 'csv',
  };
}

interface EnrichedEntry {
  kind: 'enriched';
  name: string;
  file: string;
  recordCount: number;
  newColumns: string[];
}
interface ModelEntry {
  kind: 'model';
  name: string;
  file: string;
  modelType: string;
  metrics: Record<string, number>;
}

/** The manifest the `assay` module writes, checked field by field: it is the notebook's word only. */
function parseManifest(content: Buffer): (EnrichedEntry | ModelEntry)[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch {
    throw new RunFileError(`${MANIFEST} is not valid JSON.`);
  }
  if (!Array.isArray(parsed)) throw new RunFileError(`${MANIFEST} must be a list of published outputs.`);
  if (parsed.length > MAX_PUBLISHED) throw new RunFileError(`A notebook may publish at most ${MAX_PUBLISHED} outputs.`);
  const files = new Set<string>();
  return parsed.map((raw: unknown, i) => {
    const e = (raw ?? {}) as Record<string, unknown>;
    const where = `${MANIFEST} entry ${i}`;
    const name = text(e.name, `${where}: name`);
    const file = text(e.file, `${where}: file`);
    if (files.has(file)) throw new RunFileError(`${where}: ${file} is published twice.`);
    files.add(file);
    if (e.kind === 'enriched') {
      if (!Number.isSafeInteger(e.recordCount) || (e.recordCount as number) < 0)
        throw new RunFileError(`${where}: recordCount must be a count of rows.`);
      const columns = Array.isArray(e.newColumns) ? e.newColumns : [];
      return {
        kind: 'enriched',
        name,
        file,
        recordCount: e.recordCount as number,
        newColumns: columns.slice(0, 1000).map((c, j) => text(c, `${where}: newColumns[${j}]`)),
      };
    }
    if (e.kind === 'model') {
      const metrics: Record<string, number> = {};
      for (const [k, v] of Object.entries((e.metrics ?? {}) as Record<string, unknown>).slice(0, 100)) {
        if (typeof v === 'number' && Number.isFinite(v)) metrics[text(k, `${where}: metric name`)] = v;
      }
      return { kind: 'model', name, file, modelType: text(e.modelType ?? 'unknown', `${where}: modelType`), metrics };
    }
    throw new RunFileError(`${where}: kind must be 'enriched' or 'model'.`);
  });
}

/** A short printable string from the manifest, or a refusal naming the field. */
function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200 || hasControl(value)) {
    throw new RunFileError(`${field} must be a text of 1 to 200 printable characters.`);
  }
  return cleanText(value);
}

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) < 0x20) return true;
  return false;
}

/** The header line of a CSV, without reading the whole file. */
function firstLine(file: string): string {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, n).split(/\r?\n/, 1)[0];
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The notebook's cells with the outputs of this run, as nbformat stores them, and as papermill
 * writes an executed notebook: the cell of injected parameters, tagged `injected-parameters`,
 * after the cell tagged `parameters` (or first), in place of a previous run's. The notebook is
 * read whole by every GET, so the outputs it keeps are bounded; larger ones are replaced by a
 * note (the execution's results keep them).
 */
function executedCells(plan: Pick<RunPlan, 'stored' | 'cells'>, outcomes: CellOutcome[]): StoredCell[] {
  const stored = plan.stored.filter((c) => !isInjected(c));
  const injected = plan.cells.find((c) => c.cellId === INJECTED_CELL_ID);
  if (injected) {
    const cell: StoredCell = {
      id: INJECTED_CELL_ID,
      cell_type: 'code',
      source: injected.source,
      metadata: { tags: [INJECTED_PARAMETERS_TAG] },
      outputs: [],
      execution_count: null,
      assay: { lastModified: new Date().toISOString(), lastExecuted: null, executionStatus: null },
    };
    const tagged = parametersCellIndex(
      stored.map((c) => ({ cellType: c.cell_type, source: c.source, tags: tagsOf(c) })),
    );
    stored.splice(tagged + 1, 0, cell);
  }
  const byId = new Map(outcomes.map((o) => [o.cellId, o]));
  const now = new Date().toISOString();
  let budget = NOTEBOOK_OUTPUTS_LIMIT;
  const keep = (out: NbOutput): NbOutput => {
    const size = Buffer.byteLength(JSON.stringify(out));
    if (size <= budget) {
      budget -= size;
      return out;
    }
    const text = `[Assay: an output of ${size} bytes is not kept in the notebook; the execution's results have it.]\n`;
    return { output_type: 'stream', name: 'stderr', text };
  };
  return stored.map((c) => {
    const o = byId.get(c.id);
    if (!o || c.cell_type !== 'code') return c;
    return {
      ...c,
      outputs: o.outputs.map(keep),
      execution_count: o.executionCount,
      assay: { ...c.assay, lastExecuted: now, executionStatus: o.status },
    };
  });
}

function cellResults(cells: CellToRun[], outcomes: CellOutcome[]): CellResult[] {
  const byId = new Map(outcomes.map((o) => [o.cellId, o]));
  return cells.map((c) => {
    const o = byId.get(c.cellId);
    if (!o) return { cellId: c.cellId, status: 'Skipped' };
    return {
      cellId: c.cellId,
      status: o.status,
      executionTime: `${o.durationSeconds} seconds`,
      executionTimeSeconds: o.durationSeconds,
      hasOutput: o.outputs.length > 0,
      outputType: o.outputs[0]?.output_type ?? null,
      errorType: o.errorType ?? null,
      errorMessage: o.errorMessage ?? null,
    };
  });
}

/** Records the run's results and the notebook's cells with their outputs, while the run holds its job. */
function finishExecution(
  ctx: JobContext,
  notebookId: string,
  executionId: string,
  r: {
    status: 'Completed' | 'Error';
    cells: CellResult[];
    outputs: StoredOutput[];
    products: Products;
    error: { errorType: string; errorMessage: string; cellId: string | null } | null;
    executed: StoredCell[];
    parameters: Record<string, unknown>;
    resources: { peakMemoryBytes: number; cpuSeconds: number } | null;
    kernelDead: boolean;
    seconds: number;
  },
): Promise<boolean> {
  return lifecycle.executionFinished(ctx.db, {
    executionId,
    notebookId,
    results: {
      status: r.status,
      cell_results: r.cells,
      outputs: r.outputs,
      error: r.error,
      products: r.products,
      resources: r.resources,
    },
    notebook: {
      status: r.kernelDead ? 'Kernel_Dead' : r.status === 'Error' ? 'Error' : 'Ready',
      seconds: r.seconds,
      cells: r.executed,
      // Where papermill records the parameters of the run that wrote the notebook.
      papermill: { parameters: r.parameters },
    },
    fence: ctx.fence,
  });
}

/** An execution for a Notebook job submitted through the job API (not by execute). */
async function newExecution(ctx: JobContext, notebookId: string): Promise<string> {
  const id = randomUUID();
  await lifecycle.executionAccepted(
    ctx.db,
    {
      id,
      notebookId,
      jobId: ctx.job.id,
      parameters: (ctx.job.parameters as { parameters?: Record<string, unknown> }).parameters ?? {},
      createdBy: ctx.job.submitted_by,
    },
    true,
  );
  return id;
}
