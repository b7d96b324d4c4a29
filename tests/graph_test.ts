import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  CycleError,
  type Graph,
  removeNodesWithoutOutgoingEdges,
  revertGraph,
  topologicalSort,
} from "../core/model/graph.ts";

/** Builds a graph from `[node, [targets...]]` pairs. */
function g<T>(entries: [T, T[]][]): Graph<T> {
  return new Map(entries.map(([node, targets]) => [node, new Set(targets)]));
}

/** Turns a graph into plain sorted arrays for comparison. */
function plain<T>(graph: Graph<T>): [T, T[]][] {
  return [...graph].map(([node, targets]) => [node, [...targets].sort()]);
}

/** Runs `fn` and returns the CycleError it throws; fails otherwise. */
function catchError<T>(fn: () => T[]): CycleError<T> {
  try {
    fn();
  } catch (e) {
    ok(e instanceof CycleError, `expected CycleError, got ${e}`);
    return e as CycleError<T>;
  }
  throw new Error("no CycleError thrown");
}

const num = (a: number, b: number): number => a - b;
const str = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

Deno.test("revertGraph: no edges is identical", () => {
  deepStrictEqual(plain(revertGraph(g([[1, []], [2, []]]))), [[1, []], [2, []]]);
});

Deno.test("revertGraph: one edge reverses and every node becomes a key", () => {
  const graph = g([[1, [2]]]);
  const reverted = revertGraph(graph);
  deepStrictEqual(new Map(plain(reverted)), new Map([[1, []], [2, [1]]]));
  // The input is left alone.
  deepStrictEqual(plain(graph), [[1, [2]]]);
});

Deno.test("topologicalSort: independent nodes come out in compare order", () => {
  deepStrictEqual(topologicalSort(g([["c", []], ["a", []], ["b", []]]), str), ["a", "b", "c"]);
  // batou would give [c, b, a] for insertion order a, b, c; we follow compare.
  deepStrictEqual(topologicalSort(g([["a", []], ["b", []], ["c", []]]), str), ["a", "b", "c"]);
  const reverse = (a: string, b: string) => str(b, a);
  deepStrictEqual(topologicalSort(g([["a", []], ["b", []], ["c", []]]), reverse), ["c", "b", "a"]);
});

Deno.test("topologicalSort: ties under compare keep first-seen order", () => {
  const same = () => 0;
  deepStrictEqual(topologicalSort(g([["x", []], ["b", []], ["m", []]]), same), ["x", "b", "m"]);
});

Deno.test("topologicalSort: simple chain", () => {
  deepStrictEqual(topologicalSort(g([[1, [2]], [2, [3]], [3, [4]]]), num), [1, 2, 3, 4]);
  // Compare order never overrides an edge.
  deepStrictEqual(topologicalSort(g([[4, [3]], [3, [2]], [2, [1]]]), num), [4, 3, 2, 1]);
});

Deno.test("topologicalSort: multiple paths", () => {
  deepStrictEqual(topologicalSort(g([[1, [2, 3]], [2, [3]]]), num), [1, 2, 3]);
});

Deno.test("topologicalSort: single item", () => {
  deepStrictEqual(topologicalSort(g([[1, []]]), num), [1]);
});

Deno.test("topologicalSort: {1:{2,3},4:{3}} gives [1,2,4,3]", () => {
  // batou gives [4,1,3,2] (stack popping). We always take the smallest ready
  // node: ready {1,4} -> 1; then 2 becomes ready (3 still waits for 4):
  // ready {2,4} -> 2; then 4; then 3.
  const graph = g([[1, [2, 3]], [4, [3]]]);
  deepStrictEqual(topologicalSort(graph, num), [1, 2, 4, 3]);
  // Not mutated (batou mutates its input, we do not).
  deepStrictEqual(plain(graph), [[1, [2, 3]], [4, [3]]]);
});

Deno.test("topologicalSort on a reverted dependency graph puts providers first", () => {
  // consumer -> providers
  const deps = g([["web", ["db", "cache"]], ["db", []], ["cache", []], ["backup", ["db"]]]);
  deepStrictEqual(topologicalSort(revertGraph(deps), str), ["cache", "db", "backup", "web"]);
});

Deno.test("topologicalSort: raises CycleError on a loop", () => {
  const graph = g([[1, [2]], [2, [3]], [3, [1]]]);
  throws(() => topologicalSort(graph, num), CycleError);
  const error = catchError(() => topologicalSort(graph, num));
  deepStrictEqual(new Map(plain(error.graph)), new Map([[1, [2]], [2, [3]], [3, [1]]]));
});

Deno.test("topologicalSort: self-loop is a cycle", () => {
  const e = catchError(() => topologicalSort(g([[0, [1]], [1, [1]]]), num));
  deepStrictEqual(plain(e.graph), [[1, [1]]]);
  strictEqual(e.message, "1 depends on\n        1");
});

Deno.test("topologicalSort: cycle keeps nodes with outgoing edges only", () => {
  // 0 is sortable, 3 is a leaf behind the cycle 1<->2.
  const e = catchError(() => topologicalSort(g([[0, [1]], [1, [2]], [2, [1, 3]]]), num));
  deepStrictEqual(new Map(plain(e.graph)), new Map([[1, [2]], [2, [1, 3]]]));
});

Deno.test("CycleError.format: sorted by name, deps sorted, 8 spaces", () => {
  type N = { name: string };
  const [cyc1, cyc2, cyc3] = [{ name: "cyc1" }, { name: "cyc2" }, { name: "cyc3" }];
  const deps: Graph<N> = g([[cyc1, [cyc2]], [cyc3, [cyc2]], [cyc2, [cyc1, cyc3]]]);
  const e = catchError(() => topologicalSort(revertGraph(deps), (a, b) => str(a.name, b.name), (n) => n.name));
  const expected = [
    "cyc1 depends on",
    "        cyc2",
    "cyc2 depends on",
    "        cyc1",
    "        cyc3",
    "cyc3 depends on",
    "        cyc2",
  ].join("\n");
  strictEqual(e.message, expected);
  strictEqual(e.format((n) => n.name.toUpperCase()).split("\n")[0], "CYC1 depends on");
});

Deno.test("removeNodesWithoutOutgoingEdges removes leaves in a single pass", () => {
  const graph = g([[1, [1]], [2, []]]);
  removeNodesWithoutOutgoingEdges(graph);
  deepStrictEqual(plain(graph), [[1, [1]]]);
  const chain = g([[1, [2]], [2, []]]);
  removeNodesWithoutOutgoingEdges(chain);
  deepStrictEqual(plain(chain), [[1, [2]]]);
});
