import type { Readable } from 'node:stream';

/** What a handler answers; the app writes it, after checking it against the contract in tests. */
export interface Reply {
  status: number;
  /** JSON (default) or text; absent for 204. */
  body?: unknown;
  /** Sent as is instead of `body` (downloads). */
  stream?: Readable;
  contentType?: string;
  headers?: Record<string, string>;
  /** Called once the answer has been sent or the client went away (to remove temp files). */
  onDone?: () => void;
}

/** A JSON answer. */
export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body,
  headers,
});

/** An answer without a body. */
export const empty = (status = 204): Reply => ({ status });

/** A plain-text answer. */
export const text = (status: number, body: string): Reply => ({
  status,
  body,
  contentType: 'text/plain; charset=utf-8',
});
