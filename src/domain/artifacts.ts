import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as store from '../store/artifacts';
import type { Db } from '../store/db';
import { NotFoundError } from './errors';
import { moveFile } from './files';
import { LostJobError } from './jobErrors';
import { reserveStorage, tenantOfProject } from './storage';
import type { Scope } from './scope';

/** A stored artifact: what to send and how to name it. */
export interface StoredArtifact {
  id: string;
  path: string;
  fileName: string;
  contentType: string;
  sizeBytes: number;
  sha256: string;
}

/** A job run's right to write: its job id and attempt. A worker that lost its job cannot store files for it. */
export interface ArtifactFence {
  jobId: string;
  attempt: number;
  /** The tenant's stored-bytes quota its outputs are held to (`TENANT_STORAGE_LIMIT_BYTES`; absent or 0: none). */
  storageLimitBytes?: number;
}

/** Where artifacts live under `DATA_DIR`: by id only, never by a name a client chose. */
function artifactPath(dataDir: string, id: string): string {
  return path.join(dataDir, 'artifacts', id);
}

/** Stores content as an artifact of a project (and of an execution), with its size and sha256. */
export async function storeArtifact(
  db: Db,
  dataDir: string,
  projectId: string,
  a: {
    /** The bytes, or a file of the caller's that is moved into place (large outputs never sit in memory). */
    content: string | Buffer | { file: string };
    fileName: string;
    contentType: string;
    kind: string;
    title: string;
    executionId?: string;
    /** Written for a job run: only while the run still holds the job. */
    fence?: ArtifactFence;
  },
): Promise<StoredArtifact> {
  const id = randomUUID();
  const file = artifactPath(dataDir, id);
  const quota = a.fence?.storageLimitBytes;
  const what = `the output '${a.fileName}'`;
  const tenantId = quota ? await tenantOfProject(db, projectId) : '';
  // Checked before writing, so an output over the quota is never written; checked again with the insert.
  if (quota) await reserveStorage(db, tenantId, contentSize(a.content), quota, what);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let sha256: string;
  let size: number;
  if (typeof a.content === 'string' || Buffer.isBuffer(a.content)) {
    const content = typeof a.content === 'string' ? Buffer.from(a.content) : a.content;
    fs.writeFileSync(file, content);
    sha256 = createHash('sha256').update(content).digest('hex');
    size = content.length;
  } else {
    const hash = createHash('sha256');
    for await (const chunk of fs.createReadStream(a.content.file)) hash.update(chunk as Buffer);
    sha256 = hash.digest('hex');
    moveFile(a.content.file, file);
    size = fs.statSync(file).size;
  }
  try {
    await db.transaction(async (tx) => {
      if (quota) await reserveStorage(tx, tenantId, size, quota, what);
      const recorded = await store.insertArtifact(
        tx,
        {
          id,
          project_id: projectId,
          execution_id: a.executionId ?? null,
          job_id: a.fence?.jobId ?? null,
          kind: a.kind,
          title: a.title,
          file_name: a.fileName,
          content_type: a.contentType,
          size_bytes: size,
          sha256,
          created_at: new Date(),
        },
        a.fence ?? null,
      );
      if (!recorded) throw new LostJobError(a.fence!.jobId);
    });
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  }
  return { id, path: file, fileName: a.fileName, contentType: a.contentType, sizeBytes: size, sha256 };
}

function contentSize(content: string | Buffer | { file: string }): number {
  if (typeof content === 'string') return Buffer.byteLength(content);
  return Buffer.isBuffer(content) ? content.length : fs.statSync(content.file).size;
}

/** An artifact of the project, or 404 (also for another project's). */
export async function getArtifact(db: Db, dataDir: string, scope: Scope, id: string): Promise<StoredArtifact> {
  const r = await store.findArtifact(db, scope.projectId, id);
  if (!r) throw new NotFoundError('ARTIFACT_NOT_FOUND', 'ArtifactId', id);
  const file = artifactPath(dataDir, id);
  // A row whose file went (an execution's outputs being deleted) is no artifact any more.
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) throw new NotFoundError('ARTIFACT_NOT_FOUND', 'ArtifactId', id);
  return {
    id,
    path: file,
    fileName: r.file_name,
    contentType: r.content_type,
    sizeBytes: stat.size,
    sha256: r.sha256,
  };
}

/** The URL clients download an artifact from. */
export function artifactUrl(publicUrl: string, scope: Scope, id: string): string {
  return `${publicUrl}/api/${scope.tenantId}/${scope.projectId}/artifact/${id}`;
}

/** Deletes artifacts, rows and files (a run taking back what it stored before it failed). */
export async function deleteArtifacts(db: Db, dataDir: string, ids: string[]): Promise<void> {
  await store.deleteArtifacts(db, ids);
  removeArtifactFiles(dataDir, ids);
}

/** Removes the files of deleted artifacts. */
export function removeArtifactFiles(dataDir: string, ids: string[]): void {
  for (const id of ids) fs.rmSync(artifactPath(dataDir, id), { force: true });
}
