// Writes request samples (`x-codeSamples`, shown by Redoc) into every operation of the bundled
// document: curl, Python (requests) and TypeScript (fetch), built from the contract itself: the
// method and path, the path parameters' examples, the security scheme, and the first example of
// the request body (JSON, or a multipart form whose file is read from disk).
// test/contract/code-samples.test.ts runs each sample against a stand-in for its HTTP client.

/** Where the samples send their requests: the server's default address (`servers` in the contract). */
export const SAMPLE_BASE_URL = 'http://localhost:3000';

/** The environment variable each bearer scheme's token is read from, in order of preference. */
export const TOKEN_VARIABLES = {
  apiKey: 'ASSAY_TOKEN',
  adminToken: 'ASSAY_ADMIN_TOKEN',
  metricsToken: 'METRICS_TOKEN',
  shareToken: 'ASSAY_SHARE_TOKEN',
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Adds `x-codeSamples` to every operation of `doc` (a bundled document, changed in place) and returns it. */
export function addCodeSamples(doc) {
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const request = describeRequest(doc, path, method, item, op);
      op['x-codeSamples'] = [
        { lang: 'Shell', label: 'curl', source: curlSample(request) },
        { lang: 'Python', label: 'Python', source: pythonSample(request) },
        { lang: 'TypeScript', label: 'TypeScript', source: typescriptSample(request) },
      ];
    }
  }
  return doc;
}

// --- what to send -------------------------------------------------------------------------------

/**
 * The request a sample sends: method, URL (path parameters filled with their examples), the
 * token variable (or none), the body (JSON or form) and how to read the answer.
 */
function describeRequest(doc, path, method, item, op) {
  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => resolve(doc, p));
  let url = path;
  for (const param of params.filter((p) => p.in === 'path')) {
    if (param.example === undefined) throw new Error(`${method} ${path}: path parameter ${param.name} has no example`);
    url = url.replace(`{${param.name}}`, encodeURIComponent(String(param.example)));
  }
  return {
    method: method.toUpperCase(),
    url: SAMPLE_BASE_URL + url,
    token: tokenVariable(op.security ?? doc.security ?? []),
    body: requestBody(doc, method, path, op.requestBody),
    answer: answerKind(doc, op.responses ?? {}),
  };
}

/** The variable holding the token an operation takes: the API key if it takes one, else the admin token. */
function tokenVariable(security) {
  if (security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0)) return undefined;
  const scheme = Object.keys(TOKEN_VARIABLES).find((name) => security.some((requirement) => name in requirement));
  if (!scheme) throw new Error(`no sample token for the security ${JSON.stringify(security)}`);
  return TOKEN_VARIABLES[scheme];
}

/** The first example of the first media type: `{ json }`, or `{ form, file }` for multipart. */
function requestBody(doc, method, path, rawBody) {
  if (!rawBody) return undefined;
  const body = resolve(doc, rawBody);
  const [mediaType, media] = Object.entries(body.content ?? {})[0] ?? [];
  if (!mediaType) return undefined;
  const example = firstExample(doc, media);
  if (example === undefined) {
    if (body.required) throw new Error(`${method} ${path}: the required request body has no example`);
    return undefined;
  }
  if (mediaType === 'multipart/form-data') return formBody(doc, media, example);
  if (/[/+]json$/.test(mediaType)) return { json: example };
  throw new Error(`${method} ${path}: no sample for a ${mediaType} body`);
}

/** A multipart body: the form's fields as text, and its file read from a local file of a fitting name. */
function formBody(doc, media, example) {
  const properties = resolve(doc, media.schema ?? {}).properties ?? {};
  const form = [];
  let file;
  for (const [name, value] of Object.entries(example)) {
    const schema = resolve(doc, properties[name] ?? {});
    if (schema.format === 'binary' || 'contentMediaType' in schema) {
      file = { field: name, fileName: localFileName(media.encoding?.[name]?.contentType ?? '') };
    } else {
      form.push([name, typeof value === 'string' ? value : JSON.stringify(value)]);
    }
  }
  return { form, file };
}

/** A name for the file a sample uploads, after the media types the operation takes. */
function localFileName(contentTypes) {
  if (contentTypes.includes('ipynb')) return 'analysis.ipynb';
  if (contentTypes.includes('csv')) return 'event-log.csv';
  return 'upload.bin';
}

/** How a sample reads the success answer: `json`, `text`, `events` as they come, a `file` to save, or `empty`. */
function answerKind(doc, responses) {
  const success = Object.keys(responses)
    .filter((status) => /^2\d\d$/.test(status))
    .sort()
    .map((status) => resolve(doc, responses[status]));
  const [first] = success;
  if (!first) return 'empty';
  if (first.headers?.['Content-Disposition']) return 'file';
  const [mediaType] = Object.keys(first.content ?? {});
  if (!mediaType) return 'empty';
  if (mediaType === 'text/event-stream') return 'events';
  if (!/[/+]json$/.test(mediaType)) return 'text';
  // deleteNotebook answers 200 with JSON for one kind of notebook and 204 for the other.
  return success.some((response) => !response.content) ? 'jsonOrEmpty' : 'json';
}

// --- curl ------------------------------------------------------------------------------------------

function curlSample(req) {
  const lines = [req.method === 'GET' ? `curl ${shellQuote(req.url)}` : `curl -X ${req.method} ${shellQuote(req.url)}`];
  if (req.token) lines.push(`-H "Authorization: Bearer $${req.token}"`);
  if (req.body?.json !== undefined) {
    lines.push(`-H 'Content-Type: application/json'`);
    lines.push(`-d ${shellQuote(JSON.stringify(req.body.json, null, 2))}`);
  }
  if (req.body?.form) {
    // --form-string sends a value as it is: -F would read `@name` or `<name` as a file.
    for (const [name, value] of req.body.form) lines.push(`--form-string ${shellQuote(`${name}=${value}`)}`);
    if (req.body.file) lines.push(`-F ${shellQuote(`${req.body.file.field}=@${req.body.file.fileName}`)}`);
  }
  // -O -J saves the file under the name the server gives in Content-Disposition.
  if (req.answer === 'file') lines.push('-O -J');
  // -N prints each event as it comes instead of filling a buffer first.
  if (req.answer === 'events') lines.push('-N');
  return lines.join(' \\\n  ') + '\n';
}

/** Quotes a word for a POSIX shell: single quotes, with each `'` written as `'\''`. */
function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

// --- Python ---------------------------------------------------------------------------------------

function pythonSample(req) {
  // The standard library first, then requests, as isort orders them.
  const standard = [...(req.answer === 'file' ? ['import re'] : []), ...(req.token ? ['import os'] : [])].sort();
  const imports = standard.length > 0 ? [...standard, '', 'import requests'] : ['import requests'];
  const args = [pyString(req.url)];
  if (req.token) args.push(`headers={"Authorization": f"Bearer {os.environ['${req.token}']}"}`);
  if (req.body?.json !== undefined) args.push(`json=${pyValue(req.body.json, 4, 2)}`);
  if (req.body?.form) args.push(`data=${pyValue(Object.fromEntries(req.body.form), 4, 2)}`);
  if (req.body?.file) {
    const { field, fileName } = req.body.file;
    args.push(`files={${pyString(field)}: (${pyString(fileName)}, file)}`);
  }
  if (req.answer === 'file' || req.answer === 'events') args.push('stream=True');
  const fn = `requests.${req.method.toLowerCase()}`;
  let call =
    args.length === 1
      ? `response = ${fn}(${args[0]})`
      : `response = ${fn}(\n${args.map((a) => `    ${a},\n`).join('')})`;
  if (req.body?.file) {
    const fileName = pyString(req.body.file.fileName);
    call = `with open(${fileName}, "rb") as file:\n${indent(call, 4)}`;
  }
  const lines = [...imports, '', call, 'response.raise_for_status()'];
  if (req.answer === 'json') lines.push('print(response.json())');
  if (req.answer === 'jsonOrEmpty') lines.push('if response.content:', '    print(response.json())');
  if (req.answer === 'text') lines.push('print(response.text)');
  if (req.answer === 'events') lines.push('for line in response.iter_lines(decode_unicode=True):', '    print(line)');
  if (req.answer === 'file') {
    lines.push(
      `file_name = re.search(r'filename="([^"]+)"', response.headers["Content-Disposition"]).group(1)`,
      'with open(file_name, "wb") as out:',
      '    for chunk in response.iter_content(chunk_size=1 << 20):',
      '        out.write(chunk)',
    );
  }
  return lines.join('\n') + '\n';
}

/** A JSON value as a Python literal, indented like `json.dumps(value, indent=4)` would. */
function pyValue(value, width, depth = 1) {
  const pad = ' '.repeat(width * depth);
  const close = ' '.repeat(width * (depth - 1));
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'number') return JSON.stringify(value);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => `${pad}${pyValue(v, width, depth + 1)},\n`).join('')}${close}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const items = entries.map(([k, v]) => `${pad}${pyString(k)}: ${pyValue(v, width, depth + 1)},\n`);
  return `{\n${items.join('')}${close}}`;
}

/** A Python string literal: JSON's escapes are Python's too. */
function pyString(text) {
  return JSON.stringify(text);
}

// --- TypeScript -----------------------------------------------------------------------------------

function typescriptSample(req) {
  const imports = [];
  const before = [];
  const headers = [];
  if (req.token) headers.push(`Authorization: \`Bearer \${process.env.${req.token}}\``);
  const init = [];
  if (req.method !== 'GET') init.push(`method: '${req.method}'`);
  if (req.body?.json !== undefined) {
    headers.push(`'Content-Type': 'application/json'`);
  }
  if (headers.length > 0) init.push(`headers: {\n${headers.map((h) => `    ${h},\n`).join('')}  }`);
  if (req.body?.json !== undefined)
    init.push(`body: JSON.stringify(${indent(JSON.stringify(req.body.json, null, 2), 2).trimStart()})`);
  if (req.body?.form) {
    before.push('const form = new FormData();');
    for (const [name, value] of req.body.form) before.push(`form.append(${tsString(name)}, ${tsString(value)});`);
    if (req.body.file) {
      imports.push(`import { openAsBlob } from 'node:fs';`);
      const { field, fileName } = req.body.file;
      before.push(`form.append(${tsString(field)}, await openAsBlob(${tsString(fileName)}), ${tsString(fileName)});`);
    }
    // fetch writes the multipart Content-Type with its boundary itself.
    init.push('body: form');
  }
  const options = init.length > 0 ? `, {\n${init.map((i) => `  ${i},\n`).join('')}}` : '';
  const lines = [];
  if (req.answer === 'file') imports.push(`import { writeFile } from 'node:fs/promises';`);
  if (imports.length > 0) lines.push(...imports, '');
  lines.push(...before);
  lines.push(`const response = await fetch(${tsString(req.url)}${options});`);
  lines.push('if (!response.ok) throw new Error(`${response.status}: ${await response.text()}`);');
  if (req.answer === 'json') lines.push('console.log(await response.json());');
  if (req.answer === 'jsonOrEmpty') lines.push('if (response.status !== 204) console.log(await response.json());');
  if (req.answer === 'text') lines.push('console.log(await response.text());');
  if (req.answer === 'events') {
    lines.push(
      'for await (const text of response.body!.pipeThrough(new TextDecoderStream())) process.stdout.write(text);',
    );
  }
  if (req.answer === 'file') {
    lines.push(
      `const fileName = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') ?? '')?.[1] ?? 'download';`,
      'await writeFile(fileName, Buffer.from(await response.arrayBuffer()));',
    );
  }
  return lines.join('\n') + '\n';
}

/** A TypeScript string literal in single quotes. */
function tsString(text) {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

// --- the document ---------------------------------------------------------------------------------

/** Follows local `$ref`s of the bundled document. */
function resolve(doc, node) {
  let current = node;
  for (let hops = 0; current && typeof current.$ref === 'string'; hops++) {
    if (!current.$ref.startsWith('#/') || hops > 20) throw new Error(`Cannot follow $ref ${current.$ref}`);
    current = current.$ref
      .slice(2)
      .split('/')
      .reduce((at, token) => at?.[token.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return current;
}

/** The first example of a Media Type object, following a $ref to components/examples. */
function firstExample(doc, media) {
  if ('example' in media) return media.example;
  const [first] = Object.values(media.examples ?? {});
  if (first) return resolve(doc, first).value;
  return undefined;
}

function indent(text, width) {
  const pad = ' '.repeat(width);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}
