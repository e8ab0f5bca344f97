import {
  base,
  executeAndWait,
  newInvestigation,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

describe.each(stores)('the notebook page and read-only links on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let notebookId: string;
  let investigationId: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    ({ investigationId } = await newInvestigation(app, t));
    notebookId = (
      await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: 'Shared' },
      })
    ).body.notebookId;
    for (const calculatorType of ['summary', 'processMap']) {
      await app.call('POST', `${base(t)}/notebook/${notebookId}/blocks`, {
        token: t.token,
        body: { blockType: 'Calculator', blockTitle: calculatorType, configuration: { calculatorType } },
      });
    }
    const { accepted } = await executeAndWait(app, t, notebookId);
    await waitForJob(app, t, accepted.body.jobId);
  }, 60_000);
  afterAll(() => app.close());

  const share = (hours: number, id = notebookId) =>
    app.call('GET', `${base(t)}/notebook/${id}/url?expiresInHours=${hours}`, { token: t.token });
  const secretOf = (url: string) => new URL(url).hash.replace('#share=', '');

  test('the link opens an HTML page that holds no data; its script and style are served', async () => {
    const link = await app.call('GET', `${base(t)}/notebook/${notebookId}/url`, { token: t.token });
    expect(link.body.expiresAt).toBeNull();
    const page = await fetch(link.body.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).not.toContain('Shared');
    expect(html).toContain('/assets/notebook.js');
    for (const asset of ['notebook.js', 'notebook.css'])
      expect((await fetch(`${app.url}/assets/${asset}`)).status).toBe(200);
    expect((await fetch(`${app.url}/assets/other.js`)).status).toBe(400);
  });

  test('GET .../page answers the blocks and the latest execution with its outputs', async () => {
    const res = await app.call('GET', `${base(t)}/notebook/${notebookId}/page`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ notebookId, name: 'Shared', notebookType: 0, readOnly: false, cells: [] });
    expect(res.body.blocks.map((b: { blockTitle: string }) => b.blockTitle)).toEqual(['summary', 'processMap']);
    expect(res.body.execution.status).toBe('Completed');
    expect(res.body.execution.outputs.length).toBeGreaterThan(0);
    expect(res.body.execution.streamUrl).toBeUndefined();
  });

  test('a read-only link opens the page without a key until it expires or is revoked', async () => {
    const minted = await share(24);
    expect(minted.status).toBe(200);
    expect(Date.parse(minted.body.expiresAt) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(minted.body.url).toMatch(/#share=sh_[A-Za-z0-9_-]{43}$/);
    const secret = secretOf(minted.body.url);
    const shared = await app.call('GET', '/api/shared/notebook', { token: secret });
    expect(shared.status).toBe(200);
    expect(shared.body).toMatchObject({ notebookId, readOnly: true, expiresAt: minted.body.expiresAt });
    // Its files, and only its files.
    const file = shared.body.execution.outputs.find((o: { artifactId?: string }) => o.artifactId);
    expect((await app.call('GET', `/api/shared/artifact/${file.artifactId}`, { token: secret })).status).toBe(200);
    const other = await executeAndWait(app, t, notebookId);
    await waitForJob(app, t, other.accepted.body.jobId);
    expect((await app.call('GET', `/api/shared/artifact/${file.artifactId}`, { token: secret })).status).toBe(404);
    // The secret is no API key.
    expect((await app.call('GET', `${base(t)}/notebook/${notebookId}/page`, { token: secret })).status).toBe(401);
    // Revoked: it stops at once; revoking again is fine; an unknown id is 404.
    const revoke = `${base(t)}/notebook/${notebookId}/share/${minted.body.shareId}`;
    expect((await app.call('DELETE', revoke, { token: t.token })).status).toBe(204);
    const after = await app.call('GET', '/api/shared/notebook', { token: secret });
    expect(after.status).toBe(401);
    expect(after.body.Code).toBe('SHARE_LINK_INVALID');
    expect((await app.call('DELETE', revoke, { token: t.token })).status).toBe(204);
    const unknown = await app.call('DELETE', `${base(t)}/notebook/${notebookId}/share/${crypto.randomUUID()}`, {
      token: t.token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.Code).toBe('SHARE_LINK_NOT_FOUND');
  }, 60_000);

  test('an expired link, a deleted notebook, a missing or bogus secret answer 401; hours outside 1..720 answer 400', async () => {
    const secret = secretOf((await share(1)).body.url);
    await app.db.query(`UPDATE share_links SET expires_at = now() - interval '1 second'`);
    expect((await app.call('GET', '/api/shared/notebook', { token: secret })).status).toBe(401);

    const doomed = (
      await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: 'Doomed' },
      })
    ).body.notebookId;
    const doomedSecret = secretOf((await share(2, doomed)).body.url);
    expect((await app.call('GET', '/api/shared/notebook', { token: doomedSecret })).status).toBe(200);
    expect((await app.call('DELETE', `${base(t)}/notebook/${doomed}`, { token: t.token })).status).toBe(200);
    expect((await app.call('GET', '/api/shared/notebook', { token: doomedSecret })).status).toBe(401);

    expect((await app.call('GET', '/api/shared/notebook')).status).toBe(401);
    expect((await app.call('GET', '/api/shared/notebook', { token: `sh_${'A'.repeat(43)}` })).status).toBe(401);
    expect((await app.call('GET', '/api/shared/notebook', { token: t.token })).status).toBe(401);
    for (const hours of [0, 721, 1.5]) expect((await share(hours)).status).toBe(400);
  }, 60_000);

  test("another tenant's key gets 403 on the page and cannot share or revoke; a foreign notebook is 404", async () => {
    const stranger = await app.newTenant();
    const foreignKey = { token: stranger.token };
    expect((await app.call('GET', `${base(t)}/notebook/${notebookId}/page`, foreignKey)).status).toBe(403);
    expect((await app.call('GET', `${base(stranger)}/notebook/${notebookId}/page`, foreignKey)).status).toBe(404);
    expect(
      (await app.call('GET', `${base(stranger)}/notebook/${notebookId}/url?expiresInHours=1`, foreignKey)).status,
    ).toBe(404);
    const minted = await share(1);
    expect(
      (await app.call('DELETE', `${base(stranger)}/notebook/${notebookId}/share/${minted.body.shareId}`, foreignKey))
        .status,
    ).toBe(404);
  });
});
