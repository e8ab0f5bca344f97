import fs from 'node:fs';
import path from 'node:path';
import { PGlite, type PGliteOptions } from '@electric-sql/pglite';

/**
 * Most of a new in-memory PGlite's start is its initdb: 1.5 s on a quiet 2-core machine, 4 s
 * and more under load, paid by every PGlite app the tests start (about a hundred a run). The
 * global setup runs initdb once and saves the fresh data directory; each test store starts from
 * a copy of it, then runs the service's migrations and the queue's setup as it would on a new
 * machine. Nothing of the service is skipped: the copy is what initdb leaves, before any table.
 */

/** The variable through which the global setup tells the test workers where the template is. */
export const PGLITE_TEMPLATE_VARIABLE = 'ASSAY_TEST_PGLITE_TEMPLATE';

/**
 * Runs initdb in a new in-memory PGlite and writes its data directory (a tar, 40 MB) under
 * node_modules/.cache, replacing the last run's; answers the file's path.
 */
export async function writePgliteTemplate(root: string): Promise<string> {
  const pglite = await PGlite.create();
  try {
    const tar = await pglite.dumpDataDir('none');
    const dir = path.join(root, 'node_modules', '.cache', 'assay-tests');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'pglite-template.tar');
    // Written aside, then renamed: a run starting meanwhile reads a whole file, the old or the new.
    const partial = `${file}.${process.pid}`;
    fs.writeFileSync(partial, Buffer.from(await tar.arrayBuffer()));
    fs.renameSync(partial, file);
    return file;
  } finally {
    await pglite.close();
  }
}

let template: Blob | undefined;

/**
 * Makes every in-memory PGlite this test file creates start from the template, when the global
 * setup made one (a file run without it starts PGlite the usual way). PGlite on a folder (the
 * built server's tests) is left alone.
 */
export function startInMemoryPglitesFromTemplate(): void {
  const file = process.env[PGLITE_TEMPLATE_VARIABLE];
  if (!file || jest.isMockFunction(PGlite.create)) return;
  template ??= new Blob([fs.readFileSync(file)]);
  const create = PGlite.create.bind(PGlite) as (...args: unknown[]) => Promise<PGlite>;
  jest.spyOn(PGlite, 'create').mockImplementation(((...args: unknown[]) => {
    const [first] = args;
    const inMemory = typeof first !== 'string' && !(first && typeof first === 'object' && 'dataDir' in first);
    return inMemory ? create({ ...(first as PGliteOptions | undefined), loadDataDir: template }) : create(...args);
  }) as typeof PGlite.create);
}
