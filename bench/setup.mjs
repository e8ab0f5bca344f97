import { Blob } from 'node:buffer';

/* global fetch, FormData */

const CSV = 'case,activity,time\n1,a,2024-01-01T00:00:00Z\n';

/**
 * Through the API, as a client would: a tiny dataset, an investigation on it and `count`
 * standard notebooks. Resolves with the notebook ids.
 */
export async function createNotebooks(server, count) {
  const api = apiOf(server);
  const dataset = await api('POST', '/dataset', uploadForm(), 201);
  const investigation = await api('POST', '/investigation', { name: 'bench', datasetId: dataset.datasetId }, 201);
  const ids = [];
  for (let i = 0; i < count; i++) {
    const notebook = await api(
      'POST',
      `/notebook/investigation/${investigation.investigationId}`,
      { name: `n${i}` },
      201,
    );
    ids.push(notebook.notebookId);
  }
  return ids;
}

/** The project's base path and the bearer header, for the load generator's requests. */
export function projectOf(server) {
  const { tenantId, projectId, token } = server.credentials;
  return { base: `/api/${tenantId}/${projectId}`, authorization: `Bearer ${token}` };
}

/** A JSON (or multipart) call that must answer `expected`; resolves with the parsed body. */
function apiOf(server) {
  const { base, authorization } = projectOf(server);
  return async (method, path, body, expected) => {
    const json = !(body instanceof FormData);
    const res = await fetch(`${server.url}${base}${path}`, {
      method,
      headers: { authorization, ...(json && { 'content-type': 'application/json' }) },
      body: json ? JSON.stringify(body) : body,
    });
    const text = await res.text();
    if (res.status !== expected) throw new Error(`setup: ${method} ${path} answered ${res.status}: ${text}`);
    return JSON.parse(text);
  };
}

function uploadForm() {
  const form = new FormData();
  form.append('file', new Blob([CSV], { type: 'text/csv' }), 'events.csv');
  form.append('caseIdColumn', 'case');
  form.append('activityColumn', 'activity');
  form.append('timestampColumn', 'time');
  return form;
}
