import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * The end-to-end tests run the built server as `npm start` does, and the client's tests and
 * example the built client (client/dist): build both once before them, the client first (the
 * server's `assay` commands import it).
 */
export default function globalSetup(): void {
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
}
