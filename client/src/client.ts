import createClient, { type Client } from 'openapi-fetch';
import { downloadArtifact, type DownloadOptions, type DownloadResult } from './download.js';
import { AssayApiError, AssayTimeoutError, isStream } from './errors.js';
import {
  abortReason,
  isNetworkError,
  retryingFetch,
  retryPolicy,
  sleep,
  type RetryOptions,
  type RetryPolicy,
} from './retry.js';
import { readSse } from './sse.js';
import {
  EVENT_TYPES,
  FINAL_EXECUTION_STATUSES,
  FINAL_JOB_STATUSES,
  type AssayEvent,
  type AssayEventType,
  type Dataset,
  type Job,
  type JobSubmit,
  type JobSubmitted,
  type NotebookExecution,
  type PagedPath,
  type PageItem,
  type PagePathParams,
  type PageQuery,
  type ScopedPaths,
} from './types.js';
import { uploadDataset, type UploadDatasetOptions } from './upload.js';

export interface AssayClientOptions {
  /** Where the service listens, e.g. `http://127.0.0.1:3000` (no trailing `/api`). */
  baseUrl: string;
  /** An API key, sent as `Authorization: Bearer`. */
  token?: string;
  /** The tenant and project every scoped path uses unless its `params.path` names others. */
  tenantId?: string;
  projectId?: string;
  /** Retries of idempotent requests (GET, HEAD, PUT, DELETE, and POSTs with an Idempotency-Key) on 503 and network errors. */
  retry?: RetryOptions;
  /** The fetch to send with (default: the global one). */
  fetch?: typeof fetch;
  /** Sent as `User-Agent` where the runtime allows it (Node; browsers keep their own). */
  userAgent?: string;
}

/** What to follow: one job, one execution, or everything in the project. */
export type WatchTarget =
  | { jobId: string }
  | { notebookId: string; executionId: string }
  | { project: true; jobId?: string; notebookId?: string; types?: AssayEventType[] };

export interface WatchOptions {
  signal?: AbortSignal;
  /** Start after this event id (`Last-Event-ID`), e.g. the last one seen before a restart. */
  after?: string;
}

export interface WaitOptions {
  /** Give up after this long with an `AssayTimeoutError` (default: wait as long as it takes). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with every event of the stream while it waits. */
  onEvent?: (event: AssayEvent) => void;
  /** The interval of the polling fallback (default 1,000 ms). */
  pollIntervalMs?: number;
  /** Skip the event stream and poll (the fallback's behaviour, e.g. behind a proxy that buffers streams). */
  poll?: boolean;
}

/** One request of the helpers: a path under the base URL, with the client's key and retries. */
interface SendInit {
  method?: string;
  headers?: Record<string, string>;
  body?: BodyInit | null;
  signal?: AbortSignal;
  /** Statuses besides 2xx that are answers, not errors. */
  accept?: number[];
}

/** The client: the typed openapi-fetch client over the contract (`api`) and the helpers. */
export class AssayClient {
  /** The openapi-fetch client over the contract's paths; it answers `{ data, error, response }` (see `unwrap`). */
  readonly api: Client<ScopedPaths>;
  readonly baseUrl: string;
  readonly tenantId: string | undefined;
  readonly projectId: string | undefined;
  readonly retry: RetryPolicy;
  /** The fetch every request goes through: the given one with the retry policy around it. */
  readonly fetch: (request: Request) => Promise<Response>;
  private readonly headers: Record<string, string>;
  private readonly methods = new WeakMap<Response, string>();

  constructor(options: AssayClientOptions) {
    if (!options || typeof options.baseUrl !== 'string' || options.baseUrl === '') {
      throw new TypeError('createAssayClient needs a baseUrl');
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.tenantId = options.tenantId;
    this.projectId = options.projectId;
    this.retry = retryPolicy(options.retry);
    this.headers = {};
    if (options.token) this.headers.Authorization = `Bearer ${options.token}`;
    if (options.userAgent) this.headers['User-Agent'] = options.userAgent;
    const given = options.fetch;
    const retrying = retryingFetch((request) => (given ?? globalThis.fetch)(request), this.retry);
    this.fetch = async (request) => {
      const res = await retrying(request);
      this.methods.set(res, request.method);
      return res;
    };
    const inner = createClient<ScopedPaths>({ baseUrl: this.baseUrl, fetch: this.fetch, headers: this.headers });
    this.api = this.scoped(inner);
  }

  /** The data of an `api` call's answer; throws `AssayApiError` for an error answer. */
  unwrap<D, E>(result: { data?: D; error?: E; response: Response }): D {
    if (result.response.ok || result.response.status === 304) return result.data as D;
    throw AssayApiError.fromBody(result.response, this.methods.get(result.response) ?? 'GET', result.error);
  }

  /** A scoped path with the client's tenant and project, e.g. `/api/{tenantId}/{projectId}/datasets` filled in. */
  path(template: string, params: Record<string, string | undefined> = {}): string {
    return template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value =
        params[name] ?? (name === 'tenantId' ? this.tenantId : name === 'projectId' ? this.projectId : undefined);
      if (value === undefined) throw new TypeError(`No value for {${name}} in ${template}`);
      return encodeURIComponent(value);
    });
  }

  /** Sends a request of a helper; throws `AssayApiError` for a non-2xx answer not in `accept`. */
  async send(path: string, init: SendInit = {}): Promise<Response> {
    const method = init.method ?? 'GET';
    const requestInit: RequestInit & { duplex?: 'half' } = {
      method,
      headers: { ...this.headers, ...init.headers },
      body: init.body ?? null,
      signal: init.signal,
    };
    // A streamed body needs half duplex (Node, Chromium).
    if (isStream(init.body)) requestInit.duplex = 'half';
    const res = await this.fetch(new Request(this.baseUrl + path, requestInit));
    if (res.ok || init.accept?.includes(res.status)) return res;
    throw await AssayApiError.fromResponse(res, method);
  }

  /** Sends a JSON request of a helper and decodes its JSON answer. */
  async json<T>(path: string, init: SendInit & { json?: unknown } = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...init.headers };
    let body = init.body;
    if (init.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    const res = await this.send(path, { ...init, headers, body });
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Uploads an event log as a streamed multipart form, reporting the bytes sent; resolves the created dataset. */
  async uploadDataset(options: UploadDatasetOptions): Promise<Dataset> {
    return uploadDataset(this, options);
  }

  /** Submits a job with an `Idempotency-Key` (a random UUID unless given), so that a retried submit makes one job. */
  async submitJob(
    body: JobSubmit,
    options: { idempotencyKey?: string; signal?: AbortSignal } = {},
  ): Promise<JobSubmitted> {
    const key = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    return this.json<JobSubmitted>(this.path('/api/{tenantId}/{projectId}/execution/job'), {
      method: 'POST',
      headers: { 'Idempotency-Key': key },
      json: body,
      signal: options.signal,
    });
  }

  /** The job now. */
  async getJob(jobId: string, signal?: AbortSignal): Promise<Job> {
    return this.json<Job>(this.path('/api/{tenantId}/{projectId}/execution/job/{jobId}', { jobId }), { signal });
  }

  /** The notebook execution now. */
  async getExecution(notebookId: string, executionId: string, signal?: AbortSignal): Promise<NotebookExecution> {
    const path = '/api/{tenantId}/{projectId}/notebook/{notebookId}/execution/{executionId}';
    return this.json<NotebookExecution>(this.path(path, { notebookId, executionId }), { signal });
  }

  /** Resolves the job once it has ended (Completed, Failed or Cancelled): its event stream, else polling. */
  async waitForJob(jobId: string, options: WaitOptions = {}): Promise<Job> {
    return this.waitFor(
      `job ${jobId}`,
      { jobId },
      (signal) => this.getJob(jobId, signal),
      (job) => FINAL_JOB_STATUSES.has(job.status),
      (event) =>
        event.event === 'job.status' && event.data.jobId === jobId && FINAL_JOB_STATUSES.has(event.data.status),
      options,
    );
  }

  /** Resolves the execution once it has ended (Completed, Error or Cancelled): its event stream, else polling. */
  async waitForExecution(
    notebookId: string,
    executionId: string,
    options: WaitOptions = {},
  ): Promise<NotebookExecution> {
    return this.waitFor(
      `execution ${executionId}`,
      { notebookId, executionId },
      (signal) => this.getExecution(notebookId, executionId, signal),
      (execution) => FINAL_EXECUTION_STATUSES.has(execution.status),
      (event) =>
        event.event === 'execution.status' &&
        event.data.executionId === executionId &&
        FINAL_EXECUTION_STATUSES.has(event.data.status),
      options,
    );
  }

  private async waitFor<T>(
    what: string,
    target: WatchTarget,
    fetchNow: (signal: AbortSignal) => Promise<T>,
    ended: (value: T) => boolean,
    endingEvent: (event: AssayEvent) => boolean,
    options: WaitOptions,
  ): Promise<T> {
    const { signal, cancel, timedOut } = deadline(options.signal, options.timeoutMs);
    try {
      if (!options.poll) {
        try {
          for await (const event of this.watch(target, { signal })) {
            options.onEvent?.(event);
            if (endingEvent(event)) break;
          }
        } catch (err) {
          if (signal.aborted) throw err;
          // An unknown job or execution is an answer; anything else (too many streams, a proxy that
          // cuts streams, a network failure past the retries) falls back to polling.
          if (err instanceof AssayApiError && (err.status === 404 || err.status === 401 || err.status === 403))
            throw err;
        }
      }
      const interval = options.pollIntervalMs ?? 1_000;
      for (;;) {
        const value = await fetchNow(signal);
        if (ended(value)) return value;
        await sleep(interval, signal);
      }
    } catch (err) {
      if (timedOut()) throw new AssayTimeoutError(`${what} did not end within ${options.timeoutMs} ms`);
      throw err;
    } finally {
      cancel();
    }
  }

  /**
   * The events of a job, an execution or the project, typed by their `event`, as an async
   * iterator. A job's or an execution's stream ends after its last status; the project's goes on
   * until the signal aborts or the loop breaks. A stream cut by the network is reopened after the
   * last event seen (`Last-Event-ID`), within the retry policy.
   */
  async *watch(target: WatchTarget, options: WatchOptions = {}): AsyncGenerator<AssayEvent> {
    const path = this.streamPath(target);
    let lastId = options.after;
    let failures = 0;
    for (;;) {
      if (options.signal?.aborted) throw abortReason(options.signal);
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (lastId !== undefined) headers['Last-Event-ID'] = lastId;
      let res: Response;
      try {
        res = await this.send(path, { headers, signal: options.signal });
      } catch (err) {
        if (!this.canReopen(err, options.signal, ++failures)) throw err;
        await sleep(this.reopenDelay(failures), options.signal);
        continue;
      }
      if (!res.body) return;
      try {
        for await (const frame of readSse(res.body, options.signal)) {
          failures = 0;
          if (frame.id !== undefined) lastId = frame.id;
          if (!(EVENT_TYPES as readonly string[]).includes(frame.event)) continue;
          yield { id: frame.id ?? '', event: frame.event, data: JSON.parse(frame.data) } as AssayEvent;
        }
      } catch (err) {
        if (!this.canReopen(err, options.signal, ++failures)) throw err;
        await sleep(this.reopenDelay(failures), options.signal);
        continue;
      }
      // A job's or an execution's stream closes after its end; the project's is reopened.
      if (!('project' in target)) return;
      await sleep(this.reopenDelay(1), options.signal);
    }
  }

  private streamPath(target: WatchTarget): string {
    if ('project' in target) {
      const query = new URLSearchParams();
      if (target.jobId) query.set('jobId', target.jobId);
      if (target.notebookId) query.set('notebookId', target.notebookId);
      if (target.types?.length) query.set('type', target.types.join(','));
      const search = query.size > 0 ? `?${query}` : '';
      return this.path('/api/{tenantId}/{projectId}/events') + search;
    }
    if ('jobId' in target) return this.path('/api/{tenantId}/{projectId}/execution/job/{jobId}/events', target);
    return this.path('/api/{tenantId}/{projectId}/notebook/{notebookId}/execution/{executionId}/events', target);
  }

  private canReopen(err: unknown, signal: AbortSignal | undefined, failures: number): boolean {
    if (signal?.aborted || failures > this.retry.retries) return false;
    if (err instanceof AssayApiError) return err.status === 503;
    // fetch and a body being read fail with a TypeError when the connection fails or is cut.
    return isNetworkError(err);
  }

  private reopenDelay(failures: number): number {
    return Math.min(this.retry.maxDelayMs, this.retry.minDelayMs * 2 ** (failures - 1));
  }

  /**
   * Streams an artifact to `destPath`, resuming a `${destPath}.part` with `Range`, and checks its
   * sha256 (Node). Takes the artifact's id, or a `downloadUrl` of an answer (an artifact's or a
   * dataset's download on this server).
   */
  async downloadArtifact(artifact: string, destPath: string, options: DownloadOptions = {}): Promise<DownloadResult> {
    let path: string;
    if (/^https?:\/\//i.test(artifact)) {
      if (!artifact.startsWith(`${this.baseUrl}/`)) {
        throw new TypeError(
          `${artifact} is not under ${this.baseUrl}; the client sends its key to its own server only`,
        );
      }
      path = artifact.slice(this.baseUrl.length);
    } else {
      path = this.path('/api/{tenantId}/{projectId}/artifact/{artifactId}', { artifactId: artifact });
    }
    return downloadArtifact(this, path, destPath, options);
  }

  /** Every item of a paged list, page after page (`pageSize` per request, default 100). */
  async *paginate<P extends PagedPath>(
    path: P,
    init: { params?: { path?: PagePathParams<P>; query?: PageQuery<P> }; pageSize?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<PageItem<P>> {
    const query = { pageSize: init.pageSize ?? 100, ...(init.params?.query ?? {}) } as Record<string, unknown>;
    for (let page = 1; ; page++) {
      const result = await (
        this.api.GET as (p: string, i: unknown) => Promise<{ data?: unknown; error?: unknown; response: Response }>
      )(path, {
        params: { path: init.params?.path, query: { ...query, page } },
        signal: init.signal,
      });
      const body = this.unwrap(result) as Record<string, unknown>;
      const items = Object.values(body).find(Array.isArray) as PageItem<P>[] | undefined;
      if (!items || items.length === 0) return;
      yield* items;
      if (body.hasNextPage !== true) return;
    }
  }

  /** The openapi-fetch client with the tenant and project filled into every path that has them. */
  private scoped(inner: Client<ScopedPaths>): Client<ScopedPaths> {
    const fill = (path: unknown, init: unknown) => {
      if (typeof path !== 'string') return init;
      const options = { ...((init as Record<string, unknown> | undefined) ?? {}) };
      const params = { ...((options.params as Record<string, unknown> | undefined) ?? {}) };
      const pathParams = { ...((params.path as Record<string, unknown> | undefined) ?? {}) };
      if (path.includes('{tenantId}') && pathParams.tenantId === undefined) pathParams.tenantId = this.tenantId;
      if (path.includes('{projectId}') && pathParams.projectId === undefined) pathParams.projectId = this.projectId;
      params.path = pathParams;
      options.params = params;
      return options;
    };
    const wrapped = { ...inner } as Record<string, unknown>;
    for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE'] as const) {
      const call = inner[method] as (path: unknown, init: unknown) => unknown;
      wrapped[method] = (path: unknown, init: unknown) => call(path, fill(path, init));
    }
    const request = inner.request as (method: unknown, path: unknown, init: unknown) => unknown;
    wrapped.request = (method: unknown, path: unknown, init: unknown) => request(method, path, fill(path, init));
    return wrapped as unknown as Client<ScopedPaths>;
  }
}

/** A signal that aborts with the caller's, or after `timeoutMs`. */
function deadline(
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
): { signal: AbortSignal; cancel: () => void; timedOut: () => boolean } {
  const controller = new AbortController();
  let expired = false;
  const onAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          expired = true;
          controller.abort(new AssayTimeoutError(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
  return {
    signal: controller.signal,
    cancel: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
    timedOut: () => expired,
  };
}

/** Creates a client; every option is set once here. */
export function createAssayClient(options: AssayClientOptions): AssayClient {
  return new AssayClient(options);
}
