/** Files produced by executions and jobs, downloaded through one operation. */
export const sql = `
CREATE TABLE artifacts (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  execution_id uuid REFERENCES executions(id) ON DELETE CASCADE,
  kind text NOT NULL,
  title text NOT NULL,
  file_name text NOT NULL,
  content_type text NOT NULL,
  size_bytes bigint NOT NULL,
  sha256 text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX artifacts_execution ON artifacts (execution_id);
`;
