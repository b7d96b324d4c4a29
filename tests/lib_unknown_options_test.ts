/**
 * Unknown options hold for every component of the library: each exported component class, given a misspelt
 * option, reports itself as written (`Program('x')`), where it was created (file:line), the unknown key with the
 * closest option, and the options it has.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import * as batou from "../mod.ts";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { UnknownComponentOptions } from "../core/model/errors.ts";
import { makeRoot, reportText, tempProject } from "./core_test_helpers.ts";

class Top extends Component {}

/** The library's component classes (exported from "batou"), by name. */
function libraryComponents(): [string, ComponentClass][] {
  return Object.entries(batou).filter(([, v]) => typeof v === "function" && v.prototype instanceof Component) as [
    string,
    ComponentClass,
  ][];
}

Deno.test("unknown options: every library component names itself, the place, a suggestion and its options", async () => {
  await using project = await tempProject();
  const root = makeRoot(Top, project.dir);
  await root.prepare();
  const top = root.component!;
  const checked: string[] = [];
  for (const [name, cls] of libraryComponents()) {
    // A misspelling of one of its own options: the first plain field, its last letter doubled.
    const probe = cls.namevar ? new cls("probe") : new cls();
    const fields = Object.keys(probe).filter((k) => !["_", "changed", "timer", cls.namevar].includes(k));
    const option = fields.find((k) =>
      k.length >= 4 && typeof (probe as unknown as Record<string, unknown>)[k] !== "function"
    );
    if (!option) continue;
    const typo = option + option.at(-1);
    const component = cls.namevar ? new cls("x", { [typo]: 1 }) : new cls({ [typo]: 1 });
    let error: unknown = null;
    try {
      top.add(component);
    } catch (e) {
      error = e;
    }
    ok(error instanceof UnknownComponentOptions, `${name}: ${error}`);
    deepStrictEqual(error.options, [typo], name);
    ok(error.valid.includes(option), `${name}: ${error.valid}`);
    // As written: the namevar given is shown (breadcrumb overrides may show more), never an empty one.
    ok(error.componentBreadcrumbs.startsWith(`Top > ${cls.name}`), `${name}: ${error.componentBreadcrumbs}`);
    const ownBreadcrumb = Object.getOwnPropertyDescriptor(cls.prototype, "breadcrumb"); // e.g. AppEnv('<hash>')
    if (cls.namevar && !ownBreadcrumb) strictEqual(error.componentBreadcrumbs, `Top > ${cls.name}('x')`, name);
    // Where `new` was called (absolute here: this test file is outside the temp project).
    ok(/\/tests\/lib_unknown_options_test\.ts:\d+$/.test(error.place), `${name}: ${error.place}`);
    const text = reportText(error);
    ok(text.includes(`Options: ${typo} (did you mean \`${option}\`?)`), `${name}:\n${text}`);
    ok(text.includes(`Valid options: ${error.valid.join(", ")}`), `${name}:\n${text}`);
    checked.push(name);
  }
  ok(checked.length >= 30, `only ${checked.length} library components checked: ${checked.join(", ")}`);
  for (const n of ["File", "Program", "VirtualEnv", "Clone", "CronJob", "Command"]) ok(checked.includes(n), n);
});
