import fc from 'fast-check';

/** A JSON Schema of the contract (OpenAPI 3.1), loosely typed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = Record<string, any>;

/** Values that break the service's general rules or a schema's: the mutations the fuzz test tries. */
export const HOSTILE_STRINGS = [
  'a\u0000b',
  '\u0000',
  '\ud800',
  'x\udc00y',
  '',
  ' ',
  '%00',
  '../../etc/passwd',
  "'; DROP TABLE projects; --",
  'Übersicht_名前 🧪',
  'x'.repeat(5000),
  'not-a-guid',
  '00000000-0000-0000-0000-000000000000',
  '2024-13-45T25:61:61Z',
];

export const HOSTILE_NUMBERS = [
  -1,
  0,
  0.5,
  1e20,
  -1e20,
  2 ** 53 + 2,
  2 ** 31,
  -(2 ** 31) - 1,
  1e308,
  Number.MIN_VALUE,
  1e21,
];

/** The document's `$ref`s resolved lazily: `resolve(schema)` follows one chain of refs. */
export class SchemaArbitraries {
  constructor(
    private readonly doc: Schema,
    /** Ids for a `format: uuid` field, by the field's name: the fixtures' own, other tenants', random ones. */
    private readonly ids: (field?: string) => fc.Arbitrary<string>,
    /** Values a field of this name takes mostly (`kernelType: python3`), so that requests get further. */
    private readonly hints: Record<string, fc.Arbitrary<unknown>> = {},
  ) {}

  resolve(schema: Schema | undefined): Schema {
    let s = schema ?? {};
    for (let i = 0; i < 20 && typeof s.$ref === 'string'; i++) {
      const parts = (s.$ref as string).replace(/^#\//, '').split('/');
      s = parts.reduce((o: Schema, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc) ?? {};
    }
    return s;
  }

  /** Values valid against `schema` (or nearly: patterns and formats are followed, lengths kept short). */
  valid(schema: Schema | undefined, depth = 0, field?: string): fc.Arbitrary<unknown> {
    const hint = field === undefined ? undefined : this.hints[field];
    if (hint) {
      return fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: this.valid(schema, depth, undefined) });
    }
    const s = this.resolve(schema);
    if (depth > 6) return fc.constant(s.default ?? null);
    if ('const' in s) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
    const branches = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
    // A branch without a type takes its parent's (`anyOf: [{format: uuid}, {maxLength: 0}]`).
    if (branches)
      return fc.oneof(...branches.map((b) => this.valid({ type: s.type, ...this.resolve(b) }, depth + 1, field)));
    if (Array.isArray(s.allOf)) return this.valid(mergeAll(s.allOf.map((b: Schema) => this.resolve(b))), depth + 1);
    const types = Array.isArray(s.type) ? (s.type as string[]) : s.type ? [s.type as string] : [];
    if (types.length > 1) return fc.oneof(...types.map((type) => this.valid({ ...s, type }, depth, field)));
    switch (types[0] ?? (s.properties ? 'object' : undefined)) {
      case 'string':
        return this.string(s, field);
      case 'integer':
        return fc.integer({
          min: bound(s.minimum, s.exclusiveMinimum, 1, -1000),
          max: bound(s.maximum, s.exclusiveMaximum, -1, 100000),
        });
      case 'number':
        return fc.double({
          min: s.minimum ?? -1e6,
          max: s.maximum ?? 1e6,
          noNaN: true,
          noDefaultInfinity: true,
        });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array':
        return fc.array(this.valid(s.items, depth + 1), {
          minLength: s.minItems ?? 0,
          maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3)),
        });
      case 'object':
        return this.object(s, depth);
      default:
        return fc.jsonValue({ maxDepth: 2 });
    }
  }

  private string(s: Schema, field?: string): fc.Arbitrary<string> {
    const max = Math.min(s.maxLength ?? 40, 40);
    const min = Math.min(s.minLength ?? 0, max);
    if (s.format === 'uuid') return this.ids(field);
    if (s.format === 'date-time') return date().map((d) => d.toISOString());
    if (s.format === 'date') return date().map((d) => d.toISOString().slice(0, 10));
    if (s.format === 'email') return fc.emailAddress();
    if (s.format === 'uri') return fc.webUrl();
    if (typeof s.pattern === 'string') {
      return fc
        .stringMatching(new RegExp(s.pattern))
        .filter((v) => v.length >= min && v.length <= (s.maxLength ?? 1e9));
    }
    return fc.oneof(
      fc.string({ minLength: min, maxLength: max }),
      fc.string({ minLength: min, maxLength: max, unit: 'grapheme' }),
    );
  }

  private object(s: Schema, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const required = new Set<string>((s.required as string[] | undefined) ?? []);
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, prop] of Object.entries(props)) {
      if (this.resolve(prop).readOnly) continue;
      model[name] = this.valid(prop, depth + 1, name);
    }
    const known = fc.record(model, { requiredKeys: Object.keys(model).filter((k) => required.has(k)) });
    const extra = s.additionalProperties;
    if (!extra || Object.keys(props).length > 0) return known;
    // A free-form map (such as job `parameters`).
    const values = extra === true ? fc.jsonValue({ maxDepth: 2 }) : this.valid(extra, depth + 1);
    return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 4 });
  }

  /** A valid value with one mutation somewhere in it: a wrong type, a hostile string or number, deep nesting, a missing or extra field. */
  mutated(schema: Schema | undefined): fc.Arbitrary<unknown> {
    return fc.tuple(this.valid(schema), fc.nat(), mutation()).map(([value, at, change]) => mutate(value, at, change));
  }
}

/** One change to a value: where it applies is picked by `mutate`. */
type Change =
  | { kind: 'replace'; value: unknown }
  | { kind: 'nest'; depth: number }
  | { kind: 'drop' }
  | { kind: 'extra'; key: string; value: unknown };

function mutation(): fc.Arbitrary<Change> {
  const wrongTypes: unknown[] = [null, true, [], {}, 'text', 42, [1, 2], { nested: { deeper: [null] } }];
  return fc.oneof(
    fc
      .constantFrom(...HOSTILE_STRINGS, ...HOSTILE_NUMBERS, ...wrongTypes)
      .map((value) => ({ kind: 'replace' as const, value })),
    fc.constantFrom(63, 64, 65, 300).map((depth) => ({ kind: 'nest' as const, depth })),
    fc.constant({ kind: 'drop' as const }),
    fc
      .tuple(
        fc.constantFrom('extra', 'k\u0000ey', '\ud800', '__proto__', 'constructor'),
        fc.constantFrom<unknown>(1, 'x', null, '\u0000'),
      )
      .map(([key, value]) => ({ kind: 'extra' as const, key, value })),
  );
}

/** Nests `leaf` `depth` levels deep in objects and arrays, alternately. */
export function nested(depth: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  return v;
}

/** JSON text nested `depth` levels deep, built without recursion (JSON.stringify of such a value overflows the stack). */
export function deepJson(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '{"a":' : '[';
    close = (i % 2 === 0 ? '}' : ']') + close;
  }
  return `${open}1${close}`;
}

/** Applies `change` at the `at`-th node (in a depth-first walk) of a copy of `value`. */
function mutate(value: unknown, at: number, change: Change): unknown {
  const root = { v: structuredClone(value) };
  const slots: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (parent: Record<string, unknown> | unknown[], key: string | number) => {
    slots.push({ parent, key });
    const v = (parent as Record<string, unknown>)[key as string];
    if (Array.isArray(v)) v.forEach((_, i) => walk(v, i));
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v as Record<string, unknown>, k);
  };
  walk(root, 'v');
  const { parent, key } = slots[at % slots.length];
  const target = (parent as Record<string, unknown>)[key as string];
  if (change.kind === 'replace') (parent as Record<string, unknown>)[key as string] = change.value;
  else if (change.kind === 'nest') (parent as Record<string, unknown>)[key as string] = nested(change.depth, target);
  else if (change.kind === 'drop') {
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else if (parent !== root) delete (parent as Record<string, unknown>)[key as string];
    else root.v = undefined;
  } else if (target && typeof target === 'object' && !Array.isArray(target)) {
    Object.defineProperty(target, change.key, {
      value: change.value,
      enumerable: true,
      configurable: true,
      writable: true,
    });
  } else (parent as Record<string, unknown>)[key as string] = { [change.key]: change.value };
  return root.v;
}

function date(): fc.Arbitrary<Date> {
  return fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });
}

function bound(inclusive: unknown, exclusive: unknown, step: number, fallback: number): number {
  if (typeof inclusive === 'number') return inclusive;
  if (typeof exclusive === 'number') return exclusive + step;
  return fallback;
}

function mergeAll(parts: Schema[]): Schema {
  const merged: Schema = { type: 'object', properties: {}, required: [] };
  for (const p of parts) {
    Object.assign(merged.properties, p.properties ?? {});
    merged.required.push(...((p.required as string[] | undefined) ?? []));
    if ('additionalProperties' in p) merged.additionalProperties = p.additionalProperties;
  }
  return merged;
}
