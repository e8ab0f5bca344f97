import { base, fixtureLog, formWith, startTestApp, stores, type Tenant, type TestApp } from './harness';

const PROCESS_DISCOVERY = '5f0c3a10-7d1e-4b8a-9c3e-000000000001';

describe.each(stores)('notebooks on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;
  let investigationId: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    const ds = await app.call('POST', `${base(t)}/dataset`, {
      token: t.token,
      raw: { body: formWith({ name: 'l.xes', content: fixtureLog('running-example.xes') }) },
    });
    datasetId = ds.body.datasetId;
    investigationId = (await newInvestigation('Main investigation')).investigationId;
  }, 60_000);
  afterAll(() => app.close());

  const newInvestigation = async (name: string) =>
    (await app.call('POST', `${base(t)}/investigation`, { token: t.token, body: { name, datasetId } })).body;
  const createStandard = (name: string, inv = investigationId) =>
    app.call('POST', `${base(t)}/notebook/investigation/${inv}`, { token: t.token, body: { name, description: null } });

  test('POST /notebook/investigation/{id} returns 201 with the standard notebook fields, at the end of the order', async () => {
    const inv = (await newInvestigation('Ordering')).investigationId;
    const first = await createStandard('First', inv);
    const second = await createStandard('Second', inv);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      name: 'First',
      notebookType: 0,
      blockCount: 0,
      lastExecutionDuration: 0,
      modifiedBy: null,
      createdBy: t.keyId,
    });
    expect(second.body.notebookOrder).toBeGreaterThan(first.body.notebookOrder);
    const list = await app.call('GET', `${base(t)}/notebook/investigation/${inv}`, { token: t.token });
    expect(list.body.map((n: { name: string }) => n.name)).toEqual(['First', 'Second']);
  });

  test('POST /notebook/investigation/{id} with a name already used there, in any case, returns 400', async () => {
    await createStandard('Taken');
    const res = await createStandard('taken');
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Failed to create notebook. The name may already exist in this investigation.');
  });

  test('GET /notebook/investigation/{unknown} returns 404 with InvestigationId', async () => {
    const missing = '11111111-2222-3333-4444-555555555555';
    const res = await app.call('GET', `${base(t)}/notebook/investigation/${missing}`, { token: t.token });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ Error: 'Investigation not found', InvestigationId: missing });
  });

  test('PUT /notebook/{id} with the current dateModified returns 200; with a stale one 409 naming both dates and who changed it', async () => {
    const nb = (await createStandard('Lockable')).body;
    const url = `${base(t)}/notebook/${nb.notebookId}`;
    const ok = await app.call('PUT', url, {
      token: t.token,
      body: { name: 'Locked', notebookOrder: 2.5, dateModified: nb.dateModified },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ name: 'Locked', notebookOrder: 2.5, modifiedBy: t.keyId });
    const stale = await app.call('PUT', url, { token: t.token, body: { name: 'Lost', dateModified: nb.dateModified } });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({
      Error: 'CONFLICT',
      Message: 'Notebook was modified by another user since you last fetched it',
      YourDateModified: nb.dateModified,
      CurrentDateModified: ok.body.dateModified,
      ModifiedBy: t.keyId,
    });
    expect((await app.call('GET', url, { token: t.token })).body.name).toBe('Locked');
  });

  test('concurrent PUTs with the same dateModified: exactly one wins, the others get 409', async () => {
    const nb = (await createStandard('Contended')).body;
    const url = `${base(t)}/notebook/${nb.notebookId}`;
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        app.call('PUT', url, { token: t.token, body: { name: `Writer ${i}`, dateModified: nb.dateModified } }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    const winner = results.find((r) => r.status === 200)!.body.name;
    expect((await app.call('GET', url, { token: t.token })).body.name).toBe(winner);
  });

  test("PUT /notebook/{id} with the other type's body returns 400 naming the fields", async () => {
    const nb = (await createStandard('Typed')).body;
    const res = await app.call('PUT', `${base(t)}/notebook/${nb.notebookId}`, {
      token: t.token,
      body: { notebookName: 'x' },
    });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toEqual(
      expect.arrayContaining([
        { Field: 'body.name', Message: 'is required' },
        { Field: 'body.notebookName', Message: 'is not a field of this configuration' },
      ]),
    );
  });

  test("POST /notebook/investigation/{id}/from-template returns 201 with the template's blocks; unknown template 404", async () => {
    const res = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}/from-template`, {
      token: t.token,
      body: { templateId: PROCESS_DISCOVERY, name: null },
    });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('Process Discovery');
    expect(res.body.blockCount).toBe(3);
    expect(
      res.body.blocks.map((b: { blockOrder: number; configuration: string }) => [
        b.blockOrder,
        JSON.parse(b.configuration).calculatorType,
      ]),
    ).toEqual([
      [0, 'summary'],
      [1, 'processMap'],
      [2, 'variants'],
    ]);
    const missing = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}/from-template`, {
      token: t.token,
      body: { templateId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.Error).toBe('Template not found');
  });

  test('POST /notebook/{id}/copy copies every block to another investigation; a second default copy gets a free name', async () => {
    const source = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}/from-template`, {
      token: t.token,
      body: { templateId: PROCESS_DISCOVERY, name: 'To copy' },
    });
    const other = (await newInvestigation('Destination')).investigationId;
    const copy = await app.call('POST', `${base(t)}/notebook/${source.body.notebookId}/copy`, {
      token: t.token,
      body: { destinationInvestigationId: other },
    });
    expect(copy.status).toBe(201);
    expect(copy.body).toMatchObject({ name: 'Copy of To copy', investigationId: other, blockCount: 3 });
    expect(copy.body.blocks.map((b: { configuration: string }) => b.configuration)).toEqual(
      source.body.blocks.map((b: { configuration: string }) => b.configuration),
    );
    const again = await app.call('POST', `${base(t)}/notebook/${source.body.notebookId}/copy`, {
      token: t.token,
      body: { name: null, destinationInvestigationId: other },
    });
    expect(again.body.name).toBe('Copy of To copy (2)');
    const noWhere = await app.call('POST', `${base(t)}/notebook/${source.body.notebookId}/copy`, {
      token: t.token,
      body: { destinationInvestigationId: '22222222-3333-4444-5555-666666666666' },
    });
    expect(noWhere.status).toBe(404);
  });

  test('GET /notebook/{id}/url builds the link from PUBLIC_URL', async () => {
    const nb = (await createStandard('Shared')).body;
    const res = await app.call('GET', `${base(t)}/notebook/${nb.notebookId}/url`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(
      `${app.url}/investigation/${t.tenantId}/${t.projectId}/${investigationId}/notebook/${nb.notebookId}`,
    );
    expect(res.body.expiresAt).toBeNull();
  });

  test('DELETE /notebook/{id} of a standard notebook returns 200 with Message and NotebookId, then 404', async () => {
    const nb = (await createStandard('Doomed')).body;
    const res = await app.call('DELETE', `${base(t)}/notebook/${nb.notebookId}`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ Message: 'Notebook successfully deleted', NotebookId: nb.notebookId });
    expect((await app.call('GET', `${base(t)}/notebook/${nb.notebookId}`, { token: t.token })).status).toBe(404);
  });

  test('POST /notebook creates a Jupyter notebook from a template and initialCells, in the Jupyter notebook shape', async () => {
    const res = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: {
        notebookName: 'Analytics',
        kernelType: 'python3',
        template: 'process_mining_starter',
        integration: {
          enrichmentMode: true,
          datasetBinding: datasetId,
          outputFormat: 'enriched_dataframe',
          autoExecution: false,
        },
        initialCells: [{ cellType: 'markdown', content: '# Extra' }],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      notebookType: 1,
      notebookName: 'Analytics',
      notebookVersion: '1.0.0',
      status: 'Ready',
      executionCount: 0,
    });
    expect(res.body.integration.datasetBinding).toBe(datasetId);
    expect(res.body.cells.at(-1)).toMatchObject({ cellType: 'markdown', source: '# Extra' });
    expect(res.body.cells.find((c: { tags?: string[] }) => c.tags?.includes('parameters'))).toBeDefined();
  });

  test('POST /notebook with an unknown template or a foreign dataset returns 400', async () => {
    const tpl = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: { notebookName: 'x', template: 'nope' },
    });
    expect(tpl.status).toBe(400);
    expect(tpl.body.Available).toContain('process_mining_starter');
    const ds = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: { notebookName: 'x', integration: { datasetBinding: '880e8400-e29b-41d4-a716-446655440000' } },
    });
    expect(ds.status).toBe(400);
    expect(ds.body.ValidationErrors[0].Field).toBe('body.integration.datasetBinding');
  });

  test('PUT /notebook/{id} of a Jupyter notebook bumps notebookVersion when cells change, not otherwise', async () => {
    const nb = (
      await app.call('POST', `${base(t)}/notebook`, {
        token: t.token,
        body: { notebookName: 'Versioned', initialCells: [{ cellType: 'code', content: 'x = 1' }] },
      })
    ).body;
    const url = `${base(t)}/notebook/${nb.notebookId}`;
    const renamed = await app.call('PUT', url, {
      token: t.token,
      body: { notebookName: 'Renamed', integration: { scheduleExecution: '0 2 * * *' } },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body.notebookVersion).toBe('1.0.0');
    expect(renamed.body.integration.scheduleExecution).toBe('0 2 * * *');
    const cellId = nb.cells[0].cellId;
    const edited = await app.call('PUT', url, {
      token: t.token,
      body: { cells: [{ cellId, cellType: 'code', content: 'x = 2' }] },
    });
    expect(edited.body.notebookVersion).toBe('1.0.1');
    expect(edited.body.cells[0]).toMatchObject({ cellId, source: 'x = 2' });
  });

  test('POST /notebook/upload stores an .ipynb and reports parse warnings; DELETE answers 204', async () => {
    const ipynb = JSON.stringify({
      nbformat: 4,
      nbformat_minor: 4,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3' } },
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# Title\n', 'text'] },
        { cell_type: 'code', metadata: { tags: ['parameters'] }, source: 'n = 5', outputs: [], execution_count: null },
      ],
    });
    const form = formWith(
      { name: 'analysis.ipynb', content: ipynb },
      { notebookName: 'Uploaded', enrichmentMode: 'true', datasetBinding: '' },
    );
    const res = await app.call('POST', `${base(t)}/notebook/upload`, { token: t.token, raw: { body: form } });
    expect(res.status).toBe(201);
    expect(res.body.parseResult).toMatchObject({
      nbformat: 4,
      nbformatMinor: 4,
      cellCount: 2,
      codeCells: 1,
      markdownCells: 1,
    });
    expect(res.body.parseResult.warnings).toHaveLength(2);
    expect(res.body.cells[0].source).toBe('# Title\ntext');
    expect(res.body.integration).toMatchObject({ enrichmentMode: true, datasetBinding: null });
    const del = await app.call('DELETE', `${base(t)}/notebook/${res.body.notebookId}`, { token: t.token });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
  });

  test('POST /notebook/upload of a file that is not nbformat 4 returns 400 and stores nothing', async () => {
    const before = (await app.db.query('SELECT count(*)::int AS n FROM notebooks'))[0].n;
    const bad = JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{ cell_type: 'python', source: 'x' }],
    });
    const res = await app.call('POST', `${base(t)}/notebook/upload`, {
      token: t.token,
      raw: { body: formWith({ name: 'bad.ipynb', content: bad }) },
    });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toEqual([
      { Field: 'file.cells[0].cell_type', Message: 'must be one of: code, markdown, raw' },
    ]);
    const notJson = await app.call('POST', `${base(t)}/notebook/upload`, {
      token: t.token,
      raw: { body: formWith({ name: 'x.ipynb', content: '{oops' }) },
    });
    expect(notJson.status).toBe(400);
    expect((await app.db.query('SELECT count(*)::int AS n FROM notebooks'))[0].n).toBe(before);
  });

  test('GET /notebooks lists both types with filters and paging', async () => {
    const all = await app.call('GET', `${base(t)}/notebooks?pageSize=100`, { token: t.token });
    expect(all.status).toBe(200);
    const types = new Set(all.body.notebooks.map((n: { notebookType: number }) => n.notebookType));
    expect(types).toEqual(new Set([0, 1]));
    const jupyter = await app.call('GET', `${base(t)}/notebooks?notebookType=1&kernelType=python3`, { token: t.token });
    expect(
      jupyter.body.notebooks.every(
        (n: { notebookType: number; kernelType: string }) => n.notebookType === 1 && n.kernelType === 'python3',
      ),
    ).toBe(true);
    const enriched = await app.call('GET', `${base(t)}/notebooks?enrichmentMode=true`, { token: t.token });
    expect(enriched.body.notebooks.length).toBeGreaterThan(0);
    expect(enriched.body.notebooks.every((n: { enrichmentMode: boolean }) => n.enrichmentMode)).toBe(true);
    const page = await app.call('GET', `${base(t)}/notebooks?pageSize=1&page=1`, { token: t.token });
    expect(page.body).toMatchObject({ page: 1, pageSize: 1, hasNextPage: true, totalCount: all.body.totalCount });
  });

  test('GET /templates lists standard and Jupyter templates, filtered by kind', async () => {
    const res = await app.call('GET', `${base(t)}/templates?kind=jupyter`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body.templates.map((x: { templateId: string }) => x.templateId)).toContain('process_mining_starter');
    expect(res.body.templates.every((x: { kind: string }) => x.kind === 'jupyter')).toBe(true);
  });

  test('GET /notebook/{id}/ipynb gives a Jupyter notebook as nbformat 4; a standard notebook answers 400', async () => {
    const created = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: {
        notebookName: 'Export me',
        initialCells: [
          { cellType: 'markdown', content: '# Title' },
          { cellType: 'code', content: 'x = 1', tags: ['parameters'] },
        ],
      },
    });
    const res = await app.call('GET', `${base(t)}/notebook/${created.body.notebookId}/ipynb`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="Export me.ipynb"');
    const ipynb = JSON.parse(res.text);
    expect(ipynb).toMatchObject({ nbformat: 4, metadata: { kernelspec: { name: 'python3', language: 'python' } } });
    expect(ipynb.cells.map((c: { cell_type: string; source: string }) => [c.cell_type, c.source])).toEqual([
      ['markdown', '# Title'],
      ['code', 'x = 1'],
    ]);
    expect(ipynb.cells[1]).toMatchObject({ outputs: [], execution_count: null, metadata: { tags: ['parameters'] } });
    expect(ipynb.cells[0]).not.toHaveProperty('outputs');
    const standard = await createStandard('Not a Jupyter one');
    const refused = await app.call('GET', `${base(t)}/notebook/${standard.body.notebookId}/ipynb`, { token: t.token });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ Error: 'Not a Jupyter notebook' });
  });
});
