/**
 * What happened to jobs and executions, in the order it happened: the history that event
 * streams replay and resume from (`seq` is the stream's event id), and the job's log lines.
 */
export const sql = `
CREATE TABLE events (
  seq bigserial PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  job_id uuid REFERENCES jobs(id) ON DELETE CASCADE,
  execution_id uuid,
  notebook_id uuid,
  type text NOT NULL,
  data jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_project ON events (project_id, seq);
CREATE INDEX events_job ON events (job_id, seq);
CREATE INDEX events_execution ON events (execution_id, seq);

CREATE TABLE stream_tickets (
  ticket_hash text PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  key_id uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  stream text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
`;
