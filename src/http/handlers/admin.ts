import type { AppDeps } from '../app';
import { createApiKey, createTenant, listApiKeys, revokeApiKey } from '../../domain/tenants';
import { empty, json } from '../reply';
import type { OperationHandlers } from './types';

/** Tenants and API keys, behind the admin token. */
export function adminHandlers({ db, config }: AppDeps) {
  return {
    createTenant: async (ctx) => {
      const created = await createTenant(db, ctx.body, 'admin');
      return json(201, created, { Location: `${config.publicUrl}/api/${created.tenantId}/projects` });
    },
    listApiKeys: async (ctx) => json(200, { keys: await listApiKeys(db, ctx.params.tenantId) }),
    createApiKey: async (ctx) => json(201, await createApiKey(db, ctx.params.tenantId, ctx.body.name)),
    revokeApiKey: async (ctx) => {
      await revokeApiKey(db, ctx.params.tenantId, ctx.params.keyId);
      return empty();
    },
  } satisfies Partial<OperationHandlers>;
}
