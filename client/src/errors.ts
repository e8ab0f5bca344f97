/** A non-2xx answer of the Assay API, with the fields of its error envelope. */
export class AssayApiError extends Error {
  override readonly name = 'AssayApiError';
  /** The HTTP status. */
  readonly status: number;
  /** The stable error code of the body (`Code`, e.g. `JOB_NOT_FOUND`); match on this, not on the text. */
  readonly code: string | undefined;
  /** The short error title of the body (`Error`). */
  readonly error: string | undefined;
  /** The whole decoded body (JSON when it was JSON, else its text). */
  readonly body: unknown;
  /** The request id the server answered with (`X-Request-Id`), for its logs. */
  readonly requestId: string | undefined;
  /** The method and URL of the request that failed. */
  readonly method: string;
  readonly url: string;
  /** Seconds the server asked to wait before trying again (`Retry-After`), when it said so. */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: {
    status: number;
    body: unknown;
    method: string;
    url: string;
    requestId?: string | null;
    retryAfterSeconds?: number;
  }) {
    const envelope = isRecord(init.body) ? init.body : {};
    const code = typeof envelope.Code === 'string' ? envelope.Code : undefined;
    const error = typeof envelope.Error === 'string' ? envelope.Error : undefined;
    const text = typeof envelope.Message === 'string' ? envelope.Message : undefined;
    const fallback = typeof init.body === 'string' && init.body.length > 0 ? init.body.slice(0, 500) : undefined;
    super(text ?? error ?? fallback ?? `${init.method} ${init.url} answered ${init.status}`);
    this.status = init.status;
    this.code = code;
    this.error = error;
    this.body = init.body;
    this.requestId = init.requestId ?? undefined;
    this.method = init.method;
    this.url = init.url;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** Builds the error from a response whose body has not been read yet. */
  static async fromResponse(res: Response, method: string): Promise<AssayApiError> {
    let body: unknown = undefined;
    try {
      const text = await res.text();
      body = text;
      if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) body = JSON.parse(text);
    } catch {
      // A body that cannot be read or parsed stays as far as it got.
    }
    return AssayApiError.fromBody(res, method, body);
  }

  /** Builds the error from a response and its already decoded body. */
  static fromBody(res: Response, method: string, body: unknown): AssayApiError {
    return new AssayApiError({
      status: res.status,
      body,
      method,
      url: res.url,
      requestId: res.headers.get('x-request-id'),
      retryAfterSeconds: retryAfterSeconds(res.headers.get('retry-after')),
    });
  }
}

/** The error a helper throws when its `timeoutMs` passes before what it waits for. */
export class AssayTimeoutError extends Error {
  override readonly name = 'AssayTimeoutError';
  constructor(message: string) {
    super(message);
  }
}

/** A downloaded file whose bytes do not hash to the sha256 the server announced. */
export class AssayIntegrityError extends Error {
  override readonly name = 'AssayIntegrityError';
  constructor(
    message: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(message);
  }
}

/** `Retry-After` in seconds: a number of seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a value is a web ReadableStream (of any realm). */
export function isStream(value: unknown): value is ReadableStream<Uint8Array> {
  return typeof value === 'object' && value !== null && typeof (value as ReadableStream).getReader === 'function';
}
