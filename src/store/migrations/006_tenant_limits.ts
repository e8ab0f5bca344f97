/** A tenant's jobs in flight, counted on every submit for its queue limits. */
export const sql = `
CREATE INDEX jobs_tenant_in_flight ON jobs (tenant_id, job_type) WHERE status IN ('Queued', 'Running');
`;
