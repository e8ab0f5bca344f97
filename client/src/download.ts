import type { AssayClient } from './client.js';
import { AssayIntegrityError } from './errors.js';
import { isNetworkError, sleep } from './retry.js';

export interface DownloadOptions {
  /** Called as bytes are written, with the bytes on disk (a resumed part included) and the file's size. */
  onProgress?: (bytes: number, totalBytes?: number) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** The sha256 of the file, hex; equal to the server's (its `ETag`). */
  sha256: string;
  /** Bytes that were already on disk in the `.part` file and not downloaded again. */
  resumedFrom: number;
}

/**
 * Streams a file of the API (an artifact or a dataset download) to `destPath` through
 * `${destPath}.part`, which is renamed once whole and checked. A `.part` left by an earlier try is
 * resumed with `Range` (and `If-Range`, so a changed file is sent whole); a connection cut during
 * the transfer is resumed the same way, within the retry policy. The sha256 of the bytes on disk
 * must equal the `ETag` the server sends (the file's sha256); a resumed file that does not is
 * downloaded again from the start once, then `AssayIntegrityError`. Node only (node:fs).
 */
export async function downloadArtifact(
  client: AssayClient,
  path: string,
  destPath: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const [fs, crypto] = await Promise.all([import('node:fs'), import('node:crypto')]);
  const partPath = `${destPath}.part`;
  const sizeOf = async (file: string) => (await fs.promises.stat(file).catch(() => undefined))?.size ?? 0;
  /** The sha256 state of the bytes already in the part file. */
  const hashOf = async (bytes: number) => {
    const hash = crypto.createHash('sha256');
    if (bytes === 0) return hash;
    for await (const chunk of fs.createReadStream(partPath, { end: bytes - 1 })) hash.update(chunk as Buffer);
    return hash;
  };

  let restartedWhole = false;
  let failures = 0;
  let etag: string | undefined;
  const firstPart = await sizeOf(partPath);
  for (;;) {
    let offset = await sizeOf(partPath);
    const headers: Record<string, string> = {};
    if (offset > 0) {
      headers.Range = `bytes=${offset}-`;
      if (etag) headers['If-Range'] = etag;
    }
    let res: Response;
    try {
      res = await client.send(path, { headers, signal: options.signal, accept: [416] });
    } catch (err) {
      if (!isNetworkError(err) || ++failures > client.retry.retries) throw err;
      await sleep(client.retry.minDelayMs * 2 ** (failures - 1), options.signal);
      continue;
    }
    // A 416 is an error answer and carries no file's ETag; HEAD gives the file's headers.
    if (res.status === 416) {
      await res.body?.cancel();
      etag = (await client.send(path, { method: 'HEAD', signal: options.signal })).headers.get('etag') ?? undefined;
    } else {
      etag = res.headers.get('etag') ?? undefined;
    }
    const expected = sha256Of(etag);
    if (expected === undefined) {
      await res.body?.cancel();
      throw new Error(`${path} answered without the sha256 ETag the contract promises (${etag ?? 'none'})`);
    }
    let total: number | undefined;
    if (res.status === 416) {
      // The part is as long as the file, or longer: check it whole, or start again.
      total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN);
      if (total !== offset) {
        await fs.promises.rm(partPath, { force: true });
        continue;
      }
    } else {
      if (res.status === 206) {
        const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
        if (!range || Number(range[1]) !== offset) throw new Error(`unexpected Content-Range for ${path}`);
        total = Number(range[3]);
      } else {
        // The whole file: the server ignored the range, or the file changed (If-Range).
        offset = 0;
        const length = res.headers.get('content-length');
        total = length === null ? undefined : Number(length);
      }
      const hash = await hashOf(offset);
      const file = await fs.promises.open(partPath, offset === 0 ? 'w' : 'a');
      let written = offset;
      options.onProgress?.(written, total);
      try {
        const reader = res.body!.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          hash.update(value);
          await file.write(value);
          written += value.byteLength;
          options.onProgress?.(written, total);
        }
      } catch (err) {
        await file.close();
        // What arrived stays in the part file; a cut connection is resumed from there.
        if (!isNetworkError(err) || ++failures > client.retry.retries) throw err;
        await sleep(client.retry.minDelayMs * 2 ** (failures - 1), options.signal);
        continue;
      }
      await file.close();
      const actual = hash.digest('hex');
      const done = await finish(actual, written);
      if (done) return done;
      continue;
    }
    const actual = (await hashOf(offset)).digest('hex');
    const done = await finish(actual, offset);
    if (done) return done;

    /** Renames a part that hashes right; drops one that does not, for one download from the start. */
    async function finish(actual: string, bytes: number): Promise<DownloadResult | undefined> {
      if (actual === expected) {
        await fs.promises.rename(partPath, destPath);
        return { path: destPath, bytes, sha256: actual, resumedFrom: restartedWhole ? 0 : firstPart };
      }
      await fs.promises.rm(partPath, { force: true });
      if (restartedWhole || firstPart === 0) {
        throw new AssayIntegrityError(
          `${path}: the downloaded bytes hash to ${actual}, the server announced ${expected}`,
          expected!,
          actual,
        );
      }
      restartedWhole = true;
      return undefined;
    }
  }
}

/** The sha256 in a strong `ETag` (`"<64 hex>"`), else undefined. */
function sha256Of(etag: string | undefined): string | undefined {
  const match = /^"([0-9a-f]{64})"$/i.exec(etag?.trim() ?? '');
  return match ? match[1].toLowerCase() : undefined;
}
