/** A Server-Sent Events client for tests: reads a stream until it closes, a condition holds, or time runs out. */

export interface SseEvent {
  id: string;
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

export interface SseRead {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Comment lines (`: keep-alive`), without the colon. */
  comments: string[];
  /** The server ended the stream (rather than the reader stopping). */
  closedByServer: boolean;
  /** The body when the answer was not a stream (an error envelope). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body?: any;
}

export async function readEvents(
  url: string,
  opts: {
    headers?: Record<string, string>;
    /** Stop reading once this holds. */
    until?: (events: SseEvent[], comments: string[]) => boolean;
    timeoutMs?: number;
    /** Called once the stream has opened (to start work whose events it should see). */
    onOpen?: () => void | Promise<void>;
  } = {},
): Promise<SseRead> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 30_000);
  const res = await fetch(url, { headers: opts.headers, signal: controller.signal });
  const result: SseRead = { status: res.status, headers: res.headers, events: [], comments: [], closedByServer: false };
  if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    clearTimeout(timer);
    const text = await res.text();
    result.body = text ? JSON.parse(text) : undefined;
    return result;
  }
  await opts.onOpen?.();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: Partial<SseEvent> = {};
        for (const line of frame.split('\n')) {
          if (line.startsWith(':')) result.comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('event: ')) event.event = line.slice(7);
          else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
        }
        if (event.event) result.events.push(event as SseEvent);
      }
      if (opts.until?.(result.events, result.comments)) {
        controller.abort();
        return result;
      }
    }
    result.closedByServer = true;
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    if (!opts.until?.(result.events, result.comments))
      throw new Error(`stream read timed out with ${result.events.length} events`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return result;
}
