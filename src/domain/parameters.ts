import type { FieldProblem } from '../domain/errors';

/** A notebook cell as stored, enough to find the parameters cell. */
interface CellLike {
  cellType: string;
  source: string;
  tags?: string[];
}

type PyType = 'int' | 'float' | 'str' | 'bool' | 'list' | 'dict' | 'any';

/** The index of the code cell tagged `parameters` (papermill's convention), or -1. */
export function parametersCellIndex(cells: CellLike[]): number {
  return cells.findIndex((c) => c.cellType === 'code' && (c.tags ?? []).includes('parameters'));
}

/** The names the parameters cell assigns at top level, with the type of the literal assigned. */
export function declaredParameters(source: string): Map<string, PyType> {
  const declared = new Map<string, PyType>();
  for (const line of source.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*[^=]+)?=\s*(.+?)\s*(#.*)?$/.exec(line);
    if (!m) continue;
    declared.set(m[1], literalType(m[2]));
  }
  return declared;
}

function literalType(literal: string): PyType {
  if (/^[+-]?\d+$/.test(literal)) return 'int';
  if (/^[+-]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][+-]?\d+)$/.test(literal)) return 'float';
  if (/^[rRbBfF]?("|')/.test(literal)) return 'str';
  if (literal === 'True' || literal === 'False') return 'bool';
  if (literal.startsWith('[') || literal.startsWith('(')) return 'list';
  if (literal.startsWith('{')) return 'dict';
  return 'any';
}

function fits(type: PyType, value: unknown): boolean {
  switch (type) {
    case 'int':
      return Number.isInteger(value);
    case 'float':
      return typeof value === 'number';
    case 'str':
      return typeof value === 'string';
    case 'bool':
      return typeof value === 'boolean';
    case 'list':
      return Array.isArray(value);
    case 'dict':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

/**
 * Checks execution parameters against the notebook's parameters cell: every name must be
 * assigned there, and each value must fit the type of its default (None accepts anything).
 * A notebook without a parameters cell accepts any names, as papermill does.
 */
export function checkParameters(cells: CellLike[], given: Record<string, unknown>): FieldProblem[] {
  const index = parametersCellIndex(cells);
  if (index < 0) return [];
  const declared = declaredParameters(cells[index].source);
  const problems: FieldProblem[] = [];
  for (const [name, value] of Object.entries(given)) {
    const type = declared.get(name);
    if (!type) {
      problems.push({
        field: `body.parameters.${name}`,
        message: `is not a parameter of this notebook (its parameters cell assigns ${[...declared.keys()].join(', ') || 'nothing'})`,
      });
    } else if (!fits(type, value)) {
      problems.push({
        field: `body.parameters.${name}`,
        message: `must be ${type === 'int' ? 'an int' : `a ${type}`}`,
      });
    }
  }
  return problems;
}

/** The tag of the cell that holds an execution's parameters, as papermill tags it. */
export const INJECTED_PARAMETERS_TAG = 'injected-parameters';

/** The cell papermill would inject: one assignment per parameter, as Python literals. */
export function injectedParametersSource(given: Record<string, unknown>): string {
  const lines = Object.entries(given).map(([name, value]) => `${name} = ${pythonLiteral(value)}`);
  return ['# Parameters (injected)', ...lines].join('\n');
}

function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'None';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${JSON.stringify(k)}: ${pythonLiteral(v)}`)
    .join(', ')}}`;
}
