import type { FieldProblem } from '../domain/errors';

/** At most this many problems are listed in one answer; a body full of NULs gets a short 400. */
const MAX_PROBLEMS = 20;

/**
 * What every request value must be, whatever its schema says: text without NUL characters and
 * without lone surrogates (neither can be stored, and neither is valid Unicode text), finite
 * numbers, and nesting no deeper than `maxDepth` objects and arrays. Walks iteratively, so a
 * hostile body cannot exhaust the stack. Object keys are text too.
 */
export function valueProblems(root: unknown, rootField: string, maxDepth: number): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const stack: { value: unknown; field: string; top: string; depth: number }[] = [
    { value: root, field: rootField, top: rootField, depth: 0 },
  ];
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const { value, field, top, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) problems.push({ field, message: problem });
    } else if (typeof value === 'number' && !Number.isFinite(value)) {
      problems.push({ field, message: 'is a number too large to represent (beyond ±1.8e308)' });
    } else if (value !== null && typeof value === 'object') {
      if (depth >= maxDepth) {
        // Named by its outermost field: the full path would be as deep as the nesting.
        problems.push({
          field: top,
          message: `is nested more than ${maxDepth} levels deep, the limit for request values`,
        });
        continue;
      }
      const isArray = Array.isArray(value);
      for (const [key, child] of Object.entries(value)) {
        const childField = isArray ? `${field}[${key}]` : `${field}.${printable(key)}`;
        const keyProblem = isArray ? undefined : textProblem(key);
        if (keyProblem) problems.push({ field: childField, message: `is a key that ${keyProblem}` });
        else stack.push({ value: child, field: childField, top: depth === 0 ? childField : top, depth: depth + 1 });
      }
    }
  }
  return problems;
}

/** Why a string cannot be accepted as text, or undefined. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which text may not contain';
  if (LONE_SURROGATE.test(s)) return 'contains a lone surrogate (half of a UTF-16 pair), which is not valid Unicode';
  return undefined;
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The string with each lone surrogate replaced by U+FFFD, as `String.prototype.toWellFormed` does. */
export function wellFormed(s: string): string {
  return s.replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

/** A key as it can be shown in a field name: control characters escaped, lone surrogates replaced. */
function printable(key: string): string {
  const escape = (c: string) => (c.charCodeAt(0) < 0x20 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c);
  return [...wellFormed(key)].map(escape).join('');
}
