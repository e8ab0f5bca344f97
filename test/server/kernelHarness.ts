import fs from 'node:fs';
import { base, eventually, type Tenant, type TestApp } from './harness';

/** What the Jupyter tests do again and again: make a notebook, execute it, wait, read its results. */
export function kernelCalls(app: TestApp, datasetId: () => string) {
  const notebook = async (cells: string[], tenant: Tenant, extra: Record<string, unknown> = {}) => {
    const res = await app.call('POST', `${base(tenant)}/notebook`, {
      token: tenant.token,
      body: {
        notebookName: `N ${Math.random()}`,
        initialCells: cells.map((content, i) => ({
          cellType: 'code',
          content,
          ...(i === 0 && content.startsWith('# parameters') ? { tags: ['parameters'] } : {}),
        })),
        integration: { datasetBinding: datasetId() },
        ...extra,
      },
    });
    if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.text}`);
    return res.body.notebookId as string;
  };
  const execute = async (id: string, tenant: Tenant, body: Record<string, unknown> = {}) => {
    const res = await app.call('POST', `${base(tenant)}/notebook/${id}/execute`, { token: tenant.token, body });
    if (res.status !== 202) throw new Error(`execute answered ${res.status}: ${res.text}`);
    return res.body as { executionId: string; jobId: string };
  };
  const finished = (id: string, executionId: string, tenant: Tenant, timeoutMs = 60_000) =>
    eventually(
      `execution ${executionId}`,
      async () => {
        const res = await app.call('GET', `${base(tenant)}/notebook/${id}/execution/${executionId}`, {
          token: tenant.token,
        });
        return res.body.status === 'Running' ? undefined : res.body;
      },
      timeoutMs,
      200,
    );
  const results = async (id: string, executionId: string, tenant: Tenant) =>
    (
      await app.call('GET', `${base(tenant)}/notebook/${id}/execution/${executionId}/results?format=detailed`, {
        token: tenant.token,
      })
    ).body;
  /** The text a run printed to stdout. */
  const printed = async (id: string, executionId: string, tenant: Tenant): Promise<string> =>
    (await results(id, executionId, tenant)).outputs
      .filter((o: { outputType: string; title?: string }) => o.outputType === 'stream' && o.title?.startsWith('stdout'))
      .map((o: { content: string }) => o.content)
      .join('');
  /** Runs cells to the end and answers the finished execution. */
  const runCells = async (cells: string[], tenant: Tenant, body: Record<string, unknown> = {}) => {
    const id = await notebook(cells, tenant);
    const run = await execute(id, tenant, body);
    return { id, ...run, done: await finished(id, run.executionId, tenant) };
  };
  return { notebook, execute, finished, results, printed, runCells };
}

/** Host processes whose command line contains `marker` (any user, any namespace). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
