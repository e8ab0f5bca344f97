import { randomUUID } from 'node:crypto';
import type { ContractSchemas } from '../api/schemas';
import type { Block, BlockCreate, BlockUpdate } from '../api/types';
import type { Db } from '../store/db';
import { datasetOfInvestigation } from '../store/investigations';
import * as store from '../store/notebooks';
import { checkAgainstDataset, checkConfiguration } from './blockConfig';
import { datasetVocabulary } from './datasets';
import { InvalidError, NotFoundError } from './errors';
import { checkNotStale, nextModified } from './locking';
import { lockStandardNotebook } from './notebookLocks';
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
      return (await store.blocksOf(tx, notebookId)).map(toBlock);
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
      const notebook = await lockStandardNotebook(tx, scope, probe.notebook_id, true);
      const current = await requireBlock(tx, scope, blockId, true);
      checkNotStale(scope, input.dateModified, { resource: 'Block', id: blockId, pathSegment: 'block', row: current });
      const configuration =
        input.configuration === undefined || input.configuration === null
          ? current.configuration
          : this.checkedConfiguration(current.block_type as Block['blockType'], input.configuration);
      if (configuration !== current.configuration)
        await checkAgainstNotebookDataset(tx, scope, notebook, configuration);
      if (input.blockOrder !== undefined && input.blockOrder !== current.block_order) {
        const count = await store.blockCount(tx, current.notebook_id);
        await store.moveBlock(tx, current.notebook_id, current.block_order, Math.min(input.blockOrder, count - 1));
      }
      const updated = await store.updateBlock(tx, {
        id: blockId,
        title: input.blockTitle ?? current.title,
        description: input.blockDescription ?? current.description,
        is_disabled: input.isDisabled ?? current.is_disabled,
        configuration,
        modified_at: nextModified(current.modified_at),
        modified_by: scope.actor,
      });
      return toBlock(updated);
    });
  }

  /** Deletes a block; the blocks after it move up. */
  async delete(scope: Scope, blockId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const probe = await requireBlock(tx, scope, blockId, false);
      await lockStandardNotebook(tx, scope, probe.notebook_id, true);
      await store.deleteBlock(tx, blockId);
      await store.shiftBlocksUp(tx, probe.notebook_id, probe.block_order);
    });
  }

  private checkedConfiguration(blockType: Block['blockType'], configuration: unknown): string {
    const checked = checkConfiguration(this.schemas, blockType, configuration, 'body.configuration');
    if (Array.isArray(checked)) {
      throw new InvalidError(
        'VALIDATION_FAILED',
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
  notebook: store.NotebookRow,
  configurationText: string,
): Promise<void> {
  const datasetId = await datasetOfInvestigation(tx, scope.projectId, notebook.investigation_id!);
  const vocabulary = datasetId && (await datasetVocabulary(tx, scope, datasetId));
  if (!vocabulary) return;
  const problems = checkAgainstDataset(
    JSON.parse(configurationText) as Record<string, unknown>,
    vocabulary,
    'body.configuration',
  );
  if (problems.length > 0) {
    throw new InvalidError(
      'VALIDATION_FAILED',
      "The configuration names things the investigation's dataset does not have; nothing was changed.",
      problems,
      { NotebookId: notebook.id },
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
  const count = await store.blockCount(tx, notebookId);
  const order = Math.min(input.blockOrder ?? count, count);
  await store.shiftBlocksDown(tx, notebookId, order);
  const row = await store.insertBlock(tx, {
    id: randomUUID(),
    notebook_id: notebookId,
    block_type: input.blockType,
    title: input.blockTitle,
    description: input.blockDescription ?? null,
    block_order: order,
    configuration: input.configurationText,
    is_disabled: input.isDisabled ?? false,
    created_at: new Date(),
    created_by: scope.actor,
  });
  return toBlock(row);
}

async function requireBlock(db: Db, scope: Scope, blockId: string, forUpdate: boolean): Promise<store.BlockRow> {
  const row = await store.findBlock(db, scope.projectId, blockId, forUpdate);
  if (!row) throw new NotFoundError('BLOCK_NOT_FOUND', 'BlockId', blockId);
  return row;
}

/** The contract's shape of a stored block. */
export function toBlock(row: store.BlockRow): Block {
  return {
    blockId: row.id,
    notebookId: row.notebook_id,
    blockType: row.block_type as Block['blockType'],
    blockTitle: row.title,
    blockDescription: row.description,
    blockOrder: row.block_order,
    configuration: row.configuration,
    isDisabled: row.is_disabled,
    dateCreated: iso(row.created_at),
    dateModified: iso(row.modified_at),
    createdBy: row.created_by,
    modifiedBy: row.modified_by,
    lastExecutionDate: isoOrNull(row.last_execution_at),
    lastExecutionStatus: (row.last_execution_status as Block['lastExecutionStatus']) ?? null,
    executionCount: row.execution_count,
    lastExecution: (row.last_execution as Block['lastExecution']) ?? null,
  };
}
