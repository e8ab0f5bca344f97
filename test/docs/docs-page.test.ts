import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Browser, chromium, Page } from 'playwright-core';
import { startTestApp, stores } from '../server/harness';
import { doc, isObject, operations, repoRoot } from '../support/openapi';

const executablePath = '/usr/bin/chromium';
const docsFile = pathToFileURL(join(repoRoot, 'generated', 'docs', 'index.html')).href;
const info = isObject(doc.info) ? doc.info : {};

// Tags declared at the top level and tags used by operations (Redoc shows both).
const tags = [
  ...new Set([
    ...(Array.isArray(doc.tags) ? doc.tags.map((t) => String(isObject(t) ? t.name : t)) : []),
    ...operations().flatMap((o) => (Array.isArray(o.op.tags) ? o.op.tags.map(String) : [])),
  ]),
];

/** Where the page comes from: the generated file, or the service's `GET /docs` on a store. */
interface Source {
  url: string;
  close(): Promise<void>;
}

const sources: [string, () => Promise<Source>][] = [
  ['generated/docs/index.html', async () => ({ url: docsFile, close: async () => undefined })],
  ...stores.map((store): [string, () => Promise<Source>] => [
    `GET /docs of the service on ${store}`,
    async () => {
      const app = await startTestApp(store);
      return { url: `${app.url}/docs`, close: () => app.close() };
    },
  ]),
];

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium is missing at ${executablePath}: install the Debian package with \`bash scripts/setup.sh --test\`.`,
    );
  }
  browser = await chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe.each(sources)('%s in Chromium', (_name, open) => {
  let source: Source;
  let page: Page;
  const externalRequests: string[] = [];
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    source = await open();
    page = await browser.newPage();
    // The page must work offline: every request other than the page itself is recorded and refused.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (/^(file|data|blob):/.test(url) || url === source.url) return route.continue();
      externalRequests.push(url);
      return route.abort();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // A Content-Security-Policy violation is reported on the console, not as a page error.
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const response = await page.goto(source.url);
    if (source.url.startsWith('http') && response?.status() !== 200) {
      throw new Error(`${source.url} answered ${response?.status()}`);
    }
    // The HTML is prerendered, so wait until React has hydrated it: then Redoc itself is running.
    // A string, because it runs in the page and the tests are typed without the DOM library.
    await page.waitForFunction(
      `Object.keys(document.getElementById('redoc') ?? {}).some((key) => key.startsWith('__reactContainer$'))`,
      null,
      { timeout: 20_000 },
    );
  }, 90_000);

  afterAll(async () => {
    await page?.close();
    await source?.close();
  });

  test('shows the title of the document', async () => {
    expect(await page.title()).toBe(info.title);
    expect(await page.locator('h1').first().innerText()).toContain(String(info.title));
  });

  test.each(tags)('shows the tag "%s" in the side menu', async (tag) => {
    await page
      .locator('.menu-content')
      .getByText(tag, { exact: true })
      .first()
      .waitFor({ state: 'visible', timeout: 5_000 });
  });

  test('offers request samples in curl, Python and TypeScript, and shows each', async () => {
    await page.goto(`${source.url}#operation/createBlock`);
    await page.getByRole('button', { name: 'curl', exact: true }).first().click();
    expect(await page.getByRole('menuitem').allInnerTexts()).toEqual(['curl', 'Python', 'TypeScript']);
    await page.getByRole('menuitem', { name: 'TypeScript' }).click();
    // Samples are code blocks; the TypeScript one reads the key from the environment.
    await page.locator('pre').filter({ hasText: 'process.env.ASSAY_TOKEN' }).first().waitFor({ timeout: 5_000 });
  });

  test('loads nothing from the network and raises no script error', () => {
    expect({ externalRequests, pageErrors, consoleErrors }).toEqual({
      externalRequests: [],
      pageErrors: [],
      consoleErrors: [],
    });
  });
});
