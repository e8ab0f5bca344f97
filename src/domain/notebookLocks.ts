import type { Db } from '../store/db';
import * as store from '../store/notebooks';
import { InvalidError, NotFoundError } from './errors';
import type { Scope } from './scope';

/**
 * Finding and locking notebooks and investigations, for notebooks and blocks alike (a module of
 * its own, so that neither imports the other).
 */

/** A notebook of the project, or 404; with `forUpdate`, locked for this transaction. */
export async function requireNotebook(
  db: Db,
  scope: Scope,
  id: string,
  forUpdate = false,
): Promise<store.NotebookView> {
  const row = await store.findNotebook(db, scope.projectId, id, forUpdate);
  if (!row) throw new NotFoundError('NOTEBOOK_NOT_FOUND', 'NotebookId', id);
  return row;
}

/**
 * Locks a standard notebook of the project for a block change (or just checks it exists), so
 * that concurrent block changes of one notebook keep `blockOrder` without gaps.
 */
export async function lockStandardNotebook(
  tx: Db,
  scope: Scope,
  id: string,
  forUpdate: boolean,
): Promise<store.NotebookView> {
  const row = await requireNotebook(tx, scope, id, forUpdate);
  if (row.notebook_type !== store.NOTEBOOK_TYPE.standard) {
    throw new InvalidError(
      'NOT_A_STANDARD_NOTEBOOK',
      'Blocks belong to standard notebooks; this is a Jupyter notebook.',
      [],
      { NotebookId: id },
    );
  }
  return row;
}

/** An investigation of the project, or 404; locking it serialises name checks and `notebookOrder`. */
export async function requireInvestigation(db: Db, scope: Scope, id: string, forUpdate = false): Promise<void> {
  if (!(await store.lockInvestigationOf(db, scope.projectId, id, forUpdate))) {
    throw new NotFoundError('INVESTIGATION_NOT_FOUND', 'InvestigationId', id);
  }
}
