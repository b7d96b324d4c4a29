/**
 * Event handlers in a big component tree (issue 17): 10,000 components, handlers with `*` and `precursor` scope on
 * some of them, some components updating. Which handlers run, for which source and in which order must be exactly
 * what batou's algorithm gives: for each updating component, every handler of the root's tree in pre-order, `*`
 * always, `precursor` when the updating component comes before the handler's component.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { Component } from "../core/model/component.ts";
import { UpdateNeeded } from "../core/model/errors.ts";
import { makeRoot, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

const log: string[] = [];
const updated: Component[] = [];

class Node extends Component {
  static override namevar = "id";
  id = "";
  updates = false;
  override verify(): void {
    if (this.updates) {
      updated.push(this);
      throw new UpdateNeeded();
    }
  }
}

class Everywhere extends Node {
  static override events = { seen: ["before-update", "*"] as [string, string] };
  seen(source: Component): void {
    log.push(`${this.id}<-${(source as Node).id}`);
  }
}

class Later extends Node {
  static override events = {
    early: ["before-update", "precursor"] as [string, string],
    other: ["after-update", "*"] as [string, string],
  };
  early(source: Component): void {
    log.push(`${this.id}<=${(source as Node).id}`);
  }
  other(): void {
    log.push("never: no such event is triggered");
  }
}

class Top extends Component {}

/** batou's algorithm, literally: walk the whole tree for every updating component. */
function expected(top: Component, sources: Component[]): string[] {
  const out: string[] = [];
  const order = [...top.recursiveSubComponents()];
  for (const source of sources) {
    for (const target of order) {
      const events = (target.constructor as typeof Component).events ?? {};
      for (const [method, [event, scope]] of Object.entries(events)) {
        if (event !== "before-update") continue;
        let applies = scope === "*";
        if (scope === "precursor") {
          for (const c of order) {
            if (c === target) break;
            if (c === source) {
              applies = true;
              break;
            }
          }
        }
        if (!applies) continue;
        const id = (target as Node).id, from = (source as Node).id;
        out.push(method === "seen" ? `${id}<-${from}` : `${id}<=${from}`);
      }
    }
  }
  return out;
}

Deno.test("a tree of 10,000 components triggers its event handlers exactly as batou's algorithm does", async () => {
  await using project = await tempProject();
  const root = makeRoot(Top, project.dir);
  await root.prepare();
  const top = root.component!;
  let n = 0;
  const make = (): Node => {
    const i = n++;
    const cls = i % 97 === 0 ? Everywhere : i % 89 === 0 ? Later : Node;
    return new cls(`c${i}`, { updates: i % 131 === 7 || i % 89 === 0 });
  };
  // 100 groups of 99 leaves, nested two deep: 10,000 components below the top
  for (let g = 0; g < 100; g++) {
    const group = top.add(make());
    for (let l = 0; l < 99; l++) group.add(make());
  }
  ok(n === 10_000);
  log.length = 0;
  updated.length = 0;
  await withRecordedOutput(() => top.deploy());
  ok(updated.length > 50, `${updated.length} components updated`);
  const want = expected(top, updated);
  ok(want.length > 5_000, `${want.length} handler calls expected`);
  deepStrictEqual(log.length, want.length);
  deepStrictEqual(log, want);
});

Deno.test("predicting a big tree prints one trigger line per handler call, as batou does", async () => {
  await using project = await tempProject();
  const root = makeRoot(Top, project.dir);
  await root.prepare();
  const top = root.component!;
  for (let i = 0; i < 2_000; i++) {
    top.add(new (i % 50 === 0 ? Later : Node)(`p${i}`, { updates: i % 101 === 3 }));
  }
  updated.length = 0;
  const { lines } = await withRecordedOutput(() => top.deploy(true));
  const triggers = lines.filter((l) => l.includes("Trigger before-update:"));
  const want = expected(top, updated);
  deepStrictEqual(triggers.length, want.length);
  ok(triggers.length > 0);
});
