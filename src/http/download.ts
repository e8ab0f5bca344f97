import fs from 'node:fs';
import type { ErrorResponse } from '../api/types';
import { plainError } from './errors';
import type { EmptyReply, JsonReply, RawReply } from './reply';
import { wellFormed } from './requestValues';

/** A stored file to send: where it is, its size and sha256 (the strong ETag), its type and name. */
export interface FileToSend {
  path: string;
  sizeBytes: number;
  sha256: string;
  contentType: string;
  fileName: string;
}

/** What a download looks at in the request. */
export interface DownloadRequest {
  method: string;
  headers: Record<string, string | undefined>;
  requestId: string;
}

/** The answers of a download, all of which both download operations document. */
export type FileReply = RawReply<200> | RawReply<206> | EmptyReply<304> | JsonReply<416, ErrorResponse>;

/** What names the file's resource in a 416 body. */
type FileIds = Pick<ErrorResponse, 'ArtifactId' | 'DatasetId'>;

/**
 * The one way files are sent (artifacts and datasets): `ETag`, `Content-Length`,
 * `If-None-Match` (304), a single byte range (206, 416) guarded by `If-Range`, and HEAD.
 * `ids` names the resource in a 416 body, such as `{ ArtifactId: '...' }`.
 */
export function sendFile(file: FileToSend, req: DownloadRequest, ids: FileIds): FileReply {
  const etag = `"${file.sha256}"`;
  const head = req.method.toUpperCase() === 'HEAD';
  if (matchesAny(req.headers['if-none-match'], etag)) return { status: 304, headers: { ETag: etag } };
  const size = file.sizeBytes;
  // Ranges apply to GET only (RFC 9110 14.2); a stale If-Range asks for the whole file.
  const range = !head && ifRangeHolds(req.headers['if-range'], etag) ? req.headers.range : undefined;
  if (range === undefined) {
    return {
      status: 200,
      stream: head ? undefined : fs.createReadStream(file.path),
      contentType: file.contentType,
      headers: {
        'Content-Disposition': contentDisposition(file.fileName),
        ETag: etag,
        'Accept-Ranges': 'bytes',
        'Content-Length': String(size),
      },
    };
  }
  const bounds = parseRange(range, size);
  if (!bounds) {
    return {
      ...plainError('RANGE_NOT_SATISFIABLE', `The file has ${size} bytes.`, req.requestId, ids),
      headers: { 'Content-Range': `bytes */${size}` },
    };
  }
  const [start, last] = bounds;
  return {
    status: 206,
    stream: fs.createReadStream(file.path, { start, end: last }),
    contentType: 'application/octet-stream',
    headers: {
      ETag: etag,
      'Accept-Ranges': 'bytes',
      'Content-Range': `bytes ${start}-${last}/${size}`,
      'Content-Length': String(last - start + 1),
    },
  };
}

/** `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266, RFC 5987 `filename*`). */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(wellFormed(fileName)).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * The first and last byte of one range (`bytes=0-99`, `bytes=100-`, `bytes=-100`; the unit in
 * any case), or undefined when it selects nothing in a file of `size` bytes.
 */
export function parseRange(header: string, size: number): [number, number] | undefined {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]); // the last `suffix` bytes
    return suffix === 0 || size === 0 ? undefined : [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start >= size || end < start ? undefined : [start, end];
}

/** `If-None-Match`: a list of entity tags or `*`, compared weakly (RFC 9110 13.1.2). */
export function matchesAny(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return entityTags(header).some((tag) => tag.replace(/^W\//, '') === etag);
}

/** `If-Range` holds only for the same strong entity tag; a date or another tag means "send it all". */
function ifRangeHolds(header: string | undefined, etag: string): boolean {
  return header === undefined || header.trim() === etag;
}

function entityTags(header: string): string[] {
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}
