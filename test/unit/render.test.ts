import { renderOptionsOf, renderProcessMap, toDot, type ProcessMapDocument } from '../../src/engine/render';

const map: ProcessMapDocument = {
  nodes: [
    { activity: 'register', eventCount: 10 },
    { activity: 'check "twice"', eventCount: 6 },
    { activity: 'start', eventCount: 2 },
  ],
  edges: [
    { from: 'register', to: 'check "twice"', count: 6, meanDurationSeconds: 300 },
    { from: 'register', to: 'start', count: 2, meanDurationSeconds: 86400 * 3 },
    { from: 'check "twice"', to: 'start', count: 2, meanDurationSeconds: null },
  ],
  startActivities: { register: 10 },
  endActivities: { 'check "twice"': 4, start: 4, register: 2 },
};

describe('toDot: the drawing of a process map', () => {
  test('runs top to bottom, the start pinned to the top rank and the end to the bottom one', () => {
    const dot = toDot(map);
    expect(dot).toContain('rankdir=TB');
    expect(dot).toMatch(/\{ rank=source; "start_1" \[[^\]]*class="start"/);
    expect(dot).toMatch(/\{ rank=sink; "end" \[[^\]]*class="end"/);
  });

  test('an activity named like the start node keeps its own node', () => {
    const dot = toDot(map);
    expect(dot).toContain('"start" [label="start\\n2"');
    expect(dot).toContain('"start_1" -> "register"');
    expect(dot).toContain('"start" -> "end"');
  });

  test('names are quoted for DOT', () => {
    expect(toDot(map)).toContain('"check \\"twice\\"" [label="check \\"twice\\"\\n6"');
  });

  test('nodes are shaded by events: the most frequent darkest, with white text', () => {
    const dot = toDot(map);
    expect(dot).toContain('"register" [label="register\\n10", fillcolor="#1f4f8f", fontcolor="white"]');
    expect(dot).toMatch(/"start" \[label="start\\n2", fillcolor="#[0-9a-f]{6}", fontcolor="#1a1a1a"\]/);
  });

  test('frequency: edges labelled with their count, wider the more frequent', () => {
    const dot = toDot(map, { perspective: 'frequency', pathsPercent: 100 });
    expect(dot).toContain('"register" -> "check \\"twice\\"" [label="6", penwidth=5.00');
    expect(dot).toContain('"register" -> "start" [label="2", penwidth=2.20');
  });

  test('performance: edges labelled with their mean wait, coloured from light (short) to dark red (long)', () => {
    const dot = toDot(map, { perspective: 'performance', pathsPercent: 100 });
    expect(dot).toContain('"register" -> "check \\"twice\\"" [label="5.0 min", penwidth=1.00, color="#e9b96e"');
    expect(dot).toContain('"register" -> "start" [label="3.0 d", penwidth=4.00, color="#a50f15"');
    expect(dot).toContain('"check \\"twice\\"" -> "start" [label="n/a"');
  });

  test('says how much of the map it draws', () => {
    expect(toDot(map, { pathsPercent: 100 })).toContain(
      'label="3 of 3 activities, 3 of 3 transitions drawn (frequency)"',
    );
    expect(toDot(map, { activitiesPercent: 0, pathsPercent: 0 })).toContain(
      'label="1 of 3 activities, 0 of 3 transitions drawn (frequency)"',
    );
  });
});

describe('renderOptionsOf: a processMap configuration with the defaults filled in', () => {
  test.each<{ name: string; given: Record<string, unknown>; want: ReturnType<typeof renderOptionsOf> }>([
    {
      name: 'the defaults',
      given: { calculatorType: 'processMap' },
      want: { activitiesPercent: 100, pathsPercent: 20, minEdgeCount: 1, perspective: 'frequency' },
    },
    {
      name: 'every option given',
      given: {
        calculatorType: 'processMap',
        activitiesPercent: 50,
        pathsPercent: 0,
        minEdgeCount: 3,
        perspective: 'performance',
      },
      want: { activitiesPercent: 50, pathsPercent: 0, minEdgeCount: 3, perspective: 'performance' },
    },
  ])('$name', ({ given, want }) => {
    expect(renderOptionsOf(given)).toEqual(want);
  });
});

test('renderProcessMap draws an SVG with the start above the end', async () => {
  const svg = await renderProcessMap(map, { pathsPercent: 100 });
  const y = (cls: string) => {
    const node = new RegExp(`<g id="[^"]*" class="node ${cls}">[\\s\\S]*?<ellipse[^>]* cy="(-?[\\d.]+)"`).exec(svg);
    return Number(node?.[1]);
  };
  // SVG y grows downwards.
  expect(y('start')).toBeLessThan(y('end'));
});
