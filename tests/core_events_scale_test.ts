/**
 * Event handlers in a large component tree (issue 17): a tree of 10,000 components, some updating and some
 * with `*` or `precursor` handlers, triggers exactly the handler calls of batou's rule, in the same order.
 * The expected calls come from a plain model of the rule written here: for every component that updates, in
 * deploy order (sub-components first), every handler in tree order (pre-order, methods in declaration order)
 * whose event matches and whose scope admits it (`*` always, `precursor` when the source comes before the
 * handler's component in pre-order). Not timed.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Component } from "../core/model/component.ts";
import { UpdateNeeded } from "../core/model/errors.ts";
import { makeRoot, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

const calls: string[] = [];

class Node extends Component {
  static override namevar = "id";
  id = "";
  needsUpdate = false;
  override verify(): void {
    if (this.needsUpdate) throw new UpdateNeeded();
  }
}

class AnyHandler extends Node {
  static override events = { onAny: ["before-update", "*"] as [string, string] };
  onAny(source: Component): void {
    calls.push(`${this.id}.onAny<${(source as Node).id}`);
  }
}

class PrecursorHandler extends Node {
  static override events = {
    first: ["before-update", "precursor"] as [string, string],
    other: ["after-update", "*"] as [string, string],
    second: ["before-update", "precursor"] as [string, string],
  };
  first(source: Component): void {
    calls.push(`${this.id}.first<${(source as Node).id}`);
  }
  other(): void {
    calls.push(`${this.id}.other (never: another event)`);
  }
  second(source: Component): void {
    calls.push(`${this.id}.second<${(source as Node).id}`);
  }
}

/** A deterministic pseudo-random sequence (same tree every run). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** One component's plan in the tree; `kids` nest up to three levels. */
interface Plan {
  id: string;
  kind: "plain" | "any" | "precursor";
  update: boolean;
  kids: Plan[];
}

function plan(total: number): Plan[] {
  const rnd = lcg(17);
  let n = 0;
  const make = (depth: number): Plan => {
    const r = rnd();
    const p: Plan = {
      id: String(n++),
      kind: r < 0.006 ? "any" : r < 0.012 ? "precursor" : "plain",
      update: rnd() < 0.01,
      kids: [],
    };
    if (depth < 3) {
      const k = Math.floor(rnd() * 12);
      for (let i = 0; i < k && n < total; i++) p.kids.push(make(depth + 1));
    }
    return p;
  };
  const tops: Plan[] = [];
  while (n < total) tops.push(make(0));
  return tops;
}

/** The expected handler calls of batou's rule, computed on the plan alone. */
function expected(tops: Plan[], predict: boolean): string[] {
  const pre: Plan[] = [];
  const walk = (p: Plan) => {
    pre.push(p);
    p.kids.forEach(walk);
  };
  tops.forEach(walk);
  const index = new Map(pre.map((p, i) => [p, i]));
  const deployOrder: Plan[] = [];
  const post = (p: Plan) => {
    p.kids.forEach(post);
    deployOrder.push(p);
  };
  tops.forEach(post);
  const out: string[] = [];
  for (const source of deployOrder) {
    if (!source.update) continue;
    for (const target of pre) {
      const methods = target.kind === "any" ? ["onAny"] : target.kind === "precursor" ? ["first", "second"] : [];
      for (const m of methods) {
        if (target.kind === "precursor" && !(index.get(source)! < index.get(target)!)) continue;
        out.push(predict ? `trigger ${target.id}.${m}` : `${target.id}.${m}<${source.id}`);
      }
    }
  }
  return out;
}

function build(parent: Component, p: Plan): void {
  const cls = p.kind === "any" ? AnyHandler : p.kind === "precursor" ? PrecursorHandler : Node;
  const c = parent.add(new cls(p.id, { needsUpdate: p.update }));
  for (const k of p.kids) build(c, k);
}

class Top extends Component {
  static tops: Plan[] = [];
  override configure(): void {
    for (const p of Top.tops) build(this, p);
  }
}

Deno.test("events: a tree of 10,000 components triggers the handlers of batou's rule, in order", async () => {
  Top.tops = plan(10_000);
  await using project = await tempProject();
  const root = makeRoot(Top, project.dir);
  await root.prepare();
  const top = root.component!;
  strictEqual([...top.recursiveSubComponents()].length, 10_000);
  const want = expected(Top.tops, false);
  ok(want.length > 1000, `the tree exercises the handlers (${want.length} calls)`);
  calls.length = 0;
  await withRecordedOutput(() => top.deploy());
  deepStrictEqual(calls, want);

  // Predicting announces the same triggers, in the same order, and calls nothing.
  calls.length = 0;
  const { lines } = await withRecordedOutput(() => top.deploy(true));
  deepStrictEqual(calls, []);
  const announced = lines.filter((l) => l.startsWith("Trigger before-update: ")).map((l) => {
    const m = /\('(\d+)'\)">\.(\w+)$/.exec(l);
    return `trigger ${m?.[1]}.${m?.[2]}`;
  });
  deepStrictEqual(announced, expected(Top.tops, true));
});
