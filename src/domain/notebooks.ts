import { randomUUID } from 'node:crypto';
import type {
  JupyterNotebook,
  JupyterNotebookCreate,
  JupyterNotebookUpdate,
  Notebook,
  NotebookCopy,
  NotebookFromTemplate,
  NotebookSummary,
  NotebookUrl,
  StandardNotebook,
  StandardNotebookCreate,
  StandardNotebookUpdate,
} from '../api/types';
import type { ContractSchemas } from '../api/schemas';
import { artifactIdsOfNotebook } from '../store/artifacts';
import type { Db } from '../store/db';
import * as store from '../store/notebooks';
import { problemsFromSchemaErrors } from './schemaProblems';
import { removeArtifactFiles } from './artifacts';
import { insertBlock, toBlock } from './blocks';
import { requireInvestigation, requireNotebook } from './notebookLocks';
import { requireInstalledKernel } from './runChecks';
import { runInThread, TaskInputRefused, ThreadMemoryError } from '../threads/pool';
import { apiCellsJson, cellsChanged, cellsFromInput, NOTEBOOK_LIMITS, toApiCell, type StoredCell } from './cells';
import { requireDataset } from './datasets';
import { ConflictError, InvalidError, NotFoundError, TooLargeError } from './errors';
import { checkNotStale, nextModified } from './locking';
import { iso, isoOrNull, pageInfo, type PageRequest, type Scope } from './scope';
import { CronExpressionParser } from 'cron-parser';
import { jupyterTemplate, jupyterTemplateIds, standardTemplate } from './templates';
import { weakEtag, type CachedAnswer, type ReadCache } from './readCache';

const STANDARD = store.NOTEBOOK_TYPE.standard;
const JUPYTER = store.NOTEBOOK_TYPE.jupyter;
/** Cells (as JSON text) beyond this size are turned into the answer in a worker thread, and the answer is sent as text. */
const ANSWER_IN_THREAD_CHARS = 256 * 1024;

/** An answer already serialised (a large notebook's): UTF-8 JSON in pieces, to be sent as they are. */
export interface SerialisedAnswer {
  notebookId: string;
  json: Uint8Array[];
}

/** The file of an `.ipynb` upload, on local disk. */
export interface NotebookFile {
  path: string;
  size: number;
  originalName: string;
}

/** Filters of the project's notebook list. */
export interface NotebookFilters {
  status?: string;
  kernelType?: string;
  enrichmentMode?: boolean;
  notebookType?: number;
}

/** Notebook rules for both types: names, versions, optimistic locking, copies and templates. */
export class Notebooks {
  constructor(
    private readonly db: Db,
    private readonly schemas: ContractSchemas,
    private readonly publicUrl: string,
    private readonly dataDir: string,
    /** Told when a notebook's `scheduleExecution` changes (set, replaced, or null when cleared or deleted). */
    private readonly onSchedule: (notebookId: string, cron: string | null) => Promise<void> = async () => undefined,
    /** The kernelspecs installed; a Jupyter notebook's kernelType must be one of them. */
    private readonly kernelNames: () => Promise<string[]> = async () => [],
    /** Answers of reads the store has not changed since; without it every read queries the store. */
    private readonly cache?: ReadCache,
  ) {}

  /** Refuses a kernelType with no kernelspec here, listing those there are. */
  private async checkKernel(kernelType: string, field: string): Promise<void> {
    requireInstalledKernel(await this.kernelNames(), kernelType, field, 'nothing was stored');
  }

  /** The project's notebooks of both types, newest first. */
  async list(scope: Scope, filters: NotebookFilters, paging: PageRequest) {
    const filter = {
      status: filters.status ?? null,
      kernelType: filters.kernelType ?? null,
      enrichmentMode: filters.enrichmentMode ?? null,
      notebookType: filters.notebookType ?? null,
    };
    const offset = (paging.page - 1) * paging.pageSize;
    const { rows, count } = await store.notebooksOf(this.db, scope.projectId, filter, paging.pageSize, offset);
    return { notebooks: rows.map(toSummary), ...pageInfo(paging, count) };
  }

  /**
   * A notebook of either type, in its own shape. The store hands back a Jupyter notebook's cells
   * as text; a large notebook's answer is built in a worker thread and comes back as JSON text.
   */
  async get(scope: Scope, id: string): Promise<Notebook | SerialisedAnswer> {
    const row = await store.findNotebookCellsAsText(this.db, scope.projectId, id);
    if (!row) throw new NotFoundError('NOTEBOOK_NOT_FOUND', 'NotebookId', id);
    if (row.notebook_type === STANDARD) return toStandard(row);
    return jupyterAnswer(row, { stored: row.cells_text ?? '[]' });
  }

  /**
   * A notebook's answer as it is sent: from the cache when the store has not changed it since it
   * was built, else read (one query), serialised and kept. A large Jupyter notebook's answer comes
   * in pieces (see `get`) and is not kept.
   */
  async getServed(scope: Scope, id: string): Promise<CachedAnswer | SerialisedAnswer> {
    const hit = this.cache?.lookup(scope, id);
    if (hit) return hit;
    if (!this.cache) return serialised(await this.get(scope, id), scope);
    const read = this.cache.beginRead(id);
    let answer: Notebook | SerialisedAnswer;
    try {
      answer = await this.get(scope, id);
    } catch (err) {
      this.cache.abandonRead(read);
      throw err;
    }
    if (isPieces(answer)) {
      this.cache.abandonRead(read);
      return answer;
    }
    return this.cache.endRead(read, scope, toJson(answer));
  }

  /** Creates a Jupyter notebook from a template's cells followed by `initialCells`. */
  async createJupyter(scope: Scope, input: JupyterNotebookCreate): Promise<JupyterNotebook> {
    const templateCells = [];
    if (input.template) {
      const template = jupyterTemplate(input.template);
      if (!template) {
        throw new InvalidError(
          'UNKNOWN_TEMPLATE',
          `There is no Jupyter template '${input.template}'.`,
          [{ field: 'body.template', message: 'is not a Jupyter template' }],
          { Available: jupyterTemplateIds() },
        );
      }
      templateCells.push(...template.cells);
    }
    const cells = cellsFromInput([...templateCells, ...(input.initialCells ?? [])]);
    const cron = checkCron(input.integration?.scheduleExecution, 'body.integration.scheduleExecution');
    await this.checkKernel(input.kernelType ?? 'python3', 'body.kernelType');
    const created = await this.db.transaction(async (tx) => {
      await checkBinding(tx, scope, input.integration?.datasetBinding);
      const id = await insertJupyter(tx, scope, {
        name: input.notebookName,
        description: input.notebookDescription ?? null,
        kernelType: input.kernelType ?? 'python3',
        integration: input.integration,
        environment: input.environment,
        cellsJson: JSON.stringify(cells),
        metadataJson: '{}',
      });
      return toJupyter(await requireNotebook(tx, scope, id));
    });
    if (cron) await this.onSchedule(created.notebookId, cron);
    return created;
  }

  /**
   * Stores an uploaded `.ipynb` after checking its size, structure and limits (parsed in a worker
   * thread); the answer lists parse warnings.
   */
  async upload(
    scope: Scope,
    file: NotebookFile,
    form: {
      notebookName?: string;
      notebookDescription?: string;
      kernelType?: string;
      enrichmentMode?: string;
      datasetBinding?: string;
    },
  ): Promise<JupyterNotebook | SerialisedAnswer> {
    if (file.size > NOTEBOOK_LIMITS.maxFileBytes)
      throw new TooLargeError(NOTEBOOK_LIMITS.maxFileBytes, 'notebook file');
    const parsed = await readIpynbOffThread(file.path);
    const binding = form.datasetBinding ? form.datasetBinding : null;
    const kernelType = form.kernelType || parsed.kernelName || 'python3';
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(kernelType)) {
      throw new InvalidError('VALIDATION_FAILED', 'The kernel type is not a valid kernelspec name.', [
        { field: 'body.kernelType', message: 'must match ^[A-Za-z0-9_.-]{1,64}$' },
      ]);
    }
    await this.checkKernel(kernelType, 'body.kernelType');
    return this.db.transaction(async (tx) => {
      await checkBinding(tx, scope, binding);
      const id = await insertJupyter(tx, scope, {
        name: form.notebookName?.trim() || file.originalName.replace(/\.ipynb$/i, '') || 'Uploaded notebook',
        description: form.notebookDescription ?? null,
        kernelType,
        integration: {
          enrichmentMode: form.enrichmentMode === 'true',
          datasetBinding: binding,
          outputFormat: 'enriched_dataframe',
          autoExecution: false,
        },
        environment: undefined,
        cellsJson: parsed.storedCells,
        metadataJson: parsed.metadata,
      });
      const row = (await store.findNotebookSummary(tx, id))!;
      const parseResult = {
        nbformat: 4,
        nbformatMinor: parsed.nbformatMinor,
        cellCount: parsed.cellCount,
        codeCells: parsed.codeCells,
        markdownCells: parsed.markdownCells,
        rawCells: parsed.rawCells,
        warnings: parsed.warnings,
      };
      return jupyterAnswer(row, { api: parsed.apiCells }, { parseResult });
    });
  }

  /**
   * Updates a notebook with the body of its own type. With `dateModified`, a stale update is
   * refused; without it the update still applies whole, never interleaved with another.
   */
  async update(scope: Scope, id: string, body: StandardNotebookUpdate | JupyterNotebookUpdate): Promise<Notebook> {
    const kernelType = (body as JupyterNotebookUpdate).kernelType;
    if (kernelType) await this.checkKernel(kernelType, 'body.kernelType');
    const { notebook, before, after } = await this.db.transaction(async (tx) => {
      const current = await requireNotebook(tx, scope, id, true);
      const isStandard = current.notebook_type === STANDARD;
      // The contract's body is a oneOf of both types; check it against this notebook's own type.
      const errors = this.schemas.validate(isStandard ? 'StandardNotebookUpdate' : 'JupyterNotebookUpdate', body);
      if (errors) {
        const kind = isStandard ? 'a standard notebook' : 'a Jupyter notebook';
        throw new InvalidError(
          'VALIDATION_FAILED',
          `The body is not a valid update of ${kind}; nothing was changed.`,
          problemsFromSchemaErrors(errors, 'body'),
        );
      }
      checkNotStale(scope, body.dateModified, { resource: 'Notebook', id, pathSegment: 'notebook', row: current });
      const modifiedAt = nextModified(current.modified_at);
      if (isStandard) await updateStandard(tx, scope, current, body as StandardNotebookUpdate, modifiedAt);
      else await updateJupyter(tx, scope, current, body as JupyterNotebookUpdate, modifiedAt);
      const updated = await requireNotebook(tx, scope, id);
      return { notebook: toNotebook(updated), before: scheduleOf(current), after: scheduleOf(updated) };
    });
    if (before !== after) await this.onSchedule(id, after);
    return notebook;
  }

  /** A Jupyter notebook as an nbformat 4 document, with the outputs of its last execution. */
  async ipynb(scope: Scope, id: string): Promise<{ name: string; document: Record<string, unknown> }> {
    const row = await requireNotebook(this.db, scope, id);
    if (row.notebook_type !== JUPYTER) {
      throw new InvalidError(
        'NOT_A_JUPYTER_NOTEBOOK',
        'A standard notebook has blocks, not cells; it has no .ipynb form.',
        [{ field: 'path.notebookId', message: 'is a standard notebook' }],
      );
    }
    const kernel = row.kernel_type ?? 'python3';
    const cells = ((row.cells as StoredCell[] | null) ?? []).map(({ assay: _assay, ...cell }) =>
      cell.cell_type === 'code'
        ? { ...cell, outputs: cell.outputs ?? [], execution_count: cell.execution_count ?? null }
        : cell,
    );
    return {
      name: row.name,
      document: {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {
          ...(row.nb_metadata ?? {}),
          kernelspec: {
            name: kernel,
            display_name: kernel === 'python3' ? 'Python 3' : kernel,
            language: kernel.startsWith('python') ? 'python' : kernel,
          },
        },
        cells,
      },
    };
  }

  /** Deletes a notebook; says which type it was, since the two answer differently. */
  async delete(scope: Scope, id: string): Promise<'standard' | 'jupyter'> {
    const { kind, artifacts } = await this.db.transaction(async (tx) => {
      const current = await requireNotebook(tx, scope, id, true);
      if (current.status === 'Running') {
        throw new ConflictError(
          'NOTEBOOK_LOCKED',
          'Cancel the running execution or wait for it to finish, then retry.',
          {
            NotebookId: id,
            CurrentStatus: 'Running',
          },
        );
      }
      const files = await artifactIdsOfNotebook(tx, id);
      await store.deleteNotebook(tx, id);
      return {
        kind: current.notebook_type === STANDARD ? ('standard' as const) : ('jupyter' as const),
        artifacts: files,
      };
    });
    removeArtifactFiles(this.dataDir, artifacts);
    await this.onSchedule(id, null);
    return kind;
  }

  /** The standard notebooks of an investigation in `notebookOrder`. */
  async listInInvestigation(scope: Scope, investigationId: string): Promise<StandardNotebook[]> {
    await requireInvestigation(this.db, scope, investigationId);
    return (await store.notebooksOfInvestigation(this.db, investigationId)).map(toStandard);
  }

  /** Creates an empty standard notebook at the end of an investigation; names are unique there. */
  async createInInvestigation(
    scope: Scope,
    investigationId: string,
    input: StandardNotebookCreate,
  ): Promise<StandardNotebook> {
    return this.db.transaction(async (tx) => {
      await requireInvestigation(tx, scope, investigationId, true);
      const id = await insertStandard(tx, scope, investigationId, input.name, input.description ?? null);
      return toStandard(await requireNotebook(tx, scope, id));
    });
  }

  /** Creates a standard notebook with the blocks of a standard template. */
  async createFromTemplate(
    scope: Scope,
    investigationId: string,
    input: NotebookFromTemplate,
  ): Promise<StandardNotebook> {
    return this.db.transaction(async (tx) => {
      await requireInvestigation(tx, scope, investigationId, true);
      const template = standardTemplate(input.templateId);
      if (!template) throw new NotFoundError('TEMPLATE_NOT_FOUND', 'TemplateId', input.templateId);
      const id = await insertStandard(
        tx,
        scope,
        investigationId,
        input.name ?? template.name,
        input.description ?? template.description,
      );
      for (const block of template.blocks) {
        await insertBlock(tx, scope, id, { ...block, configurationText: JSON.stringify(block.configuration) });
      }
      return withBlocks(tx, toStandard(await requireNotebook(tx, scope, id)));
    });
  }

  /** Copies a notebook with all its blocks (or cells), to its own or another investigation. */
  async copy(scope: Scope, id: string, input: NotebookCopy): Promise<Notebook> {
    return this.db.transaction(async (tx) => {
      const source = await requireNotebook(tx, scope, id);
      if (source.notebook_type === JUPYTER) {
        if (input.destinationInvestigationId) {
          throw new InvalidError('VALIDATION_FAILED', 'A Jupyter notebook does not belong to an investigation.', [
            { field: 'body.destinationInvestigationId', message: 'must be absent for a Jupyter notebook' },
          ]);
        }
        const copyId = await insertJupyter(tx, scope, {
          name: input.name ?? `Copy of ${source.name}`,
          description: source.description,
          kernelType: source.kernel_type ?? 'python3',
          integration: source.integration as JupyterNotebookCreate['integration'],
          environment: source.environment as JupyterNotebookCreate['environment'],
          cellsJson: JSON.stringify(((source.cells as StoredCell[] | null) ?? []).map(freshCell)),
          metadataJson: JSON.stringify(source.nb_metadata ?? {}),
        });
        return toJupyter(await requireNotebook(tx, scope, copyId));
      }
      const destination = input.destinationInvestigationId ?? source.investigation_id!;
      await requireInvestigation(tx, scope, destination, true);
      const name = input.name ?? (await freeCopyName(tx, destination, source.name));
      const copyId = await insertStandard(tx, scope, destination, name, source.description);
      for (const b of await store.blocksOf(tx, id)) {
        await insertBlock(tx, scope, copyId, {
          blockType: b.block_type,
          blockTitle: b.title,
          blockDescription: b.description,
          isDisabled: b.is_disabled,
          configurationText: b.configuration,
        });
      }
      return withBlocks(tx, toStandard(await requireNotebook(tx, scope, copyId)));
    });
  }

  /** A link to the notebook under `PUBLIC_URL`. */
  async url(scope: Scope, id: string): Promise<NotebookUrl> {
    const row = await requireNotebook(this.db, scope, id);
    const relativePath =
      row.notebook_type === STANDARD
        ? `/investigation/${scope.tenantId}/${scope.projectId}/${row.investigation_id}/notebook/${id}`
        : `/notebook/${scope.tenantId}/${scope.projectId}/${id}`;
    return { notebookId: id, url: this.publicUrl + relativePath, relativePath, expiresAt: null };
  }
}

async function checkBinding(db: Db, scope: Scope, datasetId: string | null | undefined): Promise<void> {
  if (!datasetId) return;
  try {
    await requireDataset(db, scope, datasetId);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    throw new InvalidError('VALIDATION_FAILED', 'The bound dataset does not exist in this project.', [
      { field: 'body.integration.datasetBinding', message: `dataset ${datasetId} does not exist in this project` },
    ]);
  }
}

async function insertStandard(
  tx: Db,
  scope: Scope,
  investigationId: string,
  name: string,
  description: string | null,
): Promise<string> {
  if (await store.nameTaken(tx, investigationId, name)) {
    // A taken name answers 400 with the catalogue's summary, as clients of the notebook API expect.
    throw new InvalidError(
      'NOTEBOOK_NAME_TAKEN',
      `A notebook named '${name}' already exists in this investigation.`,
      [{ field: 'body.name', message: 'is already used in this investigation' }],
      { InvestigationId: investigationId },
    );
  }
  const id = randomUUID();
  await store.insertStandardNotebook(tx, {
    id,
    project_id: scope.projectId,
    investigation_id: investigationId,
    name,
    description,
    notebook_order: await store.nextNotebookOrder(tx, investigationId),
    created_at: new Date(),
    created_by: scope.actor,
  });
  return id;
}

async function insertJupyter(
  tx: Db,
  scope: Scope,
  nb: {
    name: string;
    description: string | null;
    kernelType: string;
    integration: JupyterNotebookCreate['integration'];
    environment: JupyterNotebookCreate['environment'];
    /** The stored cells and the notebook metadata, as JSON text. */
    cellsJson: string;
    metadataJson: string;
  },
): Promise<string> {
  const id = randomUUID();
  const now = new Date();
  const integration = {
    enrichmentMode: nb.integration?.enrichmentMode ?? false,
    datasetBinding: nb.integration?.datasetBinding ?? null,
    outputFormat: nb.integration?.outputFormat ?? 'enriched_dataframe',
    autoExecution: nb.integration?.autoExecution ?? false,
    scheduleExecution: nb.integration?.scheduleExecution ?? null,
  };
  const environment = {
    packages: nb.environment?.packages ?? [],
    customLibraries: nb.environment?.customLibraries ?? [],
  };
  await store.insertJupyterNotebook(tx, {
    id,
    project_id: scope.projectId,
    name: nb.name,
    description: nb.description,
    kernel_type: nb.kernelType,
    integration,
    environment,
    cellsJson: nb.cellsJson,
    metadataJson: nb.metadataJson,
    created_at: now,
    created_by: scope.actor,
  });
  return id;
}

async function updateStandard(
  tx: Db,
  scope: Scope,
  current: store.NotebookView,
  body: StandardNotebookUpdate,
  modifiedAt: Date,
): Promise<void> {
  if (body.name.toLowerCase() !== current.name.toLowerCase()) {
    await requireInvestigation(tx, scope, current.investigation_id!, true);
    if (await store.nameTaken(tx, current.investigation_id!, body.name, current.id)) {
      throw new InvalidError(
        'NOTEBOOK_NAME_TAKEN',
        `A notebook named '${body.name}' already exists in this investigation.`,
        [{ field: 'body.name', message: 'is already used in this investigation' }],
        {},
        'Validation failed', // a rename is no creation: the creation's summary would mislead
      );
    }
  }
  const schedule =
    body.scheduleExecution !== undefined
      ? checkCron(body.scheduleExecution, 'body.scheduleExecution')
      : current.schedule_execution;
  await store.updateStandardNotebook(tx, {
    id: current.id,
    name: body.name,
    description: body.description !== undefined ? (body.description ?? null) : current.description,
    notebook_order: body.notebookOrder ?? current.notebook_order,
    modified_at: modifiedAt,
    modified_by: scope.actor,
    schedule_execution: schedule,
  });
}

async function updateJupyter(
  tx: Db,
  scope: Scope,
  current: store.NotebookView,
  body: JupyterNotebookUpdate,
  modifiedAt: Date,
): Promise<void> {
  const integration = { ...current.integration, ...(body.integration ?? {}) };
  checkCron(body.integration?.scheduleExecution, 'body.integration.scheduleExecution');
  await checkBinding(tx, scope, body.integration?.datasetBinding);
  const environment = { ...current.environment, ...(body.environment ?? {}) };
  delete environment.pythonVersion;
  const oldCells = (current.cells as StoredCell[] | null) ?? [];
  const cells = body.cells ? cellsFromInput(body.cells, oldCells) : oldCells;
  const version = cellsChanged(oldCells, cells) ? bumpVersion(current.notebook_version) : current.notebook_version;
  await store.updateJupyterNotebook(tx, {
    id: current.id,
    name: body.notebookName ?? current.name,
    description: body.notebookDescription !== undefined ? (body.notebookDescription ?? null) : current.description,
    kernel_type: body.kernelType ?? current.kernel_type,
    integration,
    environment,
    cells,
    notebook_version: version,
    modified_at: modifiedAt,
    modified_by: scope.actor,
  });
}

/** A change of cells is a new patch version: 1.3.2 becomes 1.3.3. */
function bumpVersion(version: string): string {
  const [major, minor, patch] = version.split('.').map(Number);
  return `${major}.${minor}.${patch + 1}`;
}

async function freeCopyName(tx: Db, investigationId: string, name: string): Promise<string> {
  const base = `Copy of ${name}`;
  const taken = new Set((await store.namesStartingWith(tx, investigationId, base)).map((n) => n.toLowerCase()));
  if (!taken.has(base.toLowerCase())) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base} (${i})`.toLowerCase())) return `${base} (${i})`;
}

function freshCell(cell: StoredCell): StoredCell {
  return {
    ...cell,
    ...(cell.cell_type === 'code' ? { outputs: [], execution_count: null } : {}),
    assay: { ...cell.assay, lastExecuted: null, executionStatus: null },
  };
}

async function withBlocks(tx: Db, notebook: StandardNotebook): Promise<StandardNotebook> {
  return { ...notebook, blocks: (await store.blocksOf(tx, notebook.notebookId)).map(toBlock) };
}

function toNotebook(row: store.NotebookView): Notebook {
  return row.notebook_type === STANDARD ? toStandard(row) : toJupyter(row);
}

function toStandard(row: store.NotebookHead): StandardNotebook {
  return {
    notebookId: row.id,
    investigationId: row.investigation_id!,
    name: row.name,
    description: row.description,
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: row.created_by,
    modifiedBy: row.modified_by,
    notebookType: STANDARD,
    notebookOrder: row.notebook_order,
    lastExecutionDuration: row.last_execution_seconds,
    blockCount: row.block_count,
    scheduleExecution: row.schedule_execution,
  };
}

/** The cron a notebook runs on, whichever its type: the standard column or the Jupyter integration. */
function scheduleOf(row: store.NotebookRow): string | null {
  return row.schedule_execution ?? row.integration?.scheduleExecution ?? null;
}

/**
 * What is wrong with a cron expression as the scheduler reads it (UTC; five fields, or six with
 * seconds first), or null when it can be used.
 */
export function cronProblem(cron: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return 'must have five fields, or six with seconds first';
  try {
    CronExpressionParser.parse(cron, { tz: 'UTC', strict: false });
  } catch (err) {
    return `is not a valid cron expression: ${(err as Error).message}`;
  }
  return null;
}

/** A cron expression as the scheduler reads it, trimmed, or a 400 saying what is wrong with it. */
function checkCron(cron: string | null | undefined, field: string): string | null {
  if (cron === undefined || cron === null) return null;
  const problem = cronProblem(cron);
  if (problem)
    throw new InvalidError('VALIDATION_FAILED', `The schedule '${cron}' cannot be used; nothing was changed.`, [
      { field, message: problem },
    ]);
  return cron.trim();
}

function toJupyter(row: store.NotebookHead & { cells?: unknown[] | null }): JupyterNotebook {
  const environment = row.environment ?? {};
  return {
    notebookId: row.id,
    projectId: row.project_id,
    notebookType: JUPYTER,
    notebookName: row.name,
    notebookDescription: row.description,
    notebookVersion: row.notebook_version,
    kernelType: row.kernel_type ?? 'python3',
    status: row.status,
    integration: row.integration as JupyterNotebook['integration'],
    cells: ((row.cells as StoredCell[] | null | undefined) ?? []).map(toApiCell),
    environment: {
      pythonVersion: environment.pythonVersion ?? null,
      packages: environment.packages ?? [],
      customLibraries: environment.customLibraries ?? [],
    },
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: row.created_by,
    lastExecutionDate: isoOrNull(row.last_execution_at),
    executionCount: row.execution_count,
  };
}

/**
 * A Jupyter notebook's answer from its row (without cells) and its cells as JSON text, stored or
 * already in the contract's shape. Small ones are built here; a large one is built in a worker
 * thread and sent as text, so that no request parses and serialises megabytes on the service's thread.
 */
async function jupyterAnswer(
  row: store.NotebookSummaryRow,
  cells: { stored: string } | { api: Uint8Array },
  extra: Partial<JupyterNotebook> = {},
): Promise<JupyterNotebook | SerialisedAnswer> {
  const head = { ...toJupyter({ ...row, cells: null }), ...extra };
  const size = 'api' in cells ? cells.api.byteLength : cells.stored.length;
  if (size <= ANSWER_IN_THREAD_CHARS) {
    const api = 'api' in cells ? new TextDecoder().decode(cells.api) : apiCellsJson(cells.stored);
    return { ...head, cells: JSON.parse(api) as JupyterNotebook['cells'] };
  }
  const api = 'api' in cells ? cells.api : await runInThread('apiCellsBytes', { storedCells: cells.stored }, 'answer');
  const { cells: _cells, ...rest } = head;
  const encode = (text: string) => new TextEncoder().encode(text);
  return {
    notebookId: head.notebookId,
    json: [encode(`${JSON.stringify(rest).slice(0, -1)},"cells":`), api, encode('}')],
  };
}

/** An answer in pieces (a large notebook's), as opposed to one in the contract's shape. */
function isPieces(answer: Notebook | SerialisedAnswer): answer is SerialisedAnswer {
  return 'json' in answer;
}

function toJson(answer: Notebook): Buffer {
  return Buffer.from(JSON.stringify(answer));
}

/** An answer as `getServed` gives it, for a service without a cache. */
function serialised(answer: Notebook | SerialisedAnswer, scope: Scope): CachedAnswer | SerialisedAnswer {
  if (isPieces(answer)) return answer;
  const json = toJson(answer);
  return { tenantId: scope.tenantId, projectId: scope.projectId, json, etag: weakEtag(json) };
}

/** Reads an uploaded `.ipynb` in a worker thread; one that needs more than a thread's memory is a 400. */
async function readIpynbOffThread(file: string) {
  try {
    return await runInThread('readIpynb', { file }, 'import');
  } catch (err) {
    if (err instanceof TaskInputRefused) {
      const f = err.failure;
      throw new InvalidError(f.code, f.message, f.problems, f.details);
    }
    if (!(err instanceof ThreadMemoryError)) throw err;
    throw new InvalidError('INVALID_NOTEBOOK_FILE', `Reading the notebook failed: ${err.message}`, [
      { field: 'file', message: 'needs too much memory to read' },
    ]);
  }
}

function toSummary(row: store.NotebookSummaryRow): NotebookSummary {
  const standard = row.notebook_type === STANDARD;
  return {
    notebookId: row.id,
    notebookType: row.notebook_type,
    notebookName: row.name,
    investigationId: standard ? row.investigation_id : null,
    kernelType: standard ? null : row.kernel_type,
    status: row.status,
    enrichmentMode: Boolean(row.integration?.enrichmentMode),
    cellCount: standard ? row.block_count : (row.cell_count ?? 0),
    lastExecutionDate: isoOrNull(row.last_execution_at),
    dateCreated: iso(row.created_at),
  };
}
