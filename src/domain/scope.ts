/** Who is calling and where: every domain call on tenant data carries one. */
export interface Scope {
  tenantId: string;
  projectId: string;
  /** The id of the API key making the call; recorded as `createdBy` / `modifiedBy`. */
  actor: string;
}

/** A page request; `page` from 1. */
export interface PageRequest {
  page: number;
  pageSize: number;
}

/** The paging fields every list answer carries. */
export function pageInfo(req: PageRequest, totalCount: number) {
  return { totalCount, page: req.page, pageSize: req.pageSize, hasNextPage: req.page * req.pageSize < totalCount };
}

/** Formats a timestamp from the store as the contract's date-time. */
export function iso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

/** Like `iso`, keeping null. */
export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : iso(value);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value is a GUID as the contract writes ids (any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
