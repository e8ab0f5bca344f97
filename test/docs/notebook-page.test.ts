import { existsSync } from 'node:fs';
import { Browser, chromium, Page } from 'playwright-core';
import {
  base,
  executeAndWait,
  newInvestigation,
  startTestApp,
  waitForJob,
  type Tenant,
  type TestApp,
} from '../server/harness';
import { kernelCalls } from '../server/kernelHarness';

/**
 * The notebook page in headless Chromium: signing in with a key, a read-only link, a running
 * execution followed live, and an expired link that shows nothing. The page is the same on both
 * stores (it only calls the API, tested on both), so PGlite only.
 */
const executablePath = '/usr/bin/chromium';
/**
 * Waits until an image of the page has loaded and has pixels (a process map fetched with the page's
 * credentials). It asks through `page.evaluate`, which the DevTools protocol runs outside the page's
 * Content-Security-Policy: `waitForFunction` polls with an eval inside the page, which that policy refuses.
 */
async function imageShown(page: Page): Promise<void> {
  type PageImages = { document: { images: ArrayLike<{ complete: boolean; naturalWidth: number }> } };
  const shown = () =>
    Array.from((globalThis as unknown as PageImages).document.images).some((i) => i.complete && i.naturalWidth > 0);
  const deadline = Date.now() + 30_000;
  while (!(await page.evaluate(shown))) {
    if (Date.now() > deadline) throw new Error('No image of the page loaded within 30 s');
    await page.waitForTimeout(100);
  }
}

let browser: Browser;
let app: TestApp;
let t: Tenant;
let datasetId: string;
let standardId: string;
let standardUrl: string;

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium is missing at ${executablePath}: install it with \`bash scripts/setup.sh --test\`.`);
  }
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  app = await startTestApp('pglite');
  t = await app.newTenant();
  let investigationId: string;
  ({ datasetId, investigationId } = await newInvestigation(app, t));
  standardId = (
    await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
      token: t.token,
      body: { name: 'Claims overview' },
    })
  ).body.notebookId;
  for (const calculatorType of ['summary', 'variants', 'processMap']) {
    await app.call('POST', `${base(t)}/notebook/${standardId}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: `The ${calculatorType}`, configuration: { calculatorType } },
    });
  }
  const { accepted } = await executeAndWait(app, t, standardId);
  await waitForJob(app, t, accepted.body.jobId);
  standardUrl = (await app.call('GET', `${base(t)}/notebook/${standardId}/url`, { token: t.token })).body.url;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401|404/.test(m.text())) errors.push(m.text());
  });
  return { page, errors };
}

test('a visitor without credentials sees a sign-in form and no data; with a key the page shows the blocks and their results', async () => {
  const { page, errors } = await newPage();
  await page.goto(standardUrl);
  await page.getByLabel('API key').waitFor();
  expect(await page.locator('#content').innerText()).toBe('');
  expect(await page.content()).not.toContain('Claims overview');

  await page.getByLabel('API key').fill(t.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Claims overview' }).waitFor();
  for (const title of ['The summary', 'The variants', 'The processMap']) {
    await page.getByRole('heading', { level: 2, name: title }).waitFor();
  }
  await page.getByText('Latest execution: Completed').waitFor();
  // The variants table, and the process map as an image with a text alternative.
  expect(await page.locator('table').count()).toBeGreaterThan(0);
  const map = page.locator('img[alt]').first();
  await map.waitFor();
  await imageShown(page);
  expect(await map.getAttribute('alt')).toBeTruthy();
  // The key is in this tab's session storage, never in the address.
  expect(page.url()).not.toContain(t.token);
  expect(await page.evaluate(() => sessionStorage.getItem('assay.key'))).toBe(t.token);
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test('a read-only link opens the page without a key, and leaves the address bar without its secret', async () => {
  const link = await app.call('GET', `${base(t)}/notebook/${standardId}/url?expiresInHours=2`, { token: t.token });
  const { page, errors } = await newPage();
  await page.goto(link.body.url);
  await page.getByRole('heading', { level: 1, name: 'Claims overview' }).waitFor();
  await page.getByText(/Read-only link, until/).waitFor();
  await imageShown(page);
  expect(page.url()).not.toContain('share=');
  expect(await page.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);

test('an expired or revoked link shows no data', async () => {
  const link = await app.call('GET', `${base(t)}/notebook/${standardId}/url?expiresInHours=1`, { token: t.token });
  await app.db.query(`UPDATE share_links SET expires_at = now() - interval '1 second' WHERE id = $1`, [
    link.body.shareId,
  ]);
  const { page } = await newPage();
  await page.goto(link.body.url);
  await page.getByText('This read-only link has expired or was revoked').waitFor();
  expect(await page.locator('#content').innerText()).toBe('');
  expect(await page.content()).not.toContain('Claims overview');
  await page.close();
}, 60_000);

test('a running Jupyter execution updates the page cell by cell from the event stream', async () => {
  const k = kernelCalls(app, () => datasetId);
  const id = await k.notebook(
    ['import time\ntime.sleep(3)\nprint("first")', 'time.sleep(3)\nprint("second")', 'print("third")'],
    t,
  );
  const url = (await app.call('GET', `${base(t)}/notebook/${id}/url`, { token: t.token })).body.url;
  const { page, errors } = await newPage();
  await page.goto(url);
  await page.getByLabel('API key').fill(t.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Not executed yet.').waitFor();
  // Seen by the page while it runs: a cell's state turns to Running, then the next shows its output live.
  const run = await k.execute(id, t);
  await page.getByText('Running…').first().waitFor({ timeout: 30_000 });
  await page
    .getByText(/^Success in \d+ ms$/)
    .first()
    .waitFor({ timeout: 30_000 });
  await page.getByText('Latest execution: Completed').waitFor({ timeout: 30_000 });
  await k.finished(id, run.executionId, t);
  for (const printed of ['first', 'second', 'third']) await page.getByText(printed, { exact: true }).first().waitFor();
  expect(errors).toEqual([]);
  await page.close();
}, 90_000);
