/** Read-only links to a notebook's page, for people without an API key; a link is its token's hash. */
export const sql = `
CREATE TABLE share_links (
  id uuid PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  notebook_id uuid NOT NULL REFERENCES notebooks(id) ON DELETE CASCADE,
  created_by uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX share_links_notebook ON share_links (notebook_id);
`;
