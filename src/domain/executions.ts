import { randomUUID } from 'node:crypto';
import type {
  CellResult,
  ExecutionOutput,
  ExecutionResults,
  NotebookExecuteRequest as ExecuteRequest,
  NotebookExecution,
} from '../api/types';
import { eventsFile, parquetRelation, type Engine } from '../engine/engine';
import { renderOptionsOf, renderProcessMap, type ProcessMapDocument } from '../engine/render';
import { artifactUrl, storeArtifact, type ArtifactFence } from './artifacts';
import { createJob, queueEstimate, typicalDuration, type JobQueue } from './jobs';
import { describeBytes, describeSeconds } from './units';
import type { StoredCell } from './cells';
import { requireFittingParameters, requireInstalledKernel, selectRange } from './runChecks';
import { runBlocks, type BlockOutcome, type PipelineBlock } from '../engine/pipeline';
import type { Db } from '../store/db';
import * as executionStore from '../store/executions';
import { jobById } from '../store/jobs';
import * as notebookStore from '../store/notebooks';
import * as lifecycle from './lifecycle';
import { datasetDir } from './datasets';
import { projectModels } from './models';
import { ConflictError, DomainError, NotFoundError } from './errors';
import { isoOrNull, type Scope } from './scope';

/**
 * Starts executing a standard notebook: its enabled blocks in `blockOrder` (all, or a cell range)
 * on its investigation's dataset, as an Analysis job on the queue. The execution is recorded
 * now, Running from acceptance with its place in the queue; a worker runs it (runExecution).
 */
export async function executeNotebook(
  db: Db,
  queue: JobQueue,
  scope: Scope,
  notebookId: string,
  request: ExecuteRequest,
  kernelNames: () => Promise<string[]>,
): Promise<NotebookExecution> {
  const executionId = randomUUID();
  const jobId = randomUUID();
  const notebook = await db.transaction(async (tx) => {
    const notebook = await notebookStore.findNotebook(tx, scope.projectId, notebookId, true);
    if (!notebook) throw new NotFoundError('NOTEBOOK_NOT_FOUND', 'NotebookId', notebookId);
    if (notebook.status === 'Running') {
      throw new ConflictError('NOTEBOOK_LOCKED', 'Cancel the running execution or wait for it to finish, then retry.', {
        NotebookId: notebookId,
        CurrentStatus: 'Running',
      });
    }
    if (notebook.notebook_type === notebookStore.NOTEBOOK_TYPE.standard) {
      selectRange(await notebookStore.blocksOf(tx, notebookId, true), request, BLOCKS);
    } else {
      await checkJupyterExecution(notebook, request, kernelNames);
    }
    await lifecycle.executionAccepted(tx, {
      id: executionId,
      notebookId,
      jobId,
      parameters: request.parameters ?? {},
      createdBy: scope.actor,
    });
    return notebook;
  });
  const jupyter = notebook.notebook_type === notebookStore.NOTEBOOK_TYPE.jupyter;
  try {
    await createJob(db, queue, {
      id: jobId,
      scope,
      submittedBy: scope.actor,
      executionId,
      request: {
        jobName: `Execute ${notebook.name}`,
        jobType: jupyter ? 'Notebook' : 'Analysis',
        priority: request.priority ?? 'Normal',
        resource: { resourceType: 'Notebook', resourceId: notebookId },
        parameters: {
          executionMode: request.executionMode ?? 'all',
          ...(request.cellRange ? { cellRange: request.cellRange } : {}),
          ...(request.parameters ? { parameters: request.parameters } : {}),
          ...(request.outputOptions?.generateReport ? { generateReport: true } : {}),
        },
        scheduling: request.timeout ? { timeoutMinutes: request.timeout / 60 } : undefined,
      },
    });
  } catch (err) {
    // A refused job leaves no trace; one the queue failed to take stays as a failed execution.
    const queueError = err instanceof DomainError ? null : (err as Error).message;
    await lifecycle.executionNotQueued(db, executionId, notebookId, queueError);
    throw err;
  }
  return getExecution(db, scope, notebookId, executionId);
}

/**
 * Checks a Jupyter execution before anything is queued: the kernelspec is installed, the cell
 * range names cells in order, and the parameters fit the notebook's parameters cell.
 */
async function checkJupyterExecution(
  notebook: notebookStore.NotebookRow,
  request: ExecuteRequest,
  kernelNames: () => Promise<string[]>,
): Promise<void> {
  requireInstalledKernel(await kernelNames(), notebook.kernel_type ?? 'python3', 'kernelType', 'nothing was queued');
  const cells = (notebook.cells as StoredCell[] | null) ?? [];
  selectRange(cells, request, CELLS);
  requireFittingParameters(cells, request.parameters ?? {});
}

/** How a worker's execution reports: after each block, and whether it may still write. */
export interface ExecutionHooks {
  signal: AbortSignal;
  onBlock(done: number, total: number, outcome: BlockOutcome): Promise<void>;
  /** Artifacts of the execution also belong to this job (fenced by its attempt). */
  fence: ArtifactFence;
}

/**
 * Runs an execution recorded by executeNotebook (or by a Pipeline job): the notebook's enabled
 * blocks, stopping at the first error, then stores per-block results, outputs and rendered maps.
 * Returns the outputs' count and the events read. Throws the abort reason when stopped.
 */
export async function runExecution(
  db: Db,
  engine: Engine,
  dataDir: string,
  scope: Scope,
  executionId: string,
  options: { executionMode?: string; cellRange?: ExecuteRequest['cellRange']; datasetId?: string },
  hooks: ExecutionHooks,
): Promise<{ status: 'Completed' | 'Error'; eventsIn: number; outputs: number; error: string | null }> {
  const execution = await executionStore.executionTarget(db, executionId);
  if (!execution) throw new Error(`Execution ${executionId} is gone`);
  const notebookId = execution.notebook_id;
  const datasetId = options.datasetId ?? String(execution.dataset_id);
  const started = new Date();
  await lifecycle.executionStarted(db, executionId, notebookId);
  const all = await notebookStore.blocksOf(db, notebookId, true);
  let blocks: notebookStore.BlockRow[] = [];
  let outcomes: BlockOutcome[] = [];
  let failure: { errorType: string; errorMessage: string; cellId: string | null } | null = null;
  let eventsIn = 0;
  try {
    blocks = selectRange(all, { executionMode: options.executionMode, cellRange: options.cellRange }, BLOCKS);
    const pipeline: PipelineBlock[] = blocks.map((b) => ({
      id: b.id,
      blockType: b.block_type as PipelineBlock['blockType'],
      configuration: JSON.parse(b.configuration),
    }));
    const relation = parquetRelation(eventsFile(datasetDir(dataDir, datasetId)));
    outcomes = await engine.withConnection(
      (con) =>
        runBlocks(
          con,
          relation,
          pipeline,
          (o, i) => hooks.onBlock(i + 1, pipeline.length, o),
          projectModels(db, scope, { signal: hooks.signal, storageLimitBytes: hooks.fence.storageLimitBytes }),
        ),
      hooks.signal,
    );
    eventsIn = outcomes[0]?.eventsIn ?? 0;
    const failed = outcomes.find((o) => o.status === 'Error');
    if (failed?.error) failure = { ...failed.error, cellId: failed.blockId };
  } catch (err) {
    if (hooks.signal.aborted) {
      const reason = hooks.signal.reason as unknown;
      const message = reason instanceof Error ? reason.message : String(reason);
      await lifecycle.executionStopped(db, executionId, 'Cancelled', {
        errorType: 'Cancelled',
        errorMessage: message,
        cellId: null,
      });
      throw reason;
    }
    failure = { errorType: (err as Error).name || 'EngineError', errorMessage: (err as Error).message, cellId: null };
  }
  const rendered = await renderMaps(db, dataDir, scope, executionId, blocks, outcomes, hooks.fence);
  await record(db, { notebookId, executionId, started, fence: hooks.fence }, blocks, outcomes, failure, rendered);
  return {
    status: failure ? 'Error' : 'Completed',
    eventsIn,
    outputs: outcomes.filter((o) => o.output !== undefined).length + rendered.length,
    error: failure ? `${failure.errorType}: ${failure.errorMessage}` : null,
  };
}

/** Releases the notebook of an execution that ended without running (its job was cancelled or failed). */
export async function releaseExecution(db: Db, executionId: string, status: 'Cancelled' | 'Error', message: string) {
  await lifecycle.executionStopped(db, executionId, status, {
    errorType: status === 'Cancelled' ? 'Cancelled' : 'JobFailed',
    errorMessage: message,
    cellId: null,
  });
}

/** An output as stored: the contract's fields, plus the artifact that holds its file. */
type StoredOutput = ExecutionOutput & { artifactId?: string };

/** Renders the SVG of every process map block (unless its configuration says `render: false`) as an artifact. */
async function renderMaps(
  db: Db,
  dataDir: string,
  scope: Scope,
  executionId: string,
  blocks: notebookStore.BlockRow[],
  outcomes: BlockOutcome[],
  fence: ArtifactFence,
): Promise<StoredOutput[]> {
  const outputs: StoredOutput[] = [];
  for (const o of outcomes) {
    const block = blocks.find((b) => b.id === o.blockId)!;
    const config = JSON.parse(block.configuration) as Record<string, unknown>;
    if (o.status !== 'Success' || config.calculatorType !== 'processMap' || config.render === false) continue;
    const svg = await renderProcessMap(o.output as ProcessMapDocument, renderOptionsOf(config));
    const title = `${block.title} (SVG)`;
    const artifact = await storeArtifact(db, dataDir, scope.projectId, {
      content: svg,
      fileName: `process-map-${o.blockId}.svg`,
      contentType: 'image/svg+xml',
      kind: 'ProcessMap',
      title,
      executionId,
      fence,
    });
    outputs.push({
      cellId: o.blockId,
      outputType: 'image/svg+xml',
      contentType: 'image/svg+xml',
      title,
      sizeBytes: artifact.sizeBytes,
      artifactId: artifact.id,
    });
  }
  return outputs;
}

/** How a range names what it runs, in refusals. */
const BLOCKS = { one: 'an enabled block', many: 'blocks' };
const CELLS = { one: 'a cell', many: 'cells' };

/** Records a finished run of a standard notebook: its execution, its blocks' last runs, its notebook. */
async function record(
  db: Db,
  run: { notebookId: string; executionId: string; started: Date; fence: ArtifactFence },
  blocks: notebookStore.BlockRow[],
  outcomes: BlockOutcome[],
  failure: { errorType: string; errorMessage: string; cellId: string | null } | null,
  rendered: StoredOutput[],
): Promise<void> {
  const byId = new Map(outcomes.map((o) => [o.blockId, o]));
  const cellResults: CellResult[] = blocks.map((b) => {
    const o = byId.get(b.id);
    if (!o) return { cellId: b.id, status: 'Skipped' };
    return {
      cellId: o.blockId,
      status: o.status,
      executionTime: `${o.durationSeconds} seconds`,
      executionTimeSeconds: o.durationSeconds,
      hasOutput: o.output !== undefined,
      outputType: o.output !== undefined ? 'application/json' : null,
      errorType: o.error?.errorType ?? null,
      errorMessage: o.error?.errorMessage ?? null,
      casesIn: o.casesIn,
      casesOut: o.casesOut,
      eventsIn: o.eventsIn,
      eventsOut: o.eventsOut,
    };
  });
  const outputs: StoredOutput[] = blocks
    .filter((b) => byId.get(b.id)?.output !== undefined)
    .map((b): StoredOutput => {
      const output = byId.get(b.id)!.output!;
      const json = {
        cellId: b.id,
        outputType: 'application/json',
        contentType: 'application/json',
        title: b.title,
      } as const;
      // The contract types the content by the block's kind: CalculatorOutput or AlertOutput.
      if ('calculatorType' in output) return { ...json, blockType: 'Calculator' as const, content: output };
      return { ...json, blockType: 'Alert' as const, content: output };
    });
  await lifecycle.executionFinished(db, {
    executionId: run.executionId,
    notebookId: run.notebookId,
    results: {
      status: failure ? 'Error' : 'Completed',
      cell_results: cellResults,
      outputs: [...outputs, ...rendered],
      error: failure,
    },
    notebook: { status: failure ? 'Error' : 'Ready', seconds: (Date.now() - run.started.getTime()) / 1000 },
    fence: { jobId: run.fence.jobId, attempt: run.fence.attempt },
    alongside: async (tx, ended) => {
      for (const b of blocks) {
        const o = byId.get(b.id);
        await notebookStore.recordBlockRun(tx, {
          id: b.id,
          at: ended,
          status: o?.status ?? 'Skipped',
          lastExecution: o
            ? {
                durationSeconds: o.durationSeconds,
                casesIn: o.casesIn,
                casesOut: o.casesOut,
                eventsIn: o.eventsIn,
                eventsOut: o.eventsOut,
              }
            : null,
        });
      }
    },
  });
}

/** An execution of a notebook of the project, in the execution shape the notebook API documents. */
export async function getExecution(
  db: Db,
  scope: Scope,
  notebookId: string,
  executionId: string,
): Promise<NotebookExecution> {
  const row = await requireExecution(db, scope, notebookId, executionId);
  const cells = row.cell_results as CellResult[];
  const done = cells.filter((c) => c.status === 'Success' || c.status === 'Error');
  const seconds = row.ended_at && row.started_at ? (row.ended_at.getTime() - row.started_at.getTime()) / 1000 : null;
  const error = row.error;
  // While it runs, its job knows the queue position and the blocks done so far.
  const job = await jobById(db, row.job_id);
  const running = row.status === 'Running';
  const live = job?.progress ?? {};
  const estimate = running && job ? await queueEstimate(db, job) : null;
  const typical = running && job ? await typicalDuration(db, job.job_type) : null;
  return {
    executionId: row.id,
    notebookId: row.notebook_id,
    jobId: row.job_id,
    status: row.status,
    queuePosition: estimate?.position ?? null,
    startTime: isoOrNull(row.started_at),
    endTime: isoOrNull(row.ended_at),
    totalDuration: seconds === null ? null : `${seconds} seconds`,
    totalDurationSeconds: seconds,
    estimatedDuration: typical === null ? null : describeSeconds(typical),
    estimatedDurationSeconds: typical,
    currentCell: running ? (live.currentCell ?? null) : null,
    progress: running
      ? {
          totalCells: live.cellsTotal ?? 0,
          completedCells: live.cellsDone ?? 0,
          successfulCells: live.cellsDone ?? 0,
          failedCells: 0,
          currentCellIndex: live.cellsDone !== undefined && live.cellsTotal ? live.cellsDone : null,
          percentComplete: Math.floor(live.percentage ?? 0),
        }
      : {
          totalCells: cells.length,
          completedCells: done.length,
          successfulCells: cells.filter((c) => c.status === 'Success').length,
          failedCells: cells.filter((c) => c.status === 'Error').length,
          currentCellIndex: null,
          // A run that stopped early (error, cancel) is as far as the cells it got through.
          percentComplete:
            row.status === 'Completed' ? 100 : cells.length ? Math.floor((done.length / cells.length) * 100) : 0,
        },
    parameters: row.parameters,
    cellResults: cells,
    // Peak memory and CPU time of the kernel (Jupyter notebooks), measured in it at the end.
    ...(row.resources ? { resources: resourcesView(row.resources) } : {}),
    outputs: outputSummary(row.outputs as StoredOutput[], row.products as Products),
    error,
  };
}

/** What a Jupyter notebook published: datasets of the project, and model and report files. */
interface Products {
  enrichedDatasets?: { name: string; datasetId: string; recordCount: number; newColumns: string[]; format: string }[];
  models?: {
    name: string;
    modelType: string;
    accuracy: number | null;
    metrics: Record<string, number>;
    artifactId: string;
  }[];
  reports?: { name: string; format: string; artifactId: string }[];
}

/**
 * The status's count of what an execution produced: tables (JSON results and pandas DataFrames
 * shown as HTML), plots (images), models, and the enriched data (all enriched datasets together).
 */
function outputSummary(outputs: StoredOutput[], products: Products): NotebookExecution['outputs'] {
  const isTable = (o: StoredOutput) =>
    o.contentType === 'application/json' ||
    (o.contentType === 'text/html' && typeof o.content === 'string' && o.content.includes('class="dataframe"'));
  const enriched = products.enrichedDatasets ?? [];
  return {
    dataFrames: outputs.filter(isTable).length,
    plots: outputs.filter((o) => (o.contentType ?? '').startsWith('image/')).length,
    models: (products.models ?? []).length,
    enrichedData:
      enriched.length === 0
        ? null
        : {
            recordCount: enriched.reduce((sum, d) => sum + d.recordCount, 0),
            newColumns: [...new Set(enriched.flatMap((d) => d.newColumns))],
          },
  };
}

function resourcesView(r: { peakMemoryBytes: number; cpuSeconds: number }) {
  return {
    peakMemoryUsage: describeBytes(r.peakMemoryBytes),
    peakMemoryBytes: r.peakMemoryBytes,
    cpuTime: describeSeconds(r.cpuSeconds),
    cpuTimeSeconds: r.cpuSeconds,
  };
}

/** The outputs of a finished execution, filtered as the results operation's query parameters ask. */
export async function getResults(
  db: Db,
  scope: Scope,
  notebookId: string,
  executionId: string,
  query: { outputType?: string; format?: string; cellId?: string },
  publicUrl: string,
): Promise<ExecutionResults> {
  const row = await requireExecution(db, scope, notebookId, executionId);
  if (row.status === 'Running') {
    throw new ConflictError(
      'EXECUTION_NOT_FINISHED',
      'Results are available once the execution is Completed, Error or Cancelled.',
      { ExecutionId: executionId, CurrentStatus: 'Running' },
    );
  }
  const kind = query.outputType ?? 'all';
  // JSON documents are data, rendered images are plots.
  let outputs = (row.outputs as StoredOutput[]).filter((o) =>
    kind === 'all'
      ? true
      : kind === 'data'
        ? o.contentType === 'application/json'
        : kind === 'plots'
          ? (o.contentType ?? '').startsWith('image/')
          : false,
  );
  if (query.cellId) outputs = outputs.filter((o) => o.cellId === query.cellId);
  if (query.format === 'summary' || query.format === 'download')
    outputs = outputs.map(({ content: _content, ...rest }) => rest);
  // Files are served by the artifact operation; the stored artifact id becomes its URL.
  const served = outputs.map(({ artifactId, ...o }) =>
    artifactId ? { ...o, downloadUrl: artifactUrl(publicUrl, scope, artifactId) } : o,
  );
  const products = (row.products ?? {}) as Products;
  const datasetUrl = (id: string) =>
    `${publicUrl}/api/${scope.tenantId}/${scope.projectId}/dataset/${id}/download?format=csv`;
  return {
    executionId,
    status: row.status as ExecutionResults['status'],
    outputs: served,
    enrichedDatasets: (products.enrichedDatasets ?? []).map((d) => ({ ...d, downloadUrl: datasetUrl(d.datasetId) })),
    models: (products.models ?? []).map(({ artifactId, ...m }) => ({
      ...m,
      downloadUrl: artifactUrl(publicUrl, scope, artifactId),
    })),
    reports: (products.reports ?? []).map(({ artifactId, ...r }) => ({
      ...r,
      downloadUrl: artifactUrl(publicUrl, scope, artifactId),
    })),
  };
}

export async function requireExecution(
  db: Db,
  scope: Scope,
  notebookId: string,
  executionId: string,
): Promise<executionStore.ExecutionRow> {
  const row = await executionStore.findExecution(db, scope.projectId, notebookId, executionId);
  if (!row) throw new NotFoundError('EXECUTION_NOT_FOUND', 'ExecutionId', executionId);
  return row;
}
