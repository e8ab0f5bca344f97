/**
 * Change notices for the read caches of every process on the database (src/domain/readCache.ts):
 * a NOTIFY on `assay_changes_<schema>` whenever a notebook's answer or an API key's validity may
 * have changed, from whichever process, code path or cascade made the change. Triggers rather than
 * calls in the code, so that no write path (a worker's run, a tenant deleted with its keys) can be missed.
 *
 * - `notebook:<id>`: the notebook row changed in any way, was inserted or deleted, or one of its
 *   blocks was inserted or deleted (the answer carries `blockCount`). A block's own update does not
 *   change the notebook's answer and sends nothing.
 * - `key:<token hash>`: an API key was revoked or deleted.
 *
 * NOTIFY is delivered at commit, and identical notices of one transaction are sent once.
 */
export const sql = `
CREATE FUNCTION assay_notice(kind text, id text, schema_name text) RETURNS void LANGUAGE sql AS $$
  SELECT pg_notify(left('assay_changes_' || schema_name, 63), kind || ':' || id)
$$;

CREATE FUNCTION notebooks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM assay_notice('notebook', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text, TG_TABLE_SCHEMA);
  RETURN NULL;
END $$;
CREATE TRIGGER notebooks_changed AFTER INSERT OR UPDATE OR DELETE ON notebooks
  FOR EACH ROW EXECUTE FUNCTION notebooks_changed();

CREATE FUNCTION blocks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM assay_notice('notebook', (CASE WHEN TG_OP = 'DELETE' THEN OLD.notebook_id ELSE NEW.notebook_id END)::text,
    TG_TABLE_SCHEMA);
  RETURN NULL;
END $$;
CREATE TRIGGER blocks_changed AFTER INSERT OR DELETE ON blocks
  FOR EACH ROW EXECUTE FUNCTION blocks_changed();

CREATE FUNCTION api_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM assay_notice('key', OLD.token_hash, TG_TABLE_SCHEMA);
  RETURN NULL;
END $$;
CREATE TRIGGER api_keys_revoked AFTER UPDATE ON api_keys
  FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at) EXECUTE FUNCTION api_keys_changed();
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION api_keys_changed();
`;
