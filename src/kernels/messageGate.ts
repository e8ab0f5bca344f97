import { ServerConnection, type KernelMessage } from '@jupyterlab/services';

/**
 * The gate every kernel message of a run passes before @jupyterlab/services sees it. A kernel can
 * take over its own server and write any frame, so nothing in one is trusted: the frame's layout
 * is checked before a byte of it is copied, headers must be small, only outputs may be large and
 * only while the run's output budget lasts (beyond it their content is not even parsed),
 * `transient` (display ids, which the library would keep for the whole run) and binary buffers
 * are dropped, and the run's total of received bytes is bounded. A frame that breaks these rules
 * throws, which ends the run (see connection.ts). Messages answering requests the service never
 * sent are harmless: the library routes them nowhere.
 */

/** Largest kernel message accepted on a websocket; a bigger frame ends the run. */
export const MAX_KERNEL_MESSAGE_BYTES = 4 * 1024 * 1024;
/** Outputs one run keeps, whatever their size. */
export const MAX_OUTPUTS_PER_RUN = 2_000;
/** Largest header, parent header or other small part of a message. */
const MAX_HEADER_BYTES = 16 * 1024;
/** Largest message that is not an output (status, replies, execute_input, comms). */
const MAX_OTHER_MESSAGE_BYTES = 64 * 1024;
/** Binary buffers a frame may declare (none are kept). */
const MAX_BUFFERS = 16;
const V1 = 'v1.kernel.websocket.jupyter.org';

/** Messages that carry cell output, and what replaces their content beyond the budget. */
const OUTPUT_STUBS: Record<string, () => Record<string, unknown>> = {
  stream: () => ({ name: 'stdout', text: '' }),
  display_data: () => ({ data: {}, metadata: {} }),
  update_display_data: () => ({ data: {}, metadata: {} }),
  execute_result: () => ({ data: {}, metadata: {}, execution_count: 0 }),
  error: () => ({ ename: 'OutputLimit', evalue: 'the error did not fit the output limit', traceback: [] }),
};

/** Thrown for a frame that breaks the rules; ends the run. */
export class KernelProtocolError extends Error {}

export class KernelMessageGate {
  private received = 0;
  private outputBytes: number;
  private outputs = MAX_OUTPUTS_PER_RUN;
  /** Contents put in place of outputs beyond the budget: the run notes once that output was dropped. */
  readonly dropped = new WeakSet<object>();
  private readonly base = ServerConnection.makeSettings().serializer;

  constructor(private readonly limits: { outputBytes: number; receivedBytes: number }) {
    this.outputBytes = limits.outputBytes;
  }

  /** The serializer for the connection's settings. */
  serializer() {
    return {
      serialize: (msg: KernelMessage.IMessage, protocol?: string) => this.base.serialize(msg, protocol),
      deserialize: (data: ArrayBuffer | string, protocol?: string) => this.admit(data, protocol),
    };
  }

  private admit(data: ArrayBuffer | string, protocol?: string): KernelMessage.IMessage {
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    this.received += bytes;
    if (this.received > this.limits.receivedBytes) {
      throw new KernelProtocolError(`the kernel sent more than ${this.limits.receivedBytes} bytes in one run`);
    }
    const msg = protocol === V1 && typeof data !== 'string' ? this.admitV1(data) : this.admitText(String(data), bytes);
    const content = msg.content as Record<string, unknown>;
    if (content && typeof content === 'object') delete content.transient;
    return msg;
  }

  /** A `v1.kernel.websocket.jupyter.org` frame: offsets, then channel, header, parent, metadata, content, buffers. */
  private admitV1(data: ArrayBuffer): KernelMessage.IMessage {
    const view = new DataView(data);
    if (data.byteLength < 8) throw new KernelProtocolError('a kernel frame too short to read');
    const count = Number(view.getBigUint64(0, true));
    if (count < 6 || count > 6 + MAX_BUFFERS || data.byteLength < 8 * (count + 1)) {
      throw new KernelProtocolError(`a kernel frame with ${count} offsets`);
    }
    const offsets: number[] = [];
    for (let i = 0; i < count; i++) offsets.push(Number(view.getBigUint64(8 * (i + 1), true)));
    const ordered = offsets.every((o, i) => (i === 0 ? o === 8 * (count + 1) : o >= offsets[i - 1]));
    if (!ordered || offsets[count - 1] > data.byteLength) {
      throw new KernelProtocolError('a kernel frame whose parts overlap or leave it');
    }
    const part = (i: number) => new Uint8Array(data, offsets[i], offsets[i + 1] - offsets[i]);
    const small = (i: number, what: string) => {
      const bytes = part(i);
      if (bytes.length > MAX_HEADER_BYTES) throw new KernelProtocolError(`a kernel message with a ${what} over 16 KB`);
      return Buffer.from(bytes).toString('utf8');
    };
    const channel = small(0, 'channel');
    const header = parseJson(small(1, 'header')) as KernelMessage.IHeader;
    const parent = parseJson(small(2, 'parent header'));
    const type = String((header as { msg_type?: unknown })?.msg_type);
    const size = part(3).length + part(4).length;
    const content = this.contentFor(type, size, () => parseJson(Buffer.from(part(4)).toString('utf8')));
    const metadata = content.kept ? parseJson(Buffer.from(part(3)).toString('utf8')) : {};
    return { channel, header, parent_header: parent, metadata, content: content.value, buffers: [] } as never;
  }

  /** A frame of the default protocol: the whole message as JSON. */
  private admitText(text: string, bytes: number): KernelMessage.IMessage {
    const msg = parseJson(text) as Record<string, unknown>;
    if (!msg || typeof msg !== 'object') throw new KernelProtocolError('a kernel message that is not an object');
    const type = String((msg.header as { msg_type?: unknown } | undefined)?.msg_type);
    const content = this.contentFor(type, bytes, () => msg.content);
    return { ...msg, content: content.value, metadata: content.kept ? msg.metadata : {}, buffers: [] } as never;
  }

  /** The content to hand on: an output within the budget, a stub beyond it, anything else if small. */
  private contentFor(type: string, size: number, parse: () => unknown): { value: unknown; kept: boolean } {
    const stub = OUTPUT_STUBS[type];
    if (!stub) {
      if (size > MAX_OTHER_MESSAGE_BYTES) throw new KernelProtocolError(`a '${type}' kernel message over 64 KB`);
      return { value: parse(), kept: true };
    }
    const isError = type === 'error' && size <= MAX_OTHER_MESSAGE_BYTES;
    if (!isError && (this.outputs === 0 || size > this.outputBytes)) {
      this.outputs = 0; // once over, every later output is dropped too, as the note says
      const value = stub();
      this.dropped.add(value);
      return { value, kept: false };
    }
    this.outputs = Math.max(0, this.outputs - 1);
    this.outputBytes -= size;
    return { value: parse(), kept: true };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new KernelProtocolError('a kernel message that is not JSON');
  }
}
