import type { components, operations, paths } from './generated/api.js';

export type { components, operations, paths };

/** The schemas of the contract by name, e.g. `Schemas['Job']`. */
export type Schemas = components['schemas'];

type ScopeKey = 'tenantId' | 'projectId';

/** Path parameters with the tenant and project made optional: the client fills them from its defaults. */
type ScopedPathParams<PP> =
  Exclude<keyof PP, ScopeKey> extends never
    ? { [K in keyof PP]?: PP[K] }
    : Omit<PP, ScopeKey> & { [K in Extract<keyof PP, ScopeKey>]?: PP[K] };

type ScopedParams<P> = P extends { path: infer PP }
  ? Exclude<keyof PP, ScopeKey> extends never
    ? Omit<P, 'path'> & { path?: ScopedPathParams<PP> }
    : Omit<P, 'path'> & { path: ScopedPathParams<PP> }
  : P;

type ScopedOperation<O> = O extends { parameters: infer P }
  ? Omit<O, 'parameters'> & { parameters: ScopedParams<P> }
  : O;

/**
 * The contract's `paths` as the client takes them: `tenantId` and `projectId` may be left out of
 * `params.path`, and are then the client's own.
 */
export type ScopedPaths = {
  [P in keyof paths]: {
    [M in keyof paths[P]]: M extends 'parameters' ? ScopedParams<paths[P][M]> : ScopedOperation<paths[P][M]>;
  };
};

type GetOperation<P extends keyof paths> = paths[P] extends { get: infer O } ? O : never;
type JsonOk<O> = O extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** Every list of the API that is paged (`page`, `pageSize`, `hasNextPage`). */
export type PagedPath = {
  [P in keyof paths]: 'page' extends keyof QueryOf<GetOperation<P>>
    ? JsonOk<GetOperation<P>> extends { hasNextPage: boolean }
      ? P
      : never
    : never;
}[keyof paths];

/** The body of one page of a paged list. */
export type PageOf<P extends PagedPath> = JsonOk<GetOperation<P>>;

/** The items of a paged list: the elements of its one array. */
export type PageItem<P extends PagedPath> = {
  [K in keyof PageOf<P>]: PageOf<P>[K] extends readonly (infer I)[] ? I : never;
}[keyof PageOf<P>];

/** The query of a paged list, without `page` (the iterator turns the pages). */
export type PageQuery<P extends PagedPath> = Omit<QueryOf<GetOperation<P>>, 'page'>;

/** The path parameters of a paged list besides the client's tenant and project. */
export type PagePathParams<P extends PagedPath> =
  GetOperation<P> extends { parameters: { path: infer PP } } ? ScopedPathParams<PP> : never;

type EventData = {
  'job.status': Schemas['StreamEventJobStatus'];
  'job.progress': Schemas['StreamEventJobProgress'];
  'execution.status': Schemas['StreamEventExecutionStatus'];
  'cell.started': Schemas['StreamEventCellStarted'];
  'cell.output': Schemas['StreamEventCellOutput'];
  'cell.completed': Schemas['StreamEventCellCompleted'];
  'block.completed': Schemas['StreamEventBlockCompleted'];
  log: Schemas['StreamEventLog'];
};

/** The types of event a stream carries. */
export type AssayEventType = keyof EventData;

/** One event of an event stream, its `data` typed by its `event` (the contract's `StreamEvent`). */
export type AssayEvent = {
  [E in AssayEventType]: { id: string; event: E; data: EventData[E] };
}[AssayEventType];

export const EVENT_TYPES: readonly AssayEventType[] = [
  'job.status',
  'job.progress',
  'execution.status',
  'cell.started',
  'cell.output',
  'cell.completed',
  'block.completed',
  'log',
];

export type Job = Schemas['Job'];
export type JobSubmit = Schemas['JobSubmit'];
export type JobSubmitted = Schemas['JobSubmitted'];
export type NotebookExecution = Schemas['NotebookExecution'];
export type Dataset = Schemas['Dataset'];

/** The states in which a job has ended. */
export const FINAL_JOB_STATUSES: ReadonlySet<string> = new Set(['Completed', 'Failed', 'Cancelled']);
/** The states in which a notebook execution has ended. */
export const FINAL_EXECUTION_STATUSES: ReadonlySet<string> = new Set(['Completed', 'Error', 'Cancelled']);
