import { describePointer, doc, isObject, pointer } from '../support/openapi';

/**
 * Prism's dynamic mode (`prism mock -d`) makes up values from the schemas: a count or a size
 * without `minimum` comes out negative as often as not, a percentage without `maximum` in the
 * thousands. So every number in the contract has a lower bound, and every percentage an upper one,
 * except the few that really take any value.
 */

/** Numbers that take any value, with the reason. */
const UNBOUNDED: Record<string, string> = {
  AttributeValue: "an event attribute's value",
  min: 'a bound on an attribute of any sign',
  max: 'a bound on an attribute of any sign',
  threshold: 'a metric of any sign',
  metrics: "a model's metrics, some of which are negative (such as R²)",
  notebookOrder: 'a position between two others, which may be below zero',
  accuracy: "a model's accuracy as the notebook's code reports it",
};

/** Percentages that may pass 100, with the reason. */
const ABOVE_100: Record<string, string> = {
  cpuPercent: "a job's CPU time in percent of one core, over 100 on several cores",
};

const PERCENTAGE = /percent|^percentage$|^progress$|^successRate$|^dataQualityScore$|^processingEfficiency$|Usage$/i;

interface NumberSchema {
  name: string;
  place: string;
  schema: Record<string, unknown>;
}

function isNumeric(schema: Record<string, unknown>): boolean {
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.includes('integer') || types.includes('number');
}

/** Every numeric schema of the document, named after its property (or component, or parameter). */
function numberSchemas(): NumberSchema[] {
  const found: NumberSchema[] = [];
  const walk = (node: unknown, ptr: string, name: string) => {
    if (Array.isArray(node)) return node.forEach((child, i) => walk(child, pointer(ptr, String(i)), name));
    if (!isObject(node)) return;
    if (isNumeric(node) && !('enum' in node) && !('const' in node)) {
      found.push({ name, place: describePointer(ptr), schema: node });
    }
    const ownName = typeof node.name === 'string' && isObject(node.schema) ? node.name : undefined;
    for (const [key, child] of Object.entries(node)) {
      // Example values are data, not schemas; extensions are free-form.
      if (key === 'example' || key === 'examples' || key.startsWith('x-')) continue;
      const parentIsMap = ptr.endsWith('/properties') || ptr === '#/components/schemas';
      walk(child, pointer(ptr, key), parentIsMap ? key : key === 'schema' && ownName ? ownName : name);
    }
  };
  walk(doc, '#', '');
  return found;
}

const numbers = numberSchemas();

test('the document has numbers to check', () => {
  expect(numbers.length).toBeGreaterThan(100);
});

test('every count, size, duration and position has a minimum', () => {
  const missing = numbers
    .filter((n) => !(n.name in UNBOUNDED))
    .filter((n) => n.schema.minimum === undefined && n.schema.exclusiveMinimum === undefined)
    .map((n) => n.place);
  expect(missing).toEqual([]);
});

test('every percentage is between 0 and 100', () => {
  const percentages = numbers.filter((n) => PERCENTAGE.test(n.name) && !(n.name in ABOVE_100));
  expect(percentages.length).toBeGreaterThan(5);
  const wrong = percentages
    .filter((n) => n.schema.minimum !== 0 || n.schema.maximum !== 100)
    .map((n) => `${n.place}: ${n.schema.minimum} to ${n.schema.maximum}`);
  expect(wrong).toEqual([]);
});

test('the exceptions are still in the document', () => {
  const names = new Set(numbers.map((n) => n.name));
  expect(Object.keys({ ...UNBOUNDED, ...ABOVE_100 }).filter((name) => !names.has(name))).toEqual([]);
});
