import type { Logger } from 'pino';
import { createJob } from '../domain/jobs';
import type { Db } from '../store/db';
import { NOTEBOOK_TYPE, scheduledNotebook, scheduledNotebooks } from '../store/notebooks';
import type { JobQueue } from './queue';

/**
 * Notebooks executed on a cron schedule (`scheduleExecution`): pg-boss keeps the schedules and
 * emits one tick per beat across all processes; each tick submits a job for the notebook as
 * `system`. A standard notebook runs as an Analysis job, a Jupyter notebook as a Notebook job.
 */
export async function startSchedules(db: Db, queue: JobQueue, logger: Logger): Promise<void> {
  // A schedule saved while the queue was unreachable is registered now; registering is idempotent.
  for (const nb of await scheduledNotebooks(db)) await syncNotebookSchedule(queue, nb.id, nb.cron);
  await queue.workTicks(async (key, data) => {
    const notebookId = String(data.notebookId);
    const nb = await scheduledNotebook(db, notebookId);
    if (!nb || !nb.cron) {
      // The notebook is gone or no longer scheduled: drop the stale schedule.
      await queue.unschedule(key);
      return;
    }
    try {
      await createJob(db, queue, {
        scope: { tenantId: nb.tenant_id, projectId: nb.project_id, actor: 'system' },
        submittedBy: 'system',
        request: {
          jobName: `Scheduled: ${nb.name}`,
          jobType: nb.notebook_type === NOTEBOOK_TYPE.standard ? 'Analysis' : 'Notebook',
          resource: { resourceType: 'Notebook', resourceId: notebookId },
          parameters: {},
        },
      });
    } catch (err) {
      logger.warn({ err, notebookId }, 'scheduled execution not submitted');
    }
  });
}

/** The schedule key of a notebook. */
function keyOf(notebookId: string): string {
  return `notebook.${notebookId}`;
}

/** Sets or clears a notebook's schedule after its `scheduleExecution` changed. */
export async function syncNotebookSchedule(queue: JobQueue, notebookId: string, cron: string | null): Promise<void> {
  if (cron) await queue.schedule(keyOf(notebookId), cron, { notebookId });
  else await queue.unschedule(keyOf(notebookId));
}
