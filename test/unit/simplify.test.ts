import { KEEP_ALL, simplifyMap, type MapGraph, type SimplifyOptions } from '../../src/engine/simplify';

/**
 * A map from compact arcs: `a>b 8` a transition, `>a 10` cases starting with a, `a> 10` cases
 * ending with it. Activities count the cases passing through them (arcs in, starts included).
 */
function graph(arcs: string[], events: Record<string, number> = {}): MapGraph {
  const map: MapGraph = { nodes: [], edges: [], startActivities: {}, endActivities: {} };
  const inflow = new Map<string, number>();
  for (const spec of arcs) {
    const [path, n] = spec.split(' ');
    const [from, to] = path.split('>');
    const count = Number(n);
    if (from === '') map.startActivities[to] = count;
    else if (to === '') map.endActivities[from] = count;
    else map.edges.push({ from, to, count });
    for (const a of [from, to].filter(Boolean)) inflow.set(a, inflow.get(a) ?? 0);
    if (to !== '') inflow.set(to, inflow.get(to)! + count);
  }
  map.nodes = [...inflow].map(([activity, n]) => ({ activity, eventCount: events[activity] ?? n }));
  return map;
}

/** The kept arcs in the compact form, sorted. */
function arcsOf(map: MapGraph, options: Partial<SimplifyOptions>): string[] {
  return simplifyMap(map, { ...KEEP_ALL, ...options })
    .arcs.map((a) => `${a.from ?? ''}>${a.to ?? ''} ${a.count}`)
    .sort();
}

// start -> a -> b -> c -> end, with a rework loop on b, a shortcut a -> c and a rare detour through d.
const line = graph(['>a 10', 'a>b 8', 'b>b 3', 'b>c 8', 'a>c 1', 'a>d 1', 'd>c 1', 'c> 10']);

describe('simplifyMap: what the drawing of a process map keeps', () => {
  test.each<{ name: string; map: MapGraph; options: Partial<SimplifyOptions>; want: string[] }>([
    {
      name: '100 % of activities and paths keeps every arc',
      map: line,
      options: { activitiesPercent: 100, pathsPercent: 100 },
      want: ['>a 10', 'a>b 8', 'a>c 1', 'a>d 1', 'b>b 3', 'b>c 8', 'c> 10', 'd>c 1'],
    },
    {
      name: '0 % of paths keeps each activity its most frequent way in and way out',
      map: line,
      options: { pathsPercent: 0 },
      want: ['>a 10', 'a>b 8', 'a>d 1', 'b>c 8', 'c> 10', 'd>c 1'],
    },
    {
      name: 'a share of paths keeps the most frequent ones (5 of 8, rounded up), loops included',
      map: line,
      options: { pathsPercent: 60 },
      want: ['>a 10', 'a>b 8', 'a>d 1', 'b>b 3', 'b>c 8', 'c> 10', 'd>c 1'],
    },
    {
      name: 'a share of activities drops the rarest, with their arcs',
      map: line,
      options: { activitiesPercent: 75, pathsPercent: 100 },
      want: ['>a 10', 'a>b 8', 'a>c 1', 'b>b 3', 'b>c 8', 'c> 10'],
    },
    {
      name: 'minEdgeCount leaves out rare transitions (even one that connects), but not starts and ends',
      map: graph(['>a 1', 'a>b 1', 'b>c 5', 'c> 1', '>b 4', 'c>c 2']),
      options: { minEdgeCount: 2 },
      want: ['>a 1', '>b 4', 'b>c 5', 'c> 1', 'c>c 2'],
    },
  ])('$name', ({ map, options, want }) => {
    expect(arcsOf(map, options)).toEqual(want);
  });

  test('0 % of activities keeps the most frequent one, and what connects it to the start and the end', () => {
    const map = graph(['>a 10', 'a>b 10', 'b>b 30', 'b>c 10', 'c> 10'], { a: 10, b: 40, c: 10 });
    const kept = simplifyMap(map, { ...KEEP_ALL, activitiesPercent: 0, pathsPercent: 0 });
    expect(kept.activities).toEqual(['b', 'a', 'c']);
    expect(arcsOf(map, { activitiesPercent: 0, pathsPercent: 0 })).toEqual(['>a 10', 'a>b 10', 'b>c 10', 'c> 10']);
  });

  test('a loop of strong arcs gets the widest way from the start and to the end', () => {
    // x and y mostly hand over to each other: their most frequent ways in and out form a loop.
    const map = graph(['>x 5', 'x>y 50', 'y>x 50', 'y> 3', 'x> 2', '>y 1']);
    expect(arcsOf(map, { pathsPercent: 0 })).toEqual(['>x 5', 'x>y 50', 'y> 3', 'y>x 50']);
  });

  test('an activity reached only through a dropped one brings it back', () => {
    // c is kept, but every case reaches it through the rare r, and leaves it through the rare s.
    const map = graph(['>a 10', 'a>r 2', 'r>c 2', 'a>b 8', 'b> 8', 'c>s 2', 's> 2'], {
      a: 10,
      b: 8,
      c: 7,
      r: 2,
      s: 2,
    });
    const kept = simplifyMap(map, { ...KEEP_ALL, activitiesPercent: 60, pathsPercent: 0 });
    expect(kept.activities).toEqual(['a', 'b', 'c', 'r', 's']);
    expect(arcsOf(map, { activitiesPercent: 60, pathsPercent: 0 })).toEqual([
      '>a 10',
      'a>b 8',
      'a>r 2',
      'b> 8',
      'c>s 2',
      'r>c 2',
      's> 2',
    ]);
  });

  test('every kept activity is reached from the start and reaches the end, whatever the shares', () => {
    // A log shaped like Sepsis: a chain, a hub of lab tests looping among themselves, many releases.
    const sepsisLike = graph([
      '>reg 100',
      'reg>triage 95',
      'reg>lab 5',
      'triage>lab 60',
      'triage>iv 35',
      'iv>lab 35',
      'lab>lab 200',
      'lab>crp 150',
      'crp>lab 140',
      'crp>admit 40',
      'lab>admit 30',
      'admit>crp 20',
      'crp>releaseA 50',
      'crp>releaseB 6',
      'admit>releaseC 3',
      'lab>releaseD 2',
      'releaseA>return 20',
      'releaseA> 30',
      'return> 20',
      'releaseB> 6',
      'releaseC> 3',
      'releaseD> 2',
      'admit> 39',
    ]);
    for (const activitiesPercent of [0, 10, 30, 50, 70, 90, 100])
      for (const pathsPercent of [0, 5, 20, 50, 100]) {
        const kept = simplifyMap(sepsisLike, { activitiesPercent, pathsPercent, minEdgeCount: 1 });
        const from = (a: string | null) => kept.arcs.filter((arc) => arc.from === a).map((arc) => arc.to);
        const to = (a: string | null) => kept.arcs.filter((arc) => arc.to === a).map((arc) => arc.from);
        const reached = (start: string | null, next: (a: string | null) => (string | null)[]) => {
          const seen = new Set<string | null>([start]);
          const queue = [start];
          while (queue.length > 0) {
            for (const b of next(queue.pop()!)) {
              if (seen.has(b)) continue;
              seen.add(b);
              queue.push(b);
            }
          }
          return seen;
        };
        const fromStart = reached(null, from);
        const toEnd = reached(null, to);
        for (const a of kept.activities) {
          expect({ activitiesPercent, pathsPercent, a, fromStart: fromStart.has(a) }).toMatchObject({
            fromStart: true,
          });
          expect({ activitiesPercent, pathsPercent, a, toEnd: toEnd.has(a) }).toMatchObject({ toEnd: true });
        }
        // Arcs only join kept activities, and keep their counts.
        for (const arc of kept.arcs) {
          for (const end of [arc.from, arc.to]) if (end !== null) expect(kept.activities).toContain(end);
        }
      }
  });

  test('the counts drawn are the counts of the map', () => {
    const kept = simplifyMap(line, { activitiesPercent: 50, pathsPercent: 10, minEdgeCount: 1 });
    const counts = new Map(line.edges.map((e) => [`${e.from}>${e.to}`, e.count]));
    for (const arc of kept.arcs.filter((a) => a.from !== null && a.to !== null))
      expect(arc.count).toBe(counts.get(`${arc.from}>${arc.to}`));
  });

  test('an empty map draws nothing', () => {
    expect(simplifyMap(graph([]), KEEP_ALL)).toEqual({ activities: [], arcs: [] });
  });
});
