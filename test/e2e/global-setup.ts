import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PGLITE_TEMPLATE_VARIABLE, writePgliteTemplate } from '../support/pglite-template';

/**
 * The end-to-end tests run the built server as `npm start` does, and the client's tests and
 * example the built client (client/dist): build both once before them, the client first (the
 * server's `assay` commands import it). `npm test` has built the client already (its type check
 * needs it), so the client is built only when it is older than its sources. Then the fresh PGlite
 * data directory the test stores start from (see pglite-template.ts); the test workers, started
 * after this, inherit the variable.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  const client = path.join(root, 'client');
  const clientSources = ['src', 'scripts', 'package.json', 'tsconfig.json', 'tsconfig.cjs.json'];
  if (!(oldestFile(path.join(client, 'dist')) > newestFile(clientSources.map((p) => path.join(client, p))))) {
    execFileSync(process.execPath, [path.join(client, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  }
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  process.env[PGLITE_TEMPLATE_VARIABLE] = await writePgliteTemplate(root);
}

/** The modification times (ms) of the files at or under `paths`. */
function fileTimes(paths: string[]): number[] {
  return paths
    .filter((p) => fs.existsSync(p))
    .flatMap((p) =>
      fs.statSync(p).isDirectory()
        ? (fs.readdirSync(p, { recursive: true, withFileTypes: true }) as fs.Dirent[])
            .filter((e) => e.isFile())
            .map((e) => fs.statSync(path.join(e.parentPath, e.name)).mtimeMs)
        : [fs.statSync(p).mtimeMs],
    );
}

/** The newest modification time of the files at or under `paths` (-Infinity when there are none). */
const newestFile = (paths: string[]) => Math.max(...fileTimes(paths));
/** The oldest modification time of the files under `dir` (-Infinity when there are none: nothing is built). */
const oldestFile = (dir: string) => {
  const times = fileTimes([dir]);
  return times.length ? Math.min(...times) : -Infinity;
};
