import fs from 'node:fs';
import path from 'node:path';
import { RunFileError } from '../domain/jobErrors';

/**
 * Reading what notebook code left in its run directory. Every name and file there is hostile:
 * a name may try to leave the directory, a file may be a link to a root-only or another
 * tenant's file, a FIFO that blocks forever, a device, or simply huge. Files are opened without
 * following links, must be regular files within a size limit, and are copied, never linked or
 * moved, to a place of the service's own. Read only after the run's processes are gone, so
 * nothing can change underneath.
 */

/** Copies the regular file `name` of `dir` to `target` (created new, mode 0600); answers its size. */
export async function copyRunFile(dir: string, name: string, target: string, maxBytes: number): Promise<number> {
  const source = await openRunFile(dir, name, maxBytes);
  try {
    const out = await fs.promises.open(
      target,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
      0o600,
    );
    try {
      const buffer = Buffer.alloc(1024 * 1024);
      let total = 0;
      for (;;) {
        const { bytesRead } = await source.handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        // The size was checked on open; a file still growing is cut off at the limit, not trusted.
        if (total > maxBytes) throw new RunFileError(`${name} is larger than the limit of ${maxBytes} bytes.`);
        await out.write(buffer, 0, bytesRead);
      }
      return total;
    } finally {
      await out.close();
    }
  } finally {
    await source.handle.close();
  }
}

/** The content of the regular file `name` of `dir`, or null when there is none. */
export async function readRunFile(dir: string, name: string, maxBytes: number): Promise<Buffer | null> {
  let source: { handle: fs.promises.FileHandle; size: number };
  try {
    source = await openRunFile(dir, name, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buffer = Buffer.alloc(source.size);
    const { bytesRead } = await source.handle.read(buffer, 0, source.size, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await source.handle.close();
  }
}

/** Opens `dir/name` for reading: a plain name, no link, a regular file, at most `maxBytes`. */
async function openRunFile(
  dir: string,
  name: string,
  maxBytes: number,
): Promise<{ handle: fs.promises.FileHandle; size: number }> {
  if (!isPlainName(name)) throw new RunFileError(`'${printable(name)}' is not a file name of the run directory.`);
  let handle: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer that will never come.
    handle = await fs.promises.open(
      path.join(dir, name),
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new RunFileError(`${name} is a link; only regular files are accepted.`);
    if (code === 'ENOENT') throw err;
    throw new RunFileError(`${name} could not be opened (${code ?? 'error'}).`);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new RunFileError(`${name} is not a regular file.`);
  }
  if (stat.size > maxBytes) {
    await handle.close();
    throw new RunFileError(`${name} is ${stat.size} bytes, over the limit of ${maxBytes} bytes.`);
  }
  return { handle, size: stat.size };
}

function isPlainName(name: string): boolean {
  const special = name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\u0000');
  return name.length > 0 && name.length <= 255 && !special;
}

function printable(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}
