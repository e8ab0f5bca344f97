import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { components } from '../../generated/api';
import {
  collectParam,
  common,
  connect,
  intOption,
  interrupt,
  print,
  printJson,
  progressBar,
  RunFailed,
  say,
  table,
  UsageError,
  type Client,
  type CommonOptions,
  type ListOptions,
  pageQuery,
  sayNextPage,
} from './context';

type Schemas = components['schemas'];
type Execution = Schemas['NotebookExecution'];
type StreamEvent = Schemas['StreamEvent'];

async function list(opts: ListOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const answer = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/notebooks', {
      params: {
        path: { tenantId: client.tenantId, projectId: client.projectId },
        query: pageQuery(opts),
      },
    }),
  );
  if (opts.json) return printJson(answer);
  table(
    ['NOTEBOOK', 'TYPE', 'STATUS', 'CELLS', 'LAST RUN', 'NAME'],
    answer.notebooks.map((n) => [
      n.notebookId,
      n.notebookType === 1 ? 'jupyter' : 'standard',
      n.status,
      n.cellCount,
      n.lastExecutionDate,
      n.notebookName,
    ]),
  );
  sayNextPage(answer, `${answer.totalCount} notebooks`);
}

async function show(id: string, opts: CommonOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const notebook = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/notebook/{notebookId}', {
      params: { path: { tenantId: client.tenantId, projectId: client.projectId, notebookId: id } },
    }),
  );
  if (opts.json) return printJson(notebook);
  if (notebook.notebookType === 1) {
    print(
      `notebook  ${notebook.notebookId}  ${notebook.notebookName}  (jupyter, ${notebook.kernelType}, ${notebook.status})`,
    );
    print(`dataset   ${notebook.integration.datasetBinding ?? '-'}`);
    notebook.cells.forEach((cell, i) => {
      const first = (cell.source ?? '').split('\n')[0] ?? '';
      print(`  ${String(i + 1).padStart(3)} ${cell.cellType.padEnd(8)} ${cell.cellId}  ${first.slice(0, 60)}`);
    });
  } else {
    print(`notebook       ${notebook.notebookId}  ${notebook.name}  (standard)`);
    print(`investigation  ${notebook.investigationId}`);
    print(`blocks         ${notebook.blockCount}`);
  }
}

interface CreateOptions extends CommonOptions {
  name?: string;
  file?: string;
  template?: string;
  dataset?: string;
  investigation?: string;
  kernel?: string;
  description?: string;
}

/**
 * Creates a notebook: from a Jupyter template (bound to `--dataset`), from a standard template (in
 * `--investigation`, or in a new investigation on `--dataset`), or empty.
 */
async function create(opts: CreateOptions, cmd: Command): Promise<void> {
  if (opts.file && (opts.template || opts.investigation))
    throw new UsageError('--file makes a Jupyter notebook of its own: no --template or --investigation');
  if (!opts.file && !opts.name) throw new UsageError('give the notebook a --name (or upload one with --file)');
  const client = connect(cmd);
  if (opts.file) return uploadIpynb(client, opts.file, opts);
  const name = opts.name!;
  const scope = { tenantId: client.tenantId!, projectId: client.projectId! };
  let kind: 'standard' | 'jupyter' = opts.investigation ? 'standard' : 'jupyter';
  if (opts.template) {
    const { templates } = client.unwrap(
      await client.api.GET('/api/{tenantId}/{projectId}/templates', { params: { path: scope } }),
    );
    const template = templates.find((t) => t.templateId.toLowerCase() === opts.template!.toLowerCase());
    if (!template) {
      throw new UsageError(
        `no template '${opts.template}'; \`assay templates list\` shows them: ${templates.map((t) => t.templateId).join(', ')}`,
      );
    }
    kind = template.kind;
  }
  if (kind === 'jupyter') {
    if (opts.investigation)
      throw new UsageError('a Jupyter notebook is not in an investigation: bind it with --dataset');
    const notebook = client.unwrap(
      await client.api.POST('/api/{tenantId}/{projectId}/notebook', {
        params: { path: scope },
        body: {
          notebookName: name,
          notebookDescription: opts.description ?? null,
          ...(opts.kernel ? { kernelType: opts.kernel } : {}),
          template: opts.template ?? null,
          ...(opts.dataset ? { integration: { datasetBinding: opts.dataset } } : {}),
        },
      }),
    );
    if (opts.json) return printJson(notebook);
    print(notebook.notebookId);
    say(`created Jupyter notebook ${notebook.notebookId} (${notebook.notebookName}, ${notebook.cells.length} cells)`);
    return;
  }
  let investigationId = opts.investigation;
  if (!investigationId) {
    if (!opts.dataset)
      throw new UsageError('a standard notebook needs --investigation ID, or --dataset ID to make an investigation on');
    const investigation = client.unwrap(
      await client.api.POST('/api/{tenantId}/{projectId}/investigation', {
        params: { path: scope },
        body: { name, datasetId: opts.dataset },
      }),
    );
    investigationId = investigation.investigationId;
    say(`created investigation ${investigationId} on dataset ${opts.dataset}`);
  }
  const path = { ...scope, investigationId };
  const notebook = opts.template
    ? client.unwrap(
        await client.api.POST('/api/{tenantId}/{projectId}/notebook/investigation/{investigationId}/from-template', {
          params: { path },
          body: { templateId: opts.template, name, description: opts.description ?? null },
        }),
      )
    : client.unwrap(
        await client.api.POST('/api/{tenantId}/{projectId}/notebook/investigation/{investigationId}', {
          params: { path },
          body: { name, description: opts.description ?? null },
        }),
      );
  if (opts.json) return printJson(notebook);
  print(notebook.notebookId);
  say(
    `created standard notebook ${notebook.notebookId} (${notebook.name}, ${notebook.blockCount} blocks) in investigation ${investigationId}`,
  );
}

/** Uploads an .ipynb (nbformat 4) as a Jupyter notebook, bound to `--dataset` if given; prints the parse warnings. */
async function uploadIpynb(client: Client, file: string, opts: CreateOptions): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new UsageError(`cannot read ${file}`);
  }
  const form = new FormData();
  form.append('file', new Blob([bytes], { type: 'application/x-ipynb+json' }), path.basename(file));
  if (opts.name) form.append('notebookName', opts.name);
  if (opts.description) form.append('notebookDescription', opts.description);
  if (opts.kernel) form.append('kernelType', opts.kernel);
  if (opts.dataset) form.append('datasetBinding', opts.dataset);
  const res = await client.send(client.path('/api/{tenantId}/{projectId}/notebook/upload'), {
    method: 'POST',
    body: form,
    signal: interrupt.signal,
  });
  const notebook = (await res.json()) as Schemas['JupyterNotebook'] & { warnings?: unknown };
  if (opts.json) return printJson(notebook);
  print(notebook.notebookId);
  say(
    `created Jupyter notebook ${notebook.notebookId} (${notebook.notebookName}, ${notebook.cells.length} cells) from ${file}`,
  );
}

interface ExecuteOptions extends CommonOptions {
  param?: Record<string, unknown>;
  wait?: boolean;
  report?: boolean;
  timeout?: number;
  priority?: Schemas['Priority'];
}

/** Follows a run: a bar per cell or block on a terminal, a line per cell or block otherwise; failing cells' errors always. */
function follower(initialTotal: number) {
  let total = initialTotal;
  const bar = progressBar('{unit} |{bar}| {value}/{total} | {current}');
  bar?.start(Math.max(total, 1), 0, { unit: 'cells', current: 'queued' });
  let done = 0;
  const note = (message: string) => {
    if (bar) bar.update(done, { current: message.slice(0, 60) });
    else say(message);
  };
  return {
    onEvent(ev: StreamEvent): void {
      const data = ev.data as Record<string, unknown>;
      switch (ev.event) {
        case 'execution.status':
          note(`execution ${String(data.status)}`);
          break;
        case 'job.progress':
          if (typeof data.cellsTotal === 'number' && data.cellsTotal > 0 && data.cellsTotal !== total) {
            total = data.cellsTotal;
            bar?.setTotal(total);
          }
          break;
        case 'cell.started':
          bar?.update(done, { current: `cell ${Number(data.index) + 1} running` });
          break;
        case 'cell.completed':
        case 'block.completed': {
          done++;
          const unit = ev.event === 'cell.completed' ? 'cell' : 'block';
          const id = String(data.cellId ?? data.blockId);
          if (bar)
            bar.update(done, { unit: `${unit}s`, current: `${unit} ${Number(data.index) + 1} ${String(data.status)}` });
          else
            say(
              `${unit} ${Number(data.index) + 1}/${total || '?'} ${id}: ${String(data.status)} in ${String(data.durationMs)} ms`,
            );
          if (data.status === 'Error') {
            bar?.stop();
            say(`${unit} ${id} failed: ${String(data.errorType ?? 'Error')}: ${String(data.errorMessage ?? '')}`);
          }
          break;
        }
      }
    },
    stop(): void {
      bar?.stop();
    },
  };
}

/** The results of a finished execution, or undefined when the API has none to give. */
async function resultsOf(client: Client, notebookId: string, executionId: string) {
  const answer = await client.api.GET(
    '/api/{tenantId}/{projectId}/notebook/{notebookId}/execution/{executionId}/results',
    {
      params: { path: { tenantId: client.tenantId, projectId: client.projectId, notebookId, executionId } },
    },
  );
  return answer.response.ok ? answer.data : undefined;
}

async function execute(id: string, opts: ExecuteOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const started = client.unwrap(
    await client.api.POST('/api/{tenantId}/{projectId}/notebook/{notebookId}/execute', {
      params: { path: { tenantId: client.tenantId, projectId: client.projectId, notebookId: id } },
      body: {
        ...(opts.param ? { parameters: opts.param } : {}),
        ...(opts.report ? { outputOptions: { generateReport: true } } : {}),
        ...(opts.timeout ? { timeout: opts.timeout } : {}),
        ...(opts.priority ? { priority: opts.priority } : {}),
      },
    }),
  );
  if (!opts.wait) {
    if (opts.json) return printJson(started);
    print(started.executionId);
    say(
      `execution ${started.executionId} queued as job ${started.jobId}; follow it with --wait or \`assay jobs logs ${started.jobId} --follow\``,
    );
    return;
  }
  say(`execution ${started.executionId} (job ${started.jobId})`);
  const follow = follower(started.progress.totalCells);
  let final: Execution;
  try {
    final = await client.waitForExecution(id, started.executionId, {
      signal: interrupt.signal,
      onEvent: (ev: StreamEvent) => follow.onEvent(ev),
    });
  } finally {
    follow.stop();
  }
  const results = await resultsOf(client, id, started.executionId);
  if (opts.json) printJson(results ?? final);
  else if (results) {
    for (const report of results.reports) say(`report: ${report.name} (${report.format}) ${report.downloadUrl}`);
    for (const data of results.enrichedDatasets)
      say(`enriched data: ${data.name}, ${data.recordCount} records ${data.downloadUrl}`);
    for (const model of results.models) say(`model: ${model.name} (${model.modelType}) ${model.downloadUrl}`);
  }
  if (final.status === 'Completed') {
    say(`execution ${final.executionId} Completed in ${final.totalDuration ?? '?'}`);
    return;
  }
  const error = final.error;
  const where = error?.cellId ? ` in cell ${error.cellId}` : '';
  say(
    `execution ${final.executionId} ${final.status}${where}${error ? `: ${error.errorType}: ${error.errorMessage}` : ''}`,
  );
  throw new RunFailed(`execution ${final.status}`);
}

/** Registers `assay notebooks ...`. */
export function registerNotebooks(program: Command): void {
  const notebooks = program.command('notebooks').description('list, show, create and execute notebooks');
  common(
    notebooks
      .command('list')
      .description("list the project's notebooks")
      .addOption(intOption('--page <n>', 'the page, from 1'))
      .addOption(intOption('--page-size <n>', 'notebooks per page (at most 100)', 1, 100)),
  ).action(list);
  common(notebooks.command('show').description("a notebook's cells or blocks").argument('<notebookId>')).action(show);
  common(
    notebooks
      .command('create')
      .description('create a notebook: empty, or from a template (`assay templates list`)')
      .option('--name <name>', "the notebook's name (required unless --file)")
      .option('--file <ipynb>', 'upload this .ipynb (nbformat 4) as a Jupyter notebook')
      .option('--template <id>', 'a Jupyter template (such as process_mining_starter) or a standard template id')
      .option('--dataset <id>', 'Jupyter: the dataset it loads; standard: the dataset of a new investigation')
      .option('--investigation <id>', 'standard: the investigation it goes into')
      .option('--kernel <name>', 'Jupyter: the kernel (default python3)')
      .option('--description <text>', "the notebook's description"),
  ).action(create);
  common(
    notebooks
      .command('execute')
      .description('execute a notebook; with --wait follow it to the end (exit 0 Completed, 1 otherwise)')
      .argument('<notebookId>')
      .option(
        '--param <name=value>',
        'a parameter for the cell tagged `parameters` (JSON values are parsed); repeatable',
        collectParam,
      )
      .option('--wait', 'follow the run to its end, with a progress bar on a terminal')
      .option('--report', 'Jupyter: produce an HTML report of the run')
      .addOption(intOption('--timeout <seconds>', 'stop the run after this many seconds', 1, 86400))
      .addOption(new Option('--priority <priority>', 'queue priority').choices(['Low', 'Normal', 'High', 'Critical'])),
  ).action(execute);
}
