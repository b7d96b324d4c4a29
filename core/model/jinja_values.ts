/**
 * Python's value semantics for templates, on JavaScript values: `str()` and `repr()` (`True`, `None`, `[1, 2]`,
 * `{'a': 1}`), truthiness, equality and ordering, arithmetic, `%`-formatting and `str.format`.
 *
 * The mapping: strings, booleans, `null` (None), arrays (lists; {@linkcode tuple} marks tuples), plain objects and
 * `Map`s (dicts), numbers (an integral number is an int, any other a float; {@linkcode PyFloat} is a float with an
 * integral value such as `2.0`). {@linkcode Undefined} is Jinja2's StrictUndefined: every use of it fails.
 *
 * @module
 */
import { pyRepr } from "../formats/pyrepr.ts";
import { compareCodePoints, pythonFloatRepr } from "../formats/pyjson.ts";

/** A Python float whose value is integral (`2.0`); other floats are plain non-integral numbers. */
export class PyFloat {
  constructor(readonly v: number) {}
}

/** Jinja2's StrictUndefined: a name or attribute that does not exist; any use of it throws. */
export class Undefined {
  constructor(readonly hint: string) {}
}

/** A failed use of an undefined value. */
export class UndefinedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UndefinedError";
  }
}

/** A type or value error, as Python raises it (`TypeError`, `ValueError`...). */
export class PyError extends Error {
  constructor(kind: string, message: string) {
    super(message);
    this.name = kind;
  }
}

const TUPLES = new WeakSet<unknown[]>();

/** Marks `items` as a tuple (rendered `(1, 2)`) and returns it. */
export function tuple<T>(items: T[]): T[] {
  TUPLES.add(items);
  return items;
}

/** Whether `v` is a tuple. */
export function isTuple(v: unknown): boolean {
  return Array.isArray(v) && TUPLES.has(v);
}

/** Throws the UndefinedError of an undefined value. */
export function fail(v: Undefined): never {
  throw new UndefinedError(v.hint);
}

/** `v`, or a failure if it is undefined. */
export function use<T>(v: T | Undefined): T {
  if (v instanceof Undefined) fail(v);
  return v;
}

/** A float of `n` (integral values boxed). */
export function float(n: number): number | PyFloat {
  return Number.isInteger(n) ? new PyFloat(n) : n;
}

/** Whether `v` is a Python float. */
export function isFloat(v: unknown): boolean {
  return v instanceof PyFloat || (typeof v === "number" && !Number.isInteger(v));
}

/** Whether `v` is a Python number (int, float or bool). */
export function isNumber(v: unknown): boolean {
  return typeof v === "number" || v instanceof PyFloat || typeof v === "boolean";
}

/** The numeric value of a number (booleans are 0 and 1). */
export function num(v: unknown): number {
  if (v instanceof PyFloat) return v.v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return v as number;
}

/** Whether `v` is a dict: a plain object or a Map. */
export function isDict(v: unknown): v is Record<string, unknown> | Map<unknown, unknown> {
  if (v instanceof Map) return true;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The keys of a dict, in order. */
export function dictKeys(d: Record<string, unknown> | Map<unknown, unknown>): unknown[] {
  return d instanceof Map ? [...d.keys()] : Object.keys(d).filter((k) => d[k] !== undefined);
}

/** The value of `key` in a dict (`undefined` when it is not there). */
export function dictGet(d: Record<string, unknown> | Map<unknown, unknown>, key: unknown): unknown {
  if (d instanceof Map) {
    for (const [k, v] of d) if (eq(k, key)) return v;
    return undefined;
  }
  if (typeof key !== "string") return undefined;
  return Object.hasOwn(d, key) ? d[key] : undefined;
}

/** Python's type name of `v` (for messages). */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "string") return "str";
  if (typeof v === "boolean") return "bool";
  if (isFloat(v)) return "float";
  if (typeof v === "number") return "int";
  if (isTuple(v)) return "tuple";
  if (Array.isArray(v)) return "list";
  if (isDict(v)) return "dict";
  if (typeof v === "function") return "function";
  if (v instanceof Undefined) return "StrictUndefined";
  return (v as object).constructor?.name ?? "object";
}

/** Python's `repr(v)`. */
export function repr(v: unknown): string {
  if (v instanceof Undefined) fail(v);
  if (typeof v === "string") return pyRepr(v);
  if (Array.isArray(v)) {
    const items = v.map(repr);
    if (isTuple(v)) return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    return `[${items.join(", ")}]`;
  }
  if (isDict(v)) {
    const keys = dictKeys(v);
    return `{${keys.map((k) => `${repr(k)}: ${repr(dictGet(v, k))}`).join(", ")}}`;
  }
  return str(v);
}

/** Python's `str(v)`, as `{{ v }}` renders it. */
export function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (v instanceof PyFloat) return pythonFloatRepr(v.v);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : pythonFloatRepr(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Undefined) fail(v);
  if (Array.isArray(v) || isDict(v)) return repr(v);
  if (v instanceof Namespace) return "<Namespace>";
  return String(v);
}

/** Jinja2's `namespace()` object: attributes settable with `{% set ns.a = ... %}`. */
export class Namespace {
  constructor(readonly attrs: Map<string, unknown>) {}
}

/** Python's truthiness. */
export function truthy(v: unknown): boolean {
  if (v instanceof Undefined) fail(v);
  if (v === null || v === undefined || v === false) return false;
  if (typeof v === "string" || Array.isArray(v)) return v.length > 0;
  if (typeof v === "number") return v !== 0;
  if (v instanceof PyFloat) return v.v !== 0;
  if (v instanceof Map) return v.size > 0;
  if (isDict(v)) return dictKeys(v).length > 0;
  return true;
}

/** Python's `==`. */
export function eq(a: unknown, b: unknown): boolean {
  if (a instanceof Undefined) fail(a);
  if (b instanceof Undefined) fail(b);
  if (isNumber(a) && isNumber(b)) return num(a) === num(b);
  if (a === null || a === undefined) return b === null || b === undefined;
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (Array.isArray(a) && Array.isArray(b)) {
    return isTuple(a) === isTuple(b) && a.length === b.length && a.every((x, i) => eq(x, b[i]));
  }
  if (isDict(a) && isDict(b)) {
    const ka = dictKeys(a);
    const kb = dictKeys(b);
    return ka.length === kb.length && ka.every((k) => kb.some((k2) => eq(k, k2)) && eq(dictGet(a, k), dictGet(b, k)));
  }
  return a === b;
}

/** Python's ordering (`<` as a sign: negative, 0, positive); mismatched types are a TypeError. */
export function compare(a: unknown, b: unknown, op = "<"): number {
  if (a instanceof Undefined) fail(a);
  if (b instanceof Undefined) fail(b);
  if (isNumber(a) && isNumber(b)) return num(a) - num(b);
  if (typeof a === "string" && typeof b === "string") return compareCodePoints(a, b);
  if (Array.isArray(a) && Array.isArray(b) && isTuple(a) === isTuple(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!eq(a[i], b[i])) return compare(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  throw new PyError(
    "TypeError",
    `'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`,
  );
}

/** The length of `v` as Python's `len()` counts (code points for strings). */
export function len(v: unknown): number {
  if (v instanceof Undefined) fail(v);
  if (typeof v === "string") return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (isDict(v)) return dictKeys(v).length;
  if (v instanceof Namespace) return v.attrs.size;
  throw new PyError("TypeError", `object of type '${typeName(v)}' has no len()`);
}

/** The items of an iterable as Python iterates them (dict keys, string characters). */
export function iterate(v: unknown): unknown[] {
  if (v instanceof Undefined) fail(v);
  if (Array.isArray(v)) return v;
  if (typeof v === "string") return [...v];
  if (isDict(v)) return dictKeys(v);
  if (v !== null && typeof v === "object" && Symbol.iterator in v) return [...(v as Iterable<unknown>)];
  throw new PyError("TypeError", `'${typeName(v)}' object is not iterable`);
}

/** Python's `in`. */
export function contains(container: unknown, item: unknown): boolean {
  if (container instanceof Undefined) fail(container);
  if (typeof container === "string") {
    if (typeof item !== "string") {
      throw new PyError("TypeError", `'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return container.includes(item);
  }
  if (isDict(container)) return dictGet(container, item) !== undefined;
  return iterate(container).some((x) => eq(x, item));
}

function arith(op: string, a: unknown, b: unknown): unknown {
  const x = num(a);
  const y = num(b);
  const fl = isFloat(a) || isFloat(b);
  const out = (n: number) => (fl ? float(n) : n);
  switch (op) {
    case "+":
      return out(x + y);
    case "-":
      return out(x - y);
    case "*":
      return out(x * y);
    case "/":
      if (y === 0) throw new PyError("ZeroDivisionError", "division by zero");
      return float(x / y);
    case "//":
      if (y === 0) throw new PyError("ZeroDivisionError", "integer division or modulo by zero");
      return out(Math.floor(x / y));
    case "%": {
      if (y === 0) throw new PyError("ZeroDivisionError", "integer modulo by zero");
      const r = x % y;
      return out(r !== 0 && (r < 0) !== (y < 0) ? r + y : r);
    }
    case "**":
      if (!fl && y < 0) return float(x ** y);
      return out(x ** y);
  }
  throw new PyError("TypeError", `unknown operator ${op}`);
}

/** A binary operator (`+ - * / // % **`) with Python's semantics. */
export function binop(op: string, a: unknown, b: unknown): unknown {
  if (a instanceof Undefined) fail(a);
  if (b instanceof Undefined) fail(b);
  if (isNumber(a) && isNumber(b)) return arith(op, a, b);
  if (op === "%" && typeof a === "string") return percentFormat(a, b);
  if (op === "+") {
    if (typeof a === "string" && typeof b === "string") return a + b;
    if (Array.isArray(a) && Array.isArray(b) && isTuple(a) === isTuple(b)) {
      return isTuple(a) ? tuple([...a, ...b]) : [...a, ...b];
    }
  }
  if (op === "*") {
    const [s, n] = typeof b === "number" || typeof b === "boolean" ? [a, num(b)] : [b, num(a)];
    if (Number.isInteger(n) && (typeof s === "string" || Array.isArray(s)) && !(s instanceof PyFloat)) {
      if (typeof s === "string") return s.repeat(Math.max(0, n));
      const r: unknown[] = [];
      for (let i = 0; i < n; i++) r.push(...s);
      return isTuple(s) ? tuple(r) : r;
    }
  }
  throw new PyError(
    "TypeError",
    `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`,
  );
}

/** Python's int() of a number or string (throws ValueError on bad strings). */
export function toInt(v: unknown, base = 10): number {
  if (isNumber(v)) return Math.trunc(num(v));
  if (typeof v === "string") {
    const s = v.trim().replaceAll("_", "");
    const ok = base === 10 ? /^[+-]?\d+$/.test(s) : s.length > 0 && !Number.isNaN(parseInt(s, base));
    if (!ok) throw new PyError("ValueError", `invalid literal for int() with base ${base}: ${pyRepr(v)}`);
    return parseInt(s, base);
  }
  throw new PyError("TypeError", `int() argument must be a string or a number, not '${typeName(v)}'`);
}

function pad(s: string, width: number, align: string, fill = " "): string {
  const n = width - [...s].length;
  if (n <= 0) return s;
  if (align === "<") return s + fill.repeat(n);
  if (align === "^") return fill.repeat(Math.floor(n / 2)) + s + fill.repeat(n - Math.floor(n / 2));
  return fill.repeat(n) + s;
}

function fixed(x: number, prec: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  return pyFixed(x, prec);
}

/**
 * `x` with `prec` decimals as Python rounds it: the exact binary value, ties to even (JavaScript's `toFixed`
 * rounds ties up: `(2.25).toFixed(1)` is "2.3", Python's `'%.1f' % 2.25` is "2.2").
 */
export function pyFixed(x: number, prec: number): string {
  if (prec > 60 || Math.abs(x) >= 1e21) return x.toFixed(Math.min(prec, 100));
  const long = Math.abs(x).toFixed(Math.min(100, prec + 40));
  const dot = long.indexOf(".");
  const cut = dot + 1 + prec;
  const rest = long.slice(cut);
  if (/^50*$/.test(rest)) {
    const kept = prec === 0 ? long.slice(0, dot) : long.slice(0, cut);
    const lastDigit = Number(kept[kept.length - 1]);
    const sign = x < 0 ? "-" : "";
    if (lastDigit % 2 === 0) return sign + kept;
  }
  return x.toFixed(prec);
}

function expo(x: number, prec: number, upper: boolean): string {
  if (!Number.isFinite(x)) return fixed(x, 0);
  const [m, e] = x.toExponential(prec).split("e");
  const n = Number(e);
  const s = `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  return upper ? s.toUpperCase() : s;
}

function general(x: number, prec: number, alt: boolean, upper: boolean): string {
  if (!Number.isFinite(x)) return fixed(x, 0);
  const p = prec === 0 ? 1 : prec;
  if (x === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(Number(x.toExponential(p - 1)))));
  let s = exp < -4 || exp >= p ? expo(x, p - 1, upper) : x.toFixed(Math.max(0, p - 1 - exp));
  if (!alt) {
    s = s.includes("e") || s.includes("E")
      ? s.replace(/\.?0+(?=[eE])/, "")
      : s.includes(".")
      ? s.replace(/\.?0+$/, "")
      : s;
  }
  return s;
}

/** One conversion of `%`-formatting or a format spec: `type` with flags on a value. */
function convert(
  v: unknown,
  type: string,
  prec: number | null,
  flags: { alt: boolean; plus: boolean; space: boolean },
): string {
  if (type === "s") return prec === null ? str(v) : [...str(v)].slice(0, prec).join("");
  if (type === "r" || type === "a") return prec === null ? repr(v) : [...repr(v)].slice(0, prec).join("");
  if (type === "c") {
    return typeof v === "string" ? v : String.fromCodePoint(num(v));
  }
  if (!isNumber(v)) {
    throw new PyError(
      "TypeError",
      `%${type} format: a real number is required, not ${typeName(v)}`,
    );
  }
  const x = num(v);
  let body: string;
  const sign = x < 0 || Object.is(x, -0) ? "-" : flags.plus ? "+" : flags.space ? " " : "";
  const a = Math.abs(x);
  switch (type) {
    case "d":
    case "i":
    case "u":
      body = String(Math.trunc(a));
      break;
    case "x":
    case "X":
      body = (flags.alt ? "0x" : "") + Math.trunc(a).toString(16);
      if (type === "X") body = body.toUpperCase();
      break;
    case "o":
      body = (flags.alt ? "0o" : "") + Math.trunc(a).toString(8);
      break;
    case "b":
      body = Math.trunc(a).toString(2);
      break;
    case "f":
    case "F":
      body = fixed(a, prec ?? 6);
      break;
    case "e":
    case "E":
      body = expo(a, prec ?? 6, type === "E");
      break;
    case "g":
    case "G":
      body = general(a, prec ?? 6, flags.alt, type === "G");
      break;
    case "%":
      body = fixed(a * 100, prec ?? 6) + "%";
      break;
    default:
      throw new PyError("ValueError", `unsupported format character '${type}'`);
  }
  return sign + body;
}

/** Python's `fmt % args`. */
export function percentFormat(fmt: string, args: unknown): string {
  const list = isTuple(args) ? (args as unknown[]) : [args];
  const mapping = isDict(args) ? args : null;
  let i = 0;
  let usedMapping = false;
  const out = fmt.replace(
    /%(?:\(([^)]*)\))?([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])/g,
    (_m, key: string | undefined, fl: string, w: string | undefined, p: string | undefined, type: string) => {
      if (type === "%") return "%";
      const next = () => {
        if (i >= list.length) throw new PyError("TypeError", "not enough arguments for format string");
        return list[i++];
      };
      let v: unknown;
      if (key !== undefined) {
        if (!mapping) throw new PyError("TypeError", "format requires a mapping");
        usedMapping = true;
        v = dictGet(mapping, key);
        if (v === undefined) throw new PyError("KeyError", pyRepr(key));
      }
      const width = w === "*" ? num(next()) : w ? Number(w) : 0;
      const prec = p === "*" ? num(next()) : p !== undefined ? Number(p) : null;
      if (key === undefined) v = next();
      if (v instanceof Undefined) fail(v);
      if (!"sradiuxXoeEfFgGc".includes(type)) {
        throw new PyError("ValueError", `unsupported format character '${type}'`);
      }
      let s = convert(v, type, prec, { alt: fl.includes("#"), plus: fl.includes("+"), space: fl.includes(" ") });
      if (fl.includes("-")) s = pad(s, width, "<");
      else if (fl.includes("0") && !"srac".includes(type)) {
        const sign = /^[-+ ]/.test(s) ? s[0] : "";
        s = sign + pad(s.slice(sign.length), width - sign.length, ">", "0");
      } else s = pad(s, width, ">");
      return s;
    },
  );
  if (!usedMapping && i < list.length && !(mapping && i === 0)) {
    throw new PyError("TypeError", "not all arguments converted during string formatting");
  }
  return out;
}

/** Python's `format(value, spec)` (the format-spec mini-language). */
export function formatSpec(v: unknown, spec: string): string {
  const m = /^(?:([^]?)([<>=^]))?([-+ ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/.exec(spec);
  if (!m) throw new PyError("ValueError", `Invalid format specifier '${spec}'`);
  const [, fillC, alignC, signC, alt, zero, w, group, p, typeC] = m;
  if (v instanceof Undefined) fail(v);
  const isNum = isNumber(v) && typeof v !== "boolean" || (typeof v === "boolean" && !!typeC);
  let type = typeC ?? "";
  const prec = p !== undefined ? Number(p) : null;
  let s: string;
  if (!isNum) {
    if (type && type !== "s") {
      throw new PyError("ValueError", `Unknown format code '${type}' for object of type '${typeName(v)}'`);
    }
    s = str(v);
    if (prec !== null) s = [...s].slice(0, prec).join("");
  } else {
    if (!type) {
      if (isFloat(v)) {
        s = prec === null ? str(v) : general(num(v), prec, false, false);
        type = "";
      } else s = String(num(v));
      if (signC === "+" && num(v) >= 0) s = "+" + s;
      else if (signC === " " && num(v) >= 0) s = " " + s;
    } else {
      if ("dxXobc".includes(type) && isFloat(v)) {
        throw new PyError("ValueError", `Unknown format code '${type}' for object of type 'float'`);
      }
      s = convert(v, type === "n" ? "g" : type, prec, { alt: !!alt, plus: signC === "+", space: signC === " " });
    }
    if (group) {
      const [intPart, ...rest] = s.split(".");
      const sign = /^[-+ ]/.test(intPart) ? intPart[0] : "";
      const digits = intPart.slice(sign.length).replace(/\B(?=(\d{3})+(?!\d))/g, group);
      s = [sign + digits, ...rest].join(".");
    }
  }
  const width = w ? Number(w) : 0;
  const align = alignC ?? (zero && isNum ? "=" : isNum ? ">" : "<");
  const fill = fillC || (zero && !alignC ? "0" : " ");
  if (align === "=") {
    const sign = /^[-+ ]/.test(s) ? s[0] : "";
    return sign + pad(s.slice(sign.length), width - sign.length, ">", fill);
  }
  return pad(s, width, align, fill);
}
