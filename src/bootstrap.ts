import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createTenant, isEmpty } from './domain/tenants';
import type { Db } from './store/db';

/** What a new user needs to call the API at once; written to `$DATA_DIR/bootstrap.json`. */
export interface BootstrapCredentials {
  tenantId: string;
  projectId: string;
  token: string;
}

/**
 * On first start with an empty store, creates a tenant, a project and an API key, prints them
 * once and writes them to `bootstrap.json` (mode 0600). Later starts do nothing.
 */
export async function bootstrapIfEmpty(
  db: Db,
  dataDir: string,
  logger: Logger,
): Promise<BootstrapCredentials | undefined> {
  if (!(await isEmpty(db))) return undefined;
  const created = await createTenant(
    db,
    { tenantName: 'Default tenant', projectName: 'Default', keyName: 'bootstrap' },
    'bootstrap',
  );
  const credentials = { tenantId: created.tenantId, projectId: created.project.projectId, token: created.apiKey.token };
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'bootstrap.json');
  fs.writeFileSync(file, JSON.stringify(credentials, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  logger.info({ file }, 'first start: created a tenant, a project and an API key');
  process.stdout.write(
    `\nAssay is set up. Call the API with:\n  tenantId  ${credentials.tenantId}\n  projectId ${credentials.projectId}\n  token     ${credentials.token}\n(also in ${file}; the token is not shown again)\n\n`,
  );
  return credentials;
}
