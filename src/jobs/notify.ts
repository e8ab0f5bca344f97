import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Db } from '../store/db';
import { recordNotification, type JobRow } from '../store/jobs';

/** Sends a job's completion or failure mail; `SMTP_URL` unset means mails are only recorded. */
export interface Mailer {
  send(to: string[], subject: string, text: string): Promise<string>;
}

export function smtpMailer(url: string | undefined, from: string): Mailer | null {
  if (!url) return null;
  const transport = nodemailer.createTransport(url);
  return {
    async send(to, subject, text) {
      const info = await transport.sendMail({ from, to, subject, text });
      return String(info.response ?? 'sent');
    },
  };
}

/**
 * After a job ends: if its `notifications` ask for this outcome, mails the recipients (when SMTP
 * is configured) and records what happened on the job, sent or not. A mail that fails never
 * changes the job's outcome.
 */
export async function notifyJobEnded(db: Db, mailer: Mailer | null, logger: Logger, job: JobRow, publicUrl: string) {
  const settings = job.notifications;
  const event = job.status === 'Completed' ? 'onCompletion' : job.status === 'Failed' ? 'onFailure' : null;
  if (!event || !settings[event]) return;
  const recipients = settings.emailRecipients ?? [];
  let sent = false;
  let detail: string | null;
  if (recipients.length === 0) detail = 'No emailRecipients were given.';
  else if (!mailer) detail = 'SMTP_URL is not set; the mail was recorded, not sent.';
  else {
    try {
      const jobUrl = `${publicUrl}/api/${job.tenant_id}/${job.project_id}/execution/job/${job.id}`;
      const text = [
        `Job "${job.name}" (${job.job_type}) ${event === 'onCompletion' ? 'completed' : 'failed'}.`,
        job.status_reason ? `Reason: ${job.status_reason}` : '',
        `Status: ${jobUrl}`,
        `Results: ${jobUrl}/results`,
      ]
        .filter(Boolean)
        .join('\n');
      detail = await mailer.send(recipients, `[Assay] ${job.name}: ${job.status}`, text);
      sent = true;
    } catch (err) {
      detail = `SMTP error: ${(err as Error).message}`;
      logger.warn({ err, jobId: job.id }, 'job notification not sent');
    }
  }
  await recordNotification(db, job.id, { event, recipients, at: new Date().toISOString(), sent, detail });
}
