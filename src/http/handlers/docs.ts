import { readPublishedFiles } from '../published';
import type { OperationHandlers } from './types';

/** The contract as JSON and YAML and the API reference page, read once when the app is built; no token needed. */
export function docsHandlers() {
  const files = readPublishedFiles();
  return {
    getOpenApiJson: async (ctx) => files.openApiJson.reply(ctx),
    getOpenApiYaml: async (ctx) => files.openApiYaml.reply(ctx),
    getDocsPage: async (ctx) => files.docsPage.reply(ctx),
  } satisfies Partial<OperationHandlers>;
}
