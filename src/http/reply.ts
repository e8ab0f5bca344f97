import type { Readable } from 'node:stream';
import type express from 'express';

/**
 * What a handler answers, as the sending stage sees it; `Answer<K>` (operations.ts) narrows it to
 * the status and body pairs the contract documents for one operation.
 */
export interface Reply {
  status: number;
  /** JSON (default) or text; absent for 204. */
  body?: unknown;
  /** Sent as is instead of `body` (downloads). */
  stream?: Readable;
  contentType?: string;
  headers?: Record<string, string>;
  /** `body` is JSON already serialised (a cached answer): the contract check in tests parses it. */
  serialisedJson?: boolean;
  /** Called once the answer has been sent or the client went away (to remove temp files). */
  onDone?: () => void;
}

/** A JSON answer with status `S` and body `B`. */
export interface JsonReply<S extends number, B> extends Reply {
  status: S;
  body: B;
  stream?: undefined;
  contentType?: undefined;
}

/** An answer sent as it is with its own media type: text, a file, JSON already serialised. */
export interface RawReply<S extends number> extends Reply {
  status: S;
  contentType: string;
}

/** An answer without a body (204, 304). */
export interface EmptyReply<S extends number> extends Reply {
  status: S;
  body?: undefined;
  stream?: undefined;
  contentType?: undefined;
}

/** A JSON answer. */
export const json = <S extends number, B>(status: S, body: B, headers?: Record<string, string>): JsonReply<S, B> => ({
  status,
  body,
  headers,
});

/** An answer without a body. */
export const empty = (): EmptyReply<204> => ({ status: 204 });

/** A plain-text answer. */
export const text = <S extends number>(status: S, body: string): RawReply<S> => ({
  status,
  body,
  contentType: 'text/plain; charset=utf-8',
});

/** Writes a reply: status, headers, then a stream, a JSON or text body, or nothing. */
export function send(res: express.Response, reply: Reply): void {
  if (reply.onDone) res.once('close', reply.onDone);
  res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  if (reply.contentType) res.type(reply.contentType);
  if (reply.stream) {
    const stream = reply.stream;
    // A client that goes away mid-download must not leave the file open; a read error ends the answer.
    res.once('close', () => stream.destroy());
    stream.once('error', (err) => {
      res.req.log.error({ err }, 'download failed while sending');
      res.destroy(err);
    });
    stream.pipe(res);
    return;
  }
  if (reply.body === undefined) {
    res.end();
    return;
  }
  if (reply.contentType) {
    res.send(reply.body);
    return;
  }
  res.json(reply.body);
}
