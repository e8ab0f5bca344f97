import fs from 'node:fs';
import path from 'node:path';

/**
 * Moves a file into place. A rename when both sides are on one filesystem; a copy and a delete
 * otherwise (kernel homes live under the system's temporary directory, `DATA_DIR` may not).
 */
export function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.copyFileSync(from, to);
    fs.rmSync(from, { force: true });
  }
}

/** Gives a directory and everything in it to a user (kernels run as the tenant's own user). */
export function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.chownSync(full, uid, gid);
  }
}
