import fs from 'node:fs';
import path from 'node:path';
import type { Document } from 'openapi-backend';

/** Where `npm run generate` writes; src/api and dist/api are both two levels below the repo root. */
export const generatedDir = path.resolve(__dirname, '..', '..', 'generated');

/** Where the bundled contract lives. */
export const documentPath = path.join(generatedDir, 'openapi.json');

/** Reads the bundled OpenAPI document (`npm run generate` writes it from openapi/). */
export function loadDocument(): Document {
  return JSON.parse(fs.readFileSync(documentPath, 'utf8')) as Document;
}
