import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { JupyterNotebook } from '../api/types';
import { InvalidError, type FieldProblem } from './errors';

type ApiCell = JupyterNotebook['cells'][number];

/**
 * Limits of a Jupyter notebook. `maxCells` is the contract's `maxItems` of `initialCells` and
 * `cells` (creation and update) and applies to uploads too; the others apply to `.ipynb` uploads.
 */
export const NOTEBOOK_LIMITS = {
  maxCells: 1000,
  /** An `.ipynb` file: room for a thousand cells with their plots, and small enough to read back quickly. */
  maxFileBytes: 16 * 1024 * 1024,
  /** Objects and arrays nested in one another, the document itself counting as 1. */
  maxDepth: 64,
} as const;

/** A cell as stored: the nbformat 4 cell plus Assay's record of its last execution. */
export interface StoredCell {
  id: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string;
  metadata: Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
  attachments?: Record<string, unknown>;
  assay: {
    lastModified: string;
    lastExecuted: string | null;
    executionStatus: 'Success' | 'Error' | 'Cancelled' | null;
  };
}

/** A new random cell id in nbformat's pattern. */
export function newCellId(): string {
  return randomBytes(4).toString('hex');
}

/** Builds stored cells from the contract's cell inputs; new cells get new ids. */
export function cellsFromInput(
  input: { cellId?: string; cellType: 'code' | 'markdown' | 'raw'; content: string; tags?: string[] }[],
  previous: StoredCell[] = [],
): StoredCell[] {
  const now = new Date().toISOString();
  const before = new Map(previous.map((c) => [c.id, c]));
  const ids = new Set<string>();
  return input.map((cell) => {
    let id = cell.cellId ?? newCellId();
    while (ids.has(id)) id = newCellId();
    ids.add(id);
    const old = before.get(id);
    const unchanged = old && old.cell_type === cell.cellType && old.source === cell.content;
    const metadata = { ...(old?.metadata ?? {}), ...(cell.tags ? { tags: cell.tags } : {}) };
    if (unchanged) return { ...old, metadata };
    return {
      id,
      cell_type: cell.cellType,
      source: cell.content,
      metadata,
      ...(cell.cellType === 'code' ? { outputs: [], execution_count: null } : {}),
      assay: { lastModified: now, lastExecuted: null, executionStatus: null },
    };
  });
}

/** The contract's view of a stored cell. */
export function toApiCell(cell: StoredCell): ApiCell {
  const tags = Array.isArray(cell.metadata.tags) ? (cell.metadata.tags as string[]) : undefined;
  const base: ApiCell = {
    cellId: cell.id,
    cellType: cell.cell_type,
    source: cell.source,
    lastModified: cell.assay.lastModified,
  };
  if (tags) base.tags = tags;
  if (cell.cell_type !== 'code') return base;
  return {
    ...base,
    executionCount: cell.execution_count ?? null,
    hasOutput: (cell.outputs ?? []).length > 0,
    lastExecuted: cell.assay.lastExecuted,
    executionStatus: cell.assay.executionStatus,
  };
}

/** The contract's view of stored cells, from JSON text to JSON text. */
export function apiCellsJson(storedCells: string): string {
  const cells = (JSON.parse(storedCells) as StoredCell[] | null) ?? [];
  return JSON.stringify(cells.map(toApiCell));
}

/** {@link apiCellsJson} as UTF-8 bytes, which a worker thread hands over without a copy. */
export function apiCellsBytes(input: { storedCells: string }): Uint8Array {
  return new TextEncoder().encode(apiCellsJson(input.storedCells));
}

/** An uploaded notebook, parsed and checked, in the forms the store keeps and the answer shows, as JSON text. */
export interface IpynbText {
  storedCells: string;
  /** The cells as the answer shows them, UTF-8 JSON. */
  apiCells: Uint8Array;
  metadata: string;
  nbformatMinor: number;
  warnings: string[];
  kernelName: string | undefined;
  cellCount: number;
  codeCells: number;
  markdownCells: number;
  rawCells: number;
}

/**
 * Reads and checks an uploaded `.ipynb` file (see {@link parseIpynb}). Runs in a worker thread,
 * so that only text crosses to the service's thread: nothing large is parsed or serialised there.
 */
export async function readIpynb(input: { file: string }): Promise<IpynbText> {
  const parsed = parseIpynb(await fs.promises.readFile(input.file, 'utf8'));
  const count = (type: string) => parsed.cells.filter((c) => c.cell_type === type).length;
  return {
    storedCells: JSON.stringify(parsed.cells),
    apiCells: new TextEncoder().encode(JSON.stringify(parsed.cells.map(toApiCell))),
    metadata: JSON.stringify(parsed.metadata),
    nbformatMinor: parsed.nbformatMinor,
    warnings: parsed.warnings,
    kernelName: parsed.kernelName,
    cellCount: parsed.cells.length,
    codeCells: count('code'),
    markdownCells: count('markdown'),
    rawCells: count('raw'),
  };
}

/** True when two cell lists differ in ids, types, sources or order (a new notebook version). */
export function cellsChanged(a: StoredCell[], b: StoredCell[]): boolean {
  if (a.length !== b.length) return true;
  return a.some((cell, i) => cell.id !== b[i].id || cell.cell_type !== b[i].cell_type || cell.source !== b[i].source);
}

/** What the parser found in an uploaded notebook. */
export interface ParsedNotebook {
  cells: StoredCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformatMinor: number;
  warnings: string[];
  kernelName: string | undefined;
}

/**
 * Parses an `.ipynb` and checks it against the structure nbformat 4 prescribes (top-level keys,
 * cell types, sources, outputs) and the {@link NOTEBOOK_LIMITS}. Cells without ids get new ones,
 * reported as warnings.
 */
export function parseIpynb(text: string): ParsedNotebook {
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw notebookError([{ field: 'file', message: `is not JSON: ${(err as Error).message}` }]);
  }
  const problems: FieldProblem[] = [];
  if (!isObject(doc)) throw notebookError([{ field: 'file', message: 'must be a JSON object' }]);
  const unstorable = checkValues(doc);
  if (unstorable) throw notebookError([unstorable]);
  if (Array.isArray(doc.cells) && doc.cells.length > NOTEBOOK_LIMITS.maxCells) {
    throw notebookError([
      {
        field: 'file.cells',
        message: `has ${doc.cells.length} cells; a notebook may have at most ${NOTEBOOK_LIMITS.maxCells}`,
      },
    ]);
  }
  if (doc.nbformat !== 4) problems.push({ field: 'file.nbformat', message: 'must be 4' });
  if (!Number.isInteger(doc.nbformat_minor) || (doc.nbformat_minor as number) < 0) {
    problems.push({ field: 'file.nbformat_minor', message: 'must be a non-negative integer' });
  }
  if (!isObject(doc.metadata)) problems.push({ field: 'file.metadata', message: 'must be an object' });
  if (!Array.isArray(doc.cells)) problems.push({ field: 'file.cells', message: 'must be an array' });
  if (problems.length > 0) throw notebookError(problems);

  const warnings: string[] = [];
  const seen = new Set<string>();
  const now = new Date().toISOString();
  const cells = (doc.cells as unknown[]).map((raw, i): StoredCell | undefined => {
    const at = `file.cells[${i}]`;
    if (!isObject(raw)) {
      problems.push({ field: at, message: 'must be an object' });
      return undefined;
    }
    const type = raw.cell_type;
    if (type !== 'code' && type !== 'markdown' && type !== 'raw') {
      problems.push({ field: `${at}.cell_type`, message: 'must be one of: code, markdown, raw' });
      return undefined;
    }
    const source = sourceText(raw.source);
    if (source === undefined)
      problems.push({ field: `${at}.source`, message: 'must be a string or an array of strings' });
    if (raw.metadata !== undefined && !isObject(raw.metadata))
      problems.push({ field: `${at}.metadata`, message: 'must be an object' });
    if (type === 'code') {
      if (raw.outputs !== undefined && !Array.isArray(raw.outputs))
        problems.push({ field: `${at}.outputs`, message: 'must be an array' });
      const count = raw.execution_count;
      if (count !== undefined && count !== null && !Number.isInteger(count)) {
        problems.push({ field: `${at}.execution_count`, message: 'must be an integer or null' });
      }
    }
    let id = typeof raw.id === 'string' && /^[a-zA-Z0-9_-]{1,64}$/.test(raw.id) ? raw.id : undefined;
    if (!id || seen.has(id)) {
      const fresh = newCellId();
      warnings.push(
        id
          ? `Cell ${i + 1} repeated the id ${id}; it was given the id ${fresh}.`
          : `Cell ${i + 1} had no valid id; it was given the id ${fresh}.`,
      );
      id = fresh;
    }
    seen.add(id);
    return {
      id,
      cell_type: type,
      source: source ?? '',
      metadata: isObject(raw.metadata) ? raw.metadata : {},
      ...(type === 'code'
        ? {
            outputs: Array.isArray(raw.outputs) ? raw.outputs : [],
            execution_count: (raw.execution_count as number | null) ?? null,
          }
        : {}),
      ...(isObject(raw.attachments) ? { attachments: raw.attachments } : {}),
      assay: { lastModified: now, lastExecuted: null, executionStatus: null },
    };
  });
  if (problems.length > 0) throw notebookError(problems);
  const metadata = doc.metadata as Record<string, unknown>;
  const kernelspec = isObject(metadata.kernelspec) ? metadata.kernelspec : undefined;
  return {
    cells: cells as StoredCell[],
    metadata,
    nbformat: 4,
    nbformatMinor: doc.nbformat_minor as number,
    warnings,
    kernelName: typeof kernelspec?.name === 'string' ? kernelspec.name : undefined,
  };
}

/**
 * The first value the store cannot keep: nesting deeper than the limit, or a string (or key)
 * with a NUL character or a lone UTF-16 surrogate, which PostgreSQL's jsonb refuses.
 */
function checkValues(value: unknown, at: string[] = ['file'], depth = 1): FieldProblem | undefined {
  if (typeof value === 'string') return checkText(value, at);
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > NOTEBOOK_LIMITS.maxDepth) {
    return {
      field: fieldPath(at.slice(0, 3)),
      message: `nests objects and arrays more than ${NOTEBOOK_LIMITS.maxDepth} levels deep, the limit`,
    };
  }
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v])
    : Object.entries(value);
  for (const [key, child] of entries) {
    const path = [...at, key];
    const problem = (Array.isArray(value) ? undefined : checkText(key, path)) ?? checkValues(child, path, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

function checkText(text: string, at: string[]): FieldProblem | undefined {
  if (text.includes('\u0000')) return { field: fieldPath(at), message: 'holds a NUL character (\\u0000)' };
  if (/\p{Cs}/u.test(text))
    return { field: fieldPath(at), message: 'holds a lone UTF-16 surrogate (not Unicode text)' };
  return undefined;
}

function fieldPath(at: string[]): string {
  return at.map((part, i) => (i === 0 || part.startsWith('[') ? part : `.${part}`)).join('');
}

function sourceText(source: unknown): string | undefined {
  if (typeof source === 'string') return source;
  if (Array.isArray(source) && source.every((s) => typeof s === 'string')) return source.join('');
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function notebookError(problems: FieldProblem[]): InvalidError {
  return new InvalidError(
    'INVALID_NOTEBOOK_FILE',
    'The file is not a valid nbformat 4 notebook; nothing was stored.',
    problems,
  );
}
