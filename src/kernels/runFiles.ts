import fs from 'node:fs';
import path from 'node:path';

/**
 * Reading what notebook code left in its run directory. Every name and file there is hostile:
 * a name may try to leave the directory, a file may be a link to a root-only or another
 * tenant's file, a FIFO that blocks forever, a device, or simply huge. Files are opened without
 * following links, must be regular files within a size limit, and are copied, never linked or
 * moved, to a place of the service's own. Read only after the run's processes are gone, so
 * nothing can change underneath.
 */

/** A file of the run that the service refuses, with a message for the execution's error. */
export class RunFileError extends Error {
  override name = 'OutputRejected';
}

/** Copies the regular file `name` of `dir` to `target` (created new, mode 0600); answers its size. */
export function copyRunFile(dir: string, name: string, target: string, maxBytes: number): number {
  const source = openRunFile(dir, name, maxBytes);
  try {
    const out = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      const buffer = Buffer.alloc(1024 * 1024);
      let total = 0;
      for (;;) {
        const n = fs.readSync(source.fd, buffer, 0, buffer.length, null);
        if (n === 0) break;
        total += n;
        // The size was checked on open; a file still growing is cut off at the limit, not trusted.
        if (total > maxBytes) throw new RunFileError(`${name} is larger than the limit of ${maxBytes} bytes.`);
        fs.writeSync(out, buffer, 0, n);
      }
      return total;
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(source.fd);
  }
}

/** The content of the regular file `name` of `dir`, or null when there is none. */
export function readRunFile(dir: string, name: string, maxBytes: number): Buffer | null {
  let source: { fd: number; size: number };
  try {
    source = openRunFile(dir, name, maxBytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buffer = Buffer.alloc(source.size);
    const n = fs.readSync(source.fd, buffer, 0, source.size, 0);
    return buffer.subarray(0, n);
  } finally {
    fs.closeSync(source.fd);
  }
}

/** Opens `dir/name` for reading: a plain name, no link, a regular file, at most `maxBytes`. */
function openRunFile(dir: string, name: string, maxBytes: number): { fd: number; size: number } {
  if (!isPlainName(name)) throw new RunFileError(`'${printable(name)}' is not a file name of the run directory.`);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer that will never come.
    fd = fs.openSync(
      path.join(dir, name),
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new RunFileError(`${name} is a link; only regular files are accepted.`);
    if (code === 'ENOENT') throw err;
    throw new RunFileError(`${name} could not be opened (${code ?? 'error'}).`);
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw new RunFileError(`${name} is not a regular file.`);
  }
  if (stat.size > maxBytes) {
    fs.closeSync(fd);
    throw new RunFileError(`${name} is ${stat.size} bytes, over the limit of ${maxBytes} bytes.`);
  }
  return { fd, size: stat.size };
}

function isPlainName(name: string): boolean {
  const special = name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\u0000');
  return name.length > 0 && name.length <= 255 && !special;
}

function printable(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}
