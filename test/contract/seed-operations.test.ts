import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { doc, isObject, repoRoot } from '../support/openapi';

/** A method + path pair documented by the seed pages (see shared/API-NOTES.md). */
interface SeedOperation {
  method: string;
  path: string;
  pages: string;
}

const seedOperations: SeedOperation[] = JSON.parse(
  readFileSync(join(repoRoot, 'test', 'fixtures', 'seed-operations.json'), 'utf8'),
);
const paths = isObject(doc.paths) ? doc.paths : {};

describe('the seed pages operations', () => {
  test('the fixture lists the 27 distinct method + path pairs of API-NOTES.md', () => {
    expect(new Set(seedOperations.map((o) => `${o.method} ${o.path}`)).size).toBe(27);
  });

  test.each(seedOperations.map((o) => [`${o.method.toUpperCase()} ${o.path} (page ${o.pages})`, o] as const))(
    '%s is in the bundled document',
    (_name, o) => {
      const item = paths[o.path];
      // Lists the methods the path does have, or none when the path itself is missing.
      expect(isObject(item) ? Object.keys(item) : []).toContain(o.method);
    },
  );
});
