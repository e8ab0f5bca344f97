/** Tenants, keys, projects, datasets, investigations, notebooks and blocks. */
export const sql = `
CREATE TABLE tenants (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  token_prefix text NOT NULL,
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);

CREATE TABLE projects (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);
CREATE INDEX projects_tenant ON projects (tenant_id, created_at);

CREATE TABLE datasets (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name text NOT NULL,
  source_format text NOT NULL,
  original_file_name text NOT NULL,
  size_bytes bigint NOT NULL,
  sha256 text NOT NULL,
  status text NOT NULL,
  column_mapping jsonb,
  stats jsonb,
  attributes jsonb NOT NULL DEFAULT '[]',
  import_warnings jsonb NOT NULL DEFAULT '{"invalidRowCount": 0, "warnings": []}',
  created_at timestamptz NOT NULL,
  created_by text NOT NULL
);
CREATE INDEX datasets_project ON datasets (project_id, created_at);

CREATE TABLE investigations (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  dataset_id uuid NOT NULL REFERENCES datasets(id),
  name text NOT NULL,
  description text,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  modified_at timestamptz NOT NULL,
  modified_by text
);
CREATE INDEX investigations_project ON investigations (project_id, created_at);

CREATE TABLE notebooks (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  investigation_id uuid REFERENCES investigations(id) ON DELETE CASCADE,
  notebook_type smallint NOT NULL CHECK (notebook_type IN (0, 1)),
  name text NOT NULL,
  description text,
  notebook_order double precision NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'Ready',
  kernel_type text,
  notebook_version text NOT NULL DEFAULT '1.0.0',
  integration jsonb,
  environment jsonb,
  cells jsonb,
  nb_metadata jsonb,
  last_execution_seconds double precision NOT NULL DEFAULT 0,
  last_execution_at timestamptz,
  execution_count integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  modified_at timestamptz NOT NULL,
  modified_by text,
  -- Standard notebooks live in an investigation, Jupyter notebooks do not.
  CHECK ((notebook_type = 0) = (investigation_id IS NOT NULL))
);
CREATE INDEX notebooks_project ON notebooks (project_id, created_at);
-- Names are unique within an investigation, whatever their case.
CREATE UNIQUE INDEX notebooks_name_in_investigation ON notebooks (investigation_id, lower(name)) WHERE investigation_id IS NOT NULL;

CREATE TABLE blocks (
  id uuid PRIMARY KEY,
  notebook_id uuid NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  block_type text NOT NULL,
  title text NOT NULL,
  description text,
  block_order integer NOT NULL,
  configuration text NOT NULL,
  is_disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  created_by text NOT NULL,
  modified_at timestamptz NOT NULL,
  modified_by text,
  last_execution_at timestamptz,
  last_execution_status text,
  execution_count integer NOT NULL DEFAULT 0,
  last_execution jsonb
);
CREATE INDEX blocks_notebook ON blocks (notebook_id, block_order);
`;
