import { ERROR_CODES, type ErrorCode } from '../../src/api/errorCodes';
import { loadDocument } from '../../src/api/document';

/** The catalogue of error codes and the contract's `ErrorResponse.Code` say the same. */

const document = loadDocument() as unknown as {
  components: { schemas: Record<string, { required?: string[]; properties: Record<string, CodeSchema> }> };
};
interface CodeSchema {
  enum?: string[];
  description?: string;
}
const errorSchema = document.components.schemas.ErrorResponse;
const codeSchema = errorSchema.properties.Code;
const catalogue = Object.keys(ERROR_CODES) as ErrorCode[];

/** Every value in the bundled document whose keys look like an error body (`Error` and `Code`). */
function errorExamples(node: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(node)) for (const item of node) errorExamples(item, found);
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.Error === 'string') found.push(record);
    for (const value of Object.values(record)) errorExamples(value, found);
  }
  return found;
}

describe('error codes', () => {
  test('every error body must carry a Code', () => {
    expect(errorSchema.required).toEqual(expect.arrayContaining(['Error', 'Code']));
  });

  test("the contract's Code enum lists exactly the catalogue's codes, in its order", () => {
    expect(codeSchema.enum).toEqual(catalogue);
  });

  test.each(catalogue)('%s is documented in the contract with its status and meaning', (code) => {
    const { status, meaning } = ERROR_CODES[code];
    expect(codeSchema.description).toContain(`| \`${code}\` | ${status} | ${meaning.replace(/\|/g, '\\|')} |`);
  });

  test('codes are upper snake case and statuses are 4xx or 5xx', () => {
    for (const code of catalogue) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(ERROR_CODES[code].status).toBeGreaterThanOrEqual(400);
      expect(ERROR_CODES[code].status).toBeLessThan(600);
    }
  });

  test("every error example of the contract has a code of the catalogue, with the code's summary", () => {
    const examples = errorExamples(document);
    expect(examples.length).toBeGreaterThan(40);
    for (const example of examples) {
      const code = example.Code as ErrorCode;
      expect(catalogue).toContain(code);
      expect(example.Error).toBe(ERROR_CODES[code].error);
    }
  });
});
