/** Executions of notebooks, with their per-block results and outputs. */
export const sql = `
CREATE TABLE executions (
  id uuid PRIMARY KEY,
  notebook_id uuid NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  job_id uuid NOT NULL,
  status text NOT NULL,
  started_at timestamptz,
  ended_at timestamptz,
  parameters jsonb NOT NULL DEFAULT '{}',
  cell_results jsonb NOT NULL DEFAULT '[]',
  outputs jsonb NOT NULL DEFAULT '[]',
  error jsonb,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);
CREATE INDEX executions_notebook ON executions (notebook_id, created_at);
`;
