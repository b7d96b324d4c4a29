/**
 * Dependency graph helpers (batou's `revert_graph`, `topological_sort`,
 * `remove_nodes_without_outgoing_edges` and `CycleError`).
 *
 * A graph maps a node to the set of nodes its edges point to. An edge a→b means
 * "a comes before b". The configure order is therefore
 * `topologicalSort(revertGraph(deps), compare)` where `deps` maps a root to its
 * providers: providers come first.
 *
 * Deviation from batou (deliberate): batou pops roots from the end of a stack,
 * which makes the order depend on dict/set insertion order. We always pick the
 * smallest ready node according to a caller-supplied `compare` function (ties
 * keep first-seen order), which yields the lexicographically smallest
 * topological order with respect to `compare`. Independent nodes therefore come
 * out in `compare` order. We also never mutate the graph passed in.
 *
 * @module
 */
import { compareStrings } from "../runtime/compare.ts";

/** A directed graph: node → nodes its outgoing edges point to. */
export type Graph<T> = Map<T, Set<T>>;

/** Orders two nodes: negative if `a` sorts before `b`, 0 if equal, positive otherwise. */
export type Compare<T> = (a: T, b: T) => number;

/** Copies `graph` and adds an empty entry for every node that only appears as a target. */
function completeGraph<T>(graph: Graph<T>): Graph<T> {
  const result: Graph<T> = new Map();
  for (const [node, targets] of graph) result.set(node, new Set(targets));
  for (const targets of graph.values()) {
    for (const target of targets) {
      if (!result.has(target)) result.set(target, new Set());
    }
  }
  return result;
}

/**
 * Returns a new graph with every edge flipped. Every node of the input (also
 * nodes that only appear as targets) is a key of the result, possibly with an
 * empty set. The input is not modified.
 */
export function revertGraph<T>(graph: Graph<T>): Graph<T> {
  const complete = completeGraph(graph);
  const reversed: Graph<T> = new Map();
  for (const [node, targets] of complete) {
    if (!reversed.has(node)) reversed.set(node, new Set());
    for (const target of targets) {
      let incoming = reversed.get(target);
      if (!incoming) {
        incoming = new Set();
        reversed.set(target, incoming);
      }
      incoming.add(node);
    }
  }
  return reversed;
}

/**
 * Deletes (in place) every node whose set of outgoing edges is empty. This is a
 * single pass, as in batou: nodes that become leaves by the deletion stay.
 */
export function removeNodesWithoutOutgoingEdges<T>(graph: Graph<T>): void {
  for (const [node, targets] of [...graph]) {
    if (targets.size === 0) graph.delete(node);
  }
}

/**
 * The graph contains at least one cycle. `graph` holds what was left when the
 * sort got stuck, with the nodes without outgoing edges removed: the cycle(s)
 * plus nodes that are only reachable through them.
 */
export class CycleError<T> extends Error {
  /** The remaining (unsortable) part of the graph. */
  readonly graph: Graph<T>;

  /**
   * @param graph the remaining graph (kept by reference)
   * @param nameOf renders a node for the default `message`
   */
  constructor(graph: Graph<T>, nameOf: (node: T) => string = String) {
    super("");
    this.name = "CycleError";
    this.graph = graph;
    this.message = this.format(nameOf);
  }

  /**
   * batou's cycle text: for each node sorted by name, `<name> depends on`
   * followed by one `        <dep>` line (8 spaces) per target, sorted by name.
   * Lines are joined with "\n" (no trailing newline).
   */
  format(nameOf: (node: T) => string): string {
    const entries = [...this.graph].map(([node, targets]) => ({
      name: nameOf(node),
      targets: [...targets].map(nameOf).sort(compareStrings),
    }));
    entries.sort((a, b) => compareStrings(a.name, b.name));
    const lines: string[] = [];
    for (const entry of entries) {
      lines.push(`${entry.name} depends on`);
      for (const target of entry.targets) lines.push(`        ${target}`);
    }
    return lines.join("\n");
  }
}

/**
 * Topologically sorts `graph` (edge a→b: a comes before b). Among the nodes
 * that are ready (no unprocessed incoming edge) the smallest according to
 * `compare` is taken next; equal nodes keep first-seen order (graph key order,
 * targets after their node). The input graph is not modified.
 *
 * @throws {CycleError} if the graph has a cycle (self-loops included). The
 *   error's graph is the remaining graph without nodes that have no outgoing
 *   edges; its message uses `nameOf` (default `String`).
 */
export function topologicalSort<T>(
  graph: Graph<T>,
  compare: Compare<T>,
  nameOf: (node: T) => string = String,
): T[] {
  const forward = completeGraph(graph);
  const reverse = revertGraph(forward);
  const order = new Map<T, number>();
  for (const node of forward.keys()) order.set(node, order.size);
  const before = (a: T, b: T): boolean => {
    const c = compare(a, b);
    return c < 0 || (c === 0 && order.get(a)! < order.get(b)!);
  };

  const ready: T[] = [...reverse].filter(([, incoming]) => incoming.size === 0).map(([node]) => node);
  const sorted: T[] = [];
  while (ready.length > 0) {
    let best = 0;
    for (let i = 1; i < ready.length; i++) {
      if (before(ready[i], ready[best])) best = i;
    }
    const node = ready.splice(best, 1)[0];
    sorted.push(node);
    const targets = forward.get(node)!;
    for (const target of [...targets]) {
      targets.delete(target);
      const incoming = reverse.get(target)!;
      incoming.delete(node);
      if (incoming.size === 0) ready.push(target);
    }
  }

  if ([...forward.values()].some((targets) => targets.size > 0)) {
    removeNodesWithoutOutgoingEdges(forward);
    throw new CycleError(forward, nameOf);
  }
  return sorted;
}
