import {
  checkParameters,
  declaredParameters,
  injectedParametersSource,
  parametersCellIndex,
} from '../../src/domain/parameters';

type Cell = { cellType: string; source: string; tags?: string[] };
const code = (source: string, tags?: string[]): Cell => ({ cellType: 'code', source, ...(tags ? { tags } : {}) });

describe('parametersCellIndex: the code cell tagged parameters', () => {
  test.each<{ name: string; given: Cell[]; want: number }>([
    { name: 'no cells', given: [], want: -1 },
    { name: 'no tagged cell', given: [code('a = 1'), code('b = 2', ['other'])], want: -1 },
    { name: 'the tagged code cell', given: [code('import x'), code('a = 1', ['parameters'])], want: 1 },
    {
      name: 'among other tags',
      given: [code('a = 1', ['setup', 'parameters', 'hide'])],
      want: 0,
    },
    {
      name: 'a tagged markdown cell does not count',
      given: [{ cellType: 'markdown', source: 'a = 1', tags: ['parameters'] }, code('b = 2', ['parameters'])],
      want: 1,
    },
    {
      name: 'the first of two tagged cells',
      given: [code('a = 1', ['parameters']), code('b = 2', ['parameters'])],
      want: 0,
    },
    { name: 'tags match whole and by case', given: [code('a = 1', ['Parameters', 'parameters2'])], want: -1 },
  ])('$name', ({ given, want }) => {
    expect(parametersCellIndex(given)).toBe(want);
  });
});

describe('declaredParameters: top-level assignments and the type of their literal', () => {
  test.each<{ name: string; given: string; want: Record<string, string> }>([
    { name: 'an int', given: 'n = 3', want: { n: 'int' } },
    { name: 'a signed int', given: 'n = -3', want: { n: 'int' } },
    {
      name: 'floats in their forms',
      given: 'a = 1.5\nb = .5\nc = 2.\nd = 1e-3\ne = -2.5E+4',
      want: { a: 'float', b: 'float', c: 'float', d: 'float', e: 'float' },
    },
    {
      name: 'strings with any quote and prefix',
      given: `a = 'x'\nb = "y"\nc = r'\\d'\nd = f"{a}"`,
      want: { a: 'str', b: 'str', c: 'str', d: 'str' },
    },
    { name: 'booleans', given: 'a = True\nb = False', want: { a: 'bool', b: 'bool' } },
    { name: 'lists and tuples', given: 'a = [1, 2]\nb = (1, 2)', want: { a: 'list', b: 'list' } },
    { name: 'a dict', given: "a = {'k': 1}", want: { a: 'dict' } },
    {
      name: 'None or an expression accept anything',
      given: 'a = None\nb = len("x")\nc = true',
      want: { a: 'any', b: 'any', c: 'any' },
    },
    { name: 'a type annotation', given: 'n: int = 3\ns : str = "x"', want: { n: 'int', s: 'str' } },
    { name: 'a trailing comment', given: 'n = 3  # how many', want: { n: 'int' } },
    { name: 'indented lines are not top level', given: 'if x:\n    n = 3', want: {} },
    { name: 'comments and augmented assignments are not assignments', given: '# a = 1\nc += 1', want: {} },
    { name: 'the last assignment of a name wins', given: 'n = 3\nn = "x"', want: { n: 'str' } },
  ])('$name', ({ given, want }) => {
    expect(Object.fromEntries(declaredParameters(given))).toEqual(want);
  });
});

describe('checkParameters: names and types against the parameters cell', () => {
  const cells = [
    code('import pandas'),
    code('threshold = 0.5\ntop = 10\nlabel = "x"\ndebug = False\nids = []\nopts = {}\nanything = None', ['parameters']),
  ];
  test.each<{ name: string; given: Record<string, unknown>; want: { field: string; message: string }[] }>([
    { name: 'nothing given', given: {}, want: [] },
    {
      name: 'values of the declared types',
      given: { threshold: 0.9, top: 5, label: 'y', debug: true, ids: [1], opts: { a: 1 }, anything: [null] },
      want: [],
    },
    { name: 'an int where a float is declared', given: { threshold: 1 }, want: [] },
    { name: 'None accepts any value', given: { anything: 'text' }, want: [] },
    {
      name: 'an unknown name lists the declared ones',
      given: { limit: 3 },
      want: [
        {
          field: 'body.parameters.limit',
          message:
            'is not a parameter of this notebook (its parameters cell assigns threshold, top, label, debug, ids, opts, anything)',
        },
      ],
    },
    {
      name: 'a float where an int is declared',
      given: { top: 2.5 },
      want: [{ field: 'body.parameters.top', message: 'must be an int' }],
    },
    {
      name: 'a string where a float is declared',
      given: { threshold: '0.5' },
      want: [{ field: 'body.parameters.threshold', message: 'must be a float' }],
    },
    {
      name: 'a number where a str is declared',
      given: { label: 1 },
      want: [{ field: 'body.parameters.label', message: 'must be a str' }],
    },
    {
      name: 'a string where a bool is declared',
      given: { debug: 'true' },
      want: [{ field: 'body.parameters.debug', message: 'must be a bool' }],
    },
    {
      name: 'an object where a list is declared',
      given: { ids: { 0: 1 } },
      want: [{ field: 'body.parameters.ids', message: 'must be a list' }],
    },
    {
      name: 'an array where a dict is declared',
      given: { opts: [] },
      want: [{ field: 'body.parameters.opts', message: 'must be a dict' }],
    },
    {
      name: 'null where a dict is declared',
      given: { opts: null },
      want: [{ field: 'body.parameters.opts', message: 'must be a dict' }],
    },
    {
      name: 'every problem, in the order given',
      given: { top: 'x', nope: 1, label: false },
      want: [
        { field: 'body.parameters.top', message: 'must be an int' },
        {
          field: 'body.parameters.nope',
          message:
            'is not a parameter of this notebook (its parameters cell assigns threshold, top, label, debug, ids, opts, anything)',
        },
        { field: 'body.parameters.label', message: 'must be a str' },
      ],
    },
  ])('$name', ({ given, want }) => {
    expect(checkParameters(cells, given)).toEqual(want);
  });

  test.each<{ name: string; given: Cell[]; want: { field: string; message: string }[] }>([
    { name: 'without a parameters cell any name is accepted, as papermill does', given: [code('a = 1')], want: [] },
    {
      name: 'an empty parameters cell assigns nothing',
      given: [code('# no defaults', ['parameters'])],
      want: [
        {
          field: 'body.parameters.a',
          message: 'is not a parameter of this notebook (its parameters cell assigns nothing)',
        },
      ],
    },
  ])('$name', ({ given, want }) => {
    expect(checkParameters(given, { a: 1 })).toEqual(want);
  });
});

describe('injectedParametersSource: the cell papermill would inject', () => {
  test.each<{ name: string; given: Record<string, unknown>; want: string }>([
    { name: 'no parameters', given: {}, want: '# Parameters (injected)' },
    { name: 'numbers', given: { a: 3, b: -0.25 }, want: '# Parameters (injected)\na = 3\nb = -0.25' },
    {
      name: 'booleans and null',
      given: { a: true, b: false, c: null },
      want: '# Parameters (injected)\na = True\nb = False\nc = None',
    },
    {
      name: 'strings quoted and escaped',
      given: { s: 'say "hi"\n\\ é' },
      want: '# Parameters (injected)\ns = "say \\"hi\\"\\n\\\\ é"',
    },
    {
      name: 'a number that is not finite becomes None',
      given: { x: Infinity, y: NaN },
      want: '# Parameters (injected)\nx = None\ny = None',
    },
    {
      name: 'lists and dicts, nested',
      given: { l: [1, 'a', [true, null]], d: { k: { n: 1.5 }, 'odd "key"': [] } },
      want: '# Parameters (injected)\nl = [1, "a", [True, None]]\nd = {"k": {"n": 1.5}, "odd \\"key\\"": []}',
    },
  ])('$name', ({ given, want }) => {
    expect(injectedParametersSource(given)).toBe(want);
  });
});
