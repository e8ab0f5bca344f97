/**
 * What a dataset takes on disk (its original file and its Parquet events), for the tenants'
 * stored-bytes quota. Datasets from before count their original file only.
 */
export const sql = `
ALTER TABLE datasets ADD COLUMN stored_bytes bigint;
UPDATE datasets SET stored_bytes = size_bytes;
ALTER TABLE datasets ALTER COLUMN stored_bytes SET NOT NULL;
`;
