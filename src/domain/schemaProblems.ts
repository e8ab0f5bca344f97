import type { ErrorObject } from 'ajv';
import type { FieldProblem } from './errors';

/** Turns Ajv errors of a value into one readable problem per field, named under `base`. */
export function problemsFromSchemaErrors(errors: ErrorObject[], base: string): FieldProblem[] {
  const problems = new Map<string, FieldProblem>();
  for (const e of errors) {
    let field = base + pointerToField(e.instancePath);
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      field += `.${String(e.params.missingProperty)}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      field += `.${String(e.params.additionalProperty)}`;
      message = 'is not a field of this configuration';
    } else if (e.keyword === 'enum') {
      message = `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`;
    } else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      // The branches' own errors say more; keep this only if nothing else is said about the field.
      if ([...problems.keys()].some((k) => k.startsWith(field))) continue;
      message = e.keyword === 'anyOf' ? 'must set at least one of the alternative fields' : message;
    }
    const key = `${field}\n${message}`;
    if (!problems.has(key)) problems.set(key, { field, message });
  }
  return [...problems.values()];
}

function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');
}
