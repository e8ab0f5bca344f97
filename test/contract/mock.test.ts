import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  createValidator,
  doc,
  documentPath,
  firstExample,
  isObject,
  Json,
  Operation,
  operations,
  pointer,
  repoRoot,
  resolve,
  validateAt,
} from '../support/openapi';

const ajv = createValidator();
let prism: ChildProcess | undefined;
let prismOutput = '';
let baseUrl = '';

/** Asks the OS for a free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!isObject(address)) throw new Error('no port');
  return address.port as number;
}

/** Polls until Prism answers any HTTP request, or fails with its output if it exits or takes too long. */
async function waitForPrism(deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (prism?.exitCode !== null) throw new Error(`Prism exited early:\n${prismOutput}`);
    try {
      await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`Prism did not start in time:\n${prismOutput}`);
}

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const bin = join(repoRoot, 'node_modules', '.bin', 'prism');
  // detached: Prism leads its own process group, so afterAll can kill it with everything it started.
  prism = spawn(process.execPath, [bin, 'mock', '--host', '127.0.0.1', '--port', String(port), documentPath], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prism.stdout?.on('data', (chunk) => (prismOutput += chunk));
  prism.stderr?.on('data', (chunk) => (prismOutput += chunk));
  await waitForPrism(Date.now() + 45_000);
}, 60_000);

afterAll(async () => {
  const pid = prism?.pid;
  if (!prism || !pid || prism.exitCode !== null) return;
  const exited = once(prism, 'exit');
  process.kill(-pid, 'SIGTERM');
  // A group that ignores SIGTERM for 5 s is killed outright.
  const timer = setTimeout(() => process.kill(-pid, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
});

/** The security requirements in force for an operation: its own, else the document's. */
function requiresAuth(operation: Operation): boolean {
  const security = Array.isArray(operation.op.security) ? operation.op.security : doc.security;
  // An empty requirement object ({}) makes authentication optional.
  return Array.isArray(security) && security.length > 0 && !security.some((r) => isObject(r) && !Object.keys(r).length);
}

/** The example value of a parameter, or an error naming it. */
function parameterValue(operation: Operation, param: Json): string {
  const example = firstExample(param, operation.ptr);
  if (!example.found) throw new Error(`${param.in} parameter ${param.name} has no example to send`);
  return typeof example.value === 'string' ? example.value : JSON.stringify(example.value);
}

/** Whether a schema describes file content rather than a form field. */
function isFileSchema(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  const s = resolve(schema, '').node;
  return s.format === 'binary' || 'contentMediaType' in s || 'contentEncoding' in s;
}

/** Builds a body from the request body's first example: JSON, multipart form (with a small file) or raw text. */
function requestBody(operation: Operation): { body?: RequestInit['body']; contentType?: string } {
  if (!isObject(operation.op.requestBody)) return {};
  const requestBody = resolve(operation.op.requestBody, pointer(operation.ptr, 'requestBody'));
  const content = isObject(requestBody.node.content) ? requestBody.node.content : {};
  for (const [mediaType, media] of Object.entries(content)) {
    if (!isObject(media)) continue;
    const example = firstExample(media, pointer(requestBody.ptr, 'content', mediaType));
    if (!example.found) continue;
    const essence = mediaType.split(';')[0].trim();
    if (essence === 'multipart/form-data' && isObject(example.value)) {
      const schema = isObject(media.schema) ? resolve(media.schema, '').node : {};
      const properties = isObject(schema.properties) ? schema.properties : {};
      const form = new FormData();
      for (const [name, value] of Object.entries(example.value)) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        if (isFileSchema(properties[name])) form.append(name, new Blob([text]), `${name}.example`);
        else form.append(name, text);
      }
      // fetch sets the multipart Content-Type with its boundary itself.
      return { body: form };
    }
    if (/[/+]json$/.test(essence)) return { body: JSON.stringify(example.value), contentType: mediaType };
    return {
      body: typeof example.value === 'string' ? example.value : JSON.stringify(example.value),
      contentType: mediaType,
    };
  }
  if (requestBody.node.required) throw new Error('the required request body has no example to send');
  return {};
}

/** Builds the request for an operation from its examples, with or without a bearer token. */
function buildRequest(operation: Operation, auth: boolean, accept?: string): { url: string; init: RequestInit } {
  const headers: Record<string, string> = {};
  let path = operation.path;
  const query = new URLSearchParams();
  for (const param of operation.parameters) {
    const name = String(param.name);
    if (param.in === 'path') path = path.replace(`{${name}}`, encodeURIComponent(parameterValue(operation, param)));
    if (param.in === 'query' && param.required) query.append(name, parameterValue(operation, param));
    if (param.in === 'header' && param.required) headers[name] = parameterValue(operation, param);
  }
  if (auth) headers.Authorization = 'Bearer test-token';
  if (accept) headers.Accept = accept;
  const { body, contentType } = requestBody(operation);
  if (contentType) headers['Content-Type'] = contentType;
  const search = query.size ? `?${query}` : '';
  return { url: `${baseUrl}${path}${search}`, init: { method: operation.method.toUpperCase(), headers, body } };
}

/** The lowest documented 2xx status, which is the one Prism answers with. */
function successStatus(operation: Operation): string | undefined {
  const responses = isObject(operation.op.responses) ? operation.op.responses : {};
  return Object.keys(responses)
    .filter((code) => /^2\d\d$/.test(code))
    .sort()[0];
}

const cases = operations().map((operation) => {
  const status = successStatus(operation);
  const name = `${operation.method.toUpperCase()} ${operation.path} answers ${status ?? 'a 2xx'}`;
  return [`${name} with a body that matches the contract`, operation, status] as const;
});

/** The operation with this operationId. */
function operationById(operationId: string): Operation {
  const found = operations().find((o) => o.op.operationId === operationId);
  if (!found) throw new Error(`no operation ${operationId}`);
  return found;
}

/** The `sl-violations` header Prism sends with an invalid request: what it found wrong. */
function violations(res: Response): string[] {
  const header = res.headers.get('sl-violations');
  return header ? (JSON.parse(header) as { message: string }[]).map((v) => v.message) : [];
}

describe('the Prism mock of the bundled document', () => {
  test.each(cases)('%s', async (_name, operation, status) => {
    if (!status) throw new Error('no 2xx response is documented');
    const response = resolve(operation.op.responses as Json, pointer(operation.ptr, 'responses'));
    const documented = resolve(response.node[status] as Json, pointer(response.ptr, status));
    const content = isObject(documented.node.content) ? documented.node.content : {};
    const [mediaType] = Object.keys(content);
    const { url, init } = buildRequest(operation, requiresAuth(operation), mediaType);

    const res = await fetch(url, init);
    const text = await res.text();
    if (res.status !== Number(status)) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
    if (!mediaType) return expect(text).toBe('');
    const essence = mediaType.split(';')[0].trim();
    expect(res.headers.get('content-type')?.split(';')[0].trim()).toBe(essence);
    if (/[/+]json$/.test(essence)) {
      expect(validateAt(ajv, pointer(documented.ptr, 'content', mediaType, 'schema'), JSON.parse(text))).toEqual([]);
    }
  });
});

// What the README says about the mock: each case is what Prism 5 answers, next to the server's answer.
describe('the Prism mock and a request the contract refuses', () => {
  const create = operationById('createInvestigation');

  /** Requests the contract refuses, each made from a valid one. */
  const invalid: { given: string; request: () => { url: string; init: RequestInit } }[] = [
    {
      given: 'a body of the wrong type',
      request: () => {
        const { url, init } = buildRequest(create, true);
        return { url, init: { ...init, body: JSON.stringify({ name: 5 }) } };
      },
    },
    {
      given: 'no body where one is required',
      request: () => {
        const { url, init } = buildRequest(create, true);
        return { url, init: { ...init, body: undefined } };
      },
    },
    {
      given: 'a path id that is not a UUID',
      request: () => {
        const { url, init } = buildRequest(operationById('getDataset'), true);
        return { url: url.replace(/[^/]+$/, 'not-a-uuid'), init };
      },
    },
    {
      given: 'a query value out of range',
      request: () => {
        const { url, init } = buildRequest(operationById('listDatasets'), true);
        return { url: `${url}?pageSize=1000`, init };
      },
    },
  ];

  test.each(invalid)(
    '$given answers 400 with the first 400 example, the problems in sl-violations',
    async ({ request }) => {
      const { url, init } = request();
      const res = await fetch(url, init);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { Code?: string }).Code).toBe('VALIDATION_FAILED');
      expect(violations(res).length).toBeGreaterThan(0);
    },
  );

  test('a body that is not JSON answers 400 with a body of its own, not an ErrorResponse', async () => {
    const { url, init } = buildRequest(create, true);
    const res = await fetch(url, { ...init, body: '{"name": ' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'invalid_json', message: 'Invalid JSON' } });
  });

  test('an unknown query parameter is not refused (the server answers 400)', async () => {
    const { url, init } = buildRequest(operationById('listDatasets'), true);
    expect((await fetch(`${url}?unknown=1`, init)).status).toBe(200);
  });

  test('an unknown path answers 404 and another method 405, as application/problem+json', async () => {
    const unknown = await fetch(`${baseUrl}/api/nothing-here`);
    expect([unknown.status, unknown.headers.get('content-type')]).toEqual([404, 'application/problem+json']);
    const { url } = buildRequest(operationById('listDatasets'), true);
    const patch = await fetch(url, { method: 'PATCH' });
    expect([patch.status, patch.headers.get('content-type')]).toEqual([405, 'application/problem+json']);
  });

  test('an operation that requires auth answers 401 without an Authorization header', async () => {
    const operation = operations().find(requiresAuth);
    if (!operation) throw new Error('no operation in the document requires auth yet');
    const { url, init } = buildRequest(operation, false);
    expect((await fetch(url, init)).status).toBe(401);
  });
});
