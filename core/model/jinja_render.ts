/**
 * Renders a parsed template (core/model/jinja_parse.ts) with Jinja2's semantics and batou's settings:
 * StrictUndefined (any use of an undefined name fails), values printed as Python's `str()` does.
 *
 * @module
 */
import type { Node, Template } from "./jinja_parse.ts";
import { type Args, type Callable, FILTERS, getitem, GLOBALS, method, slice, TESTS } from "./jinja_builtins.ts";
import {
  binop,
  compare,
  contains,
  dictGet,
  dictKeys,
  eq,
  fail,
  float,
  isDict,
  iterate,
  Namespace,
  num,
  PyError,
  str,
  truthy,
  tuple,
  typeName,
  Undefined,
  UndefinedError,
} from "./jinja_values.ts";

/** A rendering error at a line of the template. */
export class TemplateRenderError extends Error {
  /** The 1-based line. */
  readonly line: number;
  constructor(cause: Error, line: number) {
    super(`${cause.message} (line ${line})`);
    this.name = cause.name;
    this.line = line;
  }
}

/** Callables that take {@linkcode Args} (builtins, methods, macros); any other function gets positional arguments. */
const INTERNAL = new WeakSet<object>();
function internal(fn: Callable): Callable {
  INTERNAL.add(fn);
  return fn;
}
for (const fn of Object.values(GLOBALS)) INTERNAL.add(fn);

/** A scope of variables; lookups go to the parent when a name is not here. */
class Scope {
  readonly vars = new Map<string, unknown>();
  constructor(readonly parent: Scope | null, readonly context: Record<string, unknown> | null = null) {}
  lookup(name: string): unknown {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.context && Object.hasOwn(this.context, name)) {
      const v = this.context[name];
      return v === undefined ? new Undefined(`'${name}' is undefined`) : v;
    }
    if (this.parent) return this.parent.lookup(name);
    if (Object.hasOwn(GLOBALS, name)) return GLOBALS[name];
    return new Undefined(`'${name}' is undefined`);
  }
}

/** The expression as written (`component.port`), for messages. */
function written(n: Node): string {
  if (n.t === "name") return n.n;
  if (n.t === "attr") return `${written(n.o)}.${n.n}`;
  return "value";
}

/** Whether the tree reads the variable `name` (a macro takes extra arguments only if it reads `varargs`). */
function uses(body: Node[], name: string): boolean {
  return JSON.stringify(body).includes(`"t":"name","n":${JSON.stringify(name)}`);
}

function objName(v: unknown): string {
  return `'${typeName(v)} object'`;
}

/** Jinja2's `getattr`: an attribute (method) first, then an item. */
export function getattr(obj: unknown, name: string): unknown {
  if (obj instanceof Undefined) fail(obj);
  const m = method(obj, name, ENV);
  if (m) return internal(m);
  if (obj instanceof Namespace) {
    return obj.attrs.has(name) ? obj.attrs.get(name) : new Undefined(`'Namespace object' has no attribute '${name}'`);
  }
  // Whether it is a dict, decided once (a template reads `args.name` thousands of times: issue 17).
  const dict = isDict(obj);
  if (obj !== null && typeof obj === "object" && !dict && !Array.isArray(obj)) {
    if (name in obj) {
      const v = (obj as Record<string, unknown>)[name];
      if (typeof v === "function") return INTERNAL.has(v) ? v : v.bind(obj);
      if (v !== undefined) return v;
    }
  }
  // getitem() of a dict and a string key.
  const v = dict ? dictGet(obj, name) : undefined;
  return v === undefined ? new Undefined(`${objName(obj)} has no attribute '${name}'`) : v;
}

/** Jinja2's `getitem`: an item first, then an attribute. */
function item(obj: unknown, key: unknown): unknown {
  if (obj instanceof Undefined) fail(obj);
  if (key instanceof Undefined) fail(key);
  const v = getitem(obj, key);
  if (v !== undefined) return v;
  if (typeof key === "string") return getattr(obj, key);
  if (Array.isArray(obj) || typeof obj === "string") return new Undefined(`${objName(obj)} has no element ${str(key)}`);
  return new Undefined(`${objName(obj)} has no element ${str(key)}`);
}

const ENV = {
  filter(name: string, value: unknown, a: Args): unknown {
    const f = FILTERS[name];
    if (!f) throw new PyError("TemplateRuntimeError", `No filter named '${name}' found.`);
    return f(ENV, value, a);
  },
  test(name: string, value: unknown, a: Args): boolean {
    const t = TESTS[name];
    if (!t) throw new PyError("TemplateRuntimeError", `No test named '${name}' found.`);
    return t(ENV, value, a);
  },
  getattr,
};

/** A `for` loop's `loop` variable. */
class Loop {
  index0 = 0;
  private lastChanged: unknown[] | null = null;
  constructor(private readonly items: unknown[], readonly depth0: number) {}
  get index(): number {
    return this.index0 + 1;
  }
  get length(): number {
    return this.items.length;
  }
  get revindex(): number {
    return this.items.length - this.index0;
  }
  get revindex0(): number {
    return this.items.length - this.index0 - 1;
  }
  get first(): boolean {
    return this.index0 === 0;
  }
  get last(): boolean {
    return this.index0 === this.items.length - 1;
  }
  get depth(): number {
    return this.depth0 + 1;
  }
  get previtem(): unknown {
    return this.index0 > 0 ? this.items[this.index0 - 1] : new Undefined("there is no previous item");
  }
  get nextitem(): unknown {
    return this.index0 < this.items.length - 1 ? this.items[this.index0 + 1] : new Undefined("there is no next item");
  }
  readonly cycle: Callable = internal((a) => {
    if (!a.args.length) throw new PyError("TypeError", "no items for cycling given");
    return a.args[this.index0 % a.args.length];
  });
  readonly changed: Callable = internal((a) => {
    if (this.lastChanged !== null && eq(tuple(this.lastChanged), tuple(a.args))) return false;
    this.lastChanged = a.args;
    return true;
  });
}

/** The output of one template render. */
class Renderer {
  line = 1;
  loopDepth = 0;

  run(nodes: Node[], scope: Scope, out: string[]): void {
    for (const n of nodes) this.stmt(n, scope, out);
  }

  private block(nodes: Node[], scope: Scope): string {
    const out: string[] = [];
    this.run(nodes, scope, out);
    return out.join("");
  }

  private stmt(n: Node, scope: Scope, out: string[]): void {
    if (n.l) this.line = n.l;
    switch (n.t) {
      case "text":
        out.push(n.v);
        return;
      case "out":
        out.push(str(this.expr(n.e, scope)));
        return;
      case "if":
        for (const [cond, body] of n.tests as [Node, Node[]][]) {
          if (truthy(this.expr(cond, scope))) return this.run(body, scope, out);
        }
        if (n.else) this.run(n.else, scope, out);
        return;
      case "for":
        return this.forLoop(n, scope, out);
      case "set":
        return this.assign(n.target, this.expr(n.e, scope), scope);
      case "setblock": {
        let v: unknown = this.block(n.body, new Scope(scope));
        for (const f of n.filters as Node[]) v = this.applyFilter(f, v, scope);
        return this.assign(n.target, v, scope);
      }
      case "macro":
        scope.vars.set(n.name, this.macro(n, scope));
        return;
      case "callblock": {
        const caller = this.macro({ t: "macro", name: "caller", params: n.params, body: n.body }, scope);
        const call = n.call as Node;
        const fn = this.expr(call.f, scope);
        const a = this.args(call, scope);
        a.kwargs.set("caller", caller);
        out.push(str(this.call(fn, a)));
        return;
      }
      case "filterblock": {
        let v: unknown = this.block(n.body, new Scope(scope));
        for (const f of n.filters as Node[]) v = this.applyFilter(f, v, scope);
        out.push(str(v));
        return;
      }
      case "with": {
        const inner = new Scope(scope);
        for (const [target, e] of n.assigns as Node[][]) this.assign(target, this.expr(e, scope), inner);
        this.run(n.body, inner, out);
        return;
      }
    }
    throw new PyError("TemplateSyntaxError", `unknown statement '${n.t}'`);
  }

  private forLoop(n: Node, scope: Scope, out: string[]): void {
    let items = [...iterate(this.expr(n.iter, scope))];
    if (n.cond) {
      items = items.filter((x) => {
        const s = new Scope(scope);
        this.assign(n.target, x, s);
        return truthy(this.expr(n.cond, s));
      });
    }
    if (!items.length) {
      if (n.else) this.run(n.else, scope, out);
      return;
    }
    const loop = new Loop(items, this.loopDepth);
    const inner = new Scope(scope);
    this.loopDepth++;
    try {
      for (let i = 0; i < items.length; i++) {
        loop.index0 = i;
        inner.vars.set("loop", loop);
        this.assign(n.target, items[i], inner);
        this.run(n.body, inner, out);
      }
    } finally {
      this.loopDepth--;
    }
  }

  private assign(target: Node, value: unknown, scope: Scope): void {
    if (target.t === "name") {
      scope.vars.set(target.n, value);
      return;
    }
    if (target.t === "nsattr") {
      const ns = scope.lookup(target.n);
      if (!(ns instanceof Namespace)) {
        throw new PyError("TemplateRuntimeError", "cannot assign attribute on non-namespace object");
      }
      ns.attrs.set(target.a, value);
      return;
    }
    // a tuple target
    const items = iterate(value);
    const targets = target.items as Node[];
    if (items.length !== targets.length) {
      throw new PyError(
        "ValueError",
        items.length > targets.length
          ? `too many values to unpack (expected ${targets.length})`
          : `not enough values to unpack (expected ${targets.length}, got ${items.length})`,
      );
    }
    targets.forEach((t, i) => this.assign(t, items[i], scope));
  }

  private macro(n: Node, scope: Scope): Callable {
    const params = n.params as [string, Node | null][];
    return internal((a: Args) => {
      const inner = new Scope(scope);
      const kwargs = new Map(a.kwargs);
      params.forEach(([name, dflt], i) => {
        if (i < a.args.length) inner.vars.set(name, a.args[i]);
        else if (kwargs.has(name)) {
          inner.vars.set(name, kwargs.get(name));
          kwargs.delete(name);
        } else if (dflt) inner.vars.set(name, this.expr(dflt, inner));
        else inner.vars.set(name, new Undefined(`parameter '${name}' was not provided`));
      });
      if (a.args.length > params.length && !uses(n.body, "varargs")) {
        throw new PyError("TypeError", `macro '${n.name}' takes not more than ${params.length} argument(s)`);
      }
      inner.vars.set("varargs", tuple(a.args.slice(params.length)));
      if (kwargs.has("caller")) {
        inner.vars.set("caller", kwargs.get("caller"));
        kwargs.delete("caller");
      }
      inner.vars.set("kwargs", Object.fromEntries(kwargs));
      const line = this.line;
      const depth = this.loopDepth;
      this.loopDepth = 0;
      try {
        return this.block(n.body, inner);
      } finally {
        this.line = line;
        this.loopDepth = depth;
      }
    });
  }

  private args(n: Node, scope: Scope): Args {
    const args = (n.args as Node[]).map((e) => this.expr(e, scope));
    const kwargs = new Map<string, unknown>();
    for (const [k, e] of n.kwargs as [string, Node][]) kwargs.set(k, this.expr(e, scope));
    if (n.star) args.push(...iterate(this.expr(n.star, scope)));
    if (n.dstar) {
      const d = this.expr(n.dstar, scope);
      if (!isDict(d)) throw new PyError("TypeError", "argument after ** must be a mapping");
      for (const k of dictKeys(d)) kwargs.set(str(k), getitem(d, k));
    }
    return { args, kwargs };
  }

  private call(fn: unknown, a: Args): unknown {
    if (fn instanceof Undefined) fail(fn);
    if (typeof fn !== "function") throw new PyError("TypeError", `'${typeName(fn)}' object is not callable`);
    if (INTERNAL.has(fn)) return (fn as Callable)(a);
    if (a.kwargs.size) {
      throw new PyError("TypeError", `keyword arguments are not supported when calling '${fn.name || "function"}'`);
    }
    const r = fn(...a.args);
    return r === undefined ? null : r;
  }

  private applyFilter(n: Node, value: unknown, scope: Scope): unknown {
    if (n.l) this.line = n.l;
    return ENV.filter(n.n, value, this.args(n, scope));
  }

  expr(n: Node, scope: Scope): unknown {
    switch (n.t) {
      case "const":
        return n.v;
      case "float":
        return float(n.v);
      case "name":
        return scope.lookup(n.n);
      case "tuple":
        return tuple((n.items as Node[]).map((e) => this.expr(e, scope)));
      case "list":
        return (n.items as Node[]).map((e) => this.expr(e, scope));
      case "dict": {
        const pairs = (n.pairs as Node[][]).map(([k, v]) => [this.expr(k, scope), this.expr(v, scope)] as const);
        if (pairs.every(([k]) => typeof k === "string")) {
          const o: Record<string, unknown> = {};
          for (const [k, v] of pairs) o[k as string] = v;
          return o;
        }
        const m = new Map<unknown, unknown>();
        for (const [k, v] of pairs) {
          const old = [...m.keys()].find((x) => eq(x, k));
          m.set(old === undefined ? k : old, v);
        }
        return m;
      }
      case "attr": {
        const v = getattr(this.expr(n.o, scope), n.n);
        return v instanceof Undefined ? new Undefined(`'${written(n)}' is undefined`) : v;
      }
      case "item":
        return item(this.expr(n.o, scope), this.expr(n.k, scope));
      case "slice": {
        const o = this.expr(n.o, scope);
        const part = (e: Node | null) => (e ? this.expr(e, scope) : null);
        return slice(o, part(n.a), part(n.b), part(n.c));
      }
      case "call": {
        const fn = this.expr(n.f, scope);
        const a = this.args(n, scope);
        if (n.l) this.line = n.l;
        return this.call(fn, a);
      }
      case "filter":
        return this.applyFilter(n, this.expr(n.o, scope), scope);
      case "test": {
        const v = this.expr(n.o, scope);
        const r = ENV.test(n.n, v, this.args(n, scope));
        return n.neg ? !r : r;
      }
      case "cond":
        if (truthy(this.expr(n.test, scope))) return this.expr(n.a, scope);
        // Jinja2 renders a missing else as an empty (default) Undefined, even with StrictUndefined.
        return n.b ? this.expr(n.b, scope) : "";
      case "or": {
        const a = this.expr(n.a, scope);
        return truthy(a) ? a : this.expr(n.b, scope);
      }
      case "and": {
        const a = this.expr(n.a, scope);
        return truthy(a) ? this.expr(n.b, scope) : a;
      }
      case "not":
        return !truthy(this.expr(n.a, scope));
      case "cmp": {
        let left = this.expr(n.a, scope);
        for (const [op, e] of n.ops as [string, Node][]) {
          const right = this.expr(e, scope);
          if (!this.compare(op, left, right)) return false;
          left = right;
        }
        return true;
      }
      case "bin": {
        const a = this.expr(n.a, scope);
        const b = this.expr(n.b, scope);
        if (n.l) this.line = n.l;
        return binop(n.op, a, b);
      }
      case "concat":
        return (n.items as Node[]).map((e) => str(this.expr(e, scope))).join("");
      case "un": {
        const v = this.expr(n.a, scope);
        if (v instanceof Undefined) fail(v);
        if (typeof v !== "number" && typeof v !== "boolean" && !(typeof v === "object" && v !== null && "v" in v)) {
          throw new PyError("TypeError", `bad operand type for unary ${n.op}: '${typeName(v)}'`);
        }
        return n.op === "-" ? binop("*", v, -1) : binop("+", v, 0);
      }
    }
    throw new PyError("TemplateSyntaxError", `unknown expression '${n.t}'`);
  }

  private compare(op: string, a: unknown, b: unknown): boolean {
    switch (op) {
      case "==":
        return eq(a, b);
      case "!=":
        return !eq(a, b);
      case "<":
        return compare(a, b, op) < 0;
      case ">":
        return compare(a, b, op) > 0;
      case "<=":
        return compare(a, b, op) <= 0;
      case ">=":
        return compare(a, b, op) >= 0;
      case "in":
        return contains(b, a);
      case "notin":
        return !contains(b, a);
    }
    throw new PyError("TemplateSyntaxError", `unknown operator '${op}'`);
  }
}

/** Renders `template` with `context`. Errors are {@linkcode TemplateRenderError}s naming the line. */
export function renderTemplate(template: Template, context: Record<string, unknown>): string {
  const r = new Renderer();
  const out: string[] = [];
  try {
    r.run(template.body, new Scope(null, context), out);
  } catch (e) {
    if (e instanceof UndefinedError || e instanceof PyError) throw new TemplateRenderError(e, r.line);
    if (e instanceof TemplateRenderError) throw e;
    if (e instanceof RangeError) throw new TemplateRenderError(e, r.line);
    throw e;
  }
  return out.join("");
}

export { num };
