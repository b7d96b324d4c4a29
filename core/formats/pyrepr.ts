/**
 * Python's `repr()` of strings, for messages that name values as batou (Python) shows them: breadcrumbs such as
 * `File('/etc/app.conf')`, `convert_mode('wrongmode')`.
 *
 * ```ts
 * import { pyRepr } from "./pyrepr.ts";
 * pyRepr("it's"); // "\"it's\""
 * pyRepr("a\nb"); // "'a\\nb'"
 * ```
 *
 * @module
 */

/**
 * Python's `repr(str)`: single quotes unless the text has a single quote and no double quote; backslash, the quote,
 * `\n`, `\r`, `\t` escaped, other C0/C1 control characters and DEL as `\xNN`.
 */
export function pyRepr(value: string): string {
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\" || ch === quote) out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code <= 0xa0)) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return quote + out + quote;
}

/**
 * Python's `repr()` of a configured value: strings as {@linkcode pyRepr}, `true`/`false`/`null` as
 * `True`/`False`/`None`, arrays as lists and plain objects as dicts; anything else as `String(value)`.
 */
export function pyValueRepr(value: unknown): string {
  if (typeof value === "string") return pyRepr(value);
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value)) return `[${value.map(pyValueRepr).join(", ")}]`;
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyValueRepr(v)}`).join(", ")}}`;
  }
  return String(value);
}
