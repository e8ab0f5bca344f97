import fs from 'node:fs';
import path from 'node:path';
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

describe.each(stores)('executing a standard notebook on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let notebookId: string;
  let blockIds: string[];
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    const { investigationId } = await newInvestigation(app, t);
    notebookId = (
      await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: 'Rejections' },
      })
    ).body.notebookId;
    const blocks = [
      {
        blockType: 'Filter',
        blockTitle: 'Rejected',
        configuration: { filterType: 'endActivities', activities: ['reject request'] },
      },
      { blockType: 'Calculator', blockTitle: 'Overview', configuration: { calculatorType: 'summary' } },
      { blockType: 'Calculator', blockTitle: 'Map', configuration: { calculatorType: 'processMap' } },
      {
        blockType: 'Alert',
        blockTitle: 'Slow',
        configuration: {
          alertType: 'caseCondition',
          caseMetric: 'durationSeconds',
          operator: 'gt',
          threshold: 10 * 86400,
          severity: 'Critical',
        },
      },
      {
        blockType: 'Calculator',
        blockTitle: 'Disabled',
        configuration: { calculatorType: 'variants' },
        isDisabled: true,
      },
    ];
    blockIds = [];
    for (const body of blocks)
      blockIds.push(
        (await app.call('POST', `${base(t)}/notebook/${notebookId}/blocks`, { token: t.token, body })).body.blockId,
      );
  }, 60_000);
  afterAll(() => app.close());

  test('POST /notebook/{id}/execute queues an Analysis job (202, Running from acceptance); it runs the enabled blocks in order', async () => {
    const { accepted, final: res } = await executeAndWait(app, t, notebookId, {
      executionMode: 'all',
      priority: 'High',
    });
    expect(accepted.status).toBe(202);
    expect(accepted.headers.get('location')).toBe(
      `${app.url}${base(t)}/notebook/${notebookId}/execution/${accepted.body.executionId}`,
    );
    expect(accepted.body).toMatchObject({ notebookId, status: 'Running', endTime: null });
    const job = await app.call('GET', `${base(t)}/execution/job/${accepted.body.jobId}`, { token: t.token });
    expect(job.body).toMatchObject({
      jobType: 'Analysis',
      priority: 'High',
      resource: { resourceType: 'Notebook', resourceId: notebookId, resourceName: 'Rejections' },
    });
    expect(res).toMatchObject({
      notebookId,
      status: 'Completed',
      progress: { totalCells: 4, completedCells: 4, successfulCells: 4, failedCells: 0, percentComplete: 100 },
    });
    expect(
      res.cellResults.map((c: { cellId: string; casesIn: number; casesOut: number }) => [
        c.cellId,
        c.casesIn,
        c.casesOut,
      ]),
    ).toEqual([
      [blockIds[0], 6, 3],
      [blockIds[1], 3, 3],
      [blockIds[2], 3, 3],
      [blockIds[3], 3, 3],
    ]);

    const results = await app.call(
      'GET',
      `${base(t)}/notebook/${notebookId}/execution/${res.executionId}/results?format=detailed`,
      { token: t.token },
    );
    expect(results.status).toBe(200);
    const byCell = Object.fromEntries(
      results.body.outputs
        .filter((o: { contentType: string }) => o.contentType === 'application/json')
        .map((o: { cellId: string; content: unknown }) => [o.cellId, o.content]),
    );
    expect(byCell[blockIds[1]]).toMatchObject({ caseCount: 3, activityCount: 7 });
    expect(byCell[blockIds[2]].endActivities).toEqual({ 'reject request': 3 });
    expect(byCell[blockIds[3]]).toMatchObject({ fired: true, severity: 'Critical' });
    const summary = await app.call(
      'GET',
      `${base(t)}/notebook/${notebookId}/execution/${res.executionId}/results?format=summary&cellId=${blockIds[1]}`,
      { token: t.token },
    );
    expect(summary.body.outputs).toEqual([
      {
        cellId: blockIds[1],
        outputType: 'application/json',
        contentType: 'application/json',
        title: 'Overview',
        blockType: 'Calculator',
      },
    ]);
  });

  test('a process map block renders an SVG artifact, downloaded through its downloadUrl with ranges', async () => {
    const { final: run } = await executeAndWait(app, t, notebookId);
    const plots = await app.call(
      'GET',
      `${base(t)}/notebook/${notebookId}/execution/${run.executionId}/results?outputType=plots`,
      { token: t.token },
    );
    expect(plots.body.outputs).toHaveLength(1);
    const svgOutput = plots.body.outputs[0];
    expect(svgOutput).toMatchObject({ cellId: blockIds[2], contentType: 'image/svg+xml', title: 'Map (SVG)' });
    expect(svgOutput.downloadUrl.startsWith(`${app.url}${base(t)}/artifact/`)).toBe(true);
    const path = svgOutput.downloadUrl.slice(app.url.length);
    const svg = await app.call('GET', path, { token: t.token });
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toContain('image/svg+xml');
    expect(svg.text).toContain('<svg');
    expect(svg.text).toContain('reject request');
    expect(svg.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);
    const part = await app.call('GET', path, { token: t.token, headers: { Range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.text).toBe(svg.text.slice(0, 10));
    expect(part.headers.get('content-range')).toBe(`bytes 0-9/${Buffer.byteLength(svg.text)}`);
    const beyond = await app.call('GET', path, { token: t.token, headers: { Range: 'bytes=99999999-' } });
    expect(beyond.status).toBe(416);
    const other = await app.newTenant();
    const foreign = await app.call('GET', `${base(other)}/artifact/${path.split('/').pop()}`, { token: other.token });
    expect(foreign.status).toBe(404);
  });

  test('blocks and the notebook record the execution', async () => {
    const block = (await app.call('GET', `${base(t)}/block/${blockIds[0]}`, { token: t.token })).body;
    expect(block).toMatchObject({
      lastExecutionStatus: 'Success',
      lastExecution: { casesIn: 6, casesOut: 3, eventsIn: 42 },
    });
    expect(block.executionCount).toBeGreaterThan(0);
    const disabled = (await app.call('GET', `${base(t)}/block/${blockIds[4]}`, { token: t.token })).body;
    expect(disabled).toMatchObject({ executionCount: 0, lastExecutionStatus: null });
    const notebook = (await app.call('GET', `${base(t)}/notebook/${notebookId}`, { token: t.token })).body;
    expect(notebook.lastExecutionDuration).toBeGreaterThan(0);
  });

  test('executionMode range runs only the blocks from startCell to endCell', async () => {
    const { accepted, final: res } = await executeAndWait(app, t, notebookId, {
      executionMode: 'range',
      cellRange: { startCell: blockIds[1], endCell: blockIds[2] },
    });
    expect(accepted.status).toBe(202);
    expect(res.cellResults.map((c: { cellId: string }) => c.cellId)).toEqual([blockIds[1], blockIds[2]]);
    expect(res.cellResults[0].casesIn).toBe(6);
    const bad = await app.call('POST', `${base(t)}/notebook/${notebookId}/execute`, {
      token: t.token,
      body: { executionMode: 'range', cellRange: { startCell: blockIds[2], endCell: 'nope' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.ValidationErrors).toContainEqual({
      Field: 'body.cellRange.endCell',
      Message: 'is not an enabled block of this notebook',
    });
  });

  test('deleting the project removes its dataset and artifact files too', async () => {
    const p = await app.call('POST', `/api/${t.tenantId}/project`, { token: t.token, body: { name: 'Doomed' } });
    const tp = { ...t, projectId: p.body.projectId };
    const { investigationId } = await newInvestigation(app, tp);
    const nb = (
      await app.call('POST', `${base(tp)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: 'N' },
      })
    ).body.notebookId;
    await app.call('POST', `${base(tp)}/notebook/${nb}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Map', configuration: { calculatorType: 'processMap' } },
    });
    const { accepted } = await executeAndWait(app, tp, nb);
    // The execution is Completed a moment before its job: a project with a running job cannot be deleted (409).
    await waitForJob(app, tp, accepted.body.jobId);
    const files = () => ['artifacts', 'datasets'].map((d) => fs.readdirSync(path.join(app.config.dataDir, d)).length);
    const [artifactsBefore, datasetsBefore] = files();
    expect((await app.call('DELETE', `/api/${t.tenantId}/project/${tp.projectId}`, { token: t.token })).status).toBe(
      204,
    );
    // The map's SVG and the job's results file go with the project.
    expect(files()).toEqual([artifactsBefore - 2, datasetsBefore - 1]);
  });

  test('a Jupyter execution with parameters its parameters cell does not declare is refused before queueing', async () => {
    const jupyter = (
      await app.call('POST', `${base(t)}/notebook`, {
        token: t.token,
        body: { notebookName: 'J', initialCells: [{ cellType: 'code', content: 'rows = 10', tags: ['parameters'] }] },
      })
    ).body.notebookId;
    const res = await app.call('POST', `${base(t)}/notebook/${jupyter}/execute`, {
      token: t.token,
      body: { parameters: { rows: 'ten', columns: 3 } },
    });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toEqual([
      { Field: 'body.parameters.rows', Message: 'must be an int' },
      {
        Field: 'body.parameters.columns',
        Message: 'is not a parameter of this notebook (its parameters cell assigns rows)',
      },
    ]);
  });

  test('an unknown execution answers 404', async () => {
    const res = await app.call(
      'GET',
      `${base(t)}/notebook/${notebookId}/execution/abcdef01-2345-4678-9abc-def012345678`,
      { token: t.token },
    );
    expect(res.status).toBe(404);
  });
});
