import { ERROR_CODES } from '../../src/api/errorCodes';
import { startTestApp, stores, type Tenant, type TestApp } from './harness';

/**
 * Error bodies carry a `Code` from the catalogue, with the catalogue's status and summary, from
 * every stage: routing, body parsing, security, validation and the domain. (Every other test's
 * error answers are checked against the contract, which requires `Code`, as well.)
 */
describe.each(stores)('error codes on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let base: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    base = `/api/${t.tenantId}/${t.projectId}`;
  }, 60_000);
  afterAll(() => app.close());

  function expectCode(res: { status: number; body: Record<string, unknown> }, code: keyof typeof ERROR_CODES) {
    expect({ status: res.status, Code: res.body.Code, Error: res.body.Error }).toEqual({
      status: ERROR_CODES[code].status,
      Code: code,
      Error: ERROR_CODES[code].error,
    });
  }

  test('routing: an unknown path and a wrong method', async () => {
    expectCode(await app.call('GET', '/api/nowhere', { token: t.token }), 'ROUTE_NOT_FOUND');
    expectCode(await app.call('PATCH', `${base}/notebook`, { token: t.token }), 'METHOD_NOT_ALLOWED');
  });

  test('bodies: malformed JSON', async () => {
    const res = await app.call('POST', `${base}/notebook`, {
      token: t.token,
      raw: { body: '{"notebookName": ', contentType: 'application/json' },
    });
    expectCode(res, 'MALFORMED_JSON');
  });

  test('security: no key, an unknown key, a foreign tenant, no admin token', async () => {
    expectCode(await app.call('GET', `${base}/notebooks`), 'API_KEY_MISSING');
    expectCode(await app.call('GET', `${base}/notebooks`, { token: 'not-a-key' }), 'API_KEY_INVALID');
    const other = await app.newTenant();
    expectCode(await app.call('GET', `/api/${other.tenantId}/projects`, { token: t.token }), 'TENANT_FORBIDDEN');
    expectCode(await app.call('GET', `/admin/tenants/${t.tenantId}/keys`, { token: t.token }), 'ADMIN_TOKEN_REQUIRED');
  });

  test('validation and the domain: a bad field, an unknown id, a stale update', async () => {
    expectCode(await app.call('GET', `${base}/notebooks?pageSize=0`, { token: t.token }), 'VALIDATION_FAILED');
    const unknown = '00000000-0000-4000-8000-000000000000';
    expectCode(await app.call('GET', `${base}/notebook/${unknown}`, { token: t.token }), 'NOTEBOOK_NOT_FOUND');
    expectCode(await app.call('GET', `${base}/dataset/${unknown}`, { token: t.token }), 'DATASET_NOT_FOUND');
    const created = await app.call('POST', `${base}/notebook`, { token: t.token, body: { notebookName: 'Codes' } });
    expect(created.status).toBe(201);
    const stale = await app.call('PUT', `${base}/notebook/${created.body.notebookId}`, {
      token: t.token,
      body: { notebookName: 'Later', dateModified: '2000-01-01T00:00:00.000Z' },
    });
    expectCode(stale, 'STALE_UPDATE');
  });
});
