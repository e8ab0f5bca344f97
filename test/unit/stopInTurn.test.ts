import { stopInTurn } from '../../src/server';

describe('stopInTurn: every shutdown step runs, whichever fail', () => {
  test('all steps run in turn and it resolves when none fails', async () => {
    const ran: string[] = [];
    await stopInTurn([
      ['server', () => void ran.push('server')],
      ['worker', async () => void ran.push('worker')],
      ['store', () => void ran.push('store')],
    ]);
    expect(ran).toEqual(['server', 'worker', 'store']);
  });

  test('a failed step does not skip the later ones; the error names each failed step', async () => {
    const ran: string[] = [];
    const storeClosed = new Error('PGlite is closed');
    const engineGone = new Error('engine is gone');
    const stopping = stopInTurn([
      [
        'worker',
        async () => {
          ran.push('worker');
          throw storeClosed;
        },
      ],
      ['kernels', async () => void ran.push('kernels')],
      [
        'engine',
        () => {
          ran.push('engine');
          throw engineGone;
        },
      ],
      ['store', () => void ran.push('store')],
    ]);
    await expect(stopping).rejects.toThrow('Stopping failed at worker: PGlite is closed; engine: engine is gone');
    await expect(stopping).rejects.toMatchObject({ errors: [storeClosed, engineGone] });
    expect(ran).toEqual(['worker', 'kernels', 'engine', 'store']);
  });
});
