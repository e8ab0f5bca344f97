/**
 * Routes a request to its operation in a few map lookups, however many operations there are.
 * openapi-backend's own router filters every operation and compiles path regexes per request
 * (about 800 us at 100 operations); this one is built once from the document at start.
 */

/** An operation as openapi-backend lists it: enough to route. */
export interface RoutableOperation {
  operationId?: string;
  method: string;
  path: string;
}

interface Node<Op> {
  literal: Map<string, Node<Op>>;
  param?: { name: string; node: Node<Op> };
  methods: Map<string, Op>;
}

/** The outcome of routing: an operation with its path parameters, or why there is none. */
export type RouteMatch<Op> =
  | { kind: 'found'; operation: Op; params: Record<string, string> }
  | { kind: 'notFound' }
  | { kind: 'methodNotAllowed'; allowed: string[] };

const newNode = <Op>(): Node<Op> => ({ literal: new Map(), methods: new Map() });

/** A segment tree of the document's paths; literal segments win over parameters, as OpenAPI says. */
export class Router<Op extends RoutableOperation> {
  private readonly root: Node<Op> = newNode();

  constructor(operations: Op[]) {
    for (const op of operations) this.add(op);
  }

  private add(op: Op): void {
    let node = this.root;
    for (const segment of splitPath(op.path)) {
      const param = /^\{(.+)\}$/.exec(segment);
      if (param) {
        if (node.param && node.param.name !== param[1]) {
          throw new Error(
            `Path ${op.path}: parameter {${param[1]}} clashes with {${node.param.name}} at the same place`,
          );
        }
        node.param ??= { name: param[1], node: newNode() };
        node = node.param.node;
      } else {
        let next = node.literal.get(segment);
        if (!next) node.literal.set(segment, (next = newNode()));
        node = next;
      }
    }
    node.methods.set(op.method.toLowerCase(), op);
  }

  /** Finds the operation for a method and a path (without query string). */
  match(method: string, path: string): RouteMatch<Op> {
    const params: Record<string, string> = {};
    const node = this.walk(this.root, splitPath(path), 0, params);
    if (!node) return { kind: 'notFound' };
    const operation = node.methods.get(method.toLowerCase());
    if (!operation) return { kind: 'methodNotAllowed', allowed: [...node.methods.keys()].map((m) => m.toUpperCase()) };
    return { kind: 'found', operation, params };
  }

  // Depth-first with backtracking: `/notebook/upload` is literal, `/notebook/{id}/copy` is not.
  private walk(node: Node<Op>, segments: string[], i: number, params: Record<string, string>): Node<Op> | undefined {
    if (i === segments.length) return node.methods.size > 0 ? node : undefined;
    const literal = node.literal.get(segments[i]);
    if (literal) {
      const found = this.walk(literal, segments, i + 1, params);
      if (found) return found;
    }
    if (node.param && segments[i] !== '') {
      const found = this.walk(node.param.node, segments, i + 1, params);
      if (found) {
        params[node.param.name] = safeDecode(segments[i]);
        return found;
      }
    }
    return undefined;
  }
}

// Empty segments stay, so `/notebook//blocks` matches nothing; one trailing slash is ignored.
function splitPath(path: string): string[] {
  const segments = path.split('/').slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  return segments;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
