import { randomBytes } from 'node:crypto';
import type { JupyterNotebook } from '../api/types';
import { InvalidError, type FieldProblem } from './errors';

type ApiCell = JupyterNotebook['cells'][number];

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
 * cell types, sources, outputs). Cells without ids get new ones, reported as warnings.
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
    'Invalid notebook file',
    'The file is not a valid nbformat 4 notebook; nothing was stored.',
    problems,
  );
}
