import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { generatedDir } from '../api/document';
import { matchesAny } from './download';
import type { EmptyReply, RawReply } from './reply';

const gzip = promisify(zlib.gzip);

/** What a published file looks at in the request. */
export interface PublishedRequest {
  headers: Record<string, string | undefined>;
}

/** One encoding of a published file: its bytes and their ETag. */
interface Variant {
  body: Buffer;
  etag: string;
  encoding?: 'gzip';
}

/**
 * A file the service publishes as it is (the contract, the docs page): read and hashed once when
 * the app is built, gzipped on the first request that accepts it, revalidated by `ETag`.
 */
export class PublishedFile {
  private readonly identity: Variant;
  private gzipped?: Promise<Variant>;

  /** `headers` are sent with every answer besides the caching ones (a CSP for the docs page). */
  constructor(
    body: Buffer,
    private readonly contentType: string,
    private readonly headers: Record<string, string> = {},
  ) {
    this.identity = { body, etag: etagOf(body) };
  }

  /** Reads a file of generated/ (`npm run generate` writes them; they are committed). */
  static fromGenerated(file: string, contentType: string, headers?: Record<string, string>): PublishedFile {
    return new PublishedFile(fs.readFileSync(path.join(generatedDir, file)), contentType, headers);
  }

  /** The answer to GET or HEAD: the file (gzipped if the client accepts it), or 304 for a current copy. */
  async reply(req: PublishedRequest): Promise<RawReply<200> | EmptyReply<304>> {
    const variant = acceptsGzip(req.headers['accept-encoding']) ? await this.gzipVariant() : this.identity;
    const caching = { ETag: variant.etag, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' };
    if (matchesAny(req.headers['if-none-match'], variant.etag)) return { status: 304, headers: caching };
    const encoding: Record<string, string> = variant.encoding ? { 'Content-Encoding': variant.encoding } : {};
    return {
      status: 200,
      body: variant.body,
      contentType: this.contentType,
      headers: { ...caching, ...encoding, 'X-Content-Type-Options': 'nosniff', ...this.headers },
    };
  }

  private gzipVariant(): Promise<Variant> {
    // Compressed off the event loop, once; the 2.7 MB docs page takes about 100 ms.
    this.gzipped ??= gzip(this.identity.body, { level: 9 }).then((body) => ({
      body,
      etag: etagOf(body),
      encoding: 'gzip' as const,
    }));
    return this.gzipped;
  }
}

/** The files `GET /openapi.json`, `GET /openapi.yaml` and `GET /docs` answer with. */
export interface PublishedFiles {
  openApiJson: PublishedFile;
  openApiYaml: PublishedFile;
  docsPage: PublishedFile;
}

/**
 * The docs page runs its own inline scripts and styles (Redoc, embedded by `npm run generate`)
 * and needs nothing from anywhere else; search runs in a worker made from a blob.
 */
const DOCS_PAGE_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  'worker-src blob:',
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Reads the contract (JSON and YAML) and the docs page from generated/, once. */
export function readPublishedFiles(): PublishedFiles {
  return {
    openApiJson: PublishedFile.fromGenerated('openapi.json', 'application/json; charset=utf-8'),
    openApiYaml: PublishedFile.fromGenerated('openapi.yaml', 'application/yaml; charset=utf-8'),
    docsPage: PublishedFile.fromGenerated('docs/index.html', 'text/html; charset=utf-8', {
      'Content-Security-Policy': DOCS_PAGE_POLICY,
    }),
  };
}

/**
 * Whether `Accept-Encoding` allows gzip: `gzip` (or `x-gzip`) with a non-zero q, or `*` when gzip
 * is not refused by name (RFC 9110 12.5.3). No header means no compression.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!coding) continue;
    const q = params.find((p) => /^q\s*=/.test(p));
    const weight = q === undefined ? 1 : Number(q.replace(/^q\s*=\s*/, ''));
    weights.set(coding === 'x-gzip' ? 'gzip' : coding, Number.isFinite(weight) ? weight : 0);
  }
  const named = weights.get('gzip');
  return named !== undefined ? named > 0 : (weights.get('*') ?? 0) > 0;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex')}"`;
}
