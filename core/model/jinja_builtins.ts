/**
 * Jinja2's builtin filters and tests, Python's str/list/dict methods, and the global functions (`range`, `dict`,
 * `namespace`, `cycler`, `joiner`), with Python's semantics on the values of core/model/jinja_values.ts.
 *
 * @module
 */
import { KNOWN_FILTERS, KNOWN_TESTS } from "./jinja_parse.ts";
import {
  binop,
  compare,
  contains,
  dictGet,
  dictKeys,
  eq,
  fail,
  float,
  formatSpec,
  isDict,
  isFloat,
  isNumber,
  isTuple,
  iterate,
  len,
  Namespace,
  num,
  percentFormat,
  PyError,
  pyFixed,
  PyFloat,
  repr,
  str,
  toInt,
  truthy,
  tuple,
  typeName,
  Undefined,
} from "./jinja_values.ts";
import { compareCodePoints, pythonFloatRepr, pythonJsonString } from "../formats/pyjson.ts";

/** Positional and keyword arguments of a call. */
export interface Args {
  args: unknown[];
  kwargs: Map<string, unknown>;
}

/** Something callable from a template. */
export type Callable = (a: Args) => unknown;

/** The environment a filter needs: calling filters and tests by name (for map, select...) and attribute lookup. */
export interface Env {
  filter(name: string, value: unknown, a: Args): unknown;
  test(name: string, value: unknown, a: Args): boolean;
  getattr(obj: unknown, name: string): unknown;
}

/** Reads parameters by name or position, as a Python signature does. */
function params(a: Args, names: string[], defaults: unknown[], fname: string): unknown[] {
  if (a.args.length > names.length) {
    throw new PyError("TypeError", `${fname}() takes at most ${names.length} arguments (${a.args.length} given)`);
  }
  const out = names.map((n, i) => (i < a.args.length ? a.args[i] : a.kwargs.has(n) ? a.kwargs.get(n) : defaults[i]));
  for (const k of a.kwargs.keys()) {
    if (!names.includes(k)) throw new PyError("TypeError", `${fname}() got an unexpected keyword argument '${k}'`);
  }
  const missing = out.findIndex((v) => v === REQUIRED);
  if (missing >= 0) throw new PyError("TypeError", `${fname}() missing required argument '${names[missing]}'`);
  return out;
}
const REQUIRED = Symbol("required");

function s(v: unknown): string {
  if (typeof v !== "string") throw new PyError("TypeError", `expected str, got ${typeName(v)}`);
  return v;
}

/** `s.split()` without a separator: runs of whitespace, no empty items. */
function splitWhitespace(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text.replace(/^\s+/, "");
  while (rest) {
    if (max >= 0 && out.length === max) {
      out.push(rest);
      break;
    }
    const m = /\s+/.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    out.push(rest.slice(0, m.index));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

function stripChars(text: string, chars: unknown, left: boolean, right: boolean): string {
  if (chars === null || chars === undefined) {
    let t = text;
    if (left) t = t.replace(/^\s+/, "");
    if (right) t = t.replace(/\s+$/, "");
    return t;
  }
  const set = new Set([...s(chars)]);
  const cs = [...text];
  let a = 0;
  let b = cs.length;
  if (left) { while (a < b && set.has(cs[a])) a++; }
  if (right) { while (b > a && set.has(cs[b - 1])) b--; }
  return cs.slice(a, b).join("");
}

function title(text: string): string {
  return text.replace(/[A-Za-z\u00c0-\uffff]+('[A-Za-z]+)?|[^A-Za-z\u00c0-\uffff]+/g, (w) => {
    if (!/[A-Za-z\u00c0-\uffff]/.test(w[0])) return w;
    return w[0].toUpperCase() + w.slice(1).toLowerCase();
  }).replace(/([A-Za-z])'([A-Z])/g, (_m, a, b) => `${a}'${b}`);
}

/** Python's `str.format`. */
export function strFormat(fmt: string, a: Args, env: Env): string {
  let auto = 0;
  let out = "";
  let i = 0;
  while (i < fmt.length) {
    const c = fmt[i];
    if (c === "{" && fmt[i + 1] === "{") {
      out += "{";
      i += 2;
      continue;
    }
    if (c === "}" && fmt[i + 1] === "}") {
      out += "}";
      i += 2;
      continue;
    }
    if (c === "}") throw new PyError("ValueError", "Single '}' encountered in format string");
    if (c !== "{") {
      out += c;
      i++;
      continue;
    }
    let depth = 1;
    let j = i + 1;
    while (j < fmt.length && depth) {
      if (fmt[j] === "{") depth++;
      else if (fmt[j] === "}") depth--;
      j++;
    }
    if (depth) throw new PyError("ValueError", "Single '{' encountered in format string");
    const field = fmt.slice(i + 1, j - 1);
    i = j;
    const m = /^([^!:.[]*)((?:\.[A-Za-z_]\w*|\[[^\]]*\])*)(?:!([rsa]))?(?::(.*))?$/s.exec(field);
    if (!m) throw new PyError("ValueError", `bad format field '${field}'`);
    const [, name, path, conv, rawSpec] = m;
    let v: unknown;
    if (name === "") {
      if (auto >= a.args.length) throw new PyError("IndexError", "Replacement index out of range");
      v = a.args[auto++];
    } else if (/^\d+$/.test(name)) {
      if (Number(name) >= a.args.length) throw new PyError("IndexError", "Replacement index out of range");
      v = a.args[Number(name)];
    } else {
      if (!a.kwargs.has(name)) throw new PyError("KeyError", repr(name));
      v = a.kwargs.get(name);
    }
    for (const part of path.match(/\.[A-Za-z_]\w*|\[[^\]]*\]/g) ?? []) {
      if (part[0] === ".") {
        if (isDict(v)) throw new PyError("AttributeError", `'dict' object has no attribute '${part.slice(1)}'`);
        v = env.getattr(v, part.slice(1));
      } else {
        const k = part.slice(1, -1);
        v = getitem(v, /^\d+$/.test(k) ? Number(k) : k);
      }
    }
    if (v instanceof Undefined) fail(v);
    if (conv === "r" || conv === "a") v = repr(v);
    else if (conv === "s") v = str(v);
    const spec = (rawSpec ?? "").replace(/\{([^}]*)\}/g, (_m, n: string) => {
      return str(n === "" ? a.args[auto++] : /^\d+$/.test(n) ? a.args[Number(n)] : a.kwargs.get(n));
    });
    out += formatSpec(v, spec);
  }
  return out;
}

/** `obj[key]` with Python's semantics; `undefined` when the key or index is not there. */
export function getitem(obj: unknown, key: unknown): unknown {
  if (obj instanceof Undefined) fail(obj);
  if (Array.isArray(obj) || typeof obj === "string") {
    if (!isNumber(key) || isFloat(key)) return undefined;
    const items = typeof obj === "string" ? [...obj] : obj;
    let i = num(key);
    if (i < 0) i += items.length;
    return i >= 0 && i < items.length ? items[i] : undefined;
  }
  if (isDict(obj)) return dictGet(obj, typeof key === "boolean" || key instanceof PyFloat ? num(key) : key);
  if (obj instanceof Namespace) return typeof key === "string" ? obj.attrs.get(key) : undefined;
  if (obj !== null && typeof obj === "object" && (typeof key === "string" || typeof key === "number")) {
    const v = (obj as Record<string, unknown>)[key];
    return typeof v === "function" ? v.bind(obj) : v;
  }
  return undefined;
}

/** `obj[a:b:c]`. */
export function slice(obj: unknown, a: unknown, b: unknown, c: unknown): unknown {
  if (obj instanceof Undefined) fail(obj);
  const items = typeof obj === "string" ? [...obj] : Array.isArray(obj) ? obj : null;
  if (!items) throw new PyError("TypeError", `'${typeName(obj)}' object is not subscriptable`);
  const n = items.length;
  const step = c === null || c === undefined ? 1 : num(c);
  if (step === 0) throw new PyError("ValueError", "slice step cannot be zero");
  const norm = (v: unknown, dflt: number, lo: number, hi: number) => {
    if (v === null || v === undefined) return dflt;
    let i = num(v);
    if (i < 0) i += n;
    return Math.min(Math.max(i, lo), hi);
  };
  const out: unknown[] = [];
  if (step > 0) {
    const start = norm(a, 0, 0, n);
    const stop = norm(b, n, 0, n);
    for (let i = start; i < stop; i += step) out.push(items[i]);
  } else {
    const start = norm(a, n - 1, -1, n - 1);
    const stop = norm(b, -1, -1, n - 1);
    for (let i = start; i > stop; i += step) out.push(items[i]);
  }
  if (typeof obj === "string") return out.join("");
  return isTuple(obj) ? tuple(out) : out;
}

/** A bound method of a str, list or dict (`undefined` if there is none of that name). */
export function method(obj: unknown, name: string, env: Env): Callable | undefined {
  const fn = typeof obj === "string"
    ? STR_METHODS[name]
    : Array.isArray(obj)
    ? LIST_METHODS[name]
    : isDict(obj)
    ? DICT_METHODS[name]
    : undefined;
  if (
    !fn ||
    !Object.hasOwn(typeof obj === "string" ? STR_METHODS : Array.isArray(obj) ? LIST_METHODS : DICT_METHODS, name)
  ) {
    return undefined;
  }
  return (a: Args) => fn(obj as never, a, env);
}

type Method = (self: never, a: Args, env: Env) => unknown;

const STR_METHODS: Record<string, Method> = {
  upper: (t: string) => t.toUpperCase(),
  lower: (t: string) => t.toLowerCase(),
  casefold: (t: string) => t.toLowerCase(),
  title: (t: string) => title(t),
  capitalize: (t: string) => (t ? t[0].toUpperCase() + t.slice(1).toLowerCase() : t),
  swapcase: (t: string) => [...t].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(""),
  strip: (t: string, a) => stripChars(t, params(a, ["chars"], [null], "strip")[0], true, true),
  lstrip: (t: string, a) => stripChars(t, params(a, ["chars"], [null], "lstrip")[0], true, false),
  rstrip: (t: string, a) => stripChars(t, params(a, ["chars"], [null], "rstrip")[0], false, true),
  split: (t: string, a) => {
    const [sep, max] = params(a, ["sep", "maxsplit"], [null, -1], "split");
    if (sep === null) return splitWhitespace(t, num(max));
    if (s(sep) === "") throw new PyError("ValueError", "empty separator");
    const parts = t.split(sep as string);
    const m = num(max);
    if (m >= 0 && parts.length > m + 1) return [...parts.slice(0, m), parts.slice(m).join(sep as string)];
    return parts;
  },
  rsplit: (t: string, a) => {
    const [sep, max] = params(a, ["sep", "maxsplit"], [null, -1], "rsplit");
    const m = num(max);
    if (sep === null) {
      if (m < 0) return splitWhitespace(t, -1);
      const rev = splitWhitespace([...t].reverse().join(""), m).map((p) => [...p].reverse().join(""));
      return rev.reverse();
    }
    const parts = t.split(s(sep));
    if (m >= 0 && parts.length > m + 1) {
      return [parts.slice(0, parts.length - m).join(sep as string), ...parts.slice(parts.length - m)];
    }
    return parts;
  },
  splitlines: (t: string, a) => {
    const [keep] = params(a, ["keepends"], [false], "splitlines");
    const out: string[] = [];
    // deno-lint-ignore no-control-regex
    const re = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
    let last = 0;
    for (const m of t.matchAll(re)) {
      out.push(t.slice(last, truthy(keep) ? m.index! + m[0].length : m.index));
      last = m.index! + m[0].length;
    }
    if (last < t.length) out.push(t.slice(last));
    return out;
  },
  startswith: (t: string, a) => {
    const [p] = params(a, ["prefix"], [REQUIRED], "startswith");
    return Array.isArray(p) ? p.some((x) => t.startsWith(s(x))) : t.startsWith(s(p));
  },
  endswith: (t: string, a) => {
    const [p] = params(a, ["suffix"], [REQUIRED], "endswith");
    return Array.isArray(p) ? p.some((x) => t.endsWith(s(x))) : t.endsWith(s(p));
  },
  replace: (t: string, a) => {
    const [o, n, c] = params(a, ["old", "new", "count"], [REQUIRED, REQUIRED, -1], "replace");
    return replaceCount(t, s(o), s(n), num(c));
  },
  join: (t: string, a) => iterate(params(a, ["iterable"], [REQUIRED], "join")[0]).map(s).join(t),
  find: (t: string, a) => cpIndex(t, t.indexOf(s(params(a, ["sub"], [REQUIRED], "find")[0]))),
  rfind: (t: string, a) => cpIndex(t, t.lastIndexOf(s(params(a, ["sub"], [REQUIRED], "rfind")[0]))),
  index: (t: string, a) => {
    const i = t.indexOf(s(params(a, ["sub"], [REQUIRED], "index")[0]));
    if (i < 0) throw new PyError("ValueError", "substring not found");
    return cpIndex(t, i);
  },
  count: (t: string, a) => {
    const sub = s(params(a, ["sub"], [REQUIRED], "count")[0]);
    return sub === "" ? [...t].length + 1 : t.split(sub).length - 1;
  },
  zfill: (t: string, a) => {
    const w = num(params(a, ["width"], [REQUIRED], "zfill")[0]);
    const sign = /^[-+]/.test(t) ? t[0] : "";
    return sign + t.slice(sign.length).padStart(w - sign.length, "0");
  },
  center: (t: string, a) => {
    const [w, f] = params(a, ["width", "fillchar"], [REQUIRED, " "], "center");
    const n = num(w) - [...t].length;
    if (n <= 0) return t;
    const left = Math.floor(n / 2) + (n & num(w) & 1);
    return (f as string).repeat(left) + t + (f as string).repeat(n - left);
  },
  ljust: (t: string, a) => {
    const [w, f] = params(a, ["width", "fillchar"], [REQUIRED, " "], "ljust");
    return t + (f as string).repeat(Math.max(0, num(w) - [...t].length));
  },
  rjust: (t: string, a) => {
    const [w, f] = params(a, ["width", "fillchar"], [REQUIRED, " "], "rjust");
    return (f as string).repeat(Math.max(0, num(w) - [...t].length)) + t;
  },
  isdigit: (t: string) => /^\d+$/.test(t),
  isnumeric: (t: string) => /^\d+$/.test(t),
  isdecimal: (t: string) => /^\d+$/.test(t),
  isalpha: (t: string) => /^\p{L}+$/u.test(t),
  isalnum: (t: string) => /^[\p{L}\d]+$/u.test(t),
  isspace: (t: string) => /^\s+$/.test(t),
  isupper: (t: string) => /\p{Lu}/u.test(t) && t === t.toUpperCase(),
  islower: (t: string) => /\p{Ll}/u.test(t) && t === t.toLowerCase(),
  istitle: (t: string) => t.length > 0 && title(t) === t && /\p{L}/u.test(t),
  format: (t: string, a, env) => strFormat(t, a, env),
  partition: (t: string, a) => {
    const sep = s(params(a, ["sep"], [REQUIRED], "partition")[0]);
    const i = t.indexOf(sep);
    return tuple(i < 0 ? [t, "", ""] : [t.slice(0, i), sep, t.slice(i + sep.length)]);
  },
  rpartition: (t: string, a) => {
    const sep = s(params(a, ["sep"], [REQUIRED], "rpartition")[0]);
    const i = t.lastIndexOf(sep);
    return tuple(i < 0 ? ["", "", t] : [t.slice(0, i), sep, t.slice(i + sep.length)]);
  },
  removeprefix: (t: string, a) => {
    const p = s(params(a, ["prefix"], [REQUIRED], "removeprefix")[0]);
    return p && t.startsWith(p) ? t.slice(p.length) : t;
  },
  removesuffix: (t: string, a) => {
    const p = s(params(a, ["suffix"], [REQUIRED], "removesuffix")[0]);
    return p && t.endsWith(p) ? t.slice(0, -p.length) : t;
  },
};

function cpIndex(t: string, i: number): number {
  return i < 0 ? -1 : [...t.slice(0, i)].length;
}

function replaceCount(t: string, o: string, n: string, count: number): string {
  if (count < 0) {
    if (o === "") return n + [...t].join(n) + n;
    return t.split(o).join(n);
  }
  let out = "";
  let rest = t;
  for (let i = 0; i < count; i++) {
    const at = rest.indexOf(o);
    if (at < 0 || o === "") break;
    out += rest.slice(0, at) + n;
    rest = rest.slice(at + o.length);
  }
  return out + rest;
}

const LIST_METHODS: Record<string, Method> = {
  append: (l: unknown[], a) => {
    if (isTuple(l)) throw new PyError("AttributeError", "'tuple' object has no attribute 'append'");
    l.push(params(a, ["object"], [REQUIRED], "append")[0]);
    return null;
  },
  extend: (l: unknown[], a) => {
    l.push(...iterate(params(a, ["iterable"], [REQUIRED], "extend")[0]));
    return null;
  },
  index: (l: unknown[], a) => {
    const x = params(a, ["value"], [REQUIRED], "index")[0];
    const i = l.findIndex((y) => eq(y, x));
    if (i < 0) throw new PyError("ValueError", `${repr(x)} is not in list`);
    return i;
  },
  count: (l: unknown[], a) => {
    const x = params(a, ["value"], [REQUIRED], "count")[0];
    return l.filter((y) => eq(y, x)).length;
  },
  copy: (l: unknown[]) => [...l],
};

function dictItems(d: Record<string, unknown> | Map<unknown, unknown>): unknown[][] {
  return dictKeys(d).map((k) => tuple([k, dictGet(d, k)]));
}

const DICT_METHODS: Record<string, Method> = {
  items: (d: Record<string, unknown>) => dictItems(d),
  keys: (d: Record<string, unknown>) => dictKeys(d),
  values: (d: Record<string, unknown>) => dictKeys(d).map((k) => dictGet(d, k)),
  get: (d: Record<string, unknown>, a) => {
    const [k, dflt] = params(a, ["key", "default"], [REQUIRED, null], "get");
    const v = dictGet(d, k);
    return v === undefined ? dflt : v;
  },
  copy: (d: Record<string, unknown> | Map<unknown, unknown>) => (d instanceof Map ? new Map(d) : { ...d }),
};

/** The value a `map(attribute=...)`/`sort(attribute=...)` names: dotted attributes and integer parts. */
function attrPath(env: Env, obj: unknown, path: unknown): unknown {
  let v = obj;
  for (const part of (typeof path === "number" ? [path] : str(path).split("."))) {
    v = typeof part === "string" && /^\d+$/.test(part) ? getitem(v, Number(part)) : env.getattr(v, part as string);
    if (v === undefined) return new Undefined(`'${typeName(obj)} object' has no attribute '${part}'`);
  }
  return v;
}

function sortKey(caseSensitive: boolean): (x: unknown) => unknown {
  return (x) => (!caseSensitive && typeof x === "string" ? x.toLowerCase() : x);
}

function sorted(items: unknown[], key: (x: unknown) => unknown, reverse: boolean): unknown[] {
  const decorated = items.map((x) => [key(x), x] as const);
  decorated.sort((p, q) => compare(p[0], q[0]));
  if (reverse) {
    // Python's reverse keeps equal items in their order.
    const out: (readonly [unknown, unknown])[] = [];
    for (let i = decorated.length - 1; i >= 0;) {
      let j = i;
      while (j > 0 && eq(decorated[j - 1][0], decorated[i][0])) j--;
      out.push(...decorated.slice(j, i + 1));
      i = j - 1;
    }
    return out.map((p) => p[1]);
  }
  return decorated.map((p) => p[1]);
}

/** Python's json.dumps(sort_keys=True) as Jinja2's `tojson` uses it, with its HTML-safe escapes. */
function toJson(v: unknown, indent: unknown): string {
  const ind = indent === null || indent === undefined ? null : num(indent);
  const enc = (x: unknown, level: number): string => {
    if (x instanceof Undefined) fail(x);
    if (x === null || x === undefined) return "null";
    if (typeof x === "boolean") return x ? "true" : "false";
    if (x instanceof PyFloat) return pythonFloatRepr(x.v);
    if (typeof x === "number") return Number.isInteger(x) ? String(x) : pythonFloatRepr(x);
    if (typeof x === "string") return pythonJsonString(x);
    const pre = ind === null ? "" : "\n" + " ".repeat(ind * (level + 1));
    const post = ind === null ? "" : "\n" + " ".repeat(ind * level);
    const sep = ind === null ? ", " : ",";
    if (Array.isArray(x)) {
      if (!x.length) return "[]";
      return "[" + pre + x.map((i) => enc(i, level + 1)).join(sep + pre) + post + "]";
    }
    if (isDict(x)) {
      const keys = dictKeys(x);
      if (!keys.length) return "{}";
      const strKey = (k: unknown) =>
        typeof k === "string" ? k : k === null ? "null" : typeof k === "boolean" ? String(k) : str(k);
      const pairs = keys.map((k) => [strKey(k), dictGet(x, k)] as const).sort((p, q) => compareCodePoints(p[0], q[0]));
      return "{" + pre + pairs.map(([k, val]) => pythonJsonString(k) + ": " + enc(val, level + 1)).join(sep + pre) +
        post + "}";
    }
    throw new PyError("TypeError", `Object of type ${typeName(x)} is not JSON serializable`);
  };
  return enc(v, 0).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026").replace(
    /'/g,
    "\\u0027",
  );
}

/** Python's textwrap.wrap as Jinja2's wordwrap calls it (no tab expansion, whitespace kept). */
function wrapLine(text: string, width: number, breakLong: boolean, hyphens: boolean): string[] {
  const chunks = text.split(hyphens ? /(\s+|(?<=[^\s-]-)(?=[^\s-]))/ : /(\s+)/).filter((c) => c);
  const lines: string[] = [];
  chunks.reverse();
  while (chunks.length) {
    const cur: string[] = [];
    let curLen = 0;
    if (lines.length && /^\s+$/.test(chunks[chunks.length - 1])) chunks.pop();
    while (chunks.length) {
      const l = [...chunks[chunks.length - 1]].length;
      if (curLen + l <= width) {
        cur.push(chunks.pop()!);
        curLen += l;
      } else break;
    }
    if (chunks.length && [...chunks[chunks.length - 1]].length > width) {
      const space = Math.max(1, width - curLen);
      if (breakLong) {
        const c = [...chunks[chunks.length - 1]];
        cur.push(c.slice(0, space).join(""));
        chunks[chunks.length - 1] = c.slice(space).join("");
      } else if (!cur.length) cur.push(chunks.pop()!);
    }
    if (cur.length && /^\s+$/.test(cur[cur.length - 1])) cur.pop();
    if (cur.length) lines.push(cur.join(""));
  }
  return lines;
}

function rejectOrSelect(env: Env, value: unknown, a: Args, select: boolean, attr: boolean): unknown[] {
  const items = iterate(value);
  const [key, ...rest] = a.args;
  const get = (x: unknown) => (attr ? attrPath(env, x, key) : x);
  const testName = attr ? rest[0] : key;
  const testArgs = { args: attr ? rest.slice(1) : rest, kwargs: a.kwargs };
  return items.filter((x) => {
    const v = get(x);
    const ok = testName === undefined ? truthy(v) : env.test(str(testName), v, testArgs);
    return ok === select;
  });
}

function indent(text: string, width: unknown, first: unknown, blank: unknown): string {
  const pad = typeof width === "string" ? width : " ".repeat(num(width));
  // As Jinja2: a newline is added before splitting into lines (so a trailing newline is not indented).
  const lines = STR_METHODS.splitlines((text + "\n") as never, NONE, NO_ENV) as string[];
  let rv: string;
  if (truthy(blank)) rv = lines.join("\n" + pad);
  else {
    rv = lines.shift() ?? "";
    if (lines.length) rv += "\n" + lines.map((l) => (l ? pad + l : l)).join("\n");
  }
  return truthy(first) ? pad + rv : rv;
}

const NONE: Args = { args: [], kwargs: new Map() };
const NO_ENV = null as unknown as Env;

/** The filters: `value` and the call's arguments. */
export const FILTERS: Record<string, (env: Env, value: unknown, a: Args) => unknown> = {
  abs: (_e, v) => (isFloat(v) ? float(Math.abs(num(v))) : Math.abs(num(v))),
  attr: (e, v, a) => {
    // getattr only: a dict's keys are not attributes.
    const name = str(a.args[0]);
    if (isDict(v) && !method(v, name, e)) return new Undefined(`'dict object' has no attribute '${name}'`);
    return e.getattr(v, name);
  },
  batch: (_e, v, a) => {
    const [n, fill] = params(a, ["linecount", "fill_with"], [REQUIRED, null], "batch");
    const items = iterate(v);
    const out: unknown[][] = [];
    for (let i = 0; i < items.length; i += num(n)) out.push(items.slice(i, i + num(n)));
    const last = out[out.length - 1];
    if (fill !== null && last) { while (last.length < num(n)) last.push(fill); }
    return out;
  },
  capitalize: (_e, v) => STR_METHODS.capitalize(str(v) as never, { args: [], kwargs: new Map() }, _e),
  center: (_e, v, a) => {
    const [w] = params(a, ["width"], [80], "center");
    return STR_METHODS.center(str(v) as never, { args: [w], kwargs: new Map() }, _e);
  },
  count: (_e, v) => len(v),
  default: (_e, v, a) => {
    const [dflt, bool] = params(a, ["default_value", "boolean"], ["", false], "default");
    if (v instanceof Undefined || (truthy(bool) && !truthy(v))) return dflt;
    return v;
  },
  dictsort: (_e, v, a) => {
    const [cs, by, rev] = params(a, ["case_sensitive", "by", "reverse"], [false, "key", false], "dictsort");
    if (!isDict(v)) throw new PyError("TypeError", "dictsort needs a dict");
    const pos = by === "key" ? 0 : by === "value" ? 1 : -1;
    if (pos < 0) throw new PyError("FilterArgumentError", 'You can only sort by either "key" or "value"');
    const k = sortKey(truthy(cs));
    return sorted(dictItems(v), (p) => k((p as unknown[])[pos]), truthy(rev));
  },
  escape: (_e, v) =>
    str(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&#34;").replace(
      /'/g,
      "&#39;",
    ),
  first: (_e, v) => {
    const items = iterate(v);
    return items.length ? items[0] : new Undefined("No first item, sequence was empty.");
  },
  float: (_e, v, a) => {
    const [dflt] = params(a, ["default"], [0.0], "float");
    if (isNumber(v)) return float(num(v));
    if (typeof v === "string" && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(inf|nan)\s*$/i.test(v)) {
      return float(Number(v.trim().replace(/inf/i, "Infinity").replace(/nan/i, "NaN")));
    }
    return dflt === 0.0 ? new PyFloat(0) : dflt;
  },
  format: (_e, v, a) => percentFormat(str(v), a.kwargs.size ? Object.fromEntries(a.kwargs) : tuple(a.args)),
  groupby: (e, v, a) => {
    const [attribute, dflt, cs] = params(
      a,
      ["attribute", "default", "case_sensitive"],
      [REQUIRED, null, false],
      "groupby",
    );
    const k = sortKey(truthy(cs));
    const get = (x: unknown) => {
      const r = attrPath(e, x, attribute);
      return r instanceof Undefined && dflt !== null ? dflt : r;
    };
    const items = sorted(iterate(v), (x) => k(get(x)), false);
    const groups: unknown[][] = [];
    for (const x of items) {
      const key = k(get(x));
      const last = groups[groups.length - 1];
      if (last && eq(last[0], key)) (last[1] as unknown[]).push(x);
      else groups.push(tuple([key, [x]]));
    }
    return groups;
  },
  indent: (_e, v, a) => {
    const [w, f, b] = params(a, ["width", "first", "blank"], [4, false, false], "indent");
    return indent(str(v), w, f, b);
  },
  int: (_e, v, a) => {
    const [dflt, base] = params(a, ["default", "base"], [0, 10], "int");
    if (isNumber(v)) return Math.trunc(num(v));
    if (typeof v === "string") {
      try {
        return toInt(v, num(base));
      } catch {
        const f = Number(v.trim());
        if (num(base) === 10 && v.trim() && /^[+-]?[\d.eE+-]+$/.test(v.trim()) && !Number.isNaN(f)) {
          return Math.trunc(f);
        }
        return dflt;
      }
    }
    return dflt;
  },
  items: (_e, v) => {
    if (v instanceof Undefined) return [];
    if (!isDict(v)) throw new PyError("TypeError", "Can only get item pairs from a mapping.");
    return dictItems(v);
  },
  join: (e, v, a) => {
    const [d, attribute] = params(a, ["d", "attribute"], ["", null], "join");
    let items = iterate(v);
    if (attribute !== null) items = items.map((x) => attrPath(e, x, attribute));
    return items.map(str).join(str(d));
  },
  last: (_e, v) => {
    const items = iterate(v);
    return items.length ? items[items.length - 1] : new Undefined("No last item, sequence was empty.");
  },
  length: (_e, v) => len(v),
  list: (_e, v) => [...iterate(v)],
  lower: (_e, v) => str(v).toLowerCase(),
  map: (e, v, a) => {
    const items = iterate(v);
    if (a.kwargs.has("attribute")) {
      const dflt = a.kwargs.get("default");
      return items.map((x) => {
        const r = attrPath(e, x, a.kwargs.get("attribute"));
        return r instanceof Undefined && a.kwargs.has("default") ? dflt : r;
      });
    }
    const [name, ...rest] = a.args;
    if (name === undefined) throw new PyError("FilterArgumentError", "map requires a filter argument");
    return items.map((x) => e.filter(str(name), x, { args: rest, kwargs: a.kwargs }));
  },
  max: (e, v, a) => minmax(e, v, a, 1),
  min: (e, v, a) => minmax(e, v, a, -1),
  reject: (e, v, a) => rejectOrSelect(e, v, a, false, false),
  rejectattr: (e, v, a) => rejectOrSelect(e, v, a, false, true),
  replace: (_e, v, a) => {
    const [o, n, c] = params(a, ["old", "new", "count"], [REQUIRED, REQUIRED, null], "replace");
    return replaceCount(str(v), str(o), str(n), c === null ? -1 : num(c));
  },
  reverse: (_e, v) => {
    if (typeof v === "string") return [...v].reverse().join("");
    return [...iterate(v)].reverse();
  },
  round: (_e, v, a) => {
    const [p, how] = params(a, ["precision", "method"], [0, "common"], "round");
    if (how === "common") {
      // Python's round(): an int stays an int, a float is rounded half to even.
      if (!isFloat(v)) return num(v);
      return float(Number(pyFixed(num(v), num(p))));
    }
    const f = 10 ** num(p);
    if (how === "ceil") return float(Math.ceil(num(v) * f) / f);
    if (how === "floor") return float(Math.floor(num(v) * f) / f);
    throw new PyError("FilterArgumentError", "method must be common, ceil or floor");
  },
  safe: (_e, v) => v,
  select: (e, v, a) => rejectOrSelect(e, v, a, true, false),
  selectattr: (e, v, a) => rejectOrSelect(e, v, a, true, true),
  slice: (_e, v, a) => {
    const [n, fill] = params(a, ["slices", "fill_with"], [REQUIRED, null], "slice");
    const seq = iterate(v);
    const slices = num(n);
    const per = Math.floor(seq.length / slices);
    const extra = seq.length % slices;
    let offset = 0;
    const out: unknown[][] = [];
    for (let i = 0; i < slices; i++) {
      const start = offset + i * per;
      if (i < extra) offset++;
      const end = offset + (i + 1) * per;
      const part = seq.slice(start, end);
      if (fill !== null && i >= extra) part.push(fill);
      out.push(part);
    }
    return out;
  },
  sort: (e, v, a) => {
    const [rev, cs, attribute] = params(a, ["reverse", "case_sensitive", "attribute"], [false, false, null], "sort");
    const k = sortKey(truthy(cs));
    const get = attribute === null ? (x: unknown) => k(x) : (x: unknown) => k(attrPath(e, x, attribute));
    return sorted(iterate(v), get, truthy(rev));
  },
  string: (_e, v) => str(v),
  striptags: (_e, v) => str(v).replace(/<!--[^]*?-->|<[^>]*>/g, "").replace(/\s+/g, " ").trim(),
  sum: (e, v, a) => {
    const [attribute, start] = params(a, ["attribute", "start"], [null, 0], "sum");
    let items = iterate(v);
    if (attribute !== null) items = items.map((x) => attrPath(e, x, attribute));
    return items.reduce((acc, x) => binop("+", acc, x), start);
  },
  title: (_e, v) => title(str(v)),
  tojson: (_e, v, a) => toJson(v, params(a, ["indent"], [null], "tojson")[0]),
  trim: (_e, v, a) => stripChars(str(v), params(a, ["chars"], [null], "trim")[0], true, true),
  truncate: (_e, v, a) => {
    const [length, killwords, end, leeway] = params(
      a,
      ["length", "killwords", "end", "leeway"],
      [255, false, "...", 5],
      "truncate",
    );
    const t = str(v);
    const chars = [...t];
    const n = num(length);
    if (chars.length <= n + num(leeway)) return t;
    const cut = chars.slice(0, n - [...str(end)].length).join("");
    if (truthy(killwords)) return cut + str(end);
    const i = cut.lastIndexOf(" ");
    return (i < 0 ? cut : cut.slice(0, i)) + str(end);
  },
  unique: (e, v, a) => {
    const [cs, attribute] = params(a, ["case_sensitive", "attribute"], [false, null], "unique");
    const k = sortKey(truthy(cs));
    const seen: unknown[] = [];
    const out: unknown[] = [];
    for (const x of iterate(v)) {
      const key = k(attribute === null ? x : attrPath(e, x, attribute));
      if (!seen.some((y) => eq(y, key))) {
        seen.push(key);
        out.push(x);
      }
    }
    return out;
  },
  upper: (_e, v) => str(v).toUpperCase(),
  wordwrap: (_e, v, a) => {
    const [width, breakLong, wrapstring, hyphens] = params(
      a,
      ["width", "break_long_words", "wrapstring", "break_on_hyphens"],
      [79, true, null, true],
      "wordwrap",
    );
    const nl = wrapstring === null ? "\n" : str(wrapstring);
    return str(v).split(/\r\n|\n|\r/).map((line) =>
      wrapLine(line, num(width), truthy(breakLong), truthy(hyphens)).join(nl)
    ).join(nl);
  },
};
FILTERS.d = FILTERS.default;
FILTERS.e = FILTERS.escape;
FILTERS.forceescape = FILTERS.escape;
for (const name of Object.keys(FILTERS)) KNOWN_FILTERS.add(name);

function minmax(e: Env, v: unknown, a: Args, sign: number): unknown {
  const [cs, attribute] = params(a, ["case_sensitive", "attribute"], [false, null], sign > 0 ? "max" : "min");
  const items = iterate(v);
  if (!items.length) return new Undefined(`No aggregated item, sequence was empty.`);
  const k = sortKey(truthy(cs));
  const key = (x: unknown) => k(attribute === null ? x : attrPath(e, x, attribute));
  let best = items[0];
  for (const x of items.slice(1)) if (compare(key(x), key(best)) * sign > 0) best = x;
  return best;
}

/** The tests (`is name`). */
export const TESTS: Record<string, (env: Env, value: unknown, a: Args) => boolean> = {
  defined: (_e, v) => !(v instanceof Undefined),
  undefined: (_e, v) => v instanceof Undefined,
  none: (_e, v) => v === null,
  boolean: (_e, v) => typeof v === "boolean",
  false: (_e, v) => v === false,
  true: (_e, v) => v === true,
  integer: (_e, v) => typeof v === "number" && Number.isInteger(v),
  float: (_e, v) => isFloat(v),
  number: (_e, v) => isNumber(v),
  string: (_e, v) => typeof v === "string",
  mapping: (_e, v) => isDict(v),
  iterable: (_e, v) => typeof v === "string" || Array.isArray(v) || isDict(v),
  sequence: (_e, v) => typeof v === "string" || Array.isArray(v) || isDict(v),
  callable: (_e, v) => typeof v === "function",
  sameas: (_e, v, a) => v === a.args[0] || (v === null && a.args[0] === null),
  escaped: () => false,
  in: (_e, v, a) => contains(a.args[0], v),
  divisibleby: (_e, v, a) => num(v) % num(a.args[0]) === 0,
  even: (_e, v) => toInt(v) % 2 === 0,
  odd: (_e, v) => Math.abs(toInt(v) % 2) === 1,
  eq: (_e, v, a) => eq(v, a.args[0]),
  ne: (_e, v, a) => !eq(v, a.args[0]),
  lt: (_e, v, a) => compare(v, a.args[0], "<") < 0,
  le: (_e, v, a) => compare(v, a.args[0], "<=") <= 0,
  gt: (_e, v, a) => compare(v, a.args[0], ">") > 0,
  ge: (_e, v, a) => compare(v, a.args[0], ">=") >= 0,
  lower: (_e, v) => STR_METHODS.islower(str(v) as never, { args: [], kwargs: new Map() }, _e) as boolean,
  upper: (_e, v) => STR_METHODS.isupper(str(v) as never, { args: [], kwargs: new Map() }, _e) as boolean,
  filter: (_e, v) => typeof v === "string" && Object.hasOwn(FILTERS, v),
  test: (_e, v) => typeof v === "string" && Object.hasOwn(TESTS, v),
};
TESTS.equalto = TESTS.eq;
for (const [op, name] of [["==", "eq"], ["!=", "ne"], ["<", "lt"], ["<=", "le"], [">", "gt"], [">=", "ge"]]) {
  TESTS[op] = TESTS[name];
}
TESTS.greaterthan = TESTS.gt;
TESTS.lessthan = TESTS.lt;
for (const name of Object.keys(TESTS)) KNOWN_TESTS.add(name);

/** Jinja2's `range()`. */
function range(a: Args): number[] {
  const n = a.args.map((x) => {
    if (!isNumber(x) || isFloat(x)) {
      throw new PyError("TypeError", `'${typeName(x)}' object cannot be interpreted as an integer`);
    }
    return num(x);
  });
  const [start, stop, step] = n.length === 1 ? [0, n[0], 1] : [n[0], n[1], n[2] ?? 1];
  if (step === 0) throw new PyError("ValueError", "range() arg 3 must not be zero");
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) {
    out.push(i);
    if (out.length > 100000) {
      throw new PyError("OverflowError", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
  }
  return out;
}

/** The global functions of a template. */
export const GLOBALS: Record<string, Callable> = {
  range,
  dict: (a) => {
    const m: Record<string, unknown> = {};
    for (const [k, v] of a.kwargs) m[k] = v;
    return m;
  },
  namespace: (a) => {
    const m = new Map<string, unknown>();
    if (a.args[0] !== undefined && isDict(a.args[0])) {
      for (const k of dictKeys(a.args[0])) m.set(str(k), dictGet(a.args[0], k));
    }
    for (const [k, v] of a.kwargs) m.set(k, v);
    return new Namespace(m);
  },
  cycler: (a) => {
    const items = a.args;
    let pos = 0;
    const obj = {
      next: () => items[pos++ % items.length],
      reset: () => {
        pos = 0;
        return null;
      },
      get current() {
        return items[pos % items.length];
      },
    };
    return obj;
  },
  joiner: (a) => {
    const sep = a.args.length ? a.args[0] : ", ";
    let used = false;
    return () => {
      if (!used) {
        used = true;
        return "";
      }
      return sep;
    };
  },
};

export { contains, typeName };
