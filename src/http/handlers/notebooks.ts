import { Readable } from 'node:stream';
import type { AppDeps } from '../app';
import type { ContractSchemas } from '../../api/schemas';
import { Notebooks, type SerialisedAnswer } from '../../domain/notebooks';
import type { CachedAnswer } from '../../domain/readCache';
import { syncNotebookSchedule } from '../../jobs/schedules';
import { mintShareLink } from '../../domain/pages';
import { empty, json, type JsonReply, type RawReply } from '../reply';
import { location, pageOf, scopeOf, uploadedFile } from './common';
import type { OperationHandlers } from './types';

/** Notebooks of both types: standard (analysis blocks) and Jupyter. */
export function notebookHandlers({ db, queue, kernels, config, readCache }: AppDeps, schemas: ContractSchemas) {
  const notebooks = new Notebooks(
    db,
    schemas,
    config.publicUrl,
    config.dataDir,
    (id, cron) => syncNotebookSchedule(queue, id, cron),
    () => kernels.kernelNames(),
    readCache,
  );
  const notebookUrl = (scope: { tenantId: string; projectId: string }, id: string) =>
    location(config.publicUrl, `/api/${scope.tenantId}/${scope.projectId}/notebook/${id}`);
  return {
    // The query holds only the contract's filters and paging (validation refuses other names).
    listNotebooks: async (ctx) => json(200, await notebooks.list(scopeOf(ctx), ctx.query, pageOf(ctx))),
    downloadNotebook: async (ctx) => ipynb(await notebooks.ipynb(scopeOf(ctx), ctx.params.notebookId)),
    createJupyterNotebook: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await notebooks.createJupyter(scope, ctx.body);
      return json(201, created, notebookUrl(scope, created.notebookId));
    },
    uploadNotebook: async (ctx) => {
      const file = uploadedFile(ctx, 'the notebook');
      const scope = scopeOf(ctx);
      const created = await notebooks.upload(scope, file, ctx.body);
      return answer(201, created, notebookUrl(scope, created.notebookId));
    },
    getNotebook: async (ctx) => served(await notebooks.getServed(scopeOf(ctx), ctx.params.notebookId)),
    updateNotebook: async (ctx) => json(200, await notebooks.update(scopeOf(ctx), ctx.params.notebookId, ctx.body)),
    deleteNotebook: async (ctx) => {
      const id = ctx.params.notebookId;
      const kind = await notebooks.delete(scopeOf(ctx), id);
      // A standard notebook's deletion is answered with a message, a Jupyter one's with 204.
      return kind === 'standard' ? json(200, { Message: 'Notebook successfully deleted', NotebookId: id }) : empty();
    },
    listInvestigationNotebooks: async (ctx) =>
      json(200, await notebooks.listInInvestigation(scopeOf(ctx), ctx.params.investigationId)),
    createInvestigationNotebook: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await notebooks.createInInvestigation(scope, ctx.params.investigationId, ctx.body);
      return json(201, created, notebookUrl(scope, created.notebookId));
    },
    createNotebookFromTemplate: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await notebooks.createFromTemplate(scope, ctx.params.investigationId, ctx.body);
      return json(201, created, notebookUrl(scope, created.notebookId));
    },
    copyNotebook: async (ctx) => {
      const scope = scopeOf(ctx);
      const copy = await notebooks.copy(scope, ctx.params.notebookId, ctx.body ?? {});
      return json(201, copy, notebookUrl(scope, copy.notebookId));
    },
    getNotebookUrl: async (ctx) => {
      const scope = scopeOf(ctx);
      const link = await notebooks.url(scope, ctx.params.notebookId);
      if (ctx.query.expiresInHours === undefined) return json(200, link);
      // A read-only link: its secret in the fragment, which browsers never send to a server.
      const share = await mintShareLink(db, scope, ctx.params.notebookId, ctx.query.expiresInHours);
      return json(200, {
        ...link,
        url: `${link.url}#share=${share.secret}`,
        expiresAt: share.expiresAt,
        shareId: share.shareId,
      });
    },
  } satisfies Partial<OperationHandlers>;
}

/** A notebook's answer: a JSON body, or one already serialised (a large notebook's), streamed as it is. */
function answer<S extends number, B extends object>(
  status: S,
  body: B | SerialisedAnswer,
  headers: Record<string, string> = {},
): JsonReply<S, B> | RawReply<S> {
  if (!isSerialised(body)) return json(status, body, headers);
  const length = body.json.reduce((n, piece) => n + piece.byteLength, 0);
  return {
    status,
    stream: Readable.from(body.json),
    contentType: JSON_TYPE,
    headers: { ...headers, 'Content-Length': String(length) },
  };
}

/**
 * A notebook's answer already serialised, with its ETag made once (express answers 304 to a
 * matching If-None-Match), or a large one's pieces, streamed.
 */
function served(body: CachedAnswer | SerialisedAnswer): RawReply<200> {
  if (isSerialised(body)) return answer(200, body) as RawReply<200>;
  return { status: 200, body: body.json, contentType: JSON_TYPE, headers: { ETag: body.etag }, serialisedJson: true };
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** A notebook as an `.ipynb` file to save, named after the notebook. */
function ipynb({ name, document }: { name: string; document: object }): RawReply<200> {
  const fileName = `${name.replace(/[^\w .-]+/g, '_').trim() || 'notebook'}.ipynb`;
  return {
    status: 200,
    body: document,
    contentType: 'application/x-ipynb+json',
    headers: { 'Content-Disposition': `attachment; filename="${fileName}"` },
  };
}

function isSerialised(body: object): body is SerialisedAnswer {
  return 'json' in body && Array.isArray(body.json);
}
