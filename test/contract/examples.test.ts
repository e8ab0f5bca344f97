import {
  createValidator,
  describePointer,
  exampleValue,
  isObject,
  Json,
  doc,
  pointer,
  validateAt,
} from '../support/openapi';

/** One example of the document and the schema it must satisfy. */
interface ExampleCase {
  name: string;
  schemaPtr: string;
  value: () => unknown;
}

// Keywords whose value is one subschema, a map of subschemas, or a list of subschemas.
const singleSchemaKeywords = [
  'additionalProperties',
  'items',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'propertyNames',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contentSchema',
];
const schemaMapKeywords = ['properties', 'patternProperties', '$defs', 'dependentSchemas'];
const schemaListKeywords = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];

/** Collects `examples` / `example` of a schema and of every subschema it contains. */
function walkSchema(schema: unknown, ptr: string, cases: ExampleCase[]): void {
  if (!isObject(schema)) return;
  const place = describePointer(ptr);
  const examples = Array.isArray(schema.examples) ? schema.examples : [];
  examples.forEach((value, i) => {
    cases.push({ name: `${place}: schema examples[${i}]`, schemaPtr: ptr, value: () => value });
  });
  if ('example' in schema) {
    cases.push({ name: `${place}: schema example`, schemaPtr: ptr, value: () => schema.example });
  }
  for (const key of singleSchemaKeywords) walkSchema(schema[key], pointer(ptr, key), cases);
  for (const key of schemaMapKeywords) {
    const map = isObject(schema[key]) ? schema[key] : {};
    for (const [name, sub] of Object.entries(map)) walkSchema(sub, pointer(ptr, key, name), cases);
  }
  for (const key of schemaListKeywords) {
    const list: unknown[] = Array.isArray(schema[key]) ? schema[key] : [];
    list.forEach((sub, i) => walkSchema(sub, pointer(ptr, key, String(i)), cases));
  }
}

/** Walks the document outside schemas: Parameter, Media Type and Header objects carry `schema` next to their examples. */
function walkDocument(node: unknown, ptr: string, cases: ExampleCase[]): void {
  if (Array.isArray(node)) return node.forEach((child, i) => walkDocument(child, pointer(ptr, String(i)), cases));
  if (!isObject(node)) return;
  const schemaPtr = pointer(ptr, 'schema');
  if (isObject(node.schema)) {
    const place = describePointer(ptr);
    if ('example' in node) cases.push({ name: `${place}: example`, schemaPtr, value: () => node.example });
    if (isObject(node.examples)) {
      for (const [name, example] of Object.entries(node.examples)) {
        const examplePtr = pointer(ptr, 'examples', name);
        cases.push({
          name: `${place}: example "${name}"`,
          schemaPtr,
          value: () => exampleValue(example as Json, examplePtr),
        });
      }
    }
  }
  for (const [key, child] of Object.entries(node)) {
    // Example values are data, not document structure; extensions are free-form.
    if (key === 'example' || key === 'examples' || key.startsWith('x-')) continue;
    if (key === 'schema') walkSchema(child, schemaPtr, cases);
    else if (ptr === '/components' && key === 'schemas' && isObject(child)) {
      for (const [name, schema] of Object.entries(child)) walkSchema(schema, pointer(ptr, key, name), cases);
    } else walkDocument(child, pointer(ptr, key), cases);
  }
}

const cases: ExampleCase[] = [];
walkDocument(doc, '', cases);
const ajv = createValidator();

describe('every example in the bundled document', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s matches its schema', (_name, c) => {
    expect(validateAt(ajv, c.schemaPtr, c.value())).toEqual([]);
  });
});

describe('the example validator', () => {
  test('rejects a placeholder where a schema asks for format uuid', () => {
    const validate = ajv.compile({ type: 'string', format: 'uuid' });
    expect(validate('dataset-guid')).toBe(false);
    expect(validate('880e8400-e29b-41d4-a716-446655440000')).toBe(true);
  });
});
