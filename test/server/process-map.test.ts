import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { sharedDataFile } from '../support/shared-data';
import { repoRoot } from '../support/openapi';
import { base, executeAndWait, fixtureLog, formWith, startTestApp, stores, type Tenant, type TestApp } from './harness';

/**
 * The Sepsis log's process map, drawn with the calculator's defaults through the service, must
 * fit a 1400 x 1000 page, start at the top and end at the bottom. Screenshots go to test-results/.
 */
const PAGE = { width: 1400, height: 1000 };
const executablePath = '/usr/bin/chromium';
const shots = path.join(repoRoot, 'test-results');
const reference = JSON.parse(readFileSync(sharedDataFile('sepsis.reference.json'), 'utf8')) as {
  dfg_edges: number;
  dfg_total_transitions: number;
  activities: number;
};

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is missing at ${executablePath}: install the Debian package with \`bash scripts/setup.sh --test\`.`,
    );
  }
  browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
  mkdirSync(shots, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

/** Where the drawing lies on the page, and where its start and end nodes are (CSS pixels). */
interface Layout {
  svg: Box;
  start: Box;
  end: Box;
  activities: Box[];
}
interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
  width: number;
  height: number;
}

/** Opens an SVG file in a 1400 x 1000 page, measures it and saves a screenshot beside it. */
async function look(file: string): Promise<Layout> {
  const page = await browser.newPage({ viewport: PAGE });
  try {
    const external: string[] = [];
    await page.route('**/*', (route) =>
      route.request().url().startsWith('file:')
        ? route.continue()
        : (external.push(route.request().url()), route.abort()),
    );
    await page.goto(pathToFileURL(file).href);
    // A string, because it runs in the page and the tests are typed without the DOM library.
    const layout = (await page.evaluate(`(() => {
      const box = (el) => { const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height }; };
      return {
        svg: box(document.documentElement),
        start: box(document.querySelector('g.node.start')),
        end: box(document.querySelector('g.node.end')),
        activities: [...document.querySelectorAll('g.node.activity')].map(box),
      };
    })()`)) as Layout;
    await page.screenshot({ path: file.replace(/\.svg$/, '.png') });
    expect(external).toEqual([]);
    return layout;
  } finally {
    await page.close();
  }
}

describe.each(stores)('the Sepsis process map on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let investigationId: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    const form = formWith(
      { name: 'sepsis.csv', content: fixtureLog('sepsis.csv') },
      { caseIdColumn: 'Case ID', activityColumn: 'Activity', timestampColumn: 'Complete Timestamp' },
    );
    const ds = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect(ds.body).toMatchObject({ caseCount: 1050, eventCount: 15214 });
    const inv = await app.call('POST', `${base(t)}/investigation`, {
      token: t.token,
      body: { name: 'Sepsis', datasetId: ds.body.datasetId },
    });
    investigationId = inv.body.investigationId;
  }, 120_000);
  afterAll(() => app.close());

  /** A notebook with one process map block of this configuration, executed; its JSON result and SVG. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function drawn(name: string, configuration: Record<string, unknown>): Promise<{ json: any; svg: string }> {
    const nb = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
      token: t.token,
      body: { name },
    });
    const block = await app.call('POST', `${base(t)}/notebook/${nb.body.notebookId}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Map', configuration },
    });
    expect(block.status).toBe(201);
    const { final } = await executeAndWait(app, t, nb.body.notebookId);
    expect(final.status).toBe('Completed');
    const results = await app.call(
      'GET',
      `${base(t)}/notebook/${nb.body.notebookId}/execution/${final.executionId}/results?format=detailed`,
      { token: t.token },
    );
    const json = results.body.outputs.find((o: { contentType: string }) => o.contentType === 'application/json');
    const plot = results.body.outputs.find((o: { contentType: string }) => o.contentType === 'image/svg+xml');
    const svg = await app.call('GET', plot.downloadUrl.slice(app.url.length), { token: t.token });
    expect(svg.status).toBe(200);
    return { json: json.content, svg: svg.text };
  }

  test('with default options it fits a 1400 x 1000 page, the start at the top and the end at the bottom', async () => {
    const { json, svg } = await drawn('Sepsis map', { calculatorType: 'processMap' });
    // The figures are not simplified: every activity and every transition is counted.
    expect(json.nodes).toHaveLength(reference.activities);
    expect(json.edges).toHaveLength(reference.dfg_edges);
    expect(json.edges.reduce((n: number, e: { count: number }) => n + e.count, 0)).toBe(
      reference.dfg_total_transitions,
    );
    // The drawing is: every activity, but not every transition.
    const drawnEdges = svg.match(/class="edge"/g)?.length ?? 0;
    expect(drawnEdges).toBeLessThan(reference.dfg_edges / 2);
    expect(svg).toContain(`16 of 16 activities`);

    const file = path.join(shots, `sepsis-process-map-${store}.svg`);
    writeFileSync(file, svg);
    const layout = await look(file);
    console.log(
      `Sepsis map (${store}): ${Math.round(layout.svg.width)} x ${Math.round(layout.svg.height)} px, ${drawnEdges} arcs drawn (transitions, starts and ends)`,
    );
    expect(layout.svg.left).toBeGreaterThanOrEqual(0);
    expect(layout.svg.top).toBeGreaterThanOrEqual(0);
    expect(layout.svg.right).toBeLessThanOrEqual(PAGE.width);
    expect(layout.svg.bottom).toBeLessThanOrEqual(PAGE.height);
    expect(layout.activities).toHaveLength(reference.activities);
    // Top to bottom: the start above every activity, the end below every one.
    for (const activity of layout.activities) {
      expect(layout.start.bottom).toBeLessThanOrEqual(activity.top);
      expect(layout.end.top).toBeGreaterThanOrEqual(activity.bottom);
    }
  }, 120_000);

  test('the performance perspective labels edges with mean waits; 100 % of paths draws every transition', async () => {
    const { json, svg } = await drawn('Sepsis waits', {
      calculatorType: 'processMap',
      perspective: 'performance',
      activitiesPercent: 100,
      pathsPercent: 100,
    });
    expect(json.edges).toHaveLength(reference.dfg_edges);
    expect(svg).toContain(`${reference.dfg_edges} of ${reference.dfg_edges} transitions drawn (performance)`);
    // ER Registration to ER Triage: a mean wait of minutes.
    expect(svg).toMatch(/<title>ER Registration&#45;&gt;ER Triage<\/title>[\s\S]*?<text[^>]*>[\d.]+ min<\/text>/);
    const file = path.join(shots, `sepsis-process-map-performance-${store}.svg`);
    writeFileSync(file, svg);
    await look(file);
  }, 120_000);

  test('options out of bounds are refused with 400', async () => {
    const nb = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
      token: t.token,
      body: { name: 'Refused' },
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ calculatorType: 'processMap', pathsPercent: 101 }, 'pathsPercent'],
      [{ calculatorType: 'processMap', activitiesPercent: -1 }, 'activitiesPercent'],
      [{ calculatorType: 'processMap', perspective: 'speed' }, 'perspective'],
      [{ calculatorType: 'bottlenecks', minCount: 0 }, 'minCount'],
    ];
    for (const [configuration, field] of cases) {
      const res = await app.call('POST', `${base(t)}/notebook/${nb.body.notebookId}/blocks`, {
        token: t.token,
        body: { blockType: 'Calculator', blockTitle: 'Refused', configuration },
      });
      expect(res.status).toBe(400);
      expect(res.body.ValidationErrors.map((p: { Field: string }) => p.Field)).toContain(`body.configuration.${field}`);
    }
  });
});
