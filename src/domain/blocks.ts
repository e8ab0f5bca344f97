import { randomUUID } from 'node:crypto';
import type { ContractSchemas } from '../api/schemas';
import type { Block, BlockCreate, BlockUpdate } from '../api/types';
import type { Db, Row } from '../store/db';
import { checkAgainstDataset, checkConfiguration } from './blockConfig';
import { datasetVocabulary } from './datasets';
import { InvalidError, NotFoundError } from './errors';
import { checkNotStale, nextModified } from './locking';
import { lockStandardNotebook } from './notebooks';
import { iso, isoOrNull, type Scope } from './scope';

/** Block rules: ordering without gaps, configurations checked against the operator catalogue. */
export class Blocks {
  constructor(
    private readonly db: Db,
    private readonly schemas: ContractSchemas,
  ) {}

  /** The blocks of a standard notebook in `blockOrder`. */
  async list(scope: Scope, notebookId: string): Promise<Block[]> {
    return this.db.transaction(async (tx) => {
      await lockStandardNotebook(tx, scope, notebookId, false);
      return (await tx.query('SELECT * FROM blocks WHERE notebook_id = $1 ORDER BY block_order', [notebookId])).map(
        toBlock,
      );
    });
  }

  /** Adds a block at `blockOrder` (others move down) or at the end. */
  async create(scope: Scope, notebookId: string, input: BlockCreate): Promise<Block> {
    const config = this.checkedConfiguration(input.blockType, input.configuration);
    return this.db.transaction(async (tx) => {
      const notebook = await lockStandardNotebook(tx, scope, notebookId, true);
      await checkAgainstNotebookDataset(tx, scope, notebook, config);
      return insertBlock(tx, scope, notebookId, { ...input, configurationText: config });
    });
  }

  /** A block of a notebook of the project, or 404. */
  async get(scope: Scope, blockId: string): Promise<Block> {
    return toBlock(await requireBlock(this.db, scope, blockId, false));
  }

  /** Changes the fields sent (null and absent keep the value); keeps the execution history. */
  async update(scope: Scope, blockId: string, input: BlockUpdate): Promise<Block> {
    return this.db.transaction(async (tx) => {
      const probe = await requireBlock(tx, scope, blockId, false);
      // Lock the notebook first, then the block: every block change takes locks in that order.
      const notebook = await lockStandardNotebook(tx, scope, String(probe.notebook_id), true);
      const current = await requireBlock(tx, scope, blockId, true);
      checkNotStale(scope, input.dateModified, { resource: 'Block', id: blockId, pathSegment: 'block', row: current });
      const configuration =
        input.configuration === undefined || input.configuration === null
          ? String(current.configuration)
          : this.checkedConfiguration(current.block_type as Block['blockType'], input.configuration);
      if (configuration !== current.configuration)
        await checkAgainstNotebookDataset(tx, scope, notebook, configuration);
      if (input.blockOrder !== undefined && input.blockOrder !== current.block_order) {
        await moveBlock(tx, String(current.notebook_id), Number(current.block_order), input.blockOrder);
      }
      const rows = await tx.query(
        `UPDATE blocks SET title = $2, description = $3, is_disabled = $4, configuration = $5,
           modified_at = $6, modified_by = $7 WHERE id = $1 RETURNING *`,
        [
          blockId,
          input.blockTitle ?? current.title,
          input.blockDescription ?? current.description,
          input.isDisabled ?? current.is_disabled,
          configuration,
          nextModified(current.modified_at),
          scope.actor,
        ],
      );
      return toBlock(rows[0]);
    });
  }

  /** Deletes a block; the blocks after it move up. */
  async delete(scope: Scope, blockId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const probe = await requireBlock(tx, scope, blockId, false);
      await lockStandardNotebook(tx, scope, String(probe.notebook_id), true);
      await tx.query('DELETE FROM blocks WHERE id = $1', [blockId]);
      await tx.query('UPDATE blocks SET block_order = block_order - 1 WHERE notebook_id = $1 AND block_order > $2', [
        probe.notebook_id,
        probe.block_order,
      ]);
    });
  }

  private checkedConfiguration(blockType: Block['blockType'], configuration: unknown): string {
    const checked = checkConfiguration(this.schemas, blockType, configuration, 'body.configuration');
    if (Array.isArray(checked)) {
      throw new InvalidError(
        'Validation failed',
        `The configuration is not a valid ${blockType} configuration; nothing was changed.`,
        checked,
      );
    }
    return checked.text;
  }
}

/** Refuses (400) a configuration naming attributes or activities the notebook's dataset does not have. */
async function checkAgainstNotebookDataset(
  tx: Db,
  scope: Scope,
  notebook: Row,
  configurationText: string,
): Promise<void> {
  const [investigation] = await tx.query<{ dataset_id: string }>(
    'SELECT dataset_id FROM investigations WHERE id = $1',
    [notebook.investigation_id],
  );
  const vocabulary = investigation && (await datasetVocabulary(tx, scope, investigation.dataset_id));
  if (!vocabulary) return;
  const problems = checkAgainstDataset(
    JSON.parse(configurationText) as Record<string, unknown>,
    vocabulary,
    'body.configuration',
  );
  if (problems.length > 0) {
    throw new InvalidError(
      'Validation failed',
      "The configuration names things the investigation's dataset does not have; nothing was changed.",
      problems,
      {
        NotebookId: String(notebook.id),
      },
    );
  }
}

/** Inserts a block with an already checked configuration; used by block creation, templates and copies. */
export async function insertBlock(
  tx: Db,
  scope: Scope,
  notebookId: string,
  input: {
    blockType: string;
    blockTitle: string;
    blockDescription?: string | null;
    blockOrder?: number;
    isDisabled?: boolean;
    configurationText: string;
  },
): Promise<Block> {
  const [{ count }] = await tx.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM blocks WHERE notebook_id = $1',
    [notebookId],
  );
  const order = Math.min(input.blockOrder ?? count, count);
  await tx.query('UPDATE blocks SET block_order = block_order + 1 WHERE notebook_id = $1 AND block_order >= $2', [
    notebookId,
    order,
  ]);
  const now = new Date();
  const rows = await tx.query(
    `INSERT INTO blocks (id, notebook_id, block_type, title, description, block_order, configuration, is_disabled,
       created_at, created_by, modified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING *`,
    [
      randomUUID(),
      notebookId,
      input.blockType,
      input.blockTitle,
      input.blockDescription ?? null,
      order,
      input.configurationText,
      input.isDisabled ?? false,
      now,
      scope.actor,
    ],
  );
  return toBlock(rows[0]);
}

/** Moves a block from one position to another, shifting the ones in between. */
async function moveBlock(tx: Db, notebookId: string, from: number, wanted: number): Promise<void> {
  const [{ count }] = await tx.query<{ count: number }>(
    'SELECT count(*)::int AS count FROM blocks WHERE notebook_id = $1',
    [notebookId],
  );
  const to = Math.min(wanted, count - 1);
  if (to === from) return;
  if (to > from) {
    await tx.query(
      'UPDATE blocks SET block_order = CASE WHEN block_order = $2 THEN $3 ELSE block_order - 1 END WHERE notebook_id = $1 AND block_order BETWEEN $2 AND $3',
      [notebookId, from, to],
    );
  } else {
    await tx.query(
      'UPDATE blocks SET block_order = CASE WHEN block_order = $2 THEN $3 ELSE block_order + 1 END WHERE notebook_id = $1 AND block_order BETWEEN $3 AND $2',
      [notebookId, from, to],
    );
  }
}

async function requireBlock(db: Db, scope: Scope, blockId: string, forUpdate: boolean): Promise<Row> {
  const rows = await db.query(
    `SELECT b.* FROM blocks b JOIN notebooks n ON n.id = b.notebook_id
     WHERE b.id = $1 AND n.project_id = $2${forUpdate ? ' FOR UPDATE OF b' : ''}`,
    [blockId, scope.projectId],
  );
  if (rows.length === 0) throw new NotFoundError('Block', 'BlockId', blockId);
  return rows[0];
}

/** The contract's shape of a stored block. */
export function toBlock(row: Row): Block {
  return {
    blockId: String(row.id),
    notebookId: String(row.notebook_id),
    blockType: row.block_type as Block['blockType'],
    blockTitle: String(row.title),
    blockDescription: (row.description as string | null) ?? null,
    blockOrder: Number(row.block_order),
    configuration: String(row.configuration),
    isDisabled: Boolean(row.is_disabled),
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: String(row.created_by),
    modifiedBy: (row.modified_by as string | null) ?? null,
    lastExecutionDate: isoOrNull(row.last_execution_at),
    lastExecutionStatus: (row.last_execution_status as Block['lastExecutionStatus']) ?? null,
    executionCount: Number(row.execution_count),
    lastExecution: (row.last_execution as Block['lastExecution']) ?? null,
  };
}
