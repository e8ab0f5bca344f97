import type { StoredCell } from './cells';
import { InvalidError } from './errors';
import { checkParameters } from './parameters';

/**
 * The checks an execution passes before it is queued (and a run again, when the notebook may have
 * changed since): the kernel, the cell or block range, the parameters. One place for each.
 */

/** Refuses a kernelspec that is not installed here, listing those that are. */
export function requireInstalledKernel(available: string[], kernel: string, field: string, outcome: string): void {
  if (available.includes(kernel)) return;
  throw new InvalidError(
    'KERNEL_NOT_AVAILABLE',
    `No kernelspec '${kernel}' is installed here; ${outcome}.`,
    [{ field, message: `must be one of ${available.join(', ') || '(none installed)'}` }],
    { Available: available },
  );
}

/**
 * The items from `cellRange.startCell` to `cellRange.endCell` when `executionMode` is `range`,
 * else all; `noun` names them in the refusal (`{ one: 'an enabled block', many: 'blocks' }`).
 */
export function selectRange<T extends { id: string }>(
  items: T[],
  request: { executionMode?: string; cellRange?: { startCell: string; endCell: string } | null },
  noun: { one: string; many: string },
): T[] {
  if (request.executionMode !== 'range') return items;
  if (!request.cellRange) {
    throw new InvalidError('VALIDATION_FAILED', 'executionMode range needs a cellRange.', [
      { field: 'body.cellRange', message: 'is required when executionMode is range' },
    ]);
  }
  const start = items.findIndex((b) => b.id === request.cellRange!.startCell);
  const end = items.findIndex((b) => b.id === request.cellRange!.endCell);
  const problems = [];
  if (start < 0) problems.push({ field: 'body.cellRange.startCell', message: `is not ${noun.one} of this notebook` });
  if (end < 0) problems.push({ field: 'body.cellRange.endCell', message: `is not ${noun.one} of this notebook` });
  if (problems.length === 0 && end < start)
    problems.push({ field: 'body.cellRange', message: 'endCell comes before startCell' });
  if (problems.length > 0) {
    throw new InvalidError(
      'VALIDATION_FAILED',
      `The cell range does not name ${noun.many} of this notebook in order.`,
      problems,
    );
  }
  return items.slice(start, end + 1);
}

/** Refuses parameters that do not fit the notebook's parameters cell (see parameters.ts). */
export function requireFittingParameters(cells: StoredCell[], given: Record<string, unknown>): void {
  const problems = checkParameters(
    cells.map((c) => ({
      cellType: c.cell_type,
      source: c.source,
      tags: (c.metadata?.tags as string[] | undefined) ?? [],
    })),
    given,
  );
  if (problems.length > 0) {
    throw new InvalidError(
      'VALIDATION_FAILED',
      "The parameters do not fit the notebook's parameters cell; nothing was queued.",
      problems,
    );
  }
}
