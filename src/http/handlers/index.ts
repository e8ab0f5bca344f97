import type { AppDeps } from '../app';
import type { Caller } from '../../domain/tenants';
import type { OperationHandlers } from './types';
import type { Reply } from '../reply';
import { adminHandlers } from './admin';
import { artifactHandlers } from './artifacts';
import { blockHandlers } from './blocks';
import { datasetHandlers } from './datasets';
import { docsHandlers } from './docs';
import { eventHandlers } from './events';
import { executionHandlers } from './executions';
import { pageHandlers } from './pages';
import { healthHandlers } from './health';
import { investigationHandlers } from './investigations';
import { jobHandlers } from './jobs';
import { modelHandlers } from './models';
import { notebookHandlers } from './notebooks';
import { projectHandlers } from './projects';
import { ContractSchemas } from '../../api/schemas';

/** A validated request of any operation, untyped: what the app passes to `Handler`. */
export interface RequestContext {
  /** GET, HEAD (routed to the GET operation), POST, ... */
  method: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: Record<string, string | undefined>;
  /** The API key's tenant and id; absent on operations without `apiKey` security. */
  caller: Caller | undefined;
  file: Express.Multer.File | undefined;
  requestId: string;
}

/** A handler as the app calls it, by operationId; each is typed for its own operation in `operationHandlers`. */
export type Handler = (ctx: RequestContext) => Promise<Reply>;

/**
 * Every operation's handler. The map is built with its contract type (`OperationHandlers`), so a
 * missing handler or a wrong request or answer type fails to compile; the app then calls it by
 * operationId, which is why it is handed over untyped.
 */
export function allHandlers(deps: AppDeps): Readonly<Record<string, Handler>> {
  const schemas = new ContractSchemas(deps.document);
  const handlers: OperationHandlers = {
    ...healthHandlers(deps),
    ...docsHandlers(),
    ...adminHandlers(deps),
    ...projectHandlers(deps),
    ...investigationHandlers(deps),
    ...datasetHandlers(deps),
    ...modelHandlers(deps),
    ...notebookHandlers(deps, schemas),
    ...blockHandlers(deps, schemas),
    ...executionHandlers(deps),
    ...jobHandlers(deps),
    ...artifactHandlers(deps),
    ...eventHandlers(deps, deps.feed),
    ...pageHandlers(deps),
  };
  // Sound because routing hands every handler its own operation's request, validated by the contract.
  return handlers as unknown as Record<string, Handler>;
}
