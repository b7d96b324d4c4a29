/**
 * core/runtime/script.ts: a script evaluated by runScript gives the same values and, once normalized, the same stack
 * traces as node:vm's runInThisContext with the same file name, for every kind of frame V8 writes.
 */
import { runInThisContext } from "node:vm";
import { normalizeStack, runScript } from "../core/runtime/script.ts";
import { stackFrames } from "../core/runtime/stack.ts";
import { assert, assertEquals } from "./support/assert.ts";

const FILE = "/project/components/web/component.ts";

/** A module-like script: a wrapper function that fills `exports` with functions returning stack traces. */
const CODE = `(function (exports, require, module, __filename, __dirname) {"use strict";
exports.top = new Error("top").stack;
function named() { return new Error("named").stack; }
exports.named = named;
exports.arrow = () => new Error("arrow").stack;
exports.mapped = () => [1].map(function () { return new Error("map").stack; })[0];
exports.mappedArrow = () => [1].map(() => new Error("map").stack)[0];
exports.getter = () => ({ get x() { return new Error("get").stack; } }).x;
exports.method = () => { const o = {}; o["m"] = [function () { return new Error("m").stack; }][0]; return o.m(); };
exports.anonymousMethod = () => { const o = { f: [function () { return new Error("m").stack; }][0] }; return o.f(); };
exports.klass = () => { class K { static s() { return new Error("s").stack; } } return K.s(); };
exports.ctor = () => new ([class { constructor() { this.s = new Error("c").stack; } }][0])().s;
exports.thrown = () => { try { null.x; } catch (e) { return e.stack; } };
exports.asyncChain = async () => {
  const inner = async () => { await null; throw new Error("async"); };
  try { await [async function () { await inner(); }][0](); } catch (e) { return e.stack; }
};
exports.promise = () => Promise.resolve().then(function () { return new Error("then").stack; });
exports.value = 6 * 7;
})`;

type Exports = Record<string, unknown>;

function load(wrapper: unknown): Exports {
  const exports: Exports = {};
  (wrapper as (...a: unknown[]) => void)(exports, null, { exports }, FILE, "/project/components/web");
  return exports;
}

/** The lines of `stack` that are in FILE (the rest is this test's and Deno's frames). */
const own = (stack: string) => stack.split("\n").filter((l) => l.includes(FILE));

Deno.test("runScript: the same exports as runInThisContext; normalized stacks equal line by line", async () => {
  const viaVm = load(runInThisContext(CODE, { filename: FILE }));
  const viaEval = load(runScript(CODE, FILE));
  assertEquals(viaEval.value, 42);
  assertEquals(Object.keys(viaEval), Object.keys(viaVm));
  const stacks = async (e: Exports, key: string) =>
    key === "top" ? e.top as string : await (e[key] as () => string | Promise<string>)();
  for (const key of Object.keys(viaVm).filter((k) => k !== "value")) {
    const vm = await stacks(viaVm, key), raw = await stacks(viaEval, key);
    assert(own(vm).length > 0, key);
    assertEquals(own(normalizeStack(raw)), own(vm), key);
    assert(raw.includes(", <anonymous>:"), `${key}: eval frames look different before normalizing`);
  }
});

Deno.test("runScript: stackFrames reads evaluated files as files; other stacks are left alone", () => {
  const e = load(runScript(CODE, FILE));
  const frames = stackFrames((e.arrow as () => string)());
  assertEquals([frames[0].path, frames[0].line, frames[0].fn], [FILE, 5, "Object.exports.arrow"]);
  const top = stackFrames(e.top as string);
  assertEquals([top[0].path, top[0].line, top[0].fn], [FILE, 2, null]);
  const other =
    "Error: x\n    at eval (eval at f (file:///a.ts:1:1), <anonymous>:1:1)\n    at /other.ts, <anonymous>:2:3)";
  assertEquals(normalizeStack(other), other);
});

Deno.test("runScript: syntax errors are SyntaxErrors with V8's message, as with runInThisContext", () => {
  for (const code of ["(function () { let x = ; })", "(function () { @dec class A {} })"]) {
    const messages = [runInThisContext, runScript].map((run) => {
      try {
        run(code, FILE);
      } catch (e) {
        return [(e as Error).name, (e as Error).message];
      }
      return null;
    });
    assert(messages[0] !== null);
    assertEquals(messages[1], messages[0]);
  }
});

Deno.test("runScript: a file name with a space (no sourceURL possible) goes through node:vm", () => {
  const file = "/my project/components/a/component.ts";
  const f = runScript("(function () { return new Error('x').stack; })", file) as () => string;
  assert(f().split("\n")[1].includes(`(${file}:1:`) || f().split("\n")[1].includes(`at ${file}:1:`), f());
});
