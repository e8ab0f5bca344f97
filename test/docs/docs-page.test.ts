import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Browser, chromium, Page } from 'playwright-core';
import { doc, isObject, operations, repoRoot } from '../support/openapi';

const executablePath = '/usr/bin/chromium';
const docsPage = pathToFileURL(join(repoRoot, 'generated', 'docs', 'index.html')).href;
const info = isObject(doc.info) ? doc.info : {};

// Tags declared at the top level and tags used by operations (Redoc shows both).
const tags = [
  ...new Set([
    ...(Array.isArray(doc.tags) ? doc.tags.map((t) => String(isObject(t) ? t.name : t)) : []),
    ...operations().flatMap((o) => (Array.isArray(o.op.tags) ? o.op.tags.map(String) : [])),
  ]),
];

let browser: Browser;
let page: Page;
const externalRequests: string[] = [];
const pageErrors: string[] = [];

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
  page = await browser.newPage();
  // The page must work offline: every request that leaves the file is recorded and refused.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(file|data|blob):/.test(url)) return route.continue();
    externalRequests.push(url);
    return route.abort();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(docsPage);
  // The HTML is prerendered, so wait until React has hydrated it: then Redoc itself is running.
  // A string, because it runs in the page and the tests are typed without the DOM library.
  await page.waitForFunction(
    `Object.keys(document.getElementById('redoc') ?? {}).some((key) => key.startsWith('__reactContainer$'))`,
    null,
    { timeout: 20_000 },
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('generated/docs/index.html in Chromium', () => {
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

  test('loads nothing from the network and raises no script error', () => {
    expect({ externalRequests, pageErrors }).toEqual({ externalRequests: [], pageErrors: [] });
  });
});
