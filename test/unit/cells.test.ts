import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cellsChanged,
  cellsFromInput,
  NOTEBOOK_LIMITS,
  parseIpynb,
  readIpynb,
  toApiCell,
  type StoredCell,
} from '../../src/domain/cells';
import { InvalidError } from '../../src/domain/errors';

/** An nbformat 4 document with these cells (and whatever else `extra` sets). */
const notebook = (cells: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells, ...extra });

/** `levels` arrays nested in one another: `nested(2)` is `[[]]`. */
const nested = (levels: number): unknown => (levels === 1 ? [] : [nested(levels - 1)]);

/** The field problems parseIpynb refused `text` with. */
function problemsOf(text: string): { field: string; message: string }[] {
  try {
    parseIpynb(text);
  } catch (err) {
    if (err instanceof InvalidError) return err.problems;
    throw err;
  }
  throw new Error('parseIpynb accepted the notebook');
}

describe('parseIpynb: what an uploaded notebook must be', () => {
  test.each<{ name: string; given: string; want: { field: string; message: RegExp | string }[] }>([
    { name: 'not JSON', given: '{"cells": [', want: [{ field: 'file', message: /^is not JSON: / }] },
    { name: 'a JSON array', given: '[]', want: [{ field: 'file', message: 'must be a JSON object' }] },
    { name: 'JSON null', given: 'null', want: [{ field: 'file', message: 'must be a JSON object' }] },
    {
      name: 'another nbformat, no minor, no metadata, no cells: all at once',
      given: JSON.stringify({ nbformat: 3, nbformat_minor: -1 }),
      want: [
        { field: 'file.nbformat', message: 'must be 4' },
        { field: 'file.nbformat_minor', message: 'must be a non-negative integer' },
        { field: 'file.metadata', message: 'must be an object' },
        { field: 'file.cells', message: 'must be an array' },
      ],
    },
    {
      name: 'a fractional minor version',
      given: notebook([], { nbformat_minor: 4.5 }),
      want: [{ field: 'file.nbformat_minor', message: 'must be a non-negative integer' }],
    },
    {
      name: 'metadata that is an array',
      given: notebook([], { metadata: [] }),
      want: [{ field: 'file.metadata', message: 'must be an object' }],
    },
    {
      name: 'a cell that is not an object',
      given: notebook(['print(1)']),
      want: [{ field: 'file.cells[0]', message: 'must be an object' }],
    },
    {
      name: 'an unknown cell type',
      given: notebook([{ cell_type: 'heading', source: '# x', metadata: {} }]),
      want: [{ field: 'file.cells[0].cell_type', message: 'must be one of: code, markdown, raw' }],
    },
    {
      name: 'a source that is neither a string nor strings',
      given: notebook([{ cell_type: 'markdown', source: ['a', 1], metadata: {} }]),
      want: [{ field: 'file.cells[0].source', message: 'must be a string or an array of strings' }],
    },
    {
      name: 'cell metadata that is not an object',
      given: notebook([{ cell_type: 'raw', source: '', metadata: 'x' }]),
      want: [{ field: 'file.cells[0].metadata', message: 'must be an object' }],
    },
    {
      name: 'code cell outputs that are not an array, and a fractional execution count',
      given: notebook([{ cell_type: 'code', source: '', metadata: {}, outputs: {}, execution_count: 1.5 }]),
      want: [
        { field: 'file.cells[0].outputs', message: 'must be an array' },
        { field: 'file.cells[0].execution_count', message: 'must be an integer or null' },
      ],
    },
    {
      name: 'every bad cell is named',
      given: notebook([{ cell_type: 'code', source: 'ok' }, 7, { cell_type: 'x' }]),
      want: [
        { field: 'file.cells[1]', message: 'must be an object' },
        { field: 'file.cells[2].cell_type', message: 'must be one of: code, markdown, raw' },
      ],
    },
  ])('$name', ({ given, want }) => {
    const problems = problemsOf(given);
    expect(problems).toHaveLength(want.length);
    want.forEach((w, i) => {
      expect(problems[i].field).toBe(w.field);
      if (typeof w.message === 'string') expect(problems[i].message).toBe(w.message);
      else expect(problems[i].message).toMatch(w.message);
    });
  });
});

describe('parseIpynb: what the store cannot keep', () => {
  test.each<{ name: string; given: string; want: { field: string; message: string } }>([
    {
      name: 'a NUL character in a source',
      given: notebook([{ cell_type: 'code', source: ['a = 1\n', 'b = "\u0000"'] }]),
      want: { field: 'file.cells[0].source[1]', message: 'holds a NUL character (\\u0000)' },
    },
    {
      name: 'a NUL character in a key',
      given: notebook([], { metadata: { 'a\u0000b': 1 } }),
      want: { field: 'file.metadata.a\u0000b', message: 'holds a NUL character (\\u0000)' },
    },
    {
      name: 'a lone surrogate (escaped in the JSON)',
      given: notebook([{ cell_type: 'markdown', source: 'x' }]).replace('"x"', '"\\ud800x"'),
      want: { field: 'file.cells[0].source', message: 'holds a lone UTF-16 surrogate (not Unicode text)' },
    },
    {
      name: `nesting one level deeper than ${NOTEBOOK_LIMITS.maxDepth}`,
      // The document is level 1, metadata 2, `deep` holds the rest.
      given: notebook([], { metadata: { deep: nested(NOTEBOOK_LIMITS.maxDepth - 1) } }),
      want: {
        field: 'file.metadata.deep',
        message: `nests objects and arrays more than ${NOTEBOOK_LIMITS.maxDepth} levels deep, the limit`,
      },
    },
    {
      name: 'deep nesting is named by its first three steps only',
      given: notebook([{ cell_type: 'code', source: '', outputs: [{ data: nested(NOTEBOOK_LIMITS.maxDepth) }] }]),
      want: {
        field: 'file.cells[0]',
        message: `nests objects and arrays more than ${NOTEBOOK_LIMITS.maxDepth} levels deep, the limit`,
      },
    },
    {
      name: `more than ${NOTEBOOK_LIMITS.maxCells} cells`,
      given: notebook(Array.from({ length: NOTEBOOK_LIMITS.maxCells + 1 }, () => ({ cell_type: 'raw', source: '' }))),
      want: {
        field: 'file.cells',
        message: `has ${NOTEBOOK_LIMITS.maxCells + 1} cells; a notebook may have at most ${NOTEBOOK_LIMITS.maxCells}`,
      },
    },
  ])('$name', ({ given, want }) => {
    expect(problemsOf(given)).toEqual([want]);
  });

  test.each<{ name: string; given: string; want: number }>([
    {
      name: `nesting exactly ${NOTEBOOK_LIMITS.maxDepth} levels deep`,
      given: notebook([], { metadata: { deep: nested(NOTEBOOK_LIMITS.maxDepth - 2) } }),
      want: 0,
    },
    {
      name: `exactly ${NOTEBOOK_LIMITS.maxCells} cells`,
      given: notebook(Array.from({ length: NOTEBOOK_LIMITS.maxCells }, () => ({ cell_type: 'raw', source: '' }))),
      want: NOTEBOOK_LIMITS.maxCells,
    },
    { name: 'a paired surrogate (an emoji)', given: notebook([{ cell_type: 'markdown', source: '😀' }]), want: 1 },
    {
      name: 'the six characters of an escaped NUL',
      given: notebook([{ cell_type: 'raw', source: '\\u0000' }]),
      want: 1,
    },
  ])('$name is accepted', ({ given, want }) => {
    expect(parseIpynb(given).cells).toHaveLength(want);
  });
});

describe('parseIpynb: cells, ids, tags and warnings', () => {
  const cellId = /^[0-9a-f]{8}$/;

  test('a notebook with every cell type, as stored', () => {
    const parsed = parseIpynb(
      '\uFEFF' +
        notebook(
          [
            { id: 'intro', cell_type: 'markdown', source: ['# Title\n', 'text'], metadata: { tags: ['doc'] } },
            {
              id: 'run-1',
              cell_type: 'code',
              source: 'x = 1',
              metadata: { tags: ['parameters'] },
              outputs: [{ output_type: 'stream', name: 'stdout', text: '1' }],
              execution_count: 3,
            },
            { id: 'raw_1', cell_type: 'raw', source: '', attachments: { 'a.png': { 'image/png': 'AA==' } } },
            { id: 'bare', cell_type: 'code', source: '' },
          ],
          { nbformat_minor: 4, metadata: { kernelspec: { name: 'ir', display_name: 'R' } } },
        ),
    );
    expect(parsed).toMatchObject({ nbformat: 4, nbformatMinor: 4, kernelName: 'ir', warnings: [] });
    expect(parsed.cells.map(({ assay: _assay, ...cell }) => cell)).toEqual([
      { id: 'intro', cell_type: 'markdown', source: '# Title\ntext', metadata: { tags: ['doc'] } },
      {
        id: 'run-1',
        cell_type: 'code',
        source: 'x = 1',
        metadata: { tags: ['parameters'] },
        outputs: [{ output_type: 'stream', name: 'stdout', text: '1' }],
        execution_count: 3,
      },
      { id: 'raw_1', cell_type: 'raw', source: '', metadata: {}, attachments: { 'a.png': { 'image/png': 'AA==' } } },
      { id: 'bare', cell_type: 'code', source: '', metadata: {}, outputs: [], execution_count: null },
    ]);
    for (const cell of parsed.cells) {
      expect(cell.assay).toEqual({ lastModified: expect.any(String), lastExecuted: null, executionStatus: null });
    }
  });

  test.each<{ name: string; given: unknown; want: RegExp }>([
    { name: 'a missing id', given: undefined, want: /^Cell 2 had no valid id; it was given the id [0-9a-f]{8}\.$/ },
    {
      name: 'an id that is not a string',
      given: 12,
      want: /^Cell 2 had no valid id; it was given the id [0-9a-f]{8}\.$/,
    },
    { name: 'an id with a space', given: 'a b', want: /^Cell 2 had no valid id; it was given the id [0-9a-f]{8}\.$/ },
    { name: 'an id of 65 characters', given: 'x'.repeat(65), want: /^Cell 2 had no valid id; it was given the id / },
    {
      name: 'a repeated id',
      given: 'first',
      want: /^Cell 2 repeated the id first; it was given the id [0-9a-f]{8}\.$/,
    },
  ])('$name gets a new id and a warning', ({ given, want }) => {
    const parsed = parseIpynb(
      notebook([
        { id: 'first', cell_type: 'code', source: 'a' },
        { id: given, cell_type: 'code', source: 'b' },
      ]),
    );
    expect(parsed.cells[0].id).toBe('first');
    expect(parsed.cells[1].id).toMatch(cellId);
    expect(parsed.warnings).toHaveLength(1);
    expect(parsed.warnings[0]).toMatch(want);
    expect(parsed.warnings[0].endsWith(`${parsed.cells[1].id}.`)).toBe(true);
  });

  test.each<{ name: string; given: Record<string, unknown>; want: string | undefined }>([
    { name: 'no kernelspec', given: {}, want: undefined },
    { name: 'a kernelspec that is not an object', given: { kernelspec: 'python3' }, want: undefined },
    { name: 'a kernelspec name that is not a string', given: { kernelspec: { name: 3 } }, want: undefined },
    { name: 'a kernelspec name', given: { kernelspec: { name: 'python3' } }, want: 'python3' },
  ])('kernel name from $name', ({ given, want }) => {
    expect(parseIpynb(notebook([], { metadata: given })).kernelName).toBe(want);
  });

  test('readIpynb counts the cells of each type and hands the answer cells as UTF-8 JSON', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'assay-cells-')), 'n.ipynb');
    fs.writeFileSync(
      file,
      notebook([
        { id: 'a', cell_type: 'code', source: 'x', metadata: { tags: ['t'] } },
        { id: 'b', cell_type: 'markdown', source: 'é' },
        { id: 'c', cell_type: 'code', source: 'y' },
        { id: 'd', cell_type: 'raw', source: '' },
      ]),
    );
    try {
      const read = await readIpynb({ file });
      expect(read).toMatchObject({ cellCount: 4, codeCells: 2, markdownCells: 1, rawCells: 1, nbformatMinor: 5 });
      const apiCells = JSON.parse(new TextDecoder().decode(read.apiCells));
      expect(apiCells.map((c: { cellId: string; tags?: string[] }) => [c.cellId, c.tags])).toEqual([
        ['a', ['t']],
        ['b', undefined],
        ['c', undefined],
        ['d', undefined],
      ]);
      expect(JSON.parse(read.storedCells)[1].source).toBe('é');
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});

describe('toApiCell: the contract view of a stored cell', () => {
  const assay = { lastModified: '2026-01-02T03:04:05.000Z', lastExecuted: null, executionStatus: null };
  test.each<{ name: string; given: StoredCell; want: Record<string, unknown> }>([
    {
      name: 'a markdown cell has no execution fields',
      given: { id: 'm', cell_type: 'markdown', source: '# T', metadata: {}, assay },
      want: { cellId: 'm', cellType: 'markdown', source: '# T', lastModified: assay.lastModified },
    },
    {
      name: 'tags come from the metadata',
      given: { id: 'r', cell_type: 'raw', source: '', metadata: { tags: ['a', 'b'] }, assay },
      want: { cellId: 'r', cellType: 'raw', source: '', lastModified: assay.lastModified, tags: ['a', 'b'] },
    },
    {
      name: 'tags that are not a list are left out',
      given: { id: 'r', cell_type: 'raw', source: '', metadata: { tags: 'a' }, assay },
      want: { cellId: 'r', cellType: 'raw', source: '', lastModified: assay.lastModified },
    },
    {
      name: 'a code cell never run',
      given: { id: 'c', cell_type: 'code', source: 'x', metadata: {}, outputs: [], execution_count: null, assay },
      want: {
        cellId: 'c',
        cellType: 'code',
        source: 'x',
        lastModified: assay.lastModified,
        executionCount: null,
        hasOutput: false,
        lastExecuted: null,
        executionStatus: null,
      },
    },
    {
      name: 'a code cell run with output',
      given: {
        id: 'c',
        cell_type: 'code',
        source: 'x',
        metadata: {},
        outputs: [{ output_type: 'stream' }],
        execution_count: 2,
        assay: { ...assay, lastExecuted: '2026-01-02T03:05:00.000Z', executionStatus: 'Success' },
      },
      want: {
        cellId: 'c',
        cellType: 'code',
        source: 'x',
        lastModified: assay.lastModified,
        executionCount: 2,
        hasOutput: true,
        lastExecuted: '2026-01-02T03:05:00.000Z',
        executionStatus: 'Success',
      },
    },
  ])('$name', ({ given, want }) => {
    expect(toApiCell(given)).toEqual(want);
  });
});

describe('cellsFromInput and cellsChanged: cells from the contract, and what makes a new version', () => {
  const previous = cellsFromInput([
    { cellId: 'keep', cellType: 'code', content: 'a = 1', tags: ['parameters'] },
    { cellId: 'edit', cellType: 'markdown', content: 'old' },
  ]);

  test.each<{
    name: string;
    given: { cellId?: string; cellType: 'code' | 'markdown' | 'raw'; content: string; tags?: string[] }[];
    want: { ids: (string | RegExp)[]; changed: boolean };
  }>([
    {
      name: 'the same cells',
      given: [
        { cellId: 'keep', cellType: 'code', content: 'a = 1' },
        { cellId: 'edit', cellType: 'markdown', content: 'old' },
      ],
      want: { ids: ['keep', 'edit'], changed: false },
    },
    {
      name: 'new tags alone',
      given: [
        { cellId: 'keep', cellType: 'code', content: 'a = 1', tags: [] },
        { cellId: 'edit', cellType: 'markdown', content: 'old', tags: ['x'] },
      ],
      want: { ids: ['keep', 'edit'], changed: false },
    },
    {
      name: 'an edited source',
      given: [
        { cellId: 'keep', cellType: 'code', content: 'a = 1' },
        { cellId: 'edit', cellType: 'markdown', content: 'new' },
      ],
      want: { ids: ['keep', 'edit'], changed: true },
    },
    {
      name: 'a changed type',
      given: [
        { cellId: 'keep', cellType: 'raw', content: 'a = 1' },
        { cellId: 'edit', cellType: 'markdown', content: 'old' },
      ],
      want: { ids: ['keep', 'edit'], changed: true },
    },
    {
      name: 'another order',
      given: [
        { cellId: 'edit', cellType: 'markdown', content: 'old' },
        { cellId: 'keep', cellType: 'code', content: 'a = 1' },
      ],
      want: { ids: ['edit', 'keep'], changed: true },
    },
    {
      name: 'a repeated id, and a cell without one, get new ids',
      given: [
        { cellId: 'keep', cellType: 'code', content: 'a = 1' },
        { cellId: 'keep', cellType: 'markdown', content: 'old' },
        { cellType: 'raw', content: '' },
      ],
      want: { ids: ['keep', /^[0-9a-f]{8}$/, /^[0-9a-f]{8}$/], changed: true },
    },
  ])('$name', ({ given, want }) => {
    const cells = cellsFromInput(given, previous);
    expect(cells).toHaveLength(want.ids.length);
    cells.forEach((cell, i) => {
      const id = want.ids[i];
      if (typeof id === 'string') expect(cell.id).toBe(id);
      else expect(cell.id).toMatch(id);
    });
    expect(new Set(cells.map((c) => c.id)).size).toBe(cells.length);
    expect(cellsChanged(previous, cells)).toBe(want.changed);
  });

  test.each<{ name: string; given: string[] | undefined; want: unknown }>([
    { name: 'tags given replace the old ones', given: ['new'], want: ['new'] },
    { name: 'no tags keep the old ones', given: undefined, want: ['parameters'] },
  ])('$name', ({ given, want }) => {
    const [cell] = cellsFromInput([{ cellId: 'keep', cellType: 'code', content: 'a = 1', tags: given }], previous);
    expect(cell.metadata.tags).toEqual(want);
  });
});
