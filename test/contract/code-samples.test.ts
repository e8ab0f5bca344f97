import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import {
  doc,
  firstExample,
  isObject,
  Json,
  Operation,
  operations,
  pointer,
  repoRoot,
  resolve,
} from '../support/openapi';

/**
 * The request samples `npm run generate` writes into every operation (`x-codeSamples`): each one
 * is run against a stand-in for its HTTP client (a shell function for curl, a `requests` module
 * for Python, `fetch` for TypeScript), and what it would send must be what the contract describes:
 * the method, a URL that matches the path template with the parameters' examples, the token, the
 * request body's example. The TypeScript samples also pass the type checker.
 */

const BASE_URL = 'http://localhost:3000';
const TOKENS = {
  ASSAY_TOKEN: 'the-api-key',
  ASSAY_ADMIN_TOKEN: 'the-admin-token',
  METRICS_TOKEN: 'the-metrics-token',
  ASSAY_SHARE_TOKEN: 'the-share-secret',
};
/** The token variable of each bearer scheme, the first one an operation takes being the one sent. */
const SCHEME_TOKENS: [string, keyof typeof TOKENS][] = [
  ['apiKey', 'ASSAY_TOKEN'],
  ['adminToken', 'ASSAY_ADMIN_TOKEN'],
  ['metricsToken', 'METRICS_TOKEN'],
  ['shareToken', 'ASSAY_SHARE_TOKEN'],
];
type Label = 'curl' | 'Python' | 'TypeScript';

/** What a sample sent, as the stand-in for its client recorded it. */
interface SentRequest {
  method: string;
  url: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  json?: unknown;
  /** Multipart fields other than files. */
  form?: Record<string, string>;
  /** Multipart files: field name to the local file read. */
  files?: Record<string, string>;
}

const ops = operations();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-samples-'));
// The files the upload samples read.
for (const name of ['event-log.csv', 'analysis.ipynb', 'upload.bin']) fs.writeFileSync(path.join(work, name), '{}');

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function samplesOf(operation: Operation): Partial<Record<Label, string>> {
  const samples = Array.isArray(operation.op['x-codeSamples']) ? (operation.op['x-codeSamples'] as Json[]) : [];
  return Object.fromEntries(samples.map((s) => [String(s.label), String(s.source)]));
}

function sample(operation: Operation, label: Label): string {
  const source = samplesOf(operation)[label];
  if (source === undefined) throw new Error(`${operation.op.operationId} has no ${label} sample`);
  return source;
}

const named = () => ops.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const);

test('every operation has a curl, a Python and a TypeScript sample, in that order', () => {
  const wrong = ops
    .map((o) => ({
      operation: `${o.method.toUpperCase()} ${o.path}`,
      samples: ((o.op['x-codeSamples'] as Json[] | undefined) ?? []).map((s) => `${s.lang}/${s.label}`),
    }))
    .filter((o) => o.samples.join() !== 'Shell/curl,Python/Python,TypeScript/TypeScript');
  expect(wrong).toEqual([]);
});

describe('curl samples', () => {
  test.each(named())('%s: the curl command sends what the contract describes', (_name, operation) => {
    checkSent(operation, runCurl(sample(operation, 'curl')));
  });
});

describe('Python samples', () => {
  test.each(named())('%s: the requests call sends what the contract describes', (_name, operation) => {
    checkSent(operation, runPython(sample(operation, 'Python')));
  });
});

describe('TypeScript samples', () => {
  test('type-check under strict settings with the types of Node', () => {
    expect(typeErrors(ops.map((o) => [String(o.op.operationId), sample(o, 'TypeScript')]))).toEqual([]);
  }, 60_000);

  test.each(named())('%s: the fetch call sends what the contract describes', (_name, operation) => {
    checkSent(operation, runTypeScript(sample(operation, 'TypeScript')));
  });
});

// --- what the contract describes -----------------------------------------------------------------

/** Compares what a sample sent with the operation: method, URL, token, body. */
function checkSent(operation: Operation, sent: SentRequest): void {
  expect(sent.method).toBe(operation.method.toUpperCase());
  expect(sent.url.startsWith(BASE_URL)).toBe(true);
  const url = new URL(sent.url);
  expect(url.search).toBe('');
  // The path matches the template, and each parameter is its example.
  const names: string[] = [];
  const template = operation.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  const match = new RegExp(`^${template}$`).exec(url.pathname);
  if (!match) throw new Error(`${url.pathname} does not match ${operation.path}`);
  names.forEach((name, i) => {
    const param = operation.parameters.find((p) => p.in === 'path' && p.name === name);
    expect({ [name]: decodeURIComponent(match[i + 1]) }).toEqual({ [name]: param?.example });
  });
  expect(sent.headers.authorization).toBe(expectedAuthorization(operation));
  const body = expectedBody(operation);
  if (body.json !== undefined) {
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.json).toEqual(body.json);
  } else {
    expect(sent.json).toBeUndefined();
  }
  expect(sent.form).toEqual(body.form);
  expect(sent.files && Object.keys(sent.files)).toEqual(body.files);
}

function expectedAuthorization(operation: Operation): string | undefined {
  const security = (Array.isArray(operation.op.security) ? operation.op.security : doc.security) as Json[];
  if (security.length === 0 || security.some((r) => Object.keys(r).length === 0)) return undefined;
  const scheme = SCHEME_TOKENS.find(([name]) => security.some((r) => name in r));
  if (!scheme) throw new Error(`no token for ${JSON.stringify(security)}`);
  return `Bearer ${TOKENS[scheme[1]]}`;
}

/** The first example of the request body: JSON, or a form's fields and its file fields. */
function expectedBody(operation: Operation): { json?: unknown; form?: Record<string, string>; files?: string[] } {
  if (!isObject(operation.op.requestBody)) return {};
  const body = resolve(operation.op.requestBody, pointer(operation.ptr, 'requestBody'));
  const [mediaType, media] = Object.entries(isObject(body.node.content) ? body.node.content : {})[0] ?? [];
  if (!mediaType || !isObject(media)) return {};
  const example = firstExample(media, pointer(body.ptr, 'content', mediaType));
  if (!example.found) return {};
  if (mediaType !== 'multipart/form-data') return { json: example.value };
  const schema = isObject(media.schema) ? resolve(media.schema, '').node : {};
  const properties = isObject(schema.properties) ? schema.properties : {};
  const form: Record<string, string> = {};
  const files: string[] = [];
  for (const [name, value] of Object.entries(example.value as Json)) {
    const property = isObject(properties[name]) ? resolve(properties[name] as Json, '').node : {};
    if (property.format === 'binary' || 'contentMediaType' in property) files.push(name);
    else form[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { form, files };
}

// --- curl: a shell function in its place ---------------------------------------------------------

/** Runs a curl sample in bash with `curl` replaced by a function that prints its arguments. */
function runCurl(source: string): SentRequest {
  const stub = `curl() { printf '%s\\0' "$@"; printf '\\1'; }\n`;
  const result = spawnSync('bash', ['-euc', stub + source], { cwd: work, env: { PATH: process.env.PATH, ...TOKENS } });
  if (result.status !== 0) throw new Error(`bash failed: ${result.stderr}`);
  const calls = result.stdout.toString('utf8').split('\x01').slice(0, -1);
  if (calls.length !== 1) throw new Error(`the sample runs curl ${calls.length} times`);
  return parseCurl(calls[0].split('\0').slice(0, -1));
}

/** Reads curl's arguments; an option the test does not know fails it, so the samples stay within these. */
function parseCurl(args: string[]): SentRequest {
  const sent: SentRequest = { method: '', url: '', headers: {} };
  let method: string | undefined;
  let data: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = () => {
      if (i + 1 >= args.length) throw new Error(`${arg} has no value`);
      return args[++i];
    };
    if (arg === '-X') method = next();
    else if (arg === '-H') {
      const header = next();
      const colon = header.indexOf(':');
      sent.headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (arg === '-d') data = next();
    else if (arg === '--form-string') {
      const [name, ...value] = next().split('=');
      sent.form = { ...sent.form, [name]: value.join('=') };
    } else if (arg === '-F') {
      const [name, value] = next().split(/=(.*)/s);
      if (!value.startsWith('@')) throw new Error(`-F ${name} is not a file: use --form-string for text`);
      sent.files = { ...sent.files, [name]: value.slice(1) };
    } else if (arg === '-O' || arg === '-J' || arg === '-N') continue;
    else if (/^https?:\/\//.test(arg) && !sent.url) sent.url = arg;
    else throw new Error(`unexpected curl argument ${JSON.stringify(arg)}`);
  }
  if (data !== undefined) sent.json = JSON.parse(data);
  if (sent.files) sent.headers['content-type'] ??= 'multipart/form-data';
  // curl's own defaults: GET, or POST with a body.
  sent.method = method ?? (data !== undefined || sent.form || sent.files ? 'POST' : 'GET');
  if (sent.form && !sent.files) throw new Error('a form without a file');
  return sent;
}

// --- Python: a `requests` module in its place ----------------------------------------------------

const REQUESTS_STUB = `
import json, os

class Response:
    status_code = 200
    ok = True
    headers = {"Content-Type": "application/json", "Content-Disposition": 'attachment; filename="download.bin"'}
    content = b"{}"
    text = "{}"
    def raise_for_status(self):
        pass
    def json(self):
        return {}
    def iter_content(self, chunk_size=1):
        yield b"{}"
    def iter_lines(self, decode_unicode=False):
        yield "{}" if decode_unicode else b"{}"

def request(method, url, headers=None, json=None, data=None, files=None, stream=False):
    sent = {"method": method, "url": url, "headers": {k.lower(): v for k, v in (headers or {}).items()}}
    if json is not None:
        sent["json"] = json
        sent["headers"]["content-type"] = "application/json"
    if data is not None:
        sent["form"] = data
    if files is not None:
        sent["files"] = {field: value[0] for field, value in files.items()}
        for field, value in files.items():
            value[1].read()
    with open(os.environ["SAMPLE_RECORD"], "w") as out:
        out.write(globals()["json_module"].dumps(sent))
    return Response()

json_module = json
def get(url, **kwargs): return request("GET", url, **kwargs)
def post(url, **kwargs): return request("POST", url, **kwargs)
def put(url, **kwargs): return request("PUT", url, **kwargs)
def delete(url, **kwargs): return request("DELETE", url, **kwargs)
`;

const stubDir = path.join(work, 'python-stub');
fs.mkdirSync(stubDir);
fs.writeFileSync(path.join(stubDir, 'requests.py'), REQUESTS_STUB);

function runPython(source: string): SentRequest {
  const record = path.join(work, 'sent.json');
  fs.rmSync(record, { force: true });
  const result = spawnSync(
    'python3',
    ['-I', '-c', `import sys; sys.path.insert(0, ${JSON.stringify(stubDir)})\n${source}`],
    {
      cwd: work,
      env: { PATH: process.env.PATH, ...TOKENS, SAMPLE_RECORD: record },
    },
  );
  if (result.status !== 0) throw new Error(`python3 failed: ${result.stderr}`);
  return JSON.parse(fs.readFileSync(record, 'utf8'));
}

// --- TypeScript: the type checker, then `fetch` in its place -------------------------------------

/** Type-checks the samples as ES modules run by Node (top-level await), one file each. */
function typeErrors(samples: [string, string][]): string[] {
  const dir = fs.mkdtempSync(path.join(work, 'ts-'));
  const files = samples.map(([name, source]) => {
    const file = path.join(dir, `${name}.mts`);
    fs.writeFileSync(file, `${source}export {};\n`);
    return file;
  });
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

const FETCH_STUB = `
import { writeFileSync as __record } from 'node:fs';
globalThis.fetch = async (url, init = {}) => {
  const sent = { method: init.method ?? 'GET', url: String(url), headers: {} };
  for (const [name, value] of new Headers(init.headers)) sent.headers[name] = value;
  if (typeof init.body === 'string') sent.json = JSON.parse(init.body);
  if (init.body instanceof FormData) {
    for (const [name, value] of init.body) {
      if (typeof value === 'string') sent.form = { ...sent.form, [name]: value };
      else sent.files = { ...sent.files, [name]: value.name };
    }
    sent.headers['content-type'] = 'multipart/form-data';
  }
  __record(process.env.SAMPLE_RECORD, JSON.stringify(sent));
  return new Response('{}', {
    status: 200,
    headers: { 'Content-Type': 'application/json', 'Content-Disposition': 'attachment; filename="download.bin"' },
  });
};
`;

function runTypeScript(source: string): SentRequest {
  const record = path.join(work, 'sent.json');
  fs.rmSync(record, { force: true });
  const js = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
  }).outputText;
  const file = path.join(work, 'sample.mjs');
  fs.writeFileSync(file, FETCH_STUB + js);
  const result = spawnSync(process.execPath, [file], {
    cwd: work,
    env: { PATH: process.env.PATH, ...TOKENS, SAMPLE_RECORD: record },
  });
  if (result.status !== 0) throw new Error(`node failed: ${result.stderr}`);
  return JSON.parse(fs.readFileSync(record, 'utf8'));
}
