/**
 * `@assay/client`: the typed client of the Assay API. Runs on Node 22 and in browsers (fetch,
 * streams); only the file-path helpers (an upload from a path, `downloadArtifact`) load node:fs,
 * when they are called.
 */
export { AssayClient, createAssayClient } from './client.js';
export type { AssayClientOptions, WaitOptions, WatchOptions, WatchTarget } from './client.js';
export { AssayApiError, AssayIntegrityError, AssayTimeoutError, retryAfterSeconds } from './errors.js';
export type { RetryOptions, RetryPolicy, RetryEvent } from './retry.js';
export { retryingFetch, retryPolicy, isRetryable } from './retry.js';
export type { ColumnMapping, UploadDatasetOptions } from './upload.js';
export type { DownloadOptions, DownloadResult } from './download.js';
export { readSse, type SseFrame } from './sse.js';
export { EVENT_TYPES, FINAL_EXECUTION_STATUSES, FINAL_JOB_STATUSES } from './types.js';
export type {
  AssayEvent,
  AssayEventType,
  Dataset,
  Job,
  JobSubmit,
  JobSubmitted,
  NotebookExecution,
  PagedPath,
  PageItem,
  PageOf,
  PageQuery,
  Schemas,
  ScopedPaths,
  components,
  operations,
  paths,
} from './types.js';
