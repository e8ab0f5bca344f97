import { retryAfterSeconds } from './errors.js';

/** How requests that are safe to repeat are retried. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0 turns retrying off). */
  retries?: number;
  /** The first backoff delay (default 250 ms); it doubles with every retry. */
  minDelayMs?: number;
  /** The longest backoff delay (default 8,000 ms). A longer `Retry-After` is still honoured, up to 60 s. */
  maxDelayMs?: number;
}

export interface RetryPolicy {
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
}

/** The longest `Retry-After` the client waits for; a longer one ends the retries with the 503 itself. */
export const MAX_RETRY_AFTER_MS = 60_000;

export function retryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const retries = options?.retries ?? 3;
  const minDelayMs = options?.minDelayMs ?? 250;
  const maxDelayMs = options?.maxDelayMs ?? 8_000;
  for (const [name, value] of Object.entries({ retries, minDelayMs, maxDelayMs })) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`retry.${name} must be a number >= 0`);
  }
  return { retries: Math.floor(retries), minDelayMs, maxDelayMs: Math.max(minDelayMs, maxDelayMs) };
}

/** Methods whose repetition has the effect of one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/**
 * Whether a request may be sent again after a 503 or a network error: an idempotent method, or a
 * POST carrying an `Idempotency-Key` (the server answers a repeat with the first result).
 */
export function isRetryable(method: string, headers: Headers): boolean {
  const upper = method.toUpperCase();
  return IDEMPOTENT.has(upper) || (upper === 'POST' && headers.has('idempotency-key'));
}

/** The backoff before retry number `attempt` (1 for the first), exponential with jitter in its upper half. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(abortReason(signal!));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** Whether a fetch failure is the network's (worth a retry) and not an abort by the caller. */
export function isNetworkError(err: unknown): boolean {
  // By name, not instanceof: the error may come from another realm (a test runner's, an iframe's fetch).
  // fetch rejects with a TypeError when the connection fails, is refused or is cut; an abort is not one.
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TypeError';
}

export interface RetryEvent {
  attempt: number;
  delayMs: number;
  reason: 'status' | 'network';
  status?: number;
  error?: unknown;
}

/**
 * A fetch that retries a retryable request after a 503 or a network error, waiting `Retry-After`
 * when the server says how long, exponential backoff otherwise. Other answers are returned as they are.
 */
export function retryingFetch(
  fetchImpl: (request: Request) => Promise<Response>,
  policy: RetryPolicy,
  onRetry?: (event: RetryEvent) => void,
): (request: Request) => Promise<Response> {
  return async (request: Request) => {
    if (policy.retries === 0 || !isRetryable(request.method, request.headers)) return fetchImpl(request);
    for (let attempt = 0; ; attempt++) {
      // A request's body can be read once; each attempt sends a copy.
      const copy = attempt < policy.retries ? request.clone() : request;
      let res: Response;
      try {
        res = await fetchImpl(copy);
      } catch (err) {
        if (attempt >= policy.retries || !isNetworkError(err) || request.signal.aborted) throw err;
        const delayMs = backoffDelay(policy, attempt + 1);
        onRetry?.({ attempt: attempt + 1, delayMs, reason: 'network', error: err });
        await sleep(delayMs, request.signal);
        continue;
      }
      if (res.status !== 503 || attempt >= policy.retries) return res;
      const after = retryAfterSeconds(res.headers.get('retry-after'));
      if (after !== undefined && after * 1000 > MAX_RETRY_AFTER_MS) return res;
      const delayMs = after !== undefined ? after * 1000 : backoffDelay(policy, attempt + 1);
      // The answer is dropped; its connection is freed by reading it to the end.
      await res.body?.cancel().catch(() => undefined);
      onRetry?.({ attempt: attempt + 1, delayMs, reason: 'status', status: res.status });
      await sleep(delayMs, request.signal);
    }
  };
}
