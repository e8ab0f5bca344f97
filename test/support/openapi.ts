import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/** A JSON object as read from the bundled document. */
export type Json = { [key: string]: unknown };

/** The repository root. */
export const repoRoot = join(__dirname, '..', '..');

/** Path of the bundled document that every contract test reads. */
export const documentPath = join(repoRoot, 'generated', 'openapi.json');

/** The bundled OpenAPI document (generated/openapi.json). */
export const doc: Json = JSON.parse(readFileSync(documentPath, 'utf8'));

/** HTTP methods an OpenAPI path item can hold. */
export const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** Whether a value is a plain JSON object. */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Appends reference tokens to a JSON pointer, escaping `~` and `/`. */
export function pointer(base: string, ...tokens: string[]): string {
  return base + tokens.map((token) => '/' + token.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Reads the value at a JSON pointer of the document. */
export function at(ptr: string): unknown {
  let node: unknown = doc;
  for (const token of ptr.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) || Array.isArray(node) ? (node as Json)[key] : undefined;
  }
  return node;
}

/** A document node together with the pointer where it really lives (after following local $refs). */
export interface Located {
  node: Json;
  ptr: string;
}

/** Follows local `$ref`s (the bundle keeps `#/components/...` references) to the object they name. */
export function resolve(node: Json, ptr: string): Located {
  let current: Located = { node, ptr };
  for (let hops = 0; typeof current.node.$ref === 'string'; hops++) {
    const ref = current.node.$ref;
    if (!ref.startsWith('#/') || hops > 20) throw new Error(`Cannot follow $ref ${ref} at ${current.ptr}`);
    const target = at(ref.slice(1));
    if (!isObject(target)) throw new Error(`$ref ${ref} at ${current.ptr} points at nothing`);
    current = { node: target, ptr: ref.slice(1) };
  }
  return current;
}

/** One operation of the document. */
export interface Operation {
  method: (typeof httpMethods)[number];
  path: string;
  op: Json;
  ptr: string;
  /** Path-level and operation-level parameters, resolved; operation ones override path ones. */
  parameters: Json[];
}

/** Lists every operation under `paths`, in document order. */
export function operations(): Operation[] {
  const result: Operation[] = [];
  for (const [path, rawItem] of Object.entries((doc.paths as Json | undefined) ?? {})) {
    if (!isObject(rawItem)) continue;
    const item = resolve(rawItem, pointer('#/paths', path).slice(1));
    for (const method of httpMethods) {
      const op = item.node[method];
      if (!isObject(op)) continue;
      const ptr = pointer(item.ptr, method);
      const byKey = new Map<string, Json>();
      for (const [list, listPtr] of [
        [item.node.parameters, pointer(item.ptr, 'parameters')],
        [op.parameters, pointer(ptr, 'parameters')],
      ] as const) {
        (Array.isArray(list) ? list : []).forEach((p: Json, i: number) => {
          const param = resolve(p, pointer(listPtr, String(i))).node;
          byKey.set(`${param.in}:${param.name}`, param);
        });
      }
      result.push({ method, path, op, ptr, parameters: [...byKey.values()] });
    }
  }
  return result;
}

/** Creates an Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses) that knows the whole document as `openapi.json`. */
export function createValidator(options: { coerceTypes?: boolean } = {}): Ajv2020 {
  // strict off: OpenAPI adds keywords (discriminator, xml, externalDocs, example) that JSON Schema does not define.
  const ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: options.coerceTypes ?? false });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  return ajv;
}

/** Validates `value` against the schema at a JSON pointer of the document; returns readable errors (empty if valid). */
export function validateAt(ajv: Ajv2020, schemaPtr: string, value: unknown): string[] {
  // Each token is percent-encoded so path templates such as {tenantId} survive URI resolution.
  const fragment = schemaPtr
    .split('/')
    .map((token) => encodeURIComponent(token))
    .join('/');
  const validate = ajv.getSchema(`openapi.json#${fragment}`);
  if (!validate) throw new Error(`No schema at ${schemaPtr}`);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`);
}

/** The value of an Example Object (following a $ref to components/examples). */
export function exampleValue(example: Json, ptr: string): unknown {
  const resolved = resolve(example, ptr);
  if (!('value' in resolved.node)) throw new Error(`Example at ${resolved.ptr} has no inline value`);
  return resolved.node.value;
}

/** The first example of a Parameter or Media Type object, or of its schema; undefined if it has none. */
export function firstExample(holder: Json, ptr: string): { found: boolean; value?: unknown } {
  if ('example' in holder) return { found: true, value: holder.example };
  if (isObject(holder.examples)) {
    const [name, example] = Object.entries(holder.examples)[0] ?? [];
    if (name !== undefined && isObject(example)) {
      return { found: true, value: exampleValue(example, pointer(ptr, 'examples', name)) };
    }
  }
  const schema = isObject(holder.schema) ? resolve(holder.schema, pointer(ptr, 'schema')).node : undefined;
  if (schema && Array.isArray(schema.examples) && schema.examples.length > 0) {
    return { found: true, value: schema.examples[0] };
  }
  if (schema && 'example' in schema) return { found: true, value: schema.example };
  return { found: false };
}

/** Turns a document pointer into a readable place, e.g. `GET /health responses 200 application/json`. */
export function describePointer(ptr: string): string {
  const tokens = ptr
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (tokens[0] === 'paths' && tokens.length >= 3 && (httpMethods as readonly string[]).includes(tokens[2])) {
    return [tokens[2].toUpperCase(), tokens[1], ...tokens.slice(3)].join(' ');
  }
  if (tokens[0] === 'paths') return ['path', ...tokens.slice(1)].join(' ');
  return [tokens.slice(0, 3).join('/'), ...tokens.slice(3)].join(' ');
}
