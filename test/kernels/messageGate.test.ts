import { ServerConnection, type KernelMessage } from '@jupyterlab/services';
import { KernelMessageGate, MAX_OUTPUTS_PER_RUN } from '../../src/kernels/messageGate';

const V1 = 'v1.kernel.websocket.jupyter.org';
const base = ServerConnection.makeSettings().serializer;

const header = (msgType: string, msgId = `m-${Math.random()}`) => ({
  msg_id: msgId,
  msg_type: msgType,
  username: 'u',
  session: 's',
  date: '',
  version: '5.3',
});
/** A message as a kernel sends it, answering `parent` (an id the service sent, or not). */
const message = (msgType: string, content: object, parent = 'request', channel = 'iopub', extra = {}) =>
  ({
    channel,
    header: header(msgType),
    parent_header: parent ? header('execute_request', parent) : {},
    metadata: {},
    content,
    buffers: [],
    ...extra,
  }) as unknown as KernelMessage.IMessage;
const frame = (msg: KernelMessage.IMessage) => base.serialize(msg, V1) as ArrayBuffer;

/** A gate with these limits, as a run's connection uses it. */
function gate(outputBytes = 1_000_000, receivedBytes = 64 * 1024 * 1024) {
  return new KernelMessageGate({ outputBytes, receivedBytes }).serializer();
}

describe('the kernel message gate', () => {
  test('an output passes without its transient part (display ids) or buffers', () => {
    const msg = message('display_data', { data: { 'text/plain': 'x' }, metadata: {}, transient: { display_id: 'd' } });
    const got = gate().deserialize(frame(msg), V1);
    expect(got.content).toEqual({ data: { 'text/plain': 'x' }, metadata: {} });
    expect(got.buffers).toEqual([]);
  });

  test('the JSON protocol is checked the same way', () => {
    const msg = message('stream', { name: 'stdout', text: 'hi', transient: {} });
    expect(gate().deserialize(JSON.stringify(msg)).content).toEqual({ name: 'stdout', text: 'hi' });
  });

  test.each([
    ['is a reply over 64 KB', message('execute_input', { code: 'x'.repeat(70_000), execution_count: 1 })],
    [
      'has a header over 16 KB',
      message('stream', { name: 'stdout', text: 'x' }, 'request', 'iopub', {
        header: header('stream', 'x'.repeat(20_000)),
      }),
    ],
  ])('a message that %s ends the run', (_name, msg) => {
    expect(() => gate().deserialize(frame(msg), V1)).toThrow();
  });

  test('a frame whose offsets overlap, leave it, or are too many ends the run before anything is copied', () => {
    const good = new Uint8Array(frame(message('stream', { name: 'stdout', text: 'x' })));
    const patched = (offsetIndex: number, value: bigint) => {
      const copy = good.slice();
      new DataView(copy.buffer).setBigUint64(8 * offsetIndex, value, true);
      return copy.buffer;
    };
    expect(() => gate().deserialize(patched(3, 0n), V1)).toThrow(/overlap/); // goes backwards
    expect(() => gate().deserialize(patched(6, 10n ** 9n), V1)).toThrow(/overlap or leave/);
    expect(() => gate().deserialize(patched(0, 300n), V1)).toThrow(/offsets/);
    expect(() => gate().deserialize(new ArrayBuffer(4), V1)).toThrow(/too short/);
  });

  test('outputs beyond the byte budget get an empty stub, unparsed, and so does every later one', () => {
    const g = gate(100);
    const big = g.deserialize(frame(message('stream', { name: 'stdout', text: 'x'.repeat(200) })), V1);
    expect(big.content).toEqual({ name: 'stdout', text: '' });
    const small = g.deserialize(frame(message('stream', { name: 'stdout', text: 'y' })), V1);
    expect(small.content).toEqual({ name: 'stdout', text: '' });
    // An error stays whole, if small: the run's failure must be told.
    const error = g.deserialize(frame(message('error', { ename: 'E', evalue: 'v', traceback: [] })), V1);
    expect(error.content).toMatchObject({ ename: 'E' });
  });

  test(`a run keeps at most ${MAX_OUTPUTS_PER_RUN} outputs`, () => {
    const g = gate();
    const texts = Array.from(
      { length: MAX_OUTPUTS_PER_RUN + 1 },
      (_, i) =>
        (g.deserialize(frame(message('stream', { name: 'stdout', text: String(i) })), V1).content as { text: string })
          .text,
    );
    expect(texts[MAX_OUTPUTS_PER_RUN - 1]).toBe(String(MAX_OUTPUTS_PER_RUN - 1));
    expect(texts[MAX_OUTPUTS_PER_RUN]).toBe('');
  });

  test('all a run receives is bounded', () => {
    const g = gate(10_000_000, 1_000);
    const msg = message('status', { execution_state: 'busy' });
    for (let i = 0; i < 2; i++) g.deserialize(frame(msg), V1);
    expect(() => {
      for (let i = 0; i < 10; i++) g.deserialize(frame(msg), V1);
    }).toThrow(/more than 1000 bytes/);
  });
});
