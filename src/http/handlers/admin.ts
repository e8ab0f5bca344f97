import type { AppDeps } from '../app';
import { createApiKey, createTenant, listApiKeys, revokeApiKey } from '../../domain/tenants';
import type { ApiKeyCreate, TenantCreate } from '../../api/types';
import { empty, json } from '../reply';
import type { Handler } from './index';

/** Tenants and API keys, behind the admin token. */
export function adminHandlers({ db, config }: AppDeps): Record<string, Handler> {
  return {
    createTenant: async (ctx) => {
      const created = await createTenant(db, ctx.body as TenantCreate, 'admin');
      return json(201, created, { Location: `${config.publicUrl}/api/${created.tenantId}/projects` });
    },
    listApiKeys: async (ctx) => json(200, { keys: await listApiKeys(db, ctx.params.tenantId.toLowerCase()) }),
    createApiKey: async (ctx) =>
      json(201, await createApiKey(db, ctx.params.tenantId.toLowerCase(), (ctx.body as ApiKeyCreate).name)),
    revokeApiKey: async (ctx) => {
      await revokeApiKey(db, ctx.params.tenantId.toLowerCase(), ctx.params.keyId.toLowerCase());
      return empty();
    },
  };
}
