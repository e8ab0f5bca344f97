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
import type { Db, Row } from '../store/db';
import { problemsFromSchemaErrors } from './schemaProblems';
import { artifactsWhere, removeArtifactFiles } from './artifacts';
import { insertBlock, toBlock } from './blocks';
import { runInThread, ThreadMemoryError } from '../threads/pool';
import { apiCellsJson, cellsChanged, cellsFromInput, NOTEBOOK_LIMITS, toApiCell, type StoredCell } from './cells';
import { requireDataset } from './datasets';
import { ConflictError, InvalidError, NotFoundError, TooLargeError } from './errors';
import { checkNotStale, nextModified } from './locking';
import { iso, isoOrNull, pageInfo, type PageRequest, type Scope } from './scope';
import { CronExpressionParser } from 'cron-parser';
import { jupyterTemplate, jupyterTemplateIds, standardTemplate } from './templates';

const STANDARD = 0;
const JUPYTER = 1;

const BLOCK_COUNT = '(SELECT count(*)::int FROM blocks b WHERE b.notebook_id = n.id) AS block_count';
const SELECT = `SELECT n.*, ${BLOCK_COUNT} FROM notebooks n`;
/** Every column but the cells and the notebook metadata, which can be large: reads that do not need them skip them. */
const LIGHT_COLUMNS = `n.id, n.project_id, n.investigation_id, n.notebook_type, n.name, n.description, n.notebook_order,
  n.status, n.kernel_type, n.notebook_version, n.integration, n.environment, n.last_execution_seconds, n.last_execution_at,
  n.execution_count, n.created_at, n.created_by, n.modified_at, n.modified_by, n.schedule_execution,
  jsonb_array_length(n.cells) AS cell_count, ${BLOCK_COUNT}`;
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

/** Filters of the project's notebook list (page 000). */
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
  ) {}

  /** Refuses a kernelType with no kernelspec here, listing those there are. */
  private async checkKernel(kernelType: string, field: string): Promise<void> {
    const available = await this.kernelNames();
    if (!available.includes(kernelType)) {
      throw new InvalidError(
        'Kernel not available',
        `No kernelspec '${kernelType}' is installed; nothing was stored.`,
        [{ field, message: `must be one of ${available.join(', ') || '(none installed)'}` }],
        { Available: available },
      );
    }
  }

  /** The project's notebooks of both types, newest first. */
  async list(scope: Scope, filters: NotebookFilters, paging: PageRequest) {
    const where = `n.project_id = $1
      AND ($2::text IS NULL OR n.status = $2)
      AND ($3::text IS NULL OR n.kernel_type = $3)
      AND ($4::boolean IS NULL OR COALESCE((n.integration->>'enrichmentMode')::boolean, false) = $4)
      AND ($5::int IS NULL OR n.notebook_type = $5)`;
    const args = [
      scope.projectId,
      filters.status ?? null,
      filters.kernelType ?? null,
      filters.enrichmentMode ?? null,
      filters.notebookType ?? null,
    ];
    const [{ count }] = await this.db.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM notebooks n WHERE ${where}`,
      args,
    );
    const rows = await this.db.query(
      `SELECT ${LIGHT_COLUMNS} FROM notebooks n WHERE ${where} ORDER BY n.created_at DESC, n.id LIMIT $6 OFFSET $7`,
      [...args, paging.pageSize, (paging.page - 1) * paging.pageSize],
    );
    return { notebooks: rows.map(toSummary), ...pageInfo(paging, count) };
  }

  /**
   * A notebook of either type, in its own shape. The store hands back a Jupyter notebook's cells
   * as text; a large notebook's answer is built in a worker thread and comes back as JSON text.
   */
  async get(scope: Scope, id: string): Promise<Notebook | SerialisedAnswer> {
    const rows = await this.db.query(
      `SELECT ${LIGHT_COLUMNS}, n.cells::text AS cells_text FROM notebooks n WHERE n.id = $1 AND n.project_id = $2`,
      [id, scope.projectId],
    );
    if (rows.length === 0) throw new NotFoundError('Notebook', 'NotebookId', id);
    const row = rows[0];
    if (Number(row.notebook_type) === STANDARD) return toStandard(row);
    return jupyterAnswer(row, { stored: (row.cells_text as string | null) ?? '[]' });
  }

  /** Creates a Jupyter notebook from a template's cells followed by `initialCells`. */
  async createJupyter(scope: Scope, input: JupyterNotebookCreate): Promise<JupyterNotebook> {
    const templateCells = [];
    if (input.template) {
      const template = jupyterTemplate(input.template);
      if (!template) {
        throw new InvalidError(
          'Unknown template',
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
      throw new InvalidError('Validation failed', 'The kernel type is not a valid kernelspec name.', [
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
      const [row] = await tx.query(`SELECT ${LIGHT_COLUMNS} FROM notebooks n WHERE n.id = $1`, [id]);
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
      const isStandard = Number(current.notebook_type) === STANDARD;
      // The contract's body is a oneOf of both types; check it against this notebook's own type.
      const errors = this.schemas.validate(isStandard ? 'StandardNotebookUpdate' : 'JupyterNotebookUpdate', body);
      if (errors) {
        const kind = isStandard ? 'a standard notebook (page 003)' : 'a Jupyter notebook (page 000)';
        throw new InvalidError(
          'Validation failed',
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
    if (Number(row.notebook_type) !== JUPYTER) {
      throw new InvalidError(
        'Not a Jupyter notebook',
        'A standard notebook has blocks, not cells; it has no .ipynb form.',
        [{ field: 'path.notebookId', message: 'is a standard notebook' }],
      );
    }
    const kernel = String(row.kernel_type);
    const cells = ((row.cells as StoredCell[]) ?? []).map(({ assay: _assay, ...cell }) =>
      cell.cell_type === 'code'
        ? { ...cell, outputs: cell.outputs ?? [], execution_count: cell.execution_count ?? null }
        : cell,
    );
    return {
      name: String(row.name),
      document: {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {
          ...((row.nb_metadata as object) ?? {}),
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
          'Notebook is executing',
          'Cancel the running execution or wait for it to finish, then retry.',
          {
            NotebookId: id,
            CurrentStatus: 'Running',
          },
        );
      }
      const files = await artifactsWhere(tx, 'a.execution_id IN (SELECT id FROM executions WHERE notebook_id = $1)', [
        id,
      ]);
      await tx.query('DELETE FROM notebooks WHERE id = $1', [id]);
      return {
        kind: Number(current.notebook_type) === STANDARD ? ('standard' as const) : ('jupyter' as const),
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
    const rows = await this.db.query(
      `${SELECT} WHERE n.investigation_id = $1 ORDER BY n.notebook_order, n.created_at, n.id`,
      [investigationId],
    );
    return rows.map(toStandard);
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
      if (!template) throw new NotFoundError('Template', 'TemplateId', input.templateId);
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
      if (Number(source.notebook_type) === JUPYTER) {
        if (input.destinationInvestigationId) {
          throw new InvalidError('Validation failed', 'A Jupyter notebook does not belong to an investigation.', [
            { field: 'body.destinationInvestigationId', message: 'must be absent for a Jupyter notebook' },
          ]);
        }
        const copyId = await insertJupyter(tx, scope, {
          name: input.name ?? `Copy of ${String(source.name)}`,
          description: (source.description as string | null) ?? null,
          kernelType: String(source.kernel_type),
          integration: source.integration as JupyterNotebookCreate['integration'],
          environment: source.environment as JupyterNotebookCreate['environment'],
          cellsJson: JSON.stringify(((source.cells as StoredCell[]) ?? []).map(freshCell)),
          metadataJson: JSON.stringify(source.nb_metadata ?? {}),
        });
        return toJupyter(await requireNotebook(tx, scope, copyId));
      }
      const destination = input.destinationInvestigationId ?? String(source.investigation_id);
      await requireInvestigation(tx, scope, destination, true);
      const name = input.name ?? (await freeCopyName(tx, destination, String(source.name)));
      const copyId = await insertStandard(tx, scope, destination, name, (source.description as string | null) ?? null);
      const blocks = await tx.query('SELECT * FROM blocks WHERE notebook_id = $1 ORDER BY block_order', [id]);
      for (const b of blocks) {
        await insertBlock(tx, scope, copyId, {
          blockType: String(b.block_type),
          blockTitle: String(b.title),
          blockDescription: (b.description as string | null) ?? null,
          isDisabled: Boolean(b.is_disabled),
          configurationText: String(b.configuration),
        });
      }
      return withBlocks(tx, toStandard(await requireNotebook(tx, scope, copyId)));
    });
  }

  /** A link to the notebook under `PUBLIC_URL`. */
  async url(scope: Scope, id: string): Promise<NotebookUrl> {
    const row = await requireNotebook(this.db, scope, id);
    const relativePath =
      Number(row.notebook_type) === STANDARD
        ? `/investigation/${scope.tenantId}/${scope.projectId}/${String(row.investigation_id)}/notebook/${id}`
        : `/notebook/${scope.tenantId}/${scope.projectId}/${id}`;
    return { notebookId: id, url: this.publicUrl + relativePath, relativePath, expiresAt: null };
  }
}

/**
 * Locks a standard notebook of the project for a block change (or just checks it exists), so
 * that concurrent block changes of one notebook keep `blockOrder` without gaps.
 */
export async function lockStandardNotebook(tx: Db, scope: Scope, id: string, forUpdate: boolean): Promise<Row> {
  const row = await requireNotebook(tx, scope, id, forUpdate);
  if (Number(row.notebook_type) !== STANDARD) {
    throw new InvalidError(
      'Not a standard notebook',
      'Blocks belong to standard notebooks; this is a Jupyter notebook.',
      [],
      { NotebookId: id },
    );
  }
  return row;
}

async function requireNotebook(db: Db, scope: Scope, id: string, forUpdate = false): Promise<Row> {
  const rows = await db.query(`${SELECT} WHERE n.id = $1 AND n.project_id = $2${forUpdate ? ' FOR UPDATE OF n' : ''}`, [
    id,
    scope.projectId,
  ]);
  if (rows.length === 0) throw new NotFoundError('Notebook', 'NotebookId', id);
  return rows[0];
}

async function requireInvestigation(db: Db, scope: Scope, id: string, forUpdate = false): Promise<void> {
  // Locking the investigation serialises name checks and `notebookOrder` of concurrent creates.
  const rows = await db.query(
    `SELECT id FROM investigations WHERE id = $1 AND project_id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
    [id, scope.projectId],
  );
  if (rows.length === 0) throw new NotFoundError('Investigation', 'InvestigationId', id);
}

async function checkBinding(db: Db, scope: Scope, datasetId: string | null | undefined): Promise<void> {
  if (!datasetId) return;
  try {
    await requireDataset(db, scope, datasetId);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    throw new InvalidError('Validation failed', 'The bound dataset does not exist in this project.', [
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
  const taken = await tx.query('SELECT 1 FROM notebooks WHERE investigation_id = $1 AND lower(name) = lower($2)', [
    investigationId,
    name,
  ]);
  if (taken.length > 0) {
    // Page 003 answers a taken name with 400 and this message.
    throw new InvalidError(
      'Failed to create notebook. The name may already exist in this investigation.',
      `A notebook named '${name}' already exists in this investigation.`,
      [{ field: 'body.name', message: 'is already used in this investigation' }],
      { InvestigationId: investigationId },
    );
  }
  const [{ next }] = await tx.query<{ next: number }>(
    'SELECT COALESCE(max(notebook_order), 0) + 1 AS next FROM notebooks WHERE investigation_id = $1',
    [investigationId],
  );
  const id = randomUUID();
  const now = new Date();
  await tx.query(
    `INSERT INTO notebooks (id, project_id, investigation_id, notebook_type, name, description, notebook_order, created_at, created_by, modified_at)
     VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8, $7)`,
    [id, scope.projectId, investigationId, name, description, Number(next), now, scope.actor],
  );
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
  await tx.query(
    `INSERT INTO notebooks (id, project_id, notebook_type, name, description, kernel_type, integration, environment, cells, nb_metadata,
       created_at, created_by, modified_at)
     VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10)`,
    [
      id,
      scope.projectId,
      nb.name,
      nb.description,
      nb.kernelType,
      JSON.stringify(integration),
      JSON.stringify(environment),
      nb.cellsJson,
      nb.metadataJson,
      now,
      scope.actor,
    ],
  );
  return id;
}

async function updateStandard(
  tx: Db,
  scope: Scope,
  current: Row,
  body: StandardNotebookUpdate,
  modifiedAt: Date,
): Promise<void> {
  if (body.name.toLowerCase() !== String(current.name).toLowerCase()) {
    await tx.query('SELECT id FROM investigations WHERE id = $1 FOR UPDATE', [current.investigation_id]);
    const taken = await tx.query(
      'SELECT 1 FROM notebooks WHERE investigation_id = $1 AND lower(name) = lower($2) AND id <> $3',
      [current.investigation_id, body.name, current.id],
    );
    if (taken.length > 0) {
      throw new InvalidError(
        'Validation failed',
        `A notebook named '${body.name}' already exists in this investigation.`,
        [{ field: 'body.name', message: 'is already used in this investigation' }],
      );
    }
  }
  const schedule =
    body.scheduleExecution !== undefined
      ? checkCron(body.scheduleExecution, 'body.scheduleExecution')
      : (current.schedule_execution as string | null);
  await tx.query(
    `UPDATE notebooks SET name = $2, description = $3, notebook_order = $4, modified_at = $5, modified_by = $6,
       schedule_execution = $7 WHERE id = $1`,
    [
      current.id,
      body.name,
      body.description !== undefined ? body.description : current.description,
      body.notebookOrder ?? current.notebook_order,
      modifiedAt,
      scope.actor,
      schedule,
    ],
  );
}

async function updateJupyter(
  tx: Db,
  scope: Scope,
  current: Row,
  body: JupyterNotebookUpdate,
  modifiedAt: Date,
): Promise<void> {
  const integration = { ...(current.integration as object), ...(body.integration ?? {}) };
  checkCron(body.integration?.scheduleExecution, 'body.integration.scheduleExecution');
  await checkBinding(tx, scope, body.integration?.datasetBinding);
  const environment = { ...(current.environment as object), ...(body.environment ?? {}) };
  delete (environment as { pythonVersion?: unknown }).pythonVersion;
  const oldCells = (current.cells as StoredCell[]) ?? [];
  const cells = body.cells ? cellsFromInput(body.cells, oldCells) : oldCells;
  const version = cellsChanged(oldCells, cells)
    ? bumpVersion(String(current.notebook_version))
    : String(current.notebook_version);
  await tx.query(
    `UPDATE notebooks SET name = $2, description = $3, kernel_type = $4, integration = $5, environment = $6, cells = $7,
       notebook_version = $8, modified_at = $9, modified_by = $10 WHERE id = $1`,
    [
      current.id,
      body.notebookName ?? current.name,
      body.notebookDescription !== undefined ? body.notebookDescription : current.description,
      body.kernelType ?? current.kernel_type,
      JSON.stringify(integration),
      JSON.stringify(environment),
      JSON.stringify(cells),
      version,
      modifiedAt,
      scope.actor,
    ],
  );
}

/** A change of cells is a new patch version: 1.3.2 becomes 1.3.3. */
function bumpVersion(version: string): string {
  const [major, minor, patch] = version.split('.').map(Number);
  return `${major}.${minor}.${patch + 1}`;
}

async function freeCopyName(tx: Db, investigationId: string, name: string): Promise<string> {
  const base = `Copy of ${name}`;
  const rows = await tx.query<{ name: string }>(
    'SELECT name FROM notebooks WHERE investigation_id = $1 AND lower(name) LIKE lower($2)',
    [investigationId, `${base}%`],
  );
  const taken = new Set(rows.map((r) => r.name.toLowerCase()));
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
  const blocks = await tx.query('SELECT * FROM blocks WHERE notebook_id = $1 ORDER BY block_order', [
    notebook.notebookId,
  ]);
  return { ...notebook, blocks: blocks.map(toBlock) };
}

function toNotebook(row: Row): Notebook {
  return Number(row.notebook_type) === STANDARD ? toStandard(row) : toJupyter(row);
}

function toStandard(row: Row): StandardNotebook {
  return {
    notebookId: String(row.id),
    investigationId: String(row.investigation_id),
    name: String(row.name),
    description: (row.description as string | null) ?? null,
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: String(row.created_by),
    modifiedBy: (row.modified_by as string | null) ?? null,
    notebookType: STANDARD,
    notebookOrder: Number(row.notebook_order),
    lastExecutionDuration: Number(row.last_execution_seconds),
    blockCount: Number(row.block_count ?? 0),
    scheduleExecution: (row.schedule_execution as string | null) ?? null,
  };
}

/** The cron a notebook runs on, whichever its type: the standard column or the Jupyter integration. */
function scheduleOf(row: Row): string | null {
  const integration = row.integration as { scheduleExecution?: string | null } | null;
  return (row.schedule_execution as string | null) ?? integration?.scheduleExecution ?? null;
}

/** A cron expression as the scheduler reads it (UTC; five fields, or six with seconds), or a 400. */
function checkCron(cron: string | null | undefined, field: string): string | null {
  if (cron === undefined || cron === null) return null;
  const fields = cron.trim().split(/\s+/);
  let problem: string | null =
    fields.length === 5 || fields.length === 6 ? null : 'must have five fields, or six with seconds first';
  if (!problem) {
    try {
      CronExpressionParser.parse(cron, { tz: 'UTC', strict: false });
    } catch (err) {
      problem = `is not a valid cron expression: ${(err as Error).message}`;
    }
  }
  if (problem)
    throw new InvalidError('Validation failed', `The schedule '${cron}' cannot be used; nothing was changed.`, [
      { field, message: problem },
    ]);
  return cron.trim();
}

function toJupyter(row: Row): JupyterNotebook {
  const environment =
    (row.environment as { packages?: string[]; customLibraries?: string[]; pythonVersion?: string }) ?? {};
  return {
    notebookId: String(row.id),
    projectId: String(row.project_id),
    notebookType: JUPYTER,
    notebookName: String(row.name),
    notebookDescription: (row.description as string | null) ?? null,
    notebookVersion: String(row.notebook_version),
    kernelType: String(row.kernel_type),
    status: row.status as JupyterNotebook['status'],
    integration: row.integration as JupyterNotebook['integration'],
    cells: ((row.cells as StoredCell[]) ?? []).map(toApiCell),
    environment: {
      pythonVersion: environment.pythonVersion ?? null,
      packages: environment.packages ?? [],
      customLibraries: environment.customLibraries ?? [],
    },
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: String(row.created_by),
    lastExecutionDate: isoOrNull(row.last_execution_at),
    executionCount: Number(row.execution_count),
  };
}

/**
 * A Jupyter notebook's answer from its row (without cells) and its cells as JSON text, stored or
 * already in the contract's shape. Small ones are built here; a large one is built in a worker
 * thread and sent as text, so that no request parses and serialises megabytes on the service's thread.
 */
async function jupyterAnswer(
  row: Row,
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

/** Reads an uploaded `.ipynb` in a worker thread; one that needs more than a thread's memory is a 400. */
async function readIpynbOffThread(file: string) {
  try {
    return await runInThread('readIpynb', { file }, 'import');
  } catch (err) {
    if (!(err instanceof ThreadMemoryError)) throw err;
    throw new InvalidError('Invalid notebook file', `Reading the notebook failed: ${err.message}`, [
      { field: 'file', message: 'needs too much memory to read' },
    ]);
  }
}

function toSummary(row: Row): NotebookSummary {
  const standard = Number(row.notebook_type) === STANDARD;
  const integration = (row.integration as { enrichmentMode?: boolean } | null) ?? {};
  return {
    notebookId: String(row.id),
    notebookType: standard ? 0 : 1,
    notebookName: String(row.name),
    investigationId: standard ? String(row.investigation_id) : null,
    kernelType: standard ? null : String(row.kernel_type),
    status: row.status as NotebookSummary['status'],
    enrichmentMode: Boolean(integration.enrichmentMode),
    cellCount: standard ? Number(row.block_count ?? 0) : Number(row.cell_count ?? 0),
    lastExecutionDate: isoOrNull(row.last_execution_at),
    dateCreated: iso(row.created_at),
  };
}
