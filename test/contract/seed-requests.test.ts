import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createValidator, isObject, operations, pointer, resolve, validateAt, repoRoot } from '../support/openapi';

/** A request body built by a seed page's text or code samples, kept as the page builds it. */
interface SeedRequest {
  source: string;
  method: string;
  path: string;
  contentType?: string;
  body: unknown;
}

const fixtureDir = join(repoRoot, 'test', 'fixtures', 'seed-requests');
const fixtures = readdirSync(fixtureDir)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ file, ...(JSON.parse(readFileSync(join(fixtureDir, file), 'utf8')) as SeedRequest) }));

const ajv = createValidator();
// Form fields travel as text, so "true" must be able to satisfy a boolean schema, as a server parsing the form does.
const formAjv = createValidator({ coerceTypes: true });

/** Finds the pointer of the request body schema for a method, path and media type. */
function requestSchemaPointer(method: string, path: string, contentType: string): string {
  const operation = operations().find((o) => o.method === method && o.path === path);
  if (!operation) throw new Error(`${method.toUpperCase()} ${path} is not in the document yet`);
  if (!isObject(operation.op.requestBody)) throw new Error(`${method.toUpperCase()} ${path} has no requestBody`);
  const body = resolve(operation.op.requestBody, pointer(operation.ptr, 'requestBody'));
  const content = isObject(body.node.content) ? body.node.content : {};
  // Media type keys may carry parameters, e.g. "application/json; charset=utf-8".
  const mediaType = Object.keys(content).find((key) => key.split(';')[0].trim() === contentType);
  if (!mediaType) throw new Error(`requestBody has no ${contentType}; it has ${Object.keys(content).join(', ')}`);
  return pointer(body.ptr, 'content', mediaType, 'schema');
}

describe('request bodies built by the seed pages', () => {
  test.each(fixtures.map((f) => [`${f.source}: ${f.method.toUpperCase()} ${f.path}`, f] as const))(
    '%s matches the request body schema',
    (_name, f) => {
      const contentType = f.contentType ?? 'application/json';
      const validator = contentType === 'multipart/form-data' ? formAjv : ajv;
      // structuredClone: coercion rewrites the value in place.
      const errors = validateAt(
        validator,
        requestSchemaPointer(f.method, f.path, contentType),
        structuredClone(f.body),
      );
      expect(errors).toEqual([]);
    },
  );
});
