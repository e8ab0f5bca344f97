import { base, startTestApp, stores, type TestApp } from './harness';

describe.each(stores)('tenants, API keys and isolation on %s', (store) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(store);
  }, 60_000);
  afterAll(() => app.close());

  test('POST /admin/tenants with the admin token returns 201 with a project and a working key', async () => {
    const t = await app.newTenant();
    const ping = await app.call('GET', `${base(t)}/block/ping`, { token: t.token });
    expect(ping.status).toBe(200);
    expect(ping.text).toBe(`Ping Successful (tenant id: ${t.tenantId})`);
  });

  test('POST /admin/tenants without or with a wrong admin token returns 401', async () => {
    expect((await app.call('POST', '/admin/tenants', { body: { tenantName: 'x' } })).status).toBe(401);
    const wrong = await app.call('POST', '/admin/tenants', { token: 'nope', body: { tenantName: 'x' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.Error).toBe('Unauthorized');
  });

  test('an API key is not an admin token: POST /admin/tenants with it returns 401', async () => {
    const t = await app.newTenant();
    expect((await app.call('POST', '/admin/tenants', { token: t.token, body: { tenantName: 'x' } })).status).toBe(401);
  });

  test('keys are stored as hashes only: the token appears nowhere in the store', async () => {
    const t = await app.newTenant();
    const rows = await app.db.query('SELECT * FROM api_keys WHERE id = $1', [t.keyId]);
    expect(JSON.stringify(rows)).not.toContain(t.token);
    const keys = await app.call('GET', `/admin/tenants/${t.tenantId}/keys`, { token: app.adminToken });
    expect(keys.status).toBe(200);
    expect(keys.text).not.toContain(t.token);
    expect(keys.body.keys[0].tokenPrefix).toBe(t.token.slice(0, 10));
  });

  test('POST /admin/tenants/{id}/keys returns 201 with a new key, and DELETE revokes it (then 401)', async () => {
    const t = await app.newTenant();
    const created = await app.call('POST', `/admin/tenants/${t.tenantId}/keys`, {
      token: app.adminToken,
      body: { name: 'laptop' },
    });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect((await app.call('GET', `${base(t)}/block/ping`, { token })).status).toBe(200);
    const revoked = await app.call('DELETE', `/admin/tenants/${t.tenantId}/keys/${created.body.keyId}`, {
      token: app.adminToken,
    });
    expect(revoked.status).toBe(204);
    expect((await app.call('GET', `${base(t)}/block/ping`, { token })).status).toBe(401);
    // The tenant's other key still works.
    expect((await app.call('GET', `${base(t)}/block/ping`, { token: t.token })).status).toBe(200);
  });

  test('admin key operations on an unknown tenant or key return 404', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await app.call('GET', `/admin/tenants/${missing}/keys`, { token: app.adminToken })).status).toBe(404);
    const t = await app.newTenant();
    const res = await app.call('DELETE', `/admin/tenants/${t.tenantId}/keys/${missing}`, { token: app.adminToken });
    expect(res.status).toBe(404);
    expect(res.body.KeyId).toBe(missing);
  });

  test('GET .../block/ping without a token returns 401, with a malformed header too', async () => {
    const t = await app.newTenant();
    expect((await app.call('GET', `${base(t)}/block/ping`)).status).toBe(401);
    const res = await app.call('GET', `${base(t)}/block/ping`, { headers: { Authorization: `Basic ${t.token}` } });
    expect(res.status).toBe(401);
    expect(res.body.Error).toBe('Unauthorized');
  });

  test('GET .../block/unauthorized-ping needs no token', async () => {
    const t = await app.newTenant();
    const res = await app.call('GET', `${base(t)}/block/unauthorized-ping`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('Ping Successful');
  });

  test("a key used on another tenant's path returns 403", async () => {
    const a = await app.newTenant();
    const b = await app.newTenant();
    const res = await app.call('GET', `${base(b)}/notebooks`, { token: a.token });
    expect(res.status).toBe(403);
    expect(res.body.TenantId).toBe(b.tenantId);
  });

  test("another tenant's project under one's own tenant path returns 404 and none of its data", async () => {
    const a = await app.newTenant();
    const b = await app.newTenant();
    const theirs = await app.call('POST', `/api/${b.tenantId}/project`, { token: b.token, body: { name: 'secret' } });
    const res = await app.call('GET', `/api/${a.tenantId}/${theirs.body.projectId}/notebooks`, { token: a.token });
    expect(res.status).toBe(404);
    expect(res.body.ProjectId).toBe(theirs.body.projectId);
    expect(
      (await app.call('GET', `/api/${a.tenantId}/project/${theirs.body.projectId}`, { token: a.token })).status,
    ).toBe(404);
  });

  test('GET /ready with a key answers 200 with the store checked', async () => {
    const t = await app.newTenant();
    const res = await app.call('GET', '/ready', { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body.checks.store.status).toBe('ok');
    expect((await app.call('GET', '/ready', { token: app.adminToken })).status).toBe(200);
    expect((await app.call('GET', '/ready')).status).toBe(401);
  });

  test('GET /health needs no token', async () => {
    const res = await app.call('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
  });
});
