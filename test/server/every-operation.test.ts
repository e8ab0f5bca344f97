import { loadDocument } from '../../src/api/document';
import type { AppDeps } from '../../src/http/app';
import { allHandlers } from '../../src/http/handlers';
import { startTestApp, stores, type Tenant, type TestApp } from './harness';

interface Op {
  operationId: string;
  method: string;
  path: string;
  secured: boolean;
  admin: boolean;
}

const doc = loadDocument() as unknown as {
  paths: Record<string, Record<string, { operationId: string; security?: Record<string, string[]>[] }>>;
};
const ops: Op[] = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => ['get', 'put', 'post', 'delete'].includes(method))
    .map(([method, op]) => {
      const security = op.security ?? [{ apiKey: [] }];
      return {
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        secured: security.length > 0,
        admin: security.every((s) => 'adminToken' in s),
      };
    }),
);
// Operations on a tenant's path (read-only links' operations under /api/shared/ have no tenant in theirs).
const tenantOps = ops.filter((op) => op.secured && !op.admin && op.path.startsWith('/api/{tenantId}'));
const RANDOM_ID = 'abcdef01-2345-4678-9abc-def012345678';

/** The operation's URL for a tenant, with every other GUID parameter set to `id`. */
function urlFor(op: Op, t: Tenant, id = RANDOM_ID): string {
  return op.path
    .replace('{tenantId}', t.tenantId)
    .replace('{projectId}', t.projectId)
    .replace(/\{\w+\}/g, id);
}

test('every operation of the contract has a handler (none answers 501 for want of one)', () => {
  const config = { publicUrl: 'http://localhost', dataDir: '/nonexistent' };
  const handlers = allHandlers({ document: loadDocument(), config } as unknown as AppDeps);
  expect(ops.map((op) => op.operationId).filter((id) => !handlers[id])).toEqual([]);
});

describe.each(stores)('every operation of the contract on %s', (store) => {
  let app: TestApp;
  let a: Tenant;
  let b: Tenant;
  beforeAll(async () => {
    app = await startTestApp(store);
    a = await app.newTenant();
    b = await app.newTenant();
  }, 60_000);
  afterAll(() => app.close());

  test.each(tenantOps.map((op) => [`${op.method} ${op.path}`, op] as const))(
    '%s answers 401 without a token',
    async (_n, op) => {
      const res = await app.call(op.method, urlFor(op, a));
      expect(res.status).toBe(401);
      expect(res.body.Error).toBe('Unauthorized');
    },
  );

  test.each(tenantOps.map((op) => [`${op.method} ${op.path}`, op] as const))(
    "%s answers 403 with another tenant's key",
    async (_n, op) => {
      const res = await app.call(op.method, urlFor(op, b), { token: a.token });
      expect(res.status).toBe(403);
      expect(res.body.TenantId).toBe(b.tenantId);
    },
  );

  const withIds = tenantOps.filter((op) => /\{(?!tenantId|projectId)\w+\}/.test(op.path));
  test.each(withIds.map((op) => [`${op.method} ${op.path}`, op] as const))(
    '%s answers 400 for a malformed id',
    async (_n, op) => {
      const res = await app.call(op.method, urlFor(op, a, 'not-a-guid'), { token: a.token });
      expect(res.status).toBe(400);
      expect(res.body.ValidationErrors.some((e: { Field: string }) => e.Field.startsWith('path.'))).toBe(true);
    },
  );

  const lookups = withIds.filter((op) => op.method !== 'POST' && op.method !== 'PUT');
  test.each(lookups.map((op) => [`${op.method} ${op.path}`, op] as const))(
    '%s answers 404 for an unknown id',
    async (_n, op) => {
      const res = await app.call(op.method, urlFor(op, a), { token: a.token });
      expect(res.status).toBe(404);
      expect(Object.values(res.body)).toContain(RANDOM_ID);
    },
  );
});
