import fs from 'node:fs';
import path from 'node:path';
import type { AppDeps } from '../app';
import * as pages from '../../domain/pages';
import { markdownToHtml } from '../../kernels/report';
import { sendFile } from '../download';
import { empty, json, type RawReply } from '../reply';
import { bearer } from '../security';
import { scopeOf } from './common';
import type { OperationHandlers } from './types';

/** The notebook page: its HTML, script and style (web/), what it shows, and read-only links. */
const WEB = path.resolve(__dirname, '..', '..', '..', 'web');

/**
 * The page may run only its own script and read only this service: whatever a notebook's
 * output holds (HTML, markdown) cannot run code or send the key anywhere.
 */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; " +
  "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The page's files, read once: they change only with a new release. */
const webFiles = new Map<string, string>();

function webFile(name: string, contentType: string): RawReply<200> {
  let body = webFiles.get(name);
  if (body === undefined) webFiles.set(name, (body = fs.readFileSync(path.join(WEB, name), 'utf8')));
  return {
    status: 200,
    body,
    contentType,
    headers: {
      'Content-Security-Policy': PAGE_POLICY,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    },
  };
}

/** Markdown cells carry their HTML, so the page never renders markdown itself. */
function withMarkdown<P extends { cells: { cellType: string; source: string; html?: string }[] }>(page: P): P {
  for (const cell of page.cells) if (cell.cellType === 'markdown') cell.html = markdownToHtml(cell.source);
  return page;
}

export function pageHandlers({ db, config }: AppDeps) {
  const shared = (authorization: string | undefined) => pages.openShareLink(db, bearer(authorization) ?? '');
  return {
    openJupyterNotebookPage: async () => webFile('notebook.html', 'text/html; charset=utf-8'),
    openStandardNotebookPage: async () => webFile('notebook.html', 'text/html; charset=utf-8'),
    getPageAsset: async (ctx) =>
      webFile(ctx.params.asset, ctx.params.asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css'),
    getNotebookPage: async (ctx) =>
      json(
        200,
        withMarkdown(
          await pages.notebookPage(db, scopeOf(ctx), ctx.params.notebookId, {
            readOnly: false,
            expiresAt: null,
            publicUrl: config.publicUrl,
          }),
        ),
      ),
    getSharedNotebookPage: async (ctx) => {
      const link = await shared(ctx.headers.authorization);
      const page = await pages.notebookPage(db, link.scope, link.notebookId, {
        readOnly: true,
        expiresAt: link.expiresAt,
        publicUrl: config.publicUrl,
      });
      return json(200, withMarkdown(page));
    },
    downloadSharedArtifact: async (ctx) => {
      const link = await shared(ctx.headers.authorization);
      const artifact = await pages.sharedArtifact(db, config.dataDir, link, ctx.params.artifactId);
      return sendFile(artifact, ctx, { ArtifactId: artifact.id });
    },
    revokeNotebookShare: async (ctx) => {
      await pages.revokeShareLink(db, scopeOf(ctx), ctx.params.notebookId, ctx.params.shareId);
      return empty();
    },
  } satisfies Partial<OperationHandlers>;
}
