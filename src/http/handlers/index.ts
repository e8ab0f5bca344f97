import type { AppDeps } from '../app';
import type { Caller } from '../../domain/tenants';
import type { Reply } from '../reply';
import { adminHandlers } from './admin';
import { artifactHandlers } from './artifacts';
import { blockHandlers } from './blocks';
import { datasetHandlers } from './datasets';
import { executionHandlers } from './executions';
import { healthHandlers } from './health';
import { investigationHandlers } from './investigations';
import { jobHandlers } from './jobs';
import { notebookHandlers } from './notebooks';
import { projectHandlers } from './projects';
import { ContractSchemas } from '../../api/schemas';

/** A validated request as handlers see it. */
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

/** Unpacks a request, calls one domain function, picks the status. Nothing else. */
export type Handler = (ctx: RequestContext) => Promise<Reply>;

/** Every implemented operation's handler, by operationId. Operations not listed answer 501. */
export function allHandlers(deps: AppDeps): Record<string, Handler> {
  const schemas = new ContractSchemas(deps.document);
  return {
    ...healthHandlers(deps),
    ...adminHandlers(deps),
    ...projectHandlers(deps),
    ...investigationHandlers(deps),
    ...datasetHandlers(deps),
    ...notebookHandlers(deps, schemas),
    ...blockHandlers(deps, schemas),
    ...executionHandlers(deps),
    ...jobHandlers(deps),
    ...artifactHandlers(deps),
  };
}
