import fs from 'node:fs';
import path from 'node:path';
import type { CellResult } from '../api/types';
import { storeArtifact } from '../domain/artifacts';
import type { StoredCell } from '../domain/cells';
import { datasetDir, storeDataset } from '../domain/datasets';
import { chownTree } from '../domain/files';
import { runInKernel, type CellOutcome, type CellToRun, type NbOutput } from '../kernels/execute';
import { injectedParametersSource, parametersCellIndex } from '../kernels/parameters';
import type { KernelServers } from '../kernels/servers';
import { renderNotebookReport } from '../kernels/report';
import { JobInputError, type JobContext, type JobRunner } from './runners';

/** The `assay` module kernels import, shipped in this repository's python/ folder. */
const ASSAY_MODULE = path.resolve(__dirname, '..', '..', 'python', 'assay.py');
/** Output content larger than this is truncated in the status; the whole output is an artifact. */
const INLINE_LIMIT = 64 * 1024;

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

/**
 * Jupyter notebooks as Notebook jobs: the notebook's code cells (all, or a range) run in order
 * in a fresh kernel of its kernelspec on the tenant's own Jupyter Server, with the execution's
 * parameters injected after the cell tagged `parameters`. The bound dataset is handed in as
 * `dataset.csv` in a directory of the run; what the notebook publishes through the `assay`
 * module becomes datasets and model files of the project.
 */
export function notebookRunner(servers: KernelServers): JobRunner {
  return async (ctx) => {
    const job = ctx.job;
    const notebookId = String(job.resource_id);
    const [nb] = await ctx.db.query('SELECT * FROM notebooks WHERE id = $1 AND project_id = $2', [
      notebookId,
      ctx.scope.projectId,
    ]);
    if (!nb) throw new JobInputError('The notebook no longer exists.');
    // From POST .../execute: the execution's options; from the job API: the notebook's parameters.
    type Options = {
      executionMode?: string;
      cellRange?: { startCell: string; endCell: string };
      parameters?: Record<string, unknown>;
      generateReport?: boolean;
    };
    const raw = job.parameters as Record<string, unknown>;
    const options: Options = 'executionMode' in raw ? (raw as Options) : { parameters: raw };
    const kernelName = String(nb.kernel_type);
    const available = await servers.kernelNames();
    if (!available.includes(kernelName)) {
      throw new JobInputError(`No kernelspec '${kernelName}' is installed here; available: ${available.join(', ')}.`);
    }
    const stored = (nb.cells as StoredCell[]) ?? [];
    const toRun = cellsToRun(stored, options);
    const executionId = job.execution_id ? String(job.execution_id) : await newExecution(ctx, notebookId);
    await ctx.db.query(`UPDATE executions SET started_at = now(), status = 'Running', ended_at = NULL WHERE id = $1`, [
      executionId,
    ]);
    await ctx.db.query(`UPDATE notebooks SET status = 'Running' WHERE id = $1`, [notebookId]);

    const place = await servers.acquire(ctx.scope.tenantId);
    const runDir = place.home ? path.join(place.home, 'runs', `${String(job.id)}-${ctx.fence.attempt}`) : ctx.workDir;
    const outcomes: CellOutcome[] = [];
    try {
      await ctx.progress('Preparing kernel', 2, { cellsDone: 0, cellsTotal: toRun.length, currentCell: null });
      fs.mkdirSync(runDir, { recursive: true });
      const binding = (nb.integration as { datasetBinding?: string | null } | null)?.datasetBinding;
      if (binding)
        await ctx.engine.exportLog(
          datasetDir(ctx.dataDir, binding),
          'csv',
          path.join(runDir, 'dataset.csv'),
          ctx.signal,
        );
      const libDir = place.home ? path.join(place.home, 'lib') : runDir;
      fs.mkdirSync(libDir, { recursive: true });
      fs.copyFileSync(ASSAY_MODULE, path.join(libDir, 'assay.py'));
      if (place.user) {
        chownTree(runDir, place.user.uid, place.user.gid);
        chownTree(libDir, place.user.uid, place.user.gid);
        fs.chmodSync(runDir, 0o700);
      }
      const setup = [
        'import os as _os, sys as _sys',
        `_os.chdir(${JSON.stringify(runDir)})`,
        `_os.environ['ASSAY_RUN_DIR'] = ${JSON.stringify(runDir)}`,
        `_sys.path.insert(0, ${JSON.stringify(libDir)})`,
        'del _os, _sys',
      ].join('\n');
      const run = await runInKernel(place, {
        kernelName,
        setup,
        cells: toRun,
        signal: ctx.signal,
        onCellStart: (index, cell) =>
          ctx.progress(`Running cell ${index + 1} of ${toRun.length}`, 5 + (index / toRun.length) * 85, {
            cellsDone: index,
            cellsTotal: toRun.length,
            currentCell: cell.cellId,
          }),
        onCellDone: (_index, outcome) => {
          outcomes.push(outcome);
        },
      });
      await ctx.progress('Writing outputs', 92, { cellsDone: outcomes.length, currentCell: null });
      const outputs = await storeOutputs(ctx, executionId, outcomes);
      const products = await publishProducts(ctx, runDir, executionId);
      const executed = executedCells(stored, outcomes);
      if (options.generateReport) {
        const title = `${String(nb.name)} report`;
        const report = await ctx.output({
          role: 'primary',
          type: 'NotebookReport',
          title,
          format: 'html',
          fileName: 'notebook-report.html',
          contentType: 'text/html; charset=utf-8',
          content: renderNotebookReport(String(nb.name), executed),
        });
        products.reports.push({ name: title, format: 'html', artifactId: report.artifactId! });
      }
      const failed = outcomes.find((o) => o.status === 'Error');
      const error = failed
        ? { errorType: failed.errorType ?? 'Error', errorMessage: failed.errorMessage ?? '', cellId: failed.cellId }
        : null;
      await finishExecution(ctx, notebookId, executionId, {
        status: error ? 'Error' : 'Completed',
        cells: cellResults(toRun, outcomes),
        outputs,
        products,
        error,
        executed,
        resources: run.resources,
        kernelDead: Boolean(run.died),
      });
      if (run.died) {
        throw new KernelDiedError(
          `The kernel died in cell ${run.died.cellId} (${run.died.reason})${run.died.memory ? '; memory ran out' : ''}.`,
        );
      }
      if (failed) throw new CellError(`Cell ${failed.cellId} failed: ${failed.errorType}: ${failed.errorMessage}`);
    } catch (err) {
      if (ctx.signal.aborted || !(err instanceof KernelDiedError || err instanceof CellError)) {
        const reason = ctx.signal.aborted ? ctx.signal.reason : err;
        await ctx.db.query(
          `UPDATE executions SET status = $2, ended_at = now(), cell_results = $3, error = $4 WHERE id = $1 AND status = 'Running'`,
          [
            executionId,
            stopKind(ctx.signal) === 'cancelled' || stopKind(ctx.signal) === 'shutdown' ? 'Cancelled' : 'Error',
            JSON.stringify(cellResults(toRun, outcomes)),
            JSON.stringify({
              errorType: (reason as Error).name,
              errorMessage: (reason as Error).message,
              cellId: null,
            }),
          ],
        );
        await ctx.db.query(`UPDATE notebooks SET status = 'Ready' WHERE id = $1 AND status = 'Running'`, [notebookId]);
      }
      throw err;
    } finally {
      place.release();
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  };
}

/** Why the worker stopped the run (cancelled, timeout, shutdown), if it did. */
function stopKind(signal: AbortSignal): string | null {
  return signal.aborted ? ((signal.reason as { stop?: { kind?: string } }).stop?.kind ?? 'cancelled') : null;
}

class KernelDiedError extends Error {
  override name = 'KernelDied';
}
class CellError extends Error {
  override name = 'CellError';
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
  let chosen = stored;
  if (options.executionMode === 'range' && options.cellRange) {
    const start = stored.findIndex((c) => c.id === options.cellRange!.startCell);
    const end = stored.findIndex((c) => c.id === options.cellRange!.endCell);
    if (start < 0 || end < start)
      throw new JobInputError('The cell range no longer names cells of this notebook in order.');
    chosen = stored.slice(start, end + 1);
  }
  const cells: CellToRun[] = chosen
    .filter((c) => c.cell_type === 'code')
    .map((c) => ({ cellId: c.id, source: c.source }));
  const given = options.parameters ?? {};
  if (Object.keys(given).length > 0) {
    const tagged = parametersCellIndex(
      stored.map((c) => ({ cellType: c.cell_type, source: c.source, tags: tagsOf(c) })),
    );
    const injected = { cellId: 'injected-parameters', source: injectedParametersSource(given) };
    const after = tagged >= 0 ? cells.findIndex((c) => c.cellId === stored[tagged].id) : -1;
    cells.splice(after + 1, 0, injected);
  }
  return cells;
}

function tagsOf(cell: StoredCell): string[] {
  return ((cell.metadata as { tags?: string[] }).tags ?? []) as string[];
}

/** Per-cell outputs for the status and results: small ones inline, images and large ones as artifacts. */
async function storeOutputs(ctx: JobContext, executionId: string, outcomes: CellOutcome[]): Promise<StoredOutput[]> {
  const stored: StoredOutput[] = [];
  const artifact = async (
    content: Buffer | string,
    fileName: string,
    contentType: string,
    kind: string,
    title: string,
  ) =>
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
      const base = { cellId: o.cellId };
      if (out.output_type === 'stream') {
        stored.push(await inline(base, 'stream', 'text/plain', out.text, `${out.name} of ${o.cellId}`, artifact, i));
      } else if (out.output_type === 'error') {
        stored.push({
          ...base,
          outputType: 'error',
          contentType: 'text/plain',
          title: out.ename,
          content: `${out.ename}: ${out.evalue}`,
        });
      } else {
        const data = out.data;
        if (typeof data['image/png'] === 'string') {
          const png = Buffer.from(String(data['image/png']), 'base64');
          const a = await artifact(png, `${o.cellId}-${i}.png`, 'image/png', 'Plot', `Plot of ${o.cellId}`);
          stored.push({
            ...base,
            outputType: 'image/png',
            contentType: 'image/png',
            title: `Plot of ${o.cellId}`,
            sizeBytes: png.length,
            artifactId: a.id,
          });
        } else if (data['application/json'] !== undefined) {
          stored.push({
            ...base,
            outputType: 'application/json',
            contentType: 'application/json',
            content: data['application/json'],
          });
        } else if (typeof data['text/html'] === 'string' || Array.isArray(data['text/html'])) {
          const html = [data['text/html']].flat().join('');
          stored.push(await inline(base, out.output_type, 'text/html', html, `Output of ${o.cellId}`, artifact, i));
        } else if (data['text/plain'] !== undefined) {
          const text = [data['text/plain']].flat().join('');
          stored.push(await inline(base, out.output_type, 'text/plain', text, `Output of ${o.cellId}`, artifact, i));
        }
      }
    }
  }
  return stored;
}

async function inline(
  base: { cellId: string },
  outputType: string,
  contentType: string,
  text: string,
  title: string,
  artifact: (c: string, f: string, t: string, k: string, ti: string) => Promise<{ id: string }>,
  index: number,
): Promise<StoredOutput> {
  const size = Buffer.byteLength(text);
  if (size <= INLINE_LIMIT) return { ...base, outputType, contentType, title, content: text, sizeBytes: size };
  const ext = contentType === 'text/html' ? 'html' : 'txt';
  const a = await artifact(
    text,
    `${base.cellId}-${index}.${ext}`,
    `${contentType}; charset=utf-8`,
    'CellOutput',
    title,
  );
  return {
    ...base,
    outputType,
    contentType,
    title,
    content: text.slice(0, INLINE_LIMIT),
    truncated: true,
    sizeBytes: size,
    artifactId: a.id,
  };
}

/** What the notebook published through the `assay` module: enriched datasets and models. */
async function publishProducts(ctx: JobContext, runDir: string, executionId: string) {
  const products = {
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
  const manifest = path.join(runDir, 'assay-outputs.json');
  if (!fs.existsSync(manifest)) return products;
  const entries = JSON.parse(fs.readFileSync(manifest, 'utf8')) as Record<string, unknown>[];
  for (const e of entries) {
    const file = path.join(runDir, path.basename(String(e.file)));
    if (!fs.existsSync(file)) continue;
    if (e.kind === 'enriched') {
      const header = firstLine(file).split(',');
      const dataset = await storeDataset(
        ctx.db,
        ctx.engine,
        ctx.dataDir,
        ctx.scope,
        { path: file, originalName: path.basename(file), size: fs.statSync(file).size },
        {
          name: String(e.name),
          caseIdColumn: 'case_id',
          activityColumn: 'activity',
          timestampColumn: 'timestamp',
          resourceColumn: header.includes('resource') ? 'resource' : undefined,
        },
      );
      products.enrichedDatasets.push({
        name: String(e.name),
        datasetId: dataset.datasetId,
        recordCount: Number(e.recordCount),
        newColumns: (e.newColumns as string[]) ?? [],
        format: 'csv',
      });
    } else if (e.kind === 'model') {
      const metrics = (e.metrics as Record<string, number>) ?? {};
      const a = await storeArtifact(ctx.db, ctx.dataDir, ctx.scope.projectId, {
        content: { file },
        fileName: path.basename(file),
        contentType: 'application/octet-stream',
        kind: 'AnalyticsModel',
        title: String(e.name),
        executionId,
        fence: ctx.fence,
      });
      products.models.push({
        name: String(e.name),
        modelType: String(e.modelType),
        accuracy: metrics.accuracy ?? null,
        metrics,
        artifactId: a.id,
      });
    }
  }
  return products;
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

/** The notebook's cells with the outputs of this run, as nbformat stores them. */
function executedCells(stored: StoredCell[], outcomes: CellOutcome[]): StoredCell[] {
  const byId = new Map(outcomes.map((o) => [o.cellId, o]));
  const now = new Date().toISOString();
  return stored.map((c) => {
    const o = byId.get(c.id);
    if (!o || c.cell_type !== 'code') return c;
    return {
      ...c,
      outputs: o.outputs as NbOutput[],
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

async function finishExecution(
  ctx: JobContext,
  notebookId: string,
  executionId: string,
  r: {
    status: 'Completed' | 'Error';
    cells: CellResult[];
    outputs: StoredOutput[];
    products: object;
    error: object | null;
    executed: StoredCell[];
    resources: { peakMemoryBytes: number; cpuSeconds: number } | null;
    kernelDead: boolean;
  },
): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await tx.query(
      `UPDATE executions SET status = $2, ended_at = now(), cell_results = $3, outputs = $4, products = $5, error = $6, resources = $7
       WHERE id = $1`,
      [
        executionId,
        r.status,
        JSON.stringify(r.cells),
        JSON.stringify(r.outputs),
        JSON.stringify(r.products),
        r.error ? JSON.stringify(r.error) : null,
        r.resources ? JSON.stringify(r.resources) : null,
      ],
    );
    await tx.query(
      `UPDATE notebooks SET status = $2, cells = $3, execution_count = execution_count + 1, last_execution_at = now(),
         last_execution_seconds = extract(epoch FROM now() - (SELECT started_at FROM executions WHERE id = $4))
       WHERE id = $1`,
      [
        notebookId,
        r.kernelDead ? 'Kernel_Dead' : r.status === 'Error' ? 'Error' : 'Ready',
        JSON.stringify(r.executed),
        executionId,
      ],
    );
  });
}

async function newExecution(ctx: JobContext, notebookId: string): Promise<string> {
  const id = crypto.randomUUID();
  await ctx.db.query(
    `INSERT INTO executions (id, notebook_id, job_id, status, parameters, created_at, created_by)
     VALUES ($1, $2, $3, 'Running', $4, now(), $5)`,
    [
      id,
      notebookId,
      ctx.job.id,
      JSON.stringify((ctx.job.parameters as { parameters?: object }).parameters ?? {}),
      String(ctx.job.submitted_by),
    ],
  );
  return id;
}
