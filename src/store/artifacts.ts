import type { Db } from './db';

/** Files produced by executions and jobs (their bytes are under DATA_DIR/artifacts, by id). */

export interface ArtifactRow {
  id: string;
  project_id: string;
  execution_id: string | null;
  job_id: string | null;
  kind: string;
  title: string;
  file_name: string;
  content_type: string;
  size_bytes: number;
  sha256: string;
  created_at: Date;
}

/**
 * Records an artifact; one of a job run only while that attempt still runs the job. False when
 * the run lost its job (nothing is recorded).
 */
export async function insertArtifact(db: Db, a: ArtifactRow, fence: { attempt: number } | null): Promise<boolean> {
  const inserted = await db.query(
    `INSERT INTO artifacts (id, project_id, execution_id, kind, title, file_name, content_type, size_bytes, sha256, created_at, job_id)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
     WHERE $11::uuid IS NULL OR EXISTS (SELECT 1 FROM jobs WHERE id = $11 AND attempt = $12 AND status = 'Running')
     RETURNING id`,
    [
      a.id,
      a.project_id,
      a.execution_id,
      a.kind,
      a.title,
      a.file_name,
      a.content_type,
      a.size_bytes,
      a.sha256,
      a.created_at,
      a.job_id,
      fence?.attempt ?? 0,
    ],
  );
  return inserted.length > 0;
}

export async function findArtifact(db: Db, projectId: string, id: string): Promise<ArtifactRow | null> {
  const [row] = await db.query<ArtifactRow>('SELECT * FROM artifacts WHERE id = $1 AND project_id = $2', [
    id,
    projectId,
  ]);
  return row ?? null;
}

export async function deleteArtifacts(db: Db, ids: string[]): Promise<void> {
  if (ids.length > 0) await db.query('DELETE FROM artifacts WHERE id = ANY($1::uuid[])', [ids]);
}

/** Deletes what one job wrote (a dead attempt's outputs, on takeover); answers their ids. */
export async function deleteArtifactsOfJob(db: Db, jobId: string): Promise<string[]> {
  const rows = await db.query<{ id: string }>('DELETE FROM artifacts WHERE job_id = $1 RETURNING id', [jobId]);
  return rows.map((r) => r.id);
}

// The ids of the artifacts a deletion is about to take with it: their rows go by foreign keys,
// their files must go by hand.

export async function artifactIdsOfProject(db: Db, projectId: string): Promise<string[]> {
  return ids(db, 'SELECT id FROM artifacts WHERE project_id = $1', [projectId]);
}

export async function artifactIdsOfInvestigation(db: Db, investigationId: string): Promise<string[]> {
  return ids(
    db,
    `SELECT a.id FROM artifacts a WHERE a.execution_id IN
       (SELECT e.id FROM executions e JOIN notebooks n ON n.id = e.notebook_id WHERE n.investigation_id = $1)`,
    [investigationId],
  );
}

export async function artifactIdsOfNotebook(db: Db, notebookId: string): Promise<string[]> {
  return ids(db, 'SELECT id FROM artifacts WHERE execution_id IN (SELECT id FROM executions WHERE notebook_id = $1)', [
    notebookId,
  ]);
}

export async function artifactIdsOfJob(db: Db, jobId: string): Promise<string[]> {
  return ids(db, 'SELECT id FROM artifacts WHERE job_id = $1', [jobId]);
}

/**
 * The bytes a tenant stores: the files of its datasets (original and Parquet), its artifacts, and
 * its process models (file, net and drawing, kept in the database), over all its projects.
 */
export async function storedBytesOfTenant(db: Db, tenantId: string): Promise<number> {
  const [row] = await db.query<{ used: number }>(
    `SELECT (SELECT coalesce(sum(d.stored_bytes), 0) FROM datasets d JOIN projects p ON p.id = d.project_id WHERE p.tenant_id = $1)
          + (SELECT coalesce(sum(a.size_bytes), 0) FROM artifacts a JOIN projects p ON p.id = a.project_id WHERE p.tenant_id = $1)
          + (SELECT coalesce(sum(m.stored_bytes), 0) FROM models m JOIN projects p ON p.id = m.project_id WHERE p.tenant_id = $1) AS used`,
    [tenantId],
  );
  return Number(row.used);
}

async function ids(db: Db, sql: string, params: unknown[]): Promise<string[]> {
  return (await db.query<{ id: string }>(sql, params)).map((r) => r.id);
}
