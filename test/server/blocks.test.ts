import { base, newInvestigation, startTestApp, stores, type Tenant, type TestApp } from './harness';

describe.each(stores)('blocks on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let investigationId: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    ({ investigationId } = await newInvestigation(app, t));
  }, 60_000);
  afterAll(() => app.close());

  let counter = 0;
  const newNotebook = async () =>
    (
      await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: `Notebook ${++counter}` },
      })
    ).body.notebookId as string;
  const addBlock = (notebookId: string, body: Record<string, unknown>) =>
    app.call('POST', `${base(t)}/notebook/${notebookId}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Calc', configuration: { calculatorType: 'summary' }, ...body },
    });
  const order = async (notebookId: string) =>
    (await app.call('GET', `${base(t)}/notebook/${notebookId}/blocks`, { token: t.token })).body.map(
      (b: { blockTitle: string; blockOrder: number }) => `${b.blockOrder}:${b.blockTitle}`,
    );

  test('POST .../blocks with its configuration as a JSON string returns 201 and GET /block/{id} returns it', async () => {
    const nb = await newNotebook();
    const created = await addBlock(nb, {
      blockType: 'Filter',
      blockTitle: 'Date Range Filter',
      blockDescription: 'Filters the data of the last 30 days',
      configuration: '{"filterType": "dateRange", "startDate": "2024-01-01"}',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${app.url}${base(t)}/block/${created.body.blockId}`);
    expect(JSON.parse(created.body.configuration)).toEqual({ filterType: 'dateRange', startDate: '2024-01-01' });
    const got = await app.call('GET', `${base(t)}/block/${created.body.blockId}`, { token: t.token });
    expect(got.body).toMatchObject({
      blockType: 'Filter',
      blockOrder: 0,
      executionCount: 0,
      lastExecutionStatus: null,
      notebookId: nb,
    });
    const notebook = await app.call('GET', `${base(t)}/notebook/${nb}`, { token: t.token });
    expect(notebook.body.blockCount).toBe(1);
  });

  test('blockOrder inserts in place, moves, and deletion closes the gap', async () => {
    const nb = await newNotebook();
    await addBlock(nb, { blockTitle: 'A' });
    const b = (await addBlock(nb, { blockTitle: 'B' })).body;
    await addBlock(nb, { blockTitle: 'C', blockOrder: 0 });
    expect(await order(nb)).toEqual(['0:C', '1:A', '2:B']);
    await app.call('PUT', `${base(t)}/block/${b.blockId}`, { token: t.token, body: { blockOrder: 0 } });
    expect(await order(nb)).toEqual(['0:B', '1:C', '2:A']);
    const far = await addBlock(nb, { blockTitle: 'D', blockOrder: 99 });
    expect(far.body.blockOrder).toBe(3);
    expect((await app.call('DELETE', `${base(t)}/block/${b.blockId}`, { token: t.token })).status).toBe(204);
    expect(await order(nb)).toEqual(['0:C', '1:A', '2:D']);
    expect((await app.call('GET', `${base(t)}/block/${b.blockId}`, { token: t.token })).status).toBe(404);
  });

  test('concurrent creates keep blockOrder without gaps or duplicates', async () => {
    const nb = await newNotebook();
    await Promise.all([1, 2, 3, 4, 5, 6].map((i) => addBlock(nb, { blockTitle: `B${i}`, blockOrder: 0 })));
    const orders = (await order(nb)).map((s: string) => Number(s.split(':')[0]));
    expect(orders).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('PUT /block/{id} keeps execution history, and nulls (as C# sends them) change nothing', async () => {
    const nb = await newNotebook();
    const block = (await addBlock(nb, { blockTitle: 'Keep', blockDescription: 'desc' })).body;
    await app.db.query(
      "UPDATE blocks SET execution_count = 12, last_execution_status = 'Success', last_execution_at = now() WHERE id = $1",
      [block.blockId],
    );
    const res = await app.call('PUT', `${base(t)}/block/${block.blockId}`, {
      token: t.token,
      body: { blockTitle: 'Kept', blockDescription: null, isDisabled: null },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      blockTitle: 'Kept',
      blockDescription: 'desc',
      isDisabled: false,
      executionCount: 12,
      lastExecutionStatus: 'Success',
      modifiedBy: t.keyId,
    });
  });

  test('an invalid configuration returns 400 naming the field, and nothing is created', async () => {
    const nb = await newNotebook();
    const cases: [Record<string, unknown>, { Field: string; Message: string }][] = [
      [
        { blockType: 'Filter', configuration: { filterType: 'nope' } },
        { Field: 'body.configuration.filterType', Message: expect.stringContaining('must be one of: dateRange') },
      ],
      [
        { blockType: 'Filter', configuration: { calculatorType: 'summary' } },
        {
          Field: 'body.configuration.filterType',
          Message: 'is required for a Filter block; it names a Calculator operator',
        },
      ],
      [
        { blockType: 'Filter', configuration: { filterType: 'activityPresence' } },
        { Field: 'body.configuration.activities', Message: 'is required' },
      ],
      [
        {
          blockType: 'Alert',
          configuration: {
            alertType: 'metricThreshold',
            calculatorType: 'summary',
            metric: 'caseCount',
            operator: 'gt',
            threshold: 'ten',
          },
        },
        { Field: 'body.configuration.threshold', Message: 'must be number' },
      ],
      [
        { blockType: 'Calculator', configuration: '{"calculatorType": ' },
        { Field: 'body.configuration', Message: expect.stringContaining('is not valid JSON') },
      ],
      [
        { blockType: 'Calculator', configuration: { calculatorType: 'variants', limit: 5, extra: true } },
        { Field: 'body.configuration.extra', Message: 'is not a field of this configuration' },
      ],
    ];
    for (const [body, problem] of cases) {
      const res = await addBlock(nb, body);
      expect(res.status).toBe(400);
      expect(res.body.ValidationErrors).toContainEqual(problem);
    }
    expect(await order(nb)).toEqual([]);
  });

  test('a configuration naming an activity or attribute the dataset lacks returns 400 naming the field', async () => {
    const nb = await newNotebook();
    const res = await addBlock(nb, {
      blockType: 'Filter',
      configuration: { filterType: 'activityPresence', activities: ['register request', 'approve loan'] },
    });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toEqual([
      { Field: 'body.configuration.activities[1]', Message: "activity 'approve loan' is not in the dataset" },
    ]);
    const attr = await addBlock(nb, {
      blockType: 'Filter',
      configuration: { filterType: 'caseAttribute', attribute: 'region', values: ['north'] },
    });
    expect(attr.status).toBe(400);
    expect(attr.body.ValidationErrors[0]).toMatchObject({
      Field: 'body.configuration.attribute',
      Message: expect.stringContaining("attribute 'region' is not in the dataset"),
    });
    const ok = await addBlock(nb, {
      blockType: 'Filter',
      configuration: { filterType: 'eventAttribute', attribute: 'org:resource', values: ['Pete'] },
    });
    expect(ok.status).toBe(201);
    const update = await app.call('PUT', `${base(t)}/block/${ok.body.blockId}`, {
      token: t.token,
      body: { configuration: { filterType: 'directlyFollows', from: 'register request', to: 'nowhere' } },
    });
    expect(update.status).toBe(400);
    expect(update.body.ValidationErrors).toEqual([
      { Field: 'body.configuration.to', Message: "activity 'nowhere' is not in the dataset" },
    ]);
  });

  test('PUT /block/{id} with an invalid configuration returns 400 and keeps the old one', async () => {
    const nb = await newNotebook();
    const block = (await addBlock(nb, {})).body;
    const res = await app.call('PUT', `${base(t)}/block/${block.blockId}`, {
      token: t.token,
      body: { configuration: { calculatorType: 'bogus' } },
    });
    expect(res.status).toBe(400);
    expect((await app.call('GET', `${base(t)}/block/${block.blockId}`, { token: t.token })).body.configuration).toBe(
      block.configuration,
    );
  });

  test('PUT /block/{id} with a stale dateModified returns 409', async () => {
    const nb = await newNotebook();
    const block = (await addBlock(nb, {})).body;
    await app.call('PUT', `${base(t)}/block/${block.blockId}`, { token: t.token, body: { blockTitle: 'first' } });
    const res = await app.call('PUT', `${base(t)}/block/${block.blockId}`, {
      token: t.token,
      body: { blockTitle: 'second', dateModified: block.dateModified },
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ Error: 'CONFLICT', BlockId: block.blockId });
  });

  test('blocks of a Jupyter notebook return 400; blocks of another tenant return 404', async () => {
    const jupyter = (await app.call('POST', `${base(t)}/notebook`, { token: t.token, body: { notebookName: 'J' } }))
      .body.notebookId;
    const res = await app.call('GET', `${base(t)}/notebook/${jupyter}/blocks`, { token: t.token });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ Error: 'Not a standard notebook', NotebookId: jupyter });
    const nb = await newNotebook();
    const block = (await addBlock(nb, {})).body;
    const other = await app.newTenant();
    expect((await app.call('GET', `${base(other)}/block/${block.blockId}`, { token: other.token })).status).toBe(404);
    expect((await app.call('DELETE', `${base(other)}/block/${block.blockId}`, { token: other.token })).status).toBe(
      404,
    );
    expect((await app.call('GET', `${base(t)}/block/${block.blockId}`, { token: t.token })).status).toBe(200);
  });
});
