/**
 * Optimistic locking on `dateModified`. Every change moves `dateModified` strictly forward (at
 * least by 1 ms), so two updates in the same millisecond still tell each other apart.
 */

/** True when the client sent a `dateModified` that is not the one the server has. */
export function staleUpdate(sent: string | null | undefined, current: unknown): boolean {
  if (sent === undefined || sent === null) return false;
  return new Date(sent).getTime() !== toDate(current).getTime();
}

/** The `dateModified` of the next change: now, or 1 ms after the current one if the clock lags. */
export function nextModified(current: unknown): Date {
  const now = Date.now();
  const previous = toDate(current).getTime();
  return new Date(Math.max(now, previous + 1));
}

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}
