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
  /** `malformed` names the path parameters whose percent-encoding is not UTF-8 (such as `%ED%A0%80`). */
  | { kind: 'found'; operation: Op; params: Record<string, string>; malformed: string[] }
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
    const malformed: string[] = [];
    const node = this.walk(this.root, splitPath(path), 0, params, malformed);
    if (!node) return { kind: 'notFound' };
    const lower = method.toLowerCase();
    // HEAD is GET without the body (RFC 9110 9.3.2): every GET operation answers it too.
    const operation = node.methods.get(lower) ?? (lower === 'head' ? node.methods.get('get') : undefined);
    if (!operation) return { kind: 'methodNotAllowed', allowed: allowedMethods(node) };
    return { kind: 'found', operation, params, malformed };
  }

  // Depth-first with backtracking: `/notebook/upload` is literal, `/notebook/{id}/copy` is not.
  private walk(
    node: Node<Op>,
    segments: string[],
    i: number,
    params: Record<string, string>,
    malformed: string[],
  ): Node<Op> | undefined {
    if (i === segments.length) return node.methods.size > 0 ? node : undefined;
    const literal = node.literal.get(segments[i]);
    if (literal) {
      const found = this.walk(literal, segments, i + 1, params, malformed);
      if (found) return found;
    }
    if (node.param && segments[i] !== '') {
      const found = this.walk(node.param.node, segments, i + 1, params, malformed);
      if (found) {
        const decoded = safeDecode(segments[i]);
        if (decoded === undefined) malformed.push(node.param.name);
        params[node.param.name] = decoded ?? segments[i];
        return found;
      }
    }
    return undefined;
  }
}

function allowedMethods<Op>(node: Node<Op>): string[] {
  const methods = [...node.methods.keys()].map((m) => m.toUpperCase());
  if (methods.includes('GET') && !methods.includes('HEAD')) methods.splice(methods.indexOf('GET') + 1, 0, 'HEAD');
  return methods;
}

// Empty segments stay, so `/notebook//blocks` matches nothing; one trailing slash is ignored.
function splitPath(path: string): string[] {
  const segments = path.split('/').slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  return segments;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
