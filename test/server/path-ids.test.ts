import { startTestApp, stores, type Tenant, type TestApp } from './harness';

/** Ids are GUIDs, stored lower-case; a client may write them in any case (routing lower-cases them once). */
describe.each(stores)('path ids in upper case on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let upper: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    upper = `/api/${t.tenantId.toUpperCase()}/${t.projectId.toUpperCase()}`;
  }, 60_000);
  afterAll(() => app.close());

  test('a notebook is read, changed and deleted through its upper-case ids', async () => {
    const created = await app.call('POST', `${upper}/notebook`, { token: t.token, body: { notebookName: 'Case' } });
    expect(created.status).toBe(201);
    const id: string = created.body.notebookId;
    expect(id).toBe(id.toLowerCase());
    expect(created.headers.get('location')).toContain(`/api/${t.tenantId}/${t.projectId}/notebook/${id}`);

    const got = await app.call('GET', `${upper}/notebook/${id.toUpperCase()}`, { token: t.token });
    expect(got.status).toBe(200);
    expect(got.body.notebookId).toBe(id);
    const renamed = await app.call('PUT', `${upper}/notebook/${id.toUpperCase()}`, {
      token: t.token,
      body: { notebookName: 'Renamed', dateModified: got.body.dateModified },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.notebookName).toBe('Renamed');

    expect((await app.call('DELETE', `${upper}/notebook/${id.toUpperCase()}`, { token: t.token })).status).toBe(204);
    const gone = await app.call('GET', `${upper}/notebook/${id}`, { token: t.token });
    expect(gone.status).toBe(404);
  });

  test('an unknown id is named lower-case in the 404', async () => {
    const unknown = 'ABCDEF01-2345-4678-9ABC-DEF012345678';
    const res = await app.call('GET', `${upper}/notebook/${unknown}`, { token: t.token });
    expect(res.status).toBe(404);
    expect(res.body.NotebookId).toBe(unknown.toLowerCase());
  });

  test("another tenant's id in upper case is still forbidden, and named lower-case", async () => {
    const other = await app.newTenant();
    const res = await app.call('GET', `/api/${other.tenantId.toUpperCase()}/projects`, { token: t.token });
    expect(res.status).toBe(403);
    expect(res.body.TenantId).toBe(other.tenantId);
  });

  test('the admin API takes upper-case tenant and key ids', async () => {
    const keys = await app.call('GET', `/admin/tenants/${t.tenantId.toUpperCase()}/keys`, { token: app.adminToken });
    expect(keys.status).toBe(200);
    expect(keys.body.keys.map((k: { keyId: string }) => k.keyId)).toContain(t.keyId);
    const path = `/admin/tenants/${t.tenantId.toUpperCase()}/keys`;
    const made = await app.call('POST', path, { token: app.adminToken, body: { name: 'second' } });
    expect(made.status).toBe(201);
    const revoked = await app.call('DELETE', `${path}/${String(made.body.keyId).toUpperCase()}`, {
      token: app.adminToken,
    });
    expect(revoked.status).toBe(204);
  });
});
