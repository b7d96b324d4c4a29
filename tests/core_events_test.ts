/**
 * core/runtime/events.ts behaves as node:events' EventEmitter: the same script of calls gives the same log on both, ES5
 * subclasses work (`EventEmitter.call(this)`, as nunjucks does), "error" without a listener throws, and too many
 * listeners give one MaxListenersExceededWarning.
 */
import { EventEmitter as NodeEmitter } from "node:events";
import process from "node:process";
import { EventEmitter } from "../core/runtime/events.ts";
import { assert, assertEquals } from "./support/assert.ts";

type AnyEmitter = InstanceType<typeof NodeEmitter>;

/** Drives `e` through on/once/prepend/off/removeAll/emit and logs what happens. */
function script(e: AnyEmitter): unknown[] {
  const log: unknown[] = [];
  const a = (...args: unknown[]) => log.push(["a", ...args]);
  const b = (...args: unknown[]) => log.push(["b", ...args]);
  const c = function (this: unknown, ...args: unknown[]) {
    log.push(["c", this === e, ...args]);
  };
  e.on("newListener", (name: string, fn: unknown) => log.push(["new", String(name), fn === a || fn === b || fn === c]));
  e.on("removeListener", (name: string, fn: unknown) => log.push(["removed", String(name), fn === a || fn === b]));
  log.push(["emit none", e.emit("x", 1)]);
  e.on("x", a);
  e.prependListener("x", b);
  e.once("x", c);
  e.on("x", a);
  log.push(["count", e.listenerCount("x"), e.listenerCount("x", a), e.listeners("x").length]);
  log.push(["raw is once wrapper", e.rawListeners("x")[2] !== c, e.listeners("x")[2] === c]);
  log.push(["emit 1", e.emit("x", 1, 2)]);
  log.push(["emit 2", e.emit("x", 3)]);
  e.off("x", a);
  log.push(["after off", e.listenerCount("x")]);
  e.removeListener("x", c);
  e.removeListener("nothing", a);
  // Listeners added during an emit wait for the next one; removed ones still run in this one.
  const late = () => log.push(["late"]);
  e.on("y", () => {
    e.on("y", late);
    e.removeListener("x", b);
    log.push(["y"]);
  });
  e.on("x", () => log.push(["x2"]));
  log.push(["emit y", e.emit("y"), e.emit("y")]);
  e.prependOnceListener("z", a);
  log.push(["names", e.eventNames().map(String)]);
  e.removeAllListeners("y");
  log.push(["names after y", e.eventNames().map(String)]);
  e.removeAllListeners();
  log.push(["names after all", e.eventNames().map(String), e.emit("z")]);
  const s = Symbol("s");
  e.on(s, a);
  log.push(["symbol", e.emit(s, "v"), e.eventNames().length]);
  log.push(["max", e.getMaxListeners(), e.setMaxListeners(3) === e, e.getMaxListeners()]);
  return log;
}

Deno.test("EventEmitter: the same script gives the same log as node:events", () => {
  const ours = script(new EventEmitter() as unknown as AnyEmitter);
  const node = script(new NodeEmitter());
  assertEquals(ours, node);
  assert(ours.length > 20);
});

Deno.test("EventEmitter: an ES5 subclass calls it as a function, as nunjucks' EmitterObj does", () => {
  function Loader(this: { name: string }) {
    EventEmitter.call(this as never);
    this.name = "loader";
  }
  Loader.prototype = Object.create(EventEmitter.prototype);
  Loader.prototype.constructor = Loader;
  Object.setPrototypeOf(Loader, EventEmitter);
  const l = new (Loader as unknown as new () => EventEmitter & { name: string })();
  const got: unknown[] = [];
  l.on("load", (n: string) => got.push(n));
  assert(l.emit("load", "a.j2"));
  assertEquals(got, ["a.j2"]);
  assert(l instanceof EventEmitter);
  assertEquals(EventEmitter.EventEmitter, EventEmitter);
  assertEquals(EventEmitter.defaultMaxListeners, NodeEmitter.defaultMaxListeners);
  // Two instances share no listeners.
  const other = new (Loader as unknown as new () => EventEmitter)();
  assertEquals(other.emit("load", "b"), false);
});

Deno.test("EventEmitter: 'error' without a listener throws (the error itself, or ERR_UNHANDLED_ERROR)", () => {
  for (const Emitter of [EventEmitter, NodeEmitter] as unknown as (new () => EventEmitter)[]) {
    const e = new Emitter();
    const error = new Error("boom");
    let thrown: unknown = null;
    try {
      e.emit("error", error);
    } catch (x) {
      thrown = x;
    }
    assert(thrown === error);
    try {
      e.emit("error", "boom");
    } catch (x) {
      thrown = x;
    }
    assertEquals([(thrown as Error).message, (thrown as { code?: string }).code], [
      "Unhandled error. ('boom')",
      "ERR_UNHANDLED_ERROR",
    ]);
    let heard: unknown = null;
    e.on("error", (x: unknown) => (heard = x));
    assert(e.emit("error", error) && heard === error);
    try {
      e.on("x", "not a function" as never);
      thrown = null;
    } catch (x) {
      thrown = x;
    }
    assert(thrown instanceof TypeError);
  }
});

Deno.test("EventEmitter: more listeners than the maximum give one MaxListenersExceededWarning", async () => {
  const warnings: Error[] = [];
  const listen = (w: Error) => warnings.push(w);
  process.on("warning", listen);
  try {
    const e = new EventEmitter();
    e.setMaxListeners(2);
    for (let i = 0; i < 4; i++) e.on("x", () => {});
    e.on("y", () => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off("warning", listen);
  }
  assertEquals(warnings.map((w) => w.name), ["MaxListenersExceededWarning"]);
  assert(warnings[0].message.includes("3 x listeners added"), warnings[0].message);
});
