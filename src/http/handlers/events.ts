import type { AppDeps } from '../app';
import type { EventFeed } from '../../domain/eventFeed';
import * as events from '../../domain/events';
import { streamSubscribed } from '../metrics';
import { json, type RawReply } from '../reply';
import { eventStream, resumeFrom, StreamCounter } from '../streams';
import { scopeOf } from './common';
import type { OperationHandlers, OperationRequest } from './types';

/** What every stream operation's request has in common. */
type StreamRequest = Pick<OperationRequest<'streamProjectEvents'>, 'method' | 'params' | 'headers' | 'caller'> & {
  query: { lastEventId?: number };
};

/** Event streams, their tickets, and a job's log lines. */
export function eventHandlers({ db, config }: AppDeps, feed: EventFeed) {
  const counter = new StreamCounter(config.streamsPerKey);
  const settings = { perKey: config.streamsPerKey, heartbeatSeconds: config.streamHeartbeatSeconds };

  /** Plans the stream (404 when its resource is not there), counts it against the key, then opens it. */
  const open = async (ctx: StreamRequest, of: events.StreamOf): Promise<RawReply<200>> => {
    const scope = scopeOf(ctx);
    const plan = await events.planStream(db, scope, of);
    const headers = { 'Cache-Control': 'no-store' };
    // HEAD answers the stream's headers without opening it.
    if (ctx.method === 'HEAD') return { status: 200, contentType: 'text/event-stream; charset=utf-8', headers };
    const freePlace = counter.take(scope.actor);
    const unsubscribed = streamSubscribed();
    const release = () => {
      freePlace();
      unsubscribed();
    };
    try {
      const after = resumeFrom(ctx.headers['last-event-id'], ctx.query.lastEventId);
      return await eventStream(feed, plan, after, settings, release);
    } catch (err) {
      release();
      throw err;
    }
  };

  return {
    streamJobEvents: (ctx) => open(ctx, { kind: 'job', jobId: ctx.params.jobId }),
    streamExecutionEvents: (ctx) =>
      open(ctx, { kind: 'execution', notebookId: ctx.params.notebookId, executionId: ctx.params.executionId }),
    streamProjectEvents: (ctx) =>
      open(ctx, {
        kind: 'project',
        jobId: ctx.query.jobId,
        notebookId: ctx.query.notebookId,
        types: events.typesOf(ctx.query.type),
      }),
    createStreamTicket: async (ctx) => {
      const scope = scopeOf(ctx);
      const minted = await events.mintStreamTicket(db, ctx.caller!, scope, ctx.body.stream);
      const url = `${config.publicUrl}${minted.stream}?ticket=${minted.ticket}`;
      return json(201, { ...minted, url });
    },
    getJobLogs: async (ctx) => {
      const logs = await events.jobLogText(db, scopeOf(ctx), ctx.params.jobId, ctx.query.since, ctx.query.limit);
      return {
        status: 200,
        body: logs.text,
        contentType: 'text/plain; charset=utf-8',
        headers: { 'X-Next-Since': String(logs.next), 'Cache-Control': 'no-store' },
      };
    },
  } satisfies Partial<OperationHandlers>;
}
