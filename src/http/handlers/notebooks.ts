import { Readable } from 'node:stream';
import type { AppDeps } from '../app';
import type { ContractSchemas } from '../../api/schemas';
import { InvalidError } from '../../domain/errors';
import { Notebooks, type SerialisedAnswer } from '../../domain/notebooks';
import { syncNotebookSchedule } from '../../jobs/schedules';
import type {
  JupyterNotebookCreate,
  Notebook,
  JupyterNotebookUpdate,
  NotebookCopy,
  NotebookFromTemplate,
  StandardNotebookCreate,
  StandardNotebookUpdate,
} from '../../api/types';
import { empty, json, type Reply } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { Handler, RequestContext } from './index';

/** Notebooks of both types (pages 000 and 003). */
export function notebookHandlers(
  { db, queue, kernels, config }: AppDeps,
  schemas: ContractSchemas,
): Record<string, Handler> {
  const notebooks = new Notebooks(
    db,
    schemas,
    config.publicUrl,
    config.dataDir,
    (id, cron) => syncNotebookSchedule(queue, id, cron),
    () => kernels.kernelNames(),
  );
  const notebookUrl = (ctx: RequestContext, id: string) => {
    const s = scopeOf(ctx);
    return location(config.publicUrl, `/api/${s.tenantId}/${s.projectId}/notebook/${id}`);
  };
  const idOf = (ctx: RequestContext) => ctx.params.notebookId.toLowerCase();
  return {
    listNotebooks: async (ctx) => {
      const q = ctx.query;
      const filters = {
        status: q.status as string | undefined,
        kernelType: q.kernelType as string | undefined,
        enrichmentMode: q.enrichmentMode as boolean | undefined,
        notebookType: q.notebookType as number | undefined,
      };
      return json(200, await notebooks.list(scopeOf(ctx), filters, pageOf(ctx)));
    },
    downloadNotebook: async (ctx) => {
      const { name, document } = await notebooks.ipynb(scopeOf(ctx), idOf(ctx));
      const fileName = `${name.replace(/[^\w .-]+/g, '_').trim() || 'notebook'}.ipynb`;
      return {
        status: 200,
        body: document,
        contentType: 'application/x-ipynb+json',
        headers: { 'Content-Disposition': `attachment; filename="${fileName}"` },
      };
    },
    createJupyterNotebook: async (ctx) => {
      const created = await notebooks.createJupyter(scopeOf(ctx), ctx.body as JupyterNotebookCreate);
      return json(201, created, notebookUrl(ctx, created.notebookId));
    },
    uploadNotebook: async (ctx) => {
      if (!ctx.file)
        throw new InvalidError('Validation failed', 'Send the notebook as the `file` field.', [
          { field: 'body.file', message: 'is required' },
        ]);
      const file = { path: ctx.file.path, size: ctx.file.size, originalName: ctx.file.originalname };
      const created = await notebooks.upload(scopeOf(ctx), file, ctx.body as Record<string, string>);
      return answer(201, created, notebookUrl(ctx, created.notebookId));
    },
    getNotebook: async (ctx) => answer(200, await notebooks.get(scopeOf(ctx), idOf(ctx))),
    updateNotebook: async (ctx) =>
      json(
        200,
        await notebooks.update(scopeOf(ctx), idOf(ctx), ctx.body as StandardNotebookUpdate | JupyterNotebookUpdate),
      ),
    deleteNotebook: async (ctx) => {
      const id = idOf(ctx);
      const kind = await notebooks.delete(scopeOf(ctx), id);
      // Page 003 answers a standard notebook's deletion with a message, page 000 a Jupyter one's with 204.
      return kind === 'standard' ? json(200, { Message: 'Notebook successfully deleted', NotebookId: id }) : empty();
    },
    listInvestigationNotebooks: async (ctx) =>
      json(200, await notebooks.listInInvestigation(scopeOf(ctx), ctx.params.investigationId.toLowerCase())),
    createInvestigationNotebook: async (ctx) => {
      const created = await notebooks.createInInvestigation(
        scopeOf(ctx),
        ctx.params.investigationId.toLowerCase(),
        ctx.body as StandardNotebookCreate,
      );
      return json(201, created, notebookUrl(ctx, created.notebookId));
    },
    createNotebookFromTemplate: async (ctx) => {
      const created = await notebooks.createFromTemplate(
        scopeOf(ctx),
        ctx.params.investigationId.toLowerCase(),
        ctx.body as NotebookFromTemplate,
      );
      return json(201, created, notebookUrl(ctx, created.notebookId));
    },
    copyNotebook: async (ctx) => {
      const copy = await notebooks.copy(scopeOf(ctx), idOf(ctx), (ctx.body as NotebookCopy | undefined) ?? {});
      return json(201, copy, notebookUrl(ctx, copy.notebookId));
    },
    getNotebookUrl: async (ctx) => json(200, await notebooks.url(scopeOf(ctx), idOf(ctx))),
  };
}

/** A notebook's answer: a JSON body, or one already serialised (a large notebook's), streamed as it is. */
function answer(status: number, body: Notebook | SerialisedAnswer, headers: Record<string, string> = {}): Reply {
  if (!('json' in body)) return json(status, body, headers);
  const length = body.json.reduce((n, piece) => n + piece.byteLength, 0);
  return {
    status,
    stream: Readable.from(body.json),
    contentType: 'application/json; charset=utf-8',
    headers: { ...headers, 'Content-Length': String(length) },
  };
}
