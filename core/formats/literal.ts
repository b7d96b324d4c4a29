/**
 * A parser for Python literals (batou's `"literal"` conversion, `ast.literal_eval`):
 * numbers (also 0x/0o/0b), strings in single or double quotes (adjacent ones concatenated),
 * True/False/None, lists, tuples and sets (as arrays) and dicts (as plain objects). As in Python, JSON's
 * `true`/`false`/`null` are not literals (they are an error naming the Python spelling).
 *
 * @example
 * ```ts
 * import { parseLiteral } from "./literal.ts";
 * parseLiteral("{'a': [1, 2.5, True, None]}"); // { a: [1, 2.5, true, null] }
 * ```
 * @module
 */

/** Parses one Python literal; throws `SyntaxError` naming the position on bad input. */
export function parseLiteral(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`invalid literal ${JSON.stringify(text)}: ${what} at position ${i}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === undefined) return fail("unexpected end");
    if (c === "[" || c === "(") return sequence(c === "[" ? "]" : ")");
    if (c === "{") return dict();
    if (c === "'" || c === '"') {
      // Adjacent string literals are concatenated, as in Python.
      let out = str();
      for (ws(); text[i] === "'" || text[i] === '"'; ws()) out += str();
      return out;
    }
    const radix = /^([-+]?)0([xob])([0-9a-f_]+)/i.exec(text.slice(i));
    if (radix) {
      i += radix[0].length;
      const digits = radix[3].replaceAll("_", "");
      const [base, valid] = ({ x: [16, /^[0-9a-f]+$/i], o: [8, /^[0-7]+$/], b: [2, /^[01]+$/] } as const)[
        radix[2].toLowerCase() as "x" | "o" | "b"
      ];
      if (!valid.test(digits)) return fail(`invalid number ${radix[0]}`);
      const n = parseInt(digits, base);
      return radix[1] === "-" ? -n : n;
    }
    const m = /^[-+]?(\d[\d_]*\.?\d*(e[-+]?\d+)?|\.\d+(e[-+]?\d+)?)/i.exec(text.slice(i));
    if (m) {
      i += m[0].length;
      return Number(m[0].replaceAll("_", ""));
    }
    const w = /^[A-Za-z_]+/.exec(text.slice(i));
    if (w) {
      i += w[0].length;
      const words: Record<string, unknown> = { True: true, False: false, None: null };
      if (Object.hasOwn(words, w[0])) return words[w[0]];
      // Python (ast.literal_eval) knows only True/False/None; JSON's spellings are names it rejects.
      const python = ({ true: "True", false: "False", null: "None" } as Record<string, string>)[w[0]];
      if (python) return fail(`unknown name ${w[0]} (Python writes ${python})`);
      return fail(`unknown name ${w[0]}`);
    }
    return fail(`unexpected ${JSON.stringify(c)}`);
  };
  const str = (): string => {
    const q = text[i++];
    let out = "";
    while (i < text.length && text[i] !== q) {
      if (text[i] === "\\") {
        const n = text[++i];
        const esc: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0" };
        const hex = { x: 2, u: 4, U: 8 }[n as "x" | "u" | "U"];
        if (hex) {
          const digits = text.slice(i + 1, i + 1 + hex);
          if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== hex) fail(`invalid \\${n} escape`);
          out += String.fromCodePoint(parseInt(digits, 16));
          i += 1 + hex;
          continue;
        }
        out += esc[n] ?? "\\" + n;
        i++;
      } else out += text[i++];
    }
    if (text[i] !== q) fail("unterminated string");
    i++;
    return out;
  };
  const sequence = (close: string): unknown[] => {
    i++;
    const out: unknown[] = [];
    ws();
    while (text[i] !== close) {
      out.push(value());
      ws();
      if (text[i] === ",") {
        i++;
        ws();
      } else if (text[i] !== close) fail(`expected , or ${close}`);
    }
    i++;
    return out;
  };
  const dict = (): Record<string, unknown> | unknown[] => {
    const start = i;
    i++;
    const out: Record<string, unknown> = {};
    ws();
    let first = true;
    while (text[i] !== "}") {
      const k = value();
      ws();
      if (first && (text[i] === "," || text[i] === "}")) {
        // A set: `{1, 2}` becomes an array.
        i = start;
        return sequence("}");
      }
      first = false;
      if (text[i++] !== ":") fail("expected :");
      out[String(k)] = value();
      ws();
      if (text[i] === ",") {
        i++;
        ws();
      } else if (text[i] !== "}") fail("expected , or }");
    }
    i++;
    return out;
  };
  const result = value();
  ws();
  if (i < text.length) fail("trailing characters");
  return result;
}
