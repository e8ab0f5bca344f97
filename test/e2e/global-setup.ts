import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PGLITE_TEMPLATE_VARIABLE, writePgliteTemplate } from '../support/pglite-template';

/**
 * The end-to-end tests run the built server as `npm start` does, and the client's tests and
 * example the built client (client/dist): build both once before them, the client first (the
 * server's `assay` commands import it). Then the fresh PGlite data directory the test stores
 * start from (see pglite-template.ts); the test workers, started after this, inherit the variable.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '..', '..');
  execFileSync(process.execPath, [path.join(root, 'client', 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
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
