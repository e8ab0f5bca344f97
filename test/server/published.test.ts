import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { generatedDir } from '../../src/api/document';
import { acceptsGzip } from '../../src/http/published';
import { startTestApp, stores, type TestApp } from './harness';

const generated = (file: string) => fs.readFileSync(path.join(generatedDir, file));
const contract = JSON.parse(generated('openapi.json').toString('utf8'));

/** The three published files: path, media type, the file they answer with. */
const published = [
  ['/openapi.json', 'application/json', 'openapi.json'],
  ['/openapi.yaml', 'application/yaml', 'openapi.yaml'],
  ['/docs', 'text/html', 'docs/index.html'],
] as const;

describe('Accept-Encoding', () => {
  test.each([
    { given: undefined, want: false },
    { given: '', want: false },
    { given: 'gzip', want: true },
    { given: 'gzip, deflate, br, zstd', want: true },
    { given: 'br;q=1.0, GZIP;q=0.5', want: true },
    { given: 'x-gzip', want: true },
    { given: '*', want: true },
    { given: 'identity', want: false },
    { given: 'gzip;q=0', want: false },
    { given: 'gzip;q=0, *', want: false },
    { given: '*;q=0', want: false },
    { given: 'br', want: false },
    { given: 'gzip;q=oops', want: false },
  ])('$given allows gzip: $want', ({ given, want }) => {
    expect(acceptsGzip(given)).toBe(want);
  });
});

describe.each(stores)('the contract and the docs, served on %s', (store) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(store);
  }, 60_000);
  afterAll(() => app.close());

  test.each(published)('GET %s answers 200 without a token, with the generated file', async (p, type, file) => {
    const res = await fetch(app.url + p, { headers: { 'Accept-Encoding': 'identity' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(`${type}; charset=utf-8`);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(Buffer.from(await res.arrayBuffer()).equals(generated(file))).toBe(true);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  test.each(published)('GET %s with a current If-None-Match answers 304 without a body', async (p) => {
    const first = await fetch(app.url + p);
    const etag = first.headers.get('etag')!;
    const res = await fetch(app.url + p, { headers: { 'If-None-Match': `"other", W/${etag}` } });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe('');
    expect(res.headers.get('etag')).toBe(etag);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(app.url + p, { headers: { 'If-None-Match': '"stale"' } })).status).toBe(200);
  });

  test.each(published)('GET %s gzips for a client that accepts it, under its own ETag', async (p, _type, file) => {
    const plain = await app.call('GET', p, { headers: { 'Accept-Encoding': 'identity' } });
    // node's fetch would decompress and hide the encoding, so ask with http.get's raw bytes.
    const res = await rawGet(app.url + p, { 'Accept-Encoding': 'br;q=1, gzip;q=0.8' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(res.body).equals(generated(file))).toBe(true);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.length).toBeLessThan(generated(file).length / 3);
    expect(res.headers.etag).not.toBe(plain.headers.get('etag'));
    const again = await rawGet(app.url + p, { 'Accept-Encoding': 'gzip', 'If-None-Match': String(res.headers.etag) });
    expect(again.status).toBe(304);
  });

  test.each(published)('HEAD %s answers the headers of GET without a body', async (p, _type, file) => {
    const res = await fetch(app.url + p, { method: 'HEAD', headers: { 'Accept-Encoding': 'identity' } });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBe(generated(file).length);
    expect(await res.text()).toBe('');
  });

  test('GET /openapi.yaml holds the same document as GET /openapi.json', async () => {
    const [json, yaml] = await Promise.all([app.call('GET', '/openapi.json'), app.call('GET', '/openapi.yaml')]);
    expect(json.body).toEqual(contract);
    expect(parseYaml(yaml.text)).toEqual(json.body);
  });

  test('GET /docs answers the Redoc page with a policy that keeps it to itself', async () => {
    const res = await app.call('GET', '/docs');
    expect(res.text).toContain('<title>Assay API</title>');
    const policy = res.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("frame-ancestors 'none'");
  });

  test('GET /openapi.json with an unknown query parameter answers 400', async () => {
    const res = await app.call('GET', '/openapi.json?format=xml');
    expect(res.status).toBe(400);
    expect(res.body.Code).toBe('VALIDATION_FAILED');
  });

  test('POST /openapi.json answers 405', async () => {
    const res = await app.call('POST', '/openapi.json', { body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
  });
});

/** A GET that keeps the body as sent (fetch would decompress it). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
