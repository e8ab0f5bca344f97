import fs from 'node:fs';

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
