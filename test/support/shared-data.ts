import fs from 'node:fs';
import path from 'node:path';

/**
 * Where the public event logs and their reference figures are. They are kept out of this
 * repository (their README asks so); by default they sit next to it in `../shared/data`.
 * A clone elsewhere sets `ASSAY_SHARED_DATA` to that folder.
 */
export const SHARED_DATA = process.env.ASSAY_SHARED_DATA
  ? path.resolve(process.env.ASSAY_SHARED_DATA)
  : path.resolve(__dirname, '..', '..', '..', 'shared', 'data');

/** The path of one public log, or an error that says how to point the tests at the folder. */
export function sharedDataFile(name: string): string {
  const file = path.join(SHARED_DATA, name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `The public event log ${name} is not in ${SHARED_DATA}. Clone this repository next to the shared folder, or set ASSAY_SHARED_DATA to its data folder.`,
    );
  }
  return file;
}
