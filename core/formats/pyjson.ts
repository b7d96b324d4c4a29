/**
 * Python-compatible JSON output and batou's `dict_merge`, for {@linkcode JSONContent}.
 *
 * `pythonJsonDumps(data, { indent: 4 })` gives the bytes of Python's
 * `json.dumps(data, sort_keys=True, indent=4)`: keys sorted by code point,
 * `ensure_ascii` escaping (`\u00e4`), Python's float repr (`1e+16`, `1.5e-07`)
 * and no trailing newline.
 *
 * @example
 * ```ts
 * import { pythonJsonDumps } from "./pyjson.ts";
 * pythonJsonDumps({ b: 1, a: "ä" }, { indent: 4 }); // '{\n    "a": "\\u00e4",\n    "b": 1\n}'
 * pythonJsonDumps({ asdf: 1 }, { separators: [",", ":"] }); // '{"asdf":1}'
 * ```
 * @module
 */

/** Options of {@linkcode pythonJsonDumps}, named as in Python's `json.dumps`. */
export interface JsonDumpsOptions {
  /** Pretty-print with this many spaces per level (Python `indent`); `null` means one line. */
  indent?: number | null;
  /** `[item separator, key separator]`; Python's default is `[", ", ": "]`, or `[",", ": "]` with an indent. */
  separators?: [string, string];
  /** Sort object keys (default true, as batou calls it). */
  sortKeys?: boolean;
}

/** Compares two strings by Unicode code point, as Python sorts `str`. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  while (true) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\b": "\\b",
  "\f": "\\f",
};

/** A JSON string literal with Python's `ensure_ascii=True` escaping (every UTF-16 unit outside ' '..'~'). */
export function pythonJsonString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    else out += "\\u" + code.toString(16).padStart(4, "0");
  }
  return out + '"';
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  const sign = mantissa.startsWith("-") ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1) || "0";
    return `${sign}${intPart}.${frac}`;
  }
  const lead = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const expSign = exp < 0 ? "-" : "+";
  return `${sign}${lead}e${expSign}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/**
 * A number as Python's json module writes it. JavaScript cannot tell `1` from
 * `1.0`, so integral values are written as Python ints and all others with the
 * float repr.
 */
export function pythonJsonNumber(x: number): string {
  if (Number.isInteger(x)) return BigInt(x).toString();
  return pythonFloatRepr(x);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Serializes `value` like Python's `json.dumps(value, sort_keys=True, ...)`.
 * Objects with a `toJSON()` method are converted first; `undefined` object
 * members are left out and `undefined` array items become `null` (as
 * `JSON.stringify` does). A cycle throws a `TypeError`.
 */
export function pythonJsonDumps(value: unknown, opts: JsonDumpsOptions = {}): string {
  const indent = opts.indent ?? null;
  const [itemSep, keySep] = opts.separators ?? (indent === null ? [", ", ": "] : [",", ": "]);
  const sortKeys = opts.sortKeys ?? true;
  const stack = new Set<unknown>();

  const encode = (v: unknown, level: number): string => {
    if (v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function") {
      v = (v as { toJSON: () => unknown }).toJSON();
    }
    if (v === null || v === undefined) return "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") return pythonJsonNumber(v);
    if (typeof v === "bigint") return v.toString();
    if (typeof v === "string") return pythonJsonString(v);
    if (typeof v !== "object") throw new TypeError(`Object of type ${typeof v} is not JSON serializable`);
    if (stack.has(v)) throw new TypeError("Circular reference detected");
    stack.add(v);
    try {
      const inner = indent === null ? "" : "\n" + " ".repeat(indent * (level + 1));
      const outer = indent === null ? "" : "\n" + " ".repeat(indent * level);
      if (Array.isArray(v)) {
        if (v.length === 0) return "[]";
        const items = v.map((item) => encode(item, level + 1));
        return "[" + inner + items.join(itemSep + inner) + outer + "]";
      }
      const record = v as Record<string, unknown>;
      let keys = Object.keys(record).filter((k) => record[k] !== undefined);
      if (sortKeys) keys = keys.sort(compareCodePoints);
      if (keys.length === 0) return "{}";
      const items = keys.map((k) => pythonJsonString(k) + keySep + encode(record[k], level + 1));
      return "{" + inner + items.join(itemSep + inner) + outer + "}";
    } finally {
      stack.delete(v);
    }
  };
  return encode(value, 0);
}

/** A deep copy of plain objects and arrays; anything else is shared. */
export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => deepCopy(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = deepCopy(v);
    return out as T;
  }
  return value;
}

/**
 * batou's `dict_merge(a, b)`: a deep copy of `a` with `b` merged in. Nested
 * objects are merged recursively, lists are concatenated (`a`'s items first),
 * anything else in `b` replaces the value in `a`. When `b` is not an object it
 * is returned as is.
 *
 * Deviation: where Python would `extend` a list with a non-list (and fail or
 * add a dict's keys), the value of `b` replaces the list.
 */
export function dictMerge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(b)) return b;
  const result: Record<string, unknown> = isPlainObject(a) ? deepCopy(a) : {};
  for (const [k, v] of Object.entries(b)) {
    const current = Object.hasOwn(result, k) ? result[k] : undefined;
    if (isPlainObject(current)) result[k] = dictMerge(current, v);
    else if (Array.isArray(current) && Array.isArray(v)) result[k] = [...current, ...deepCopy(v)];
    else result[k] = deepCopy(v);
  }
  return result;
}
