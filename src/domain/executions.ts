import { randomUUID } from 'node:crypto';
import type {
  CellResult,
  ExecutionOutput,
  ExecutionResults,
  NotebookExecuteRequest as ExecuteRequest,
  NotebookExecution,
} from '../api/types';
import { eventsFile, parquetRelation, type Engine } from '../engine/engine';
import { renderProcessMap, type ProcessMapDocument } from '../engine/render';
import { artifactUrl, storeArtifact, type ArtifactFence } from './artifacts';
import type { JobQueue } from '../jobs/queue';
import { createJob, queueEstimate, typicalDuration } from './jobs';
import { describeBytes, describeSeconds } from './units';
import type { StoredCell } from './cells';
import { checkParameters } from '../kernels/parameters';
import { runBlocks, type BlockOutcome, type PipelineBlock } from '../engine/pipeline';
import type { Db, Row } from '../store/db';
import { datasetDir } from './datasets';
import { ConflictError, DomainError, InvalidError, NotFoundError } from './errors';
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
    const rows = await tx.query(`SELECT n.* FROM notebooks n WHERE n.id = $1 AND n.project_id = $2 FOR UPDATE OF n`, [
      notebookId,
      scope.projectId,
    ]);
    if (rows.length === 0) throw new NotFoundError('Notebook', 'NotebookId', notebookId);
    const notebook = rows[0];
    if (notebook.status === 'Running') {
      throw new ConflictError(
        'Notebook is executing',
        'Cancel the running execution or wait for it to finish, then retry.',
        { NotebookId: notebookId, CurrentStatus: 'Running' },
      );
    }
    if (Number(notebook.notebook_type) === 0) {
      const all = await tx.query(
        'SELECT * FROM blocks WHERE notebook_id = $1 AND NOT is_disabled ORDER BY block_order',
        [notebookId],
      );
      selectRange(all, request);
    } else {
      await checkJupyterExecution(notebook, request, kernelNames);
    }
    await tx.query(`UPDATE notebooks SET status = 'Running' WHERE id = $1`, [notebookId]);
    await tx.query(
      `INSERT INTO executions (id, notebook_id, job_id, status, started_at, parameters, created_at, created_by)
       VALUES ($1, $2, $3, 'Running', NULL, $4, now(), $5)`,
      [executionId, notebookId, jobId, JSON.stringify(request.parameters ?? {}), scope.actor],
    );
    return notebook;
  });
  const jupyter = Number(notebook.notebook_type) === 1;
  try {
    await createJob(db, queue, {
      id: jobId,
      scope,
      submittedBy: scope.actor,
      executionId,
      request: {
        jobName: `Execute ${String(notebook.name)}`,
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
    if (err instanceof DomainError) await db.query('DELETE FROM executions WHERE id = $1', [executionId]);
    else
      await db.query(`UPDATE executions SET status = 'Error', ended_at = now(), error = $2 WHERE id = $1`, [
        executionId,
        JSON.stringify({ errorType: 'QueueError', errorMessage: (err as Error).message, cellId: null }),
      ]);
    await db.query(`UPDATE notebooks SET status = 'Ready' WHERE id = $1`, [notebookId]);
    throw err;
  }
  return getExecution(db, scope, notebookId, executionId);
}

/**
 * Checks a Jupyter execution before anything is queued: the kernelspec is installed, the cell
 * range names cells in order, and the parameters fit the notebook's parameters cell.
 */
async function checkJupyterExecution(
  notebook: Row,
  request: ExecuteRequest,
  kernelNames: () => Promise<string[]>,
): Promise<void> {
  const available = await kernelNames();
  const kernel = String(notebook.kernel_type);
  if (!available.includes(kernel)) {
    throw new InvalidError(
      'Kernel not available',
      `The notebook's kernel '${kernel}' is not installed here; nothing was queued.`,
      [{ field: 'kernelType', message: `must be one of ${available.join(', ') || '(none installed)'}` }],
      { Available: available },
    );
  }
  const cells = (notebook.cells as StoredCell[]) ?? [];
  if (request.executionMode === 'range') {
    const ids = cells.map((c) => c.id);
    const start = request.cellRange ? ids.indexOf(request.cellRange.startCell) : -1;
    const end = request.cellRange ? ids.indexOf(request.cellRange.endCell) : -1;
    if (start < 0 || end < start) {
      throw new InvalidError('Validation failed', 'The cell range does not name cells of this notebook in order.', [
        { field: 'body.cellRange', message: 'must name two cells of this notebook, the first not after the second' },
      ]);
    }
  }
  const problems = checkParameters(
    cells.map((c) => ({
      cellType: c.cell_type,
      source: c.source,
      tags: (c.metadata as { tags?: string[] }).tags ?? [],
    })),
    request.parameters ?? {},
  );
  if (problems.length > 0) {
    throw new InvalidError(
      'Validation failed',
      "The parameters do not fit the notebook's parameters cell; nothing was queued.",
      problems,
    );
  }
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
  const [execution] = await db.query(
    `SELECT e.notebook_id, i.dataset_id FROM executions e JOIN notebooks n ON n.id = e.notebook_id
     LEFT JOIN investigations i ON i.id = n.investigation_id WHERE e.id = $1`,
    [executionId],
  );
  if (!execution) throw new Error(`Execution ${executionId} is gone`);
  const notebookId = String(execution.notebook_id);
  const datasetId = options.datasetId ?? String(execution.dataset_id);
  const started = new Date();
  await db.query(`UPDATE executions SET started_at = $2 WHERE id = $1`, [executionId, started]);
  const all = await db.query('SELECT * FROM blocks WHERE notebook_id = $1 AND NOT is_disabled ORDER BY block_order', [
    notebookId,
  ]);
  let blocks: Row[] = [];
  let outcomes: BlockOutcome[] = [];
  let failure: { errorType: string; errorMessage: string; cellId: string | null } | null = null;
  let eventsIn = 0;
  try {
    blocks = selectRange(all, {
      executionMode: options.executionMode as ExecuteRequest['executionMode'],
      cellRange: options.cellRange,
    });
    const pipeline: PipelineBlock[] = blocks.map((b) => ({
      id: String(b.id),
      blockType: b.block_type as PipelineBlock['blockType'],
      configuration: JSON.parse(String(b.configuration)),
    }));
    const relation = parquetRelation(eventsFile(datasetDir(dataDir, datasetId)));
    outcomes = await engine.withConnection(
      (con) => runBlocks(con, relation, pipeline, (o, i) => hooks.onBlock(i + 1, pipeline.length, o)),
      hooks.signal,
    );
    eventsIn = outcomes[0]?.eventsIn ?? 0;
    const failed = outcomes.find((o) => o.status === 'Error');
    if (failed?.error) failure = { ...failed.error, cellId: failed.blockId };
  } catch (err) {
    if (hooks.signal.aborted) {
      await finishStopped(db, notebookId, executionId, hooks.signal.reason);
      throw hooks.signal.reason;
    }
    failure = { errorType: (err as Error).name || 'EngineError', errorMessage: (err as Error).message, cellId: null };
  }
  const rendered = await renderMaps(db, dataDir, scope, executionId, blocks, outcomes, hooks.fence);
  await record(db, notebookId, executionId, started, blocks, outcomes, failure, rendered);
  return {
    status: failure ? 'Error' : 'Completed',
    eventsIn,
    outputs: outcomes.filter((o) => o.output !== undefined).length + rendered.length,
    error: failure ? `${failure.errorType}: ${failure.errorMessage}` : null,
  };
}

/** An execution stopped by cancel, timeout or shutdown: Cancelled, and its notebook free again. */
async function finishStopped(db: Db, notebookId: string, executionId: string, reason: unknown): Promise<void> {
  const message = reason instanceof Error ? reason.message : String(reason);
  await db.query(
    `UPDATE executions SET status = 'Cancelled', ended_at = now(), error = coalesce(error, $2) WHERE id = $1 AND status = 'Running'`,
    [executionId, JSON.stringify({ errorType: 'Cancelled', errorMessage: message, cellId: null })],
  );
  await db.query(`UPDATE notebooks SET status = 'Ready' WHERE id = $1 AND status = 'Running'`, [notebookId]);
}

/** Releases the notebook of an execution that ended without running (its job was cancelled or failed). */
export async function releaseExecution(db: Db, executionId: string, status: 'Cancelled' | 'Error', message: string) {
  await db.query(
    `UPDATE executions SET status = $2, ended_at = now(), error = coalesce(error, $3) WHERE id = $1 AND status = 'Running'`,
    [
      executionId,
      status,
      JSON.stringify({
        errorType: status === 'Cancelled' ? 'Cancelled' : 'JobFailed',
        errorMessage: message,
        cellId: null,
      }),
    ],
  );
  await db.query(
    `UPDATE notebooks SET status = 'Ready' WHERE id = (SELECT notebook_id FROM executions WHERE id = $1) AND status = 'Running'`,
    [executionId],
  );
}

/** An output as stored: the contract's fields, plus the artifact that holds its file. */
type StoredOutput = ExecutionOutput & { artifactId?: string };

/** Renders the SVG of every process map block (unless its configuration says `render: false`) as an artifact. */
async function renderMaps(
  db: Db,
  dataDir: string,
  scope: Scope,
  executionId: string,
  blocks: Row[],
  outcomes: BlockOutcome[],
  fence: ArtifactFence,
): Promise<StoredOutput[]> {
  const outputs: StoredOutput[] = [];
  for (const o of outcomes) {
    const block = blocks.find((b) => String(b.id) === o.blockId)!;
    const config = JSON.parse(String(block.configuration)) as {
      calculatorType?: string;
      render?: boolean;
      minEdgeCount?: number;
    };
    if (o.status !== 'Success' || config.calculatorType !== 'processMap' || config.render === false) continue;
    const svg = await renderProcessMap(o.output as ProcessMapDocument, config.minEdgeCount ?? 1);
    const title = `${String(block.title)} (SVG)`;
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

/** Blocks from `cellRange.startCell` to `cellRange.endCell` when `executionMode` is `range`, else all. */
function selectRange(blocks: Row[], request: Pick<ExecuteRequest, 'executionMode' | 'cellRange'>): Row[] {
  if (request.executionMode !== 'range') return blocks;
  if (!request.cellRange) {
    throw new InvalidError('Validation failed', 'executionMode range needs a cellRange.', [
      { field: 'body.cellRange', message: 'is required when executionMode is range' },
    ]);
  }
  const start = blocks.findIndex((b) => b.id === request.cellRange!.startCell);
  const end = blocks.findIndex((b) => b.id === request.cellRange!.endCell);
  const problems = [];
  if (start < 0)
    problems.push({ field: 'body.cellRange.startCell', message: 'is not an enabled block of this notebook' });
  if (end < 0) problems.push({ field: 'body.cellRange.endCell', message: 'is not an enabled block of this notebook' });
  if (problems.length === 0 && end < start)
    problems.push({ field: 'body.cellRange', message: 'endCell comes before startCell' });
  if (problems.length > 0)
    throw new InvalidError(
      'Validation failed',
      'The cell range does not name blocks of this notebook in order.',
      problems,
    );
  return blocks.slice(start, end + 1);
}

async function record(
  db: Db,
  notebookId: string,
  executionId: string,
  started: Date,
  blocks: Row[],
  outcomes: BlockOutcome[],
  failure: { errorType: string; errorMessage: string; cellId: string | null } | null,
  rendered: StoredOutput[],
): Promise<void> {
  const ended = new Date();
  const byId = new Map(outcomes.map((o) => [o.blockId, o]));
  const cellResults: CellResult[] = blocks.map((b) => {
    const o = byId.get(String(b.id));
    if (!o) return { cellId: String(b.id), status: 'Skipped' };
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
    .filter((b) => byId.get(String(b.id))?.output !== undefined)
    .map((b) => ({
      cellId: String(b.id),
      outputType: 'application/json',
      contentType: 'application/json',
      title: String(b.title),
      content: byId.get(String(b.id))!.output,
    }));
  await db.transaction(async (tx) => {
    await tx.query(
      `UPDATE executions SET status = $2, ended_at = $3, cell_results = $4, outputs = $5, error = $6 WHERE id = $1`,
      [
        executionId,
        failure ? 'Error' : 'Completed',
        ended,
        JSON.stringify(cellResults),
        JSON.stringify([...outputs, ...rendered]),
        failure ? JSON.stringify(failure) : null,
      ],
    );
    for (const b of blocks) {
      const o = byId.get(String(b.id));
      await tx.query(
        `UPDATE blocks SET last_execution_at = $2, last_execution_status = $3, execution_count = execution_count + 1, last_execution = $4 WHERE id = $1`,
        [
          b.id,
          ended,
          o?.status ?? 'Skipped',
          o
            ? JSON.stringify({
                durationSeconds: o.durationSeconds,
                casesIn: o.casesIn,
                casesOut: o.casesOut,
                eventsIn: o.eventsIn,
                eventsOut: o.eventsOut,
              })
            : null,
        ],
      );
    }
    await tx.query(
      `UPDATE notebooks SET status = $2, last_execution_seconds = $3, last_execution_at = $4, execution_count = execution_count + 1 WHERE id = $1`,
      [notebookId, failure ? 'Error' : 'Ready', (ended.getTime() - started.getTime()) / 1000, ended],
    );
  });
}

/** An execution of a notebook of the project, in page 000's shape. */
export async function getExecution(
  db: Db,
  scope: Scope,
  notebookId: string,
  executionId: string,
): Promise<NotebookExecution> {
  const row = await requireExecution(db, scope, notebookId, executionId);
  const cells = row.cell_results as CellResult[];
  const done = cells.filter((c) => c.status === 'Success' || c.status === 'Error');
  const seconds =
    row.ended_at && row.started_at
      ? (new Date(row.ended_at as string).getTime() - new Date(row.started_at as string).getTime()) / 1000
      : null;
  const error = row.error as { errorType: string; errorMessage: string; cellId: string | null } | null;
  // While it runs, its job knows the queue position and the blocks done so far.
  const [job] = await db.query('SELECT * FROM jobs WHERE id = $1', [row.job_id]);
  const running = row.status === 'Running';
  const live = (job?.progress ?? {}) as {
    cellsDone?: number;
    cellsTotal?: number;
    currentCell?: string | null;
    percentage?: number;
  };
  const estimate = running && job ? await queueEstimate(db, job) : null;
  const typical = running && job ? await typicalDuration(db, String(job.job_type)) : null;
  return {
    executionId: String(row.id),
    notebookId: String(row.notebook_id),
    jobId: String(row.job_id),
    status: row.status as NotebookExecution['status'],
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
    parameters: row.parameters as Record<string, unknown>,
    cellResults: cells,
    // Peak memory and CPU time of the kernel (Jupyter notebooks), measured in it at the end.
    ...(row.resources
      ? { resources: resourcesView(row.resources as { peakMemoryBytes: number; cpuSeconds: number }) }
      : {}),
    outputs: outputSummary(row.outputs as StoredOutput[], (row.products ?? {}) as Products),
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

/** The outputs of a finished execution, filtered as page 000's query parameters ask. */
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
      'Execution has not finished',
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

async function requireExecution(db: Db, scope: Scope, notebookId: string, executionId: string): Promise<Row> {
  const rows = await db.query(
    `SELECT e.* FROM executions e JOIN notebooks n ON n.id = e.notebook_id WHERE e.id = $1 AND e.notebook_id = $2 AND n.project_id = $3`,
    [executionId, notebookId, scope.projectId],
  );
  if (rows.length === 0) throw new NotFoundError('Execution', 'ExecutionId', executionId);
  return rows[0];
}
