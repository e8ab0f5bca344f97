/**
 * Jobs, the workers that run them, and links from executions and artifacts to their job. The
 * queue itself (delivery, priorities, heartbeats) is pg-boss's own schema; these rows are what
 * the API reports, fenced by `attempt` so a worker that lost its job cannot write to it.
 */
export const sql = `
CREATE TABLE jobs (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  job_type text NOT NULL,
  name text NOT NULL,
  description text,
  priority text NOT NULL,
  priority_rank integer NOT NULL,
  status text NOT NULL,
  status_reason text,
  resource_type text NOT NULL,
  resource_id uuid NOT NULL,
  resource_name text,
  parameters jsonb NOT NULL DEFAULT '{}',
  scheduling jsonb NOT NULL DEFAULT '{}',
  notifications jsonb NOT NULL DEFAULT '{}',
  notified jsonb NOT NULL DEFAULT '[]',
  submitted_by text NOT NULL,
  created_at timestamptz NOT NULL,
  run_after timestamptz NOT NULL,
  started_at timestamptz,
  ended_at timestamptz,
  updated_at timestamptz NOT NULL,
  attempt integer NOT NULL DEFAULT 0,
  worker_id text,
  heartbeat_at timestamptz,
  progress jsonb NOT NULL DEFAULT '{}',
  usage jsonb NOT NULL DEFAULT '{}',
  error jsonb,
  outputs jsonb NOT NULL DEFAULT '[]',
  quality jsonb,
  cancel_request jsonb,
  retry_of uuid REFERENCES jobs(id) ON DELETE SET NULL,
  retry_reason text,
  idempotency_key text,
  request_hash text,
  execution_id uuid
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_project ON jobs (project_id, created_at);
CREATE INDEX jobs_waiting ON jobs (priority_rank DESC, created_at) WHERE status = 'Queued';
CREATE INDEX jobs_running ON jobs (heartbeat_at) WHERE status = 'Running';
CREATE INDEX jobs_ended ON jobs (tenant_id, ended_at);
CREATE INDEX jobs_completed ON jobs (job_type, ended_at) WHERE status = 'Completed';

CREATE TABLE workers (
  id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  capacity integer NOT NULL,
  active_jobs integer NOT NULL DEFAULT 0,
  cpu_percent real NOT NULL DEFAULT 0,
  memory_percent real NOT NULL DEFAULT 0,
  memory_bytes bigint NOT NULL DEFAULT 0,
  total_memory_bytes bigint NOT NULL DEFAULT 0,
  cores integer NOT NULL DEFAULT 1,
  started_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  stopped_at timestamptz
);

ALTER TABLE notebooks ADD COLUMN schedule_execution text;
ALTER TABLE executions ADD COLUMN products jsonb NOT NULL DEFAULT '{}';
ALTER TABLE executions ADD COLUMN resources jsonb;

ALTER TABLE artifacts ADD COLUMN job_id uuid REFERENCES jobs(id) ON DELETE CASCADE;
CREATE INDEX artifacts_job ON artifacts (job_id);
`;
