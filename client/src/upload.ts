import type { AssayClient } from './client.js';
import { isStream } from './errors.js';
import type { Dataset } from './types.js';

/** The columns of a CSV that hold the case, activity, timestamp and (optionally) resource. */
export interface ColumnMapping {
  caseColumn: string;
  activityColumn: string;
  timestampColumn: string;
  resourceColumn?: string;
  /** A strptime format for the timestamps, when they are not ISO 8601 or epoch numbers. */
  timestampFormat?: string;
}

export interface UploadDatasetOptions {
  /** A file path (Node), a Blob or File, bytes, or a stream of bytes. */
  file: string | Blob | Uint8Array | ReadableStream<Uint8Array>;
  /** The name the server sees; it picks the format (`.csv`, `.xes`, `.xes.gz`). Default: the path's or File's name, else from `format`. */
  fileName?: string;
  /** The column mapping; needed for CSV, ignored for XES. */
  mapping?: ColumnMapping;
  /** The file's format when no file name says it. */
  format?: 'csv' | 'xes' | 'xes.gz';
  /** The dataset's name (default: the file's). */
  name?: string;
  /** The file's size, when `file` is a stream and the size is known: progress then has a total. */
  size?: number;
  /** Called as the file's bytes are sent. */
  onProgress?: (sentBytes: number, totalBytes?: number) => void;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;
const CONTENT_TYPES = { csv: 'text/csv', xes: 'application/xml', 'xes.gz': 'application/gzip' } as const;

/** A source of the file's bytes, with its size when known. */
interface Source {
  stream: ReadableStream<Uint8Array>;
  size: number | undefined;
  name: string | undefined;
}

/** Posts the file as `multipart/form-data`, streamed: the form's text parts, then the file chunk by chunk. */
export async function uploadDataset(client: AssayClient, options: UploadDatasetOptions): Promise<Dataset> {
  const source = await openSource(options.file, options.size);
  const format = options.format ?? formatOf(options.fileName ?? source.name);
  const fileName = options.fileName ?? source.name ?? `upload.${format ?? 'csv'}`;
  const fields: [string, string | undefined][] = [
    ['name', options.name],
    ['caseIdColumn', options.mapping?.caseColumn],
    ['activityColumn', options.mapping?.activityColumn],
    ['timestampColumn', options.mapping?.timestampColumn],
    ['resourceColumn', options.mapping?.resourceColumn],
    ['timestampFormat', options.mapping?.timestampFormat],
  ];
  const boundary = `----assay-${globalThis.crypto.randomUUID()}`;
  const encoder = new TextEncoder();
  let head = '';
  for (const [name, value] of fields) {
    if (value === undefined) continue;
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  const contentType = format ? CONTENT_TYPES[format] : 'application/octet-stream';
  head +=
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted(fileName)}"\r\n` +
    `Content-Type: ${contentType}\r\n\r\n`;
  const prefix = encoder.encode(head);
  const suffix = encoder.encode(`\r\n--${boundary}--\r\n`);

  const total = source.size;
  let sent = 0;
  options.onProgress?.(0, total);
  const reader = source.stream.getReader();
  let stage: 'prefix' | 'file' | 'done' = 'prefix';
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (stage === 'prefix') {
        stage = 'file';
        controller.enqueue(prefix);
        return;
      }
      if (stage === 'done') return;
      const { value, done } = await reader.read();
      if (done) {
        stage = 'done';
        controller.enqueue(suffix);
        controller.close();
        return;
      }
      // Large chunks are cut so that progress moves at a steady pace.
      for (let at = 0; at < value.byteLength; at += CHUNK) {
        const piece = value.subarray(at, Math.min(value.byteLength, at + CHUNK));
        controller.enqueue(piece);
        sent += piece.byteLength;
        options.onProgress?.(sent, total);
      }
    },
    async cancel(reason) {
      await reader.cancel(reason);
    },
  });
  const headers: Record<string, string> = {
    'Content-Type': `multipart/form-data; boundary=${boundary}`,
    Accept: 'application/json',
  };
  // With the size known the body's length is too: the server can refuse an oversized upload at once.
  if (total !== undefined) headers['Content-Length'] = String(prefix.byteLength + total + suffix.byteLength);
  const res = await client.send(client.path('/api/{tenantId}/{projectId}/dataset'), {
    method: 'POST',
    headers,
    body,
    signal: options.signal,
  });
  return (await res.json()) as Dataset;
}

async function openSource(file: UploadDatasetOptions['file'], size: number | undefined): Promise<Source> {
  if (typeof file === 'string') {
    // Node only, loaded when a path is given so that browsers never see these imports.
    const [fs, path, stream] = await Promise.all([import('node:fs'), import('node:path'), import('node:stream')]);
    const stat = await fs.promises.stat(file);
    if (!stat.isFile()) throw new TypeError(`${file} is not a file`);
    const nodeStream = fs.createReadStream(file, { highWaterMark: CHUNK });
    return {
      stream: stream.Readable.toWeb(nodeStream) as unknown as ReadableStream<Uint8Array>,
      size: stat.size,
      name: path.basename(file),
    };
  }
  // Checked by shape, not instanceof: the value may come from another realm (a test runner's, an iframe's).
  if (ArrayBuffer.isView(file)) {
    const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    return {
      stream: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      }),
      size: bytes.byteLength,
      name: undefined,
    };
  }
  if (isStream(file)) return { stream: file, size, name: undefined };
  if (isBlob(file)) {
    const name = typeof (file as File).name === 'string' ? (file as File).name : undefined;
    return { stream: file.stream() as ReadableStream<Uint8Array>, size: file.size, name };
  }
  throw new TypeError('file must be a path, a Blob, a Uint8Array or a ReadableStream');
}

function isBlob(value: unknown): value is Blob {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Blob).stream === 'function' &&
    typeof (value as Blob).size === 'number'
  );
}

function formatOf(name: string | undefined): UploadDatasetOptions['format'] | undefined {
  const lower = name?.toLowerCase() ?? '';
  if (lower.endsWith('.xes.gz') || lower.endsWith('.gz')) return 'xes.gz';
  if (lower.endsWith('.xes') || lower.endsWith('.xml')) return 'xes';
  if (lower.endsWith('.csv')) return 'csv';
  return undefined;
}

/** A file name as a quoted-string of Content-Disposition: quotes and line breaks escaped. */
function quoted(name: string): string {
  return name.replace(/["\\\r\n]/g, (c) => encodeURIComponent(c));
}
