/**
 * The lexer and parser of batou's template language: Jinja2 3.x syntax with batou's settings (`@@` line statements,
 * no autoescape, trailing newline kept). The result is a plain JSON tree ({@linkcode Template}), rendered by
 * core/model/jinja_render.ts and stored as JSON in the compiled-template cache.
 *
 * Constructs that Jinja2 has but batou's engine does not (template loading, extensions) fail here with a
 * {@linkcode TemplateSyntaxError} naming the line and the construct, never later with different output.
 *
 * @module
 */

/** A syntax error or an unsupported construct, at a line of the template. */
export class TemplateSyntaxError extends Error {
  /** The 1-based line. */
  readonly line: number;
  constructor(message: string, line: number) {
    super(`${message} (line ${line})`);
    this.name = "TemplateSyntaxError";
    this.line = line;
  }
}

/** A node of the tree: `t` names its kind, `l` is its line; the other fields depend on the kind. */
// deno-lint-ignore no-explicit-any
export type Node = { t: string; l?: number; [field: string]: any };

/** A parsed template. */
export interface Template {
  /** The statements and text of the template. */
  body: Node[];
}

interface Token {
  /** name, int, float, str, op, data, begin (tag start), end (tag end), eof */
  k: string;
  v: string;
  l: number;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const FLOAT = /\d(?:_?\d)*\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*/y;
const INT = /\d(?:_?\d)*/y;
const STRING = /'(?:[^'\\]|\\[^])*'|"(?:[^"\\]|\\[^])*"/y;
const OPS = [
  "**",
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "+",
  "-",
  "*",
  "/",
  "%",
  "~",
  "<",
  ">",
  "=",
  ".",
  ",",
  ":",
  "|",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
];
const LINE_STATEMENT = /^[ \t\v]*@@/gm;

/** Python's string-literal escapes, as Jinja2 decodes them. */
function unescape(body: string): string {
  return body.replace(/\r\n?/g, "\n").replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|[^])/g,
    (m, e: string) => {
      const c = e[0];
      if (c === "x" || c === "u" || c === "U") return String.fromCodePoint(parseInt(e.slice(1), 16));
      if (/[0-7]/.test(c)) return String.fromCodePoint(parseInt(e, 8));
      const simple: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        "\\": "\\",
        "'": "'",
        '"': '"',
        a: "\x07",
        b: "\b",
        f: "\f",
        v: "\v",
        "\n": "",
      };
      return simple[c] ?? m;
    },
  );
}

/** Splits the source into data and tag tokens (the tokens inside a tag between `begin` and `end`). */
function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let pos = 0;
  let line = 1;
  let lstripNext = false;
  const lineStarts: number[] = [];
  for (const m of source.matchAll(LINE_STATEMENT)) lineStarts.push(m.index!);
  let ls = 0;
  const advance = (text: string) => {
    for (const ch of text) if (ch === "\n") line++;
  };
  const pushData = (text: string, rstrip: boolean) => {
    if (lstripNext) text = text.replace(/^\s+/, "");
    if (rstrip) text = text.replace(/\s+$/, "");
    lstripNext = false;
    if (text) out.push({ k: "data", v: text.replace(/\r\n?/g, "\n"), l: line });
  };
  while (pos < source.length) {
    const tag = /\{\{|\{%|\{#/g;
    tag.lastIndex = pos;
    const m = tag.exec(source);
    while (ls < lineStarts.length && lineStarts[ls] < pos) ls++;
    const lineAt = ls < lineStarts.length ? lineStarts[ls] : -1;
    const tagAt = m ? m.index : -1;
    if (lineAt >= 0 && (tagAt < 0 || lineAt < tagAt)) {
      // A line statement: from `@@` to the end of the line (or further while brackets are open).
      const text = source.slice(pos, lineAt);
      pushData(text, false);
      advance(text);
      const start = source.indexOf("@@", lineAt) + 2;
      advance(source.slice(lineAt, start));
      out.push({ k: "begin", v: "@@", l: line });
      pos = lexInside(source, start, "\n", out, () => line, (n) => (line += n));
      continue;
    }
    if (!m) {
      pushData(source.slice(pos), false);
      advance(source.slice(pos));
      break;
    }
    const text = source.slice(pos, m.index);
    const after = m.index + 2;
    const minus = source[after] === "-";
    pushData(text, minus);
    advance(text);
    let p = after + (minus || source[after] === "+" ? 1 : 0);
    if (m[0] === "{#") {
      const end = source.indexOf("#}", p);
      if (end < 0) throw new TemplateSyntaxError("missing end of comment tag", line);
      lstripNext = source[end - 1] === "-";
      advance(source.slice(m.index, end + 2));
      pos = end + 2;
      continue;
    }
    const close = m[0] === "{{" ? "}}" : "%}";
    // `{% raw %}`: everything up to `{% endraw %}` is data.
    const raw = /\s*raw\s*(-?)%\}/y;
    raw.lastIndex = p;
    const rawMatch = m[0] === "{%" ? raw.exec(source) : null;
    if (rawMatch) {
      const endRaw = /\{%(-?)\s*endraw\s*(-?)%\}/g;
      endRaw.lastIndex = raw.lastIndex;
      const e = endRaw.exec(source);
      if (!e) throw new TemplateSyntaxError("missing end of raw directive", line);
      let body = source.slice(raw.lastIndex, e.index);
      if (rawMatch[1]) body = body.replace(/^\s+/, "");
      if (e[1]) body = body.replace(/\s+$/, "");
      advance(source.slice(m.index, raw.lastIndex));
      if (body) out.push({ k: "data", v: body.replace(/\r\n?/g, "\n"), l: line });
      advance(source.slice(raw.lastIndex, endRaw.lastIndex));
      lstripNext = !!e[2];
      pos = endRaw.lastIndex;
      continue;
    }
    out.push({ k: "begin", v: m[0], l: line });
    p = lexInside(source, p, close, out, () => line, (n) => (line += n));
    lstripNext = out[out.length - 1].v === "-";
    pos = p;
  }
  // The end of a template that ends with a newline is on its last line.
  out.push({ k: "eof", v: "", l: source.endsWith("\n") && line > 1 ? line - 1 : line });
  return out;
}

/** Lexes the tokens of one tag from `pos` up to `close` (`}}`, `%}` or a newline); returns the position after it. */
function lexInside(
  source: string,
  pos: number,
  close: string,
  out: Token[],
  line: () => number,
  addLines: (n: number) => void,
): number {
  let depth = 0;
  const lineStatement = close === "\n";
  while (true) {
    // whitespace (newlines end a line statement unless brackets are open)
    while (pos < source.length && /\s/.test(source[pos])) {
      if (source[pos] === "\n") {
        if (lineStatement && depth === 0) {
          // Jinja2 ends a line statement with `\s*(\n|$)`: the blank lines after it go too.
          let end = pos;
          while (end < source.length && /\s/.test(source[end])) end++;
          const run = source.slice(pos, end);
          const upto = end === source.length ? run.length : run.lastIndexOf("\n") + 1;
          endLineStatement(out, line());
          addLines((run.slice(0, upto).match(/\n/g) ?? []).length);
          return pos + upto;
        }
        addLines(1);
      }
      pos++;
    }
    if (pos >= source.length) {
      if (lineStatement) {
        endLineStatement(out, line());
        return pos;
      }
      const last = source.endsWith("\n") ? line() - 1 : line();
      throw new TemplateSyntaxError(`unexpected end of template, expected '${close}'`, last);
    }
    if (!lineStatement) {
      if (source.startsWith("-" + close, pos)) {
        out.push({ k: "end", v: "-", l: line() });
        return pos + 3;
      }
      if (source.startsWith(close, pos) && depth === 0) {
        out.push({ k: "end", v: "", l: line() });
        return pos + 2;
      }
    }
    const ch = source[pos];
    let m: RegExpExecArray | null = null;
    for (const [kind, re] of [["float", FLOAT], ["int", INT], ["name", NAME], ["str", STRING]] as const) {
      re.lastIndex = pos;
      if ((m = re.exec(source))) {
        if (kind === "str") {
          out.push({ k: "str", v: unescape(m[0].slice(1, -1)), l: line() });
          addLines((m[0].match(/\n/g) ?? []).length);
        } else out.push({ k: kind, v: m[0].replaceAll("_", kind === "name" ? "_" : ""), l: line() });
        pos += m[0].length;
        break;
      }
    }
    if (m) continue;
    if (ch === "'" || ch === '"') throw new TemplateSyntaxError("unexpected end of string", line());
    const op = OPS.find((o) => source.startsWith(o, pos));
    if (!op) throw new TemplateSyntaxError(`unexpected char '${ch}'`, line());
    if ("([{".includes(op)) depth++;
    if (")]}".includes(op)) depth--;
    out.push({ k: "op", v: op, l: line() });
    pos += op.length;
  }
}

/** Ends a line statement; a colon at its end is allowed (`@@ if x:`), as in Jinja2. */
function endLineStatement(out: Token[], line: number): void {
  const last = out[out.length - 1];
  if (last.k === "op" && last.v === ":") out.pop();
  out.push({ k: "end", v: "", l: line });
}

/** Filters of Jinja2 that batou's engine knows; the others fail at parse time. */
export const KNOWN_FILTERS = new Set<string>();
/** Tests of Jinja2 that batou's engine knows. */
export const KNOWN_TESTS = new Set<string>();
/** Jinja2 builtins that batou's engine deliberately does not have. */
const UNSUPPORTED_FILTERS = new Set([
  "random",
  "pprint",
  "urlize",
  "filesizeformat",
  "xmlattr",
  "urlencode",
  "wordcount",
]);

const BLOCK_UNSUPPORTED = new Set([
  "include",
  "import",
  "from",
  "extends",
  "block",
  "trans",
  "autoescape",
  "do",
  "break",
  "continue",
]);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private get tok(): Token {
    return this.tokens[this.i];
  }
  private next(): Token {
    return this.tokens[this.i++];
  }
  private is(k: string, v?: string): boolean {
    const t = this.tok;
    return t.k === k && (v === undefined || t.v === v);
  }
  private isName(v: string): boolean {
    return this.is("name", v);
  }
  private skip(k: string, v?: string): boolean {
    if (this.is(k, v)) {
      this.i++;
      return true;
    }
    return false;
  }
  private fail(msg: string, t: Token = this.tok): never {
    throw new TemplateSyntaxError(msg, t.l);
  }
  private describe(t: Token): string {
    if (t.k === "eof") return "end of template";
    if (t.k === "end") return "end of statement block";
    if (t.k === "begin") return `'${t.v}'`;
    return `'${t.v}'`;
  }
  private expect(k: string, v?: string): Token {
    if (!this.is(k, v)) this.fail(`expected '${v ?? k}', got ${this.describe(this.tok)}`);
    return this.next();
  }
  private expectEnd(): void {
    if (!this.is("end")) this.fail(`expected end of statement block, got ${this.describe(this.tok)}`);
    this.next();
  }

  parseTemplate(): Template {
    const body = this.subparse([]);
    if (!this.is("eof")) this.fail(`unexpected ${this.describe(this.tok)}`);
    return { body };
  }

  /** Parses until one of `ends` (block keywords) starts a statement; leaves the parser at that keyword. */
  private subparse(ends: string[], open?: { name: string; line: number }): Node[] {
    const body: Node[] = [];
    while (true) {
      const t = this.tok;
      if (t.k === "eof") {
        if (open) {
          this.fail(
            `unexpected end of template: the '${open.name}' block of line ${open.line} was not closed ` +
              `(expected ${ends.map((e) => `'${e}'`).join(" or ")})`,
          );
        }
        return body;
      }
      if (t.k === "data") {
        body.push({ t: "text", v: this.next().v });
        continue;
      }
      this.next();
      if (t.v === "{{") {
        const e = this.parseTuple();
        body.push({ t: "out", e, l: t.l });
        if (!this.is("end")) this.fail(`expected end of print statement, got ${this.describe(this.tok)}`);
        this.next();
        continue;
      }
      // a statement
      const kw = this.tok;
      if (kw.k !== "name") this.fail("tag name expected");
      if (ends.includes(kw.v)) return body;
      body.push(this.parseStatement(open));
    }
  }

  private parseStatement(open?: { name: string }): Node {
    const kw = this.next();
    const l = kw.l;
    switch (kw.v) {
      case "if":
        return this.parseIf(l);
      case "for":
        return this.parseFor(l);
      case "set":
        return this.parseSet(l);
      case "macro":
        return this.parseMacro(l);
      case "call":
        return this.parseCall(l);
      case "filter": {
        const filters = this.parseFilterChain();
        this.expectEnd();
        const body = this.subparse(["endfilter"], { name: "filter", line: l });
        this.next();
        this.expectEnd();
        return { t: "filterblock", filters, body, l };
      }
      case "with": {
        const assigns: Node[][] = [];
        while (!this.is("end")) {
          if (assigns.length) this.expect("op", ",");
          const target = this.parseAssignTarget();
          this.expect("op", "=");
          assigns.push([target, this.parseExpression()]);
        }
        this.expectEnd();
        const body = this.subparse(["endwith"], { name: "with", line: l });
        this.next();
        this.expectEnd();
        return { t: "with", assigns, body, l };
      }
    }
    if (BLOCK_UNSUPPORTED.has(kw.v)) {
      this.fail(
        ["break", "continue", "do"].includes(kw.v)
          ? `'${kw.v}' is a Jinja2 extension that batou does not enable`
          : `'{% ${kw.v} %}' is not supported in batou templates (there is no template loader)`,
        kw,
      );
    }
    if (open) {
      this.fail(`unexpected '${kw.v}' inside the '${open.name}' block`, kw);
    }
    this.fail(`unknown tag '${kw.v}'`, kw);
  }

  private parseIf(l: number): Node {
    const tests: [Node, Node[]][] = [];
    let cond = this.parseTuple(false);
    this.expectEnd();
    let els: Node[] | null = null;
    while (true) {
      const body = this.subparse(["elif", "else", "endif"], { name: "if", line: l });
      tests.push([cond, body]);
      const kw = this.next().v;
      if (kw === "elif") {
        cond = this.parseTuple(false);
        this.expectEnd();
        continue;
      }
      if (kw === "else") {
        this.expectEnd();
        els = this.subparse(["endif"], { name: "if", line: l });
        this.next();
      }
      this.expectEnd();
      break;
    }
    return { t: "if", tests, else: els, l };
  }

  private parseFor(l: number): Node {
    const target = this.parseAssignTarget(true);
    this.expect("name", "in");
    const iter = this.parseTuple(false, true);
    let cond: Node | null = null;
    if (this.skip("name", "if")) cond = this.parseExpression();
    if (this.isName("recursive")) this.fail("recursive loops are not supported in batou templates");
    this.expectEnd();
    const body = this.subparse(["endfor", "else"], { name: "for", line: l });
    let els: Node[] | null = null;
    if (this.next().v === "else") {
      this.expectEnd();
      els = this.subparse(["endfor"], { name: "for", line: l });
      this.next();
    }
    this.expectEnd();
    return { t: "for", target, iter, cond, body, else: els, l };
  }

  private parseSet(l: number): Node {
    const target = this.parseAssignTarget(true, true);
    if (this.skip("op", "=")) {
      const e = this.parseTuple();
      this.expectEnd();
      return { t: "set", target, e, l };
    }
    const filters = this.parseFilterChain(false);
    this.expectEnd();
    const body = this.subparse(["endset"], { name: "set", line: l });
    this.next();
    this.expectEnd();
    return { t: "setblock", target, filters, body, l };
  }

  private parseSignature(): [string, Node | null][] {
    const params: [string, Node | null][] = [];
    this.expect("op", "(");
    while (!this.skip("op", ")")) {
      if (params.length) this.expect("op", ",");
      const name = this.expect("name").v;
      let dflt: Node | null = null;
      if (this.skip("op", "=")) dflt = this.parseExpression();
      else if (params.some(([, d]) => d)) this.fail("non-default argument follows default argument");
      params.push([name, dflt]);
    }
    return params;
  }

  private parseMacro(l: number): Node {
    const name = this.expect("name").v;
    const params = this.parseSignature();
    this.expectEnd();
    const body = this.subparse(["endmacro"], { name: "macro", line: l });
    this.next();
    this.expectEnd();
    return { t: "macro", name, params, body, l };
  }

  private parseCall(l: number): Node {
    const params = this.is("op", "(") ? this.parseSignature() : [];
    const call = this.parseExpression();
    if (call.t !== "call") this.fail("expected call");
    this.expectEnd();
    const body = this.subparse(["endcall"], { name: "call", line: l });
    this.next();
    this.expectEnd();
    return { t: "callblock", call, params, body, l };
  }

  private parseFilterChain(bare = true): Node[] {
    const filters: Node[] = [];
    let first = bare;
    while (first ? !this.is("end") : this.skip("op", "|")) {
      first = false;
      filters.push(this.parseFilter({ t: "const", v: null }));
    }
    return filters;
  }

  /** An assignment target: a name, `a.b` (namespace attribute, for `set`) or names separated by commas. */
  private parseAssignTarget(tuple = false, attr = false): Node {
    const one = (): Node => {
      const t = this.expect("name");
      if (attr && this.skip("op", ".")) return { t: "nsattr", n: t.v, a: this.expect("name").v, l: t.l };
      if (["true", "false", "none", "True", "False", "None"].includes(t.v)) this.fail(`can't assign to '${t.v}'`, t);
      return { t: "name", n: t.v, l: t.l };
    };
    if (tuple && this.is("op", "(")) {
      this.next();
      const r = this.parseAssignTarget(true);
      this.expect("op", ")");
      return r.t === "tuple" ? r : { t: "tuple", items: [r] };
    }
    const first = one();
    if (!tuple || !this.is("op", ",")) return first;
    const items = [first];
    while (this.skip("op", ",")) {
      if (this.isName("in") || this.is("op", "=")) break;
      items.push(one());
    }
    return { t: "tuple", items };
  }

  /** Expressions separated by commas make a tuple (as in `{{ a, b }}`). */
  private parseTuple(allowTuple = true, noCond = false): Node {
    const l = this.tok.l;
    const first = noCond ? this.parseOr() : this.parseExpression();
    if (!allowTuple || !this.is("op", ",")) return first;
    const items = [first];
    while (this.skip("op", ",")) {
      if (this.is("end") || this.is("op", ")")) break;
      items.push(this.parseExpression());
    }
    return { t: "tuple", items, l };
  }

  parseExpression(): Node {
    const l = this.tok.l;
    let e = this.parseOr();
    while (this.skip("name", "if")) {
      const test = this.parseOr();
      const other = this.skip("name", "else") ? this.parseExpression() : null;
      e = { t: "cond", test, a: e, b: other, l };
    }
    return e;
  }
  private parseOr(): Node {
    let e = this.parseAnd();
    while (this.skip("name", "or")) e = { t: "or", a: e, b: this.parseAnd() };
    return e;
  }
  private parseAnd(): Node {
    let e = this.parseNot();
    while (this.skip("name", "and")) e = { t: "and", a: e, b: this.parseNot() };
    return e;
  }
  private parseNot(): Node {
    if (this.skip("name", "not")) return { t: "not", a: this.parseNot() };
    return this.parseCompare();
  }
  private parseCompare(): Node {
    const l = this.tok.l;
    const a = this.parseMath1();
    const ops: [string, Node][] = [];
    while (true) {
      if (this.is("op") && ["==", "!=", "<", ">", "<=", ">="].includes(this.tok.v)) {
        const op = this.next().v;
        ops.push([op, this.parseMath1()]);
      } else if (this.skip("name", "in")) ops.push(["in", this.parseMath1()]);
      else if (this.isName("not") && this.tokens[this.i + 1].k === "name" && this.tokens[this.i + 1].v === "in") {
        this.i += 2;
        ops.push(["notin", this.parseMath1()]);
      } else break;
    }
    return ops.length ? { t: "cmp", a, ops, l } : a;
  }
  private parseMath1(): Node {
    let e = this.parseConcat();
    while (this.is("op", "+") || this.is("op", "-")) {
      const t = this.next();
      e = { t: "bin", op: t.v, a: e, b: this.parseConcat(), l: t.l };
    }
    return e;
  }
  private parseConcat(): Node {
    const items = [this.parseMath2()];
    while (this.skip("op", "~")) items.push(this.parseMath2());
    return items.length === 1 ? items[0] : { t: "concat", items };
  }
  private parseMath2(): Node {
    let e = this.parsePow();
    while (this.is("op") && ["*", "/", "//", "%"].includes(this.tok.v)) {
      const t = this.next();
      e = { t: "bin", op: t.v, a: e, b: this.parsePow(), l: t.l };
    }
    return e;
  }
  private parsePow(): Node {
    let e = this.parseUnary();
    while (this.is("op", "**")) {
      const t = this.next();
      e = { t: "bin", op: "**", a: e, b: this.parseUnary(), l: t.l };
    }
    return e;
  }
  private parseUnary(withFilter = true): Node {
    let e: Node;
    if (this.is("op", "-") || this.is("op", "+")) {
      const t = this.next();
      e = { t: "un", op: t.v, a: this.parseUnary(false), l: t.l };
    } else e = this.parsePostfix(this.parsePrimary());
    return withFilter ? this.parseFilterExpr(e) : e;
  }
  private parsePrimary(): Node {
    const t = this.next();
    switch (t.k) {
      case "name":
        if (t.v === "true" || t.v === "True") return { t: "const", v: true };
        if (t.v === "false" || t.v === "False") return { t: "const", v: false };
        if (t.v === "none" || t.v === "None") return { t: "const", v: null };
        return { t: "name", n: t.v, l: t.l };
      case "str": {
        let v = t.v;
        while (this.is("str")) v += this.next().v;
        return { t: "const", v };
      }
      case "int":
        return { t: "const", v: Number(t.v) };
      case "float":
        return { t: "float", v: Number(t.v) };
      case "op":
        if (t.v === "(") {
          if (this.skip("op", ")")) return { t: "tuple", items: [] };
          const first = this.parseExpression();
          if (this.skip("op", ")")) return first;
          const items = [first];
          while (this.skip("op", ",")) {
            if (this.is("op", ")")) break;
            items.push(this.parseExpression());
          }
          this.expect("op", ")");
          return { t: "tuple", items };
        }
        if (t.v === "[") {
          const items: Node[] = [];
          while (!this.skip("op", "]")) {
            if (items.length) this.expect("op", ",");
            if (this.skip("op", "]")) break;
            items.push(this.parseExpression());
          }
          return { t: "list", items };
        }
        if (t.v === "{") {
          const pairs: Node[][] = [];
          while (!this.skip("op", "}")) {
            if (pairs.length) this.expect("op", ",");
            if (this.skip("op", "}")) break;
            const k = this.parseExpression();
            this.expect("op", ":");
            pairs.push([k, this.parseExpression()]);
          }
          return { t: "dict", pairs, l: t.l };
        }
    }
    this.fail(`expected an expression, got ${this.describe(t)}`, t);
  }
  private parsePostfix(e: Node): Node {
    while (true) {
      const t = this.tok;
      if (this.skip("op", ".")) {
        const n = this.next();
        if (n.k === "name") e = { t: "attr", o: e, n: n.v, l: n.l };
        else if (n.k === "int") e = { t: "item", o: e, k: { t: "const", v: Number(n.v) }, l: n.l };
        else if (n.k === "float") {
          // `a.0.1` lexes `0.1` as a float: two integer subscripts
          for (const part of n.v.split(".")) e = { t: "item", o: e, k: { t: "const", v: Number(part) }, l: n.l };
        } else this.fail("expected name or number", n);
      } else if (this.skip("op", "[")) {
        const parts: (Node | null)[] = [];
        let slice = false;
        let cur: Node | null = null;
        while (!this.is("op", "]")) {
          if (this.skip("op", ":")) {
            slice = true;
            parts.push(cur);
            cur = null;
          } else if (this.is("op", ",")) this.fail("tuple subscripts are not supported");
          else cur = this.parseExpression();
        }
        this.next();
        parts.push(cur);
        if (slice) e = { t: "slice", o: e, a: parts[0], b: parts[1] ?? null, c: parts[2] ?? null, l: t.l };
        else if (!parts[0]) this.fail("expected subscript", t);
        else e = { t: "item", o: e, k: parts[0], l: t.l };
      } else if (this.is("op", "(")) {
        e = { t: "call", f: e, ...this.parseArgs(), l: t.l };
      } else return e;
    }
  }
  private parseArgs(): { args: Node[]; kwargs: [string, Node][]; star: Node | null; dstar: Node | null } {
    this.expect("op", "(");
    const args: Node[] = [];
    const kwargs: [string, Node][] = [];
    let star: Node | null = null;
    let dstar: Node | null = null;
    let first = true;
    while (!this.skip("op", ")")) {
      if (!first) {
        this.expect("op", ",");
        if (this.skip("op", ")")) break;
      }
      first = false;
      if (this.skip("op", "**")) dstar = this.parseExpression();
      else if (this.skip("op", "*")) star = this.parseExpression();
      else if (this.is("name") && this.tokens[this.i + 1].k === "op" && this.tokens[this.i + 1].v === "=") {
        const n = this.next().v;
        this.next();
        kwargs.push([n, this.parseExpression()]);
      } else {
        if (kwargs.length) this.fail("positional argument follows keyword argument");
        args.push(this.parseExpression());
      }
    }
    return { args, kwargs, star, dstar };
  }
  private parseFilter(o: Node): Node {
    const t = this.expect("name");
    let n = t.v;
    while (this.is("op", ".") && this.tokens[this.i + 1].k === "name") {
      this.next();
      n += "." + this.next().v;
    }
    if (UNSUPPORTED_FILTERS.has(n)) this.fail(`the filter '${n}' is not supported in batou templates`, t);
    if (!KNOWN_FILTERS.has(n)) this.fail(`no filter named '${n}'`, t);
    const call = this.is("op", "(") ? this.parseArgs() : { args: [], kwargs: [], star: null, dstar: null };
    return { t: "filter", n, o, ...call, l: t.l };
  }
  private parseFilterExpr(e: Node): Node {
    while (true) {
      if (this.skip("op", "|")) e = this.parseFilter(e);
      else if (this.isName("is")) {
        const l = this.next().l;
        const neg = this.skip("name", "not");
        const nt = this.next();
        const n = nt.v;
        if (nt.k !== "name") this.fail(`expected a test name, got ${this.describe(nt)}`, nt);
        if (!KNOWN_TESTS.has(n)) this.fail(`no test named '${n}'`, nt);
        let call: ReturnType<Parser["parseArgs"]> = { args: [], kwargs: [], star: null, dstar: null };
        if (this.is("op", "(")) call = this.parseArgs();
        else if (
          ["name", "int", "float", "str"].includes(this.tok.k) && !["else", "or", "and", "if", "is", "in", "not"]
              .includes(this.tok.v) || this.is("op", "[") || this.is("op", "{") || this.is("op", "-")
        ) {
          call.args = [this.parsePostfix(this.parsePrimaryOrNeg())];
        }
        e = { t: "test", n, o: e, neg, ...call, l };
      } else return e;
    }
  }
  private parsePrimaryOrNeg(): Node {
    if (this.is("op", "-")) {
      const t = this.next();
      return { t: "un", op: "-", a: this.parsePrimary(), l: t.l };
    }
    return this.parsePrimary();
  }
}

/** Parses `source` (Jinja2 syntax with batou's settings) into a tree. Throws {@linkcode TemplateSyntaxError}. */
export function parseTemplate(source: string): Template {
  return new Parser(tokenize(source)).parseTemplate();
}
