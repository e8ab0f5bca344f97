/** One Server-Sent Event as read off the wire. */
export interface SseFrame {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Reads Server-Sent Events from a response body as the HTML standard describes them: lines end in
 * LF, CRLF or CR; `:` starts a comment (the server's keep-alives); a blank line ends an event;
 * an event without `data` is not dispatched. Yields each event as it is complete.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  let hasData = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let start = 0;
      for (;;) {
        const lf = buffer.indexOf('\n', start);
        const cr = buffer.indexOf('\r', start);
        let end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
        if (end === -1) break;
        // A CR at the very end of the buffer may be the first half of a CRLF: wait for the next chunk.
        if (end === cr && end === buffer.length - 1) break;
        const line = buffer.slice(start, end);
        if (end === cr && buffer[end + 1] === '\n') end += 1;
        start = end + 1;
        if (line === '') {
          if (hasData) yield { id, event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          hasData = false;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') {
          data.push(value);
          hasData = true;
        } else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await reader.cancel().catch(() => undefined);
  }
}
