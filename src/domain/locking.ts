import { ConflictError } from './errors';
import type { Scope } from './scope';

/**
 * Optimistic locking on `dateModified`. Every change moves `dateModified` strictly forward (at
 * least by 1 ms), so two updates in the same millisecond still tell each other apart.
 */

/** The resource an update is about, for the 409 body of a stale update. */
export interface Locked {
  /** `Notebook`, `Block`, `Investigation`. */
  resource: string;
  id: string;
  /** The path segment of the resource's GET, such as `notebook`. */
  pathSegment: string;
  /** The stored row: its `modified_at` and `modified_by`. */
  row: { modified_at: Date; modified_by: string | null };
}

/**
 * Refuses an update whose `dateModified` is not the stored one with a 409 naming both dates; an
 * update without `dateModified` opts out of the check.
 */
export function checkNotStale(scope: Scope, sent: string | null | undefined, locked: Locked): void {
  if (sent === undefined || sent === null) return;
  if (new Date(sent).getTime() === locked.row.modified_at.getTime()) return;
  throw new ConflictError('STALE_UPDATE', `${locked.resource} was modified by another user since you last fetched it`, {
    [`${locked.resource}Id`]: locked.id,
    YourDateModified: sent,
    CurrentDateModified: locked.row.modified_at.toISOString(),
    ModifiedBy: locked.row.modified_by,
    Resolution: `GET /api/${scope.tenantId}/${scope.projectId}/${locked.pathSegment}/${locked.id} to fetch current state, then retry`,
  });
}

/** The `dateModified` of the next change: now, or 1 ms after the current one if the clock lags. */
export function nextModified(current: Date): Date {
  return new Date(Math.max(Date.now(), current.getTime() + 1));
}
