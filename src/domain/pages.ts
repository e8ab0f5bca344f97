import { randomBytes, randomUUID } from 'node:crypto';
import type { NotebookPage } from '../api/types';
import type { Db } from '../store/db';
import { latestExecutionOf } from '../store/executions';
import { blocksOf } from '../store/notebooks';
import * as shares from '../store/shares';
import { getArtifact, type StoredArtifact } from './artifacts';
import type { StoredCell } from './cells';
import { AuthError, NotFoundError } from './errors';
import { mintStreamTicket } from './events';
import { requireNotebook } from './notebookLocks';
import { isoOrNull, type Scope } from './scope';
import { hashToken } from './tenants';

/**
 * A notebook's page: what it shows (the same for a person with a key and for a read-only
 * link), and the read-only links themselves. A link's secret is shown once; the store keeps its hash.
 */

const SHARE_PREFIX = 'sh_';

/** A read-only link to the notebook, working for `hours`. */
export async function mintShareLink(
  db: Db,
  scope: Scope,
  notebookId: string,
  hours: number,
): Promise<{ shareId: string; secret: string; expiresAt: string }> {
  const notebook = await requireNotebook(db, scope, notebookId);
  const secret = SHARE_PREFIX + randomBytes(32).toString('base64url');
  const shareId = randomUUID();
  const expiresAt = new Date(Date.now() + hours * 3_600_000);
  await shares.insertShareLink(db, {
    id: shareId,
    token_hash: hashToken(secret),
    tenant_id: scope.tenantId,
    project_id: scope.projectId,
    notebook_id: notebook.id,
    created_by: scope.actor,
    expires_at: expiresAt,
  });
  return { shareId, secret, expiresAt: expiresAt.toISOString() };
}

export async function revokeShareLink(db: Db, scope: Scope, notebookId: string, shareId: string): Promise<void> {
  await requireNotebook(db, scope, notebookId);
  if (!(await shares.revokeShareLink(db, scope.projectId, notebookId, shareId))) {
    throw new NotFoundError('SHARE_LINK_NOT_FOUND', 'ShareId', shareId);
  }
}

/** What a live read-only link opens: its notebook, read as the key that made the link. */
export interface SharedNotebook {
  scope: Scope;
  notebookId: string;
  expiresAt: string;
}

/** The notebook a read-only link opens; 401 when it has expired, was revoked or never existed. */
export async function openShareLink(db: Db, secret: string): Promise<SharedNotebook> {
  const row = secret.startsWith(SHARE_PREFIX) ? await shares.findLiveShareLink(db, hashToken(secret)) : null;
  if (!row) {
    throw new AuthError(
      'SHARE_LINK_INVALID',
      'This read-only link has expired, was revoked, or its notebook was deleted.',
    );
  }
  return {
    scope: { tenantId: row.tenant_id, projectId: row.project_id, actor: row.created_by },
    notebookId: row.notebook_id,
    expiresAt: row.expires_at.toISOString(),
  };
}

/** The page's content: the notebook, its blocks or cells, its latest execution and, while it runs, its stream. */
export async function notebookPage(
  db: Db,
  scope: Scope,
  notebookId: string,
  opts: { readOnly: boolean; expiresAt: string | null; publicUrl: string },
): Promise<NotebookPage> {
  const notebook = await requireNotebook(db, scope, notebookId);
  const jupyter = notebook.notebook_type === 1;
  const blocks = jupyter
    ? []
    : (await blocksOf(db, notebook.id)).map((b) => ({
        blockId: b.id,
        blockTitle: b.title,
        blockType: b.block_type,
        isDisabled: b.is_disabled,
      }));
  const cells = jupyter
    ? ((notebook.cells as StoredCell[] | null) ?? []).map((c) => ({
        cellId: c.id,
        cellType: c.cell_type,
        source: c.source,
        tags: tagsOf(c),
        outputs: (c.outputs ?? []) as Record<string, unknown>[],
      }))
    : [];
  const latest = await latestExecutionOf(db, notebook.id);
  let execution: NotebookPage['execution'] = null;
  if (latest) {
    let streamUrl: string | undefined;
    if (latest.status === 'Running') {
      const stream = `/api/${scope.tenantId}/${scope.projectId}/notebook/${notebook.id}/execution/${latest.id}/events`;
      const ticket = await mintStreamTicket(db, { tenantId: scope.tenantId, keyId: scope.actor }, scope, stream);
      streamUrl = `${opts.publicUrl}${ticket.stream}?ticket=${ticket.ticket}`;
    }
    execution = {
      executionId: latest.id,
      status: latest.status,
      startTime: isoOrNull(latest.started_at),
      endTime: isoOrNull(latest.ended_at),
      error: latest.error as Record<string, unknown> | null,
      parameters: latest.parameters,
      cellResults: latest.cell_results as Record<string, unknown>[],
      outputs: latest.outputs as Record<string, unknown>[],
      ...(streamUrl && { streamUrl }),
    };
  }
  return {
    notebookId: notebook.id,
    name: notebook.name,
    description: notebook.description,
    notebookType: jupyter ? 1 : 0,
    readOnly: opts.readOnly,
    expiresAt: opts.expiresAt,
    blocks,
    cells,
    execution,
  };
}

/** A file of the shared notebook's latest execution; any other artifact is not found. */
export async function sharedArtifact(
  db: Db,
  dataDir: string,
  shared: SharedNotebook,
  artifactId: string,
): Promise<StoredArtifact> {
  const latest = await latestExecutionOf(db, shared.notebookId);
  const outputs = (latest?.outputs ?? []) as { artifactId?: string }[];
  if (!outputs.some((o) => o.artifactId === artifactId)) {
    throw new NotFoundError('ARTIFACT_NOT_FOUND', 'ArtifactId', artifactId);
  }
  return getArtifact(db, dataDir, shared.scope, artifactId);
}

function tagsOf(cell: StoredCell): string[] {
  const tags = (cell.metadata as { tags?: unknown }).tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}
