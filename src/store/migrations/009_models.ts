/**
 * Process models of a project (issue 15): the normalised Petri net as JSON, its figures, the
 * original file as uploaded (or the PNML of a discovered model), and its drawing.
 */
export const sql = `
CREATE TABLE models (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  name text NOT NULL,
  format text NOT NULL CHECK (format IN ('pnml', 'bpmn')),
  source text NOT NULL CHECK (source IN ('uploaded', 'discovered')),
  net jsonb NOT NULL,
  places integer NOT NULL,
  transitions integer NOT NULL,
  visible_transitions integer NOT NULL,
  activities jsonb NOT NULL,
  original_file_name text,
  original bytea NOT NULL,
  svg text NOT NULL,
  size_bytes bigint NOT NULL,
  stored_bytes bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL
);
CREATE INDEX models_project ON models (project_id, created_at);
`;
