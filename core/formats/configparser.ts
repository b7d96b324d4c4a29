/**
 * INI parsing compatible with Python's `configparser.RawConfigParser` as batou
 * uses it (`optionxform = str`, no interpolation, `strict = True`,
 * `empty_lines_in_values = True`), plus comment-preserving edits in the spirit
 * of Python's `configupdater` (used by `batou secrets edit/add/remove`).
 *
 * Reading rules (line by line, like `RawConfigParser._read`):
 * - A line whose stripped form starts with `#` or `;` is a comment.
 * - Inline comments (option `inlineComments`, default on): a `#` or `;` that is
 *   preceded by whitespace starts a comment that runs to the end of the line.
 *   A `#` directly after other text (`http://x/#frag`) belongs to the value.
 * - A non-blank line indented deeper than the current key line continues that
 *   key's value; the value parts are stripped and joined with `"\n"`. Blank
 *   lines inside a value are kept, trailing blank lines are dropped (Python's
 *   `rstrip()` of the joined value). `key =` followed by continuation lines
 *   therefore yields `"\na\nb"`, exactly like Python.
 * - `[name]` starts a section; `key = value` / `key: value` (the first `=` or
 *   `:` delimits) adds a key. Keys are case-sensitive.
 *
 * Deliberate decisions and deviations:
 * - `[DEFAULT]` is an ordinary section here: its keys are not inherited by other
 *   sections (batou never relies on that), and a second `[DEFAULT]` header is a
 *   duplicate like any other.
 * - Errors are raised at the first problem (Python collects parse errors) as
 *   {@link ConfigParseError} with `file:line: reason`. Messages never quote
 *   values, because the same parser reads decrypted secrets.
 * - Stricter than Python: a section header that is indented (and is not a
 *   continuation line), `[name` without `]`, and, when inline comments are on,
 *   text after the closing `]` are errors (Python would silently accept them).
 *   With `inlineComments: false` text after `]` is ignored, as Python does.
 * - A UTF-8 BOM at the start is ignored (and written back). Lines end at `\n`;
 *   a `\r` before it is part of the line ending, so CRLF files parse like LF
 *   files and round-trip byte-for-byte.
 * - A whole-line comment inside a multi-line value is skipped (as in Python);
 *   replacing or removing that key drops such interleaved comment lines.
 *
 * @module
 */

/** Options for {@link ConfigDocument.parse}. */
export interface ConfigParseOptions {
  /**
   * Strip `#`/`;` comments that follow whitespace on a key or header line
   * (default `true`, as batou-for-Deno documents for environment.cfg). Set to
   * `false` to read values exactly like Python's `RawConfigParser()` and
   * `ConfigUpdater()` defaults, where only whole-line comments exist.
   */
  inlineComments?: boolean;
}

/** A syntax error in an INI text, naming the file and the 1-based line. */
export class ConfigParseError extends Error {
  /** File name as given to {@link ConfigDocument.parse} (`<string>` when none). */
  readonly file: string;
  /** 1-based line number of the offending line. */
  readonly line: number;
  /** The message without the `file:line: ` prefix. */
  readonly reason: string;

  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = "ConfigParseError";
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

/** An edit that cannot be expressed in INI syntax without changing the document's meaning. */
export class ConfigEditError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigEditError";
  }
}

/** One key of a section as read. */
export interface ConfigEntry {
  /** The key, case preserved. */
  key: string;
  /** The value, exactly as Python's configparser returns it. */
  value: string;
  /** 1-based line of the key. */
  line: number;
}

/** A physical line: its text without line ending, and the line ending (`""` on a last line without one). */
interface RawLine {
  text: string;
  eol: string;
}

interface EntryModel {
  key: string;
  value: string;
  /** 0-based index of the key line. */
  start: number;
  /** 0-based index of the last line that contributed non-empty text to the value. */
  end: number;
  /** Index in the key line where an inline comment starts, or -1. */
  commentStart: number;
}

interface SectionModel {
  name: string;
  /** 0-based index of the header line. */
  header: number;
  entries: EntryModel[];
}

interface Model {
  sections: SectionModel[];
}

/** A (section, key, value) listing used to verify edits. */
type Listing = { name: string; entries: [string, string][] }[];

const BOM = "\uFEFF";
const DEFAULT_FILE = "<string>";

/** Splits `text` (without BOM) into physical lines. */
function splitLines(text: string): RawLine[] {
  if (text === "") return [];
  const pieces = text.split("\n");
  const lines: RawLine[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (i === pieces.length - 1) {
      if (piece !== "") lines.push({ text: piece, eol: "" });
    } else if (piece.endsWith("\r")) {
      lines.push({ text: piece.slice(0, -1), eol: "\r\n" });
    } else {
      lines.push({ text: piece, eol: "\n" });
    }
  }
  return lines;
}

/** Index where an inline comment starts (`#`/`;` at 0 or after whitespace), or -1. */
function findInlineComment(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if ((c === "#" || c === ";") && (i === 0 || /\s/.test(text[i - 1]))) return i;
  }
  return -1;
}

/** Index of the first non-whitespace character (Python's NONSPACECRE), or -1. */
function indentOf(text: string): number {
  return text.search(/\S/);
}

/** Parses physical lines into the section/entry model; throws ConfigParseError. */
function parseModel(lines: RawLine[], file: string, inlineComments: boolean): Model {
  const sections: SectionModel[] = [];
  const byName = new Map<string, SectionModel>();
  let current: SectionModel | undefined;
  let entry: EntryModel | undefined;
  let parts: string[] = [];
  let indentLevel = 0;
  const fail = (index: number, reason: string): never => {
    throw new ConfigParseError(file, index + 1, reason);
  };
  const finish = () => {
    if (entry) entry.value = parts.join("\n").trimEnd();
  };

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].text;
    const stripped = raw.trim();
    let commentStart = inlineComments ? findInlineComment(raw) : -1;
    if (stripped.startsWith("#") || stripped.startsWith(";")) commentStart = 0;
    const content = commentStart >= 0 ? raw.slice(0, commentStart) : raw;
    const value = content.trim();
    if (value === "") {
      // Python keeps empty lines inside values, but not lines holding a comment.
      if (commentStart < 0 && entry) parts.push("");
      continue;
    }
    const indent = indentOf(raw);
    if (entry && indent > indentLevel) {
      // After a blank line, an indented `[name]` is almost surely a misplaced header, not more of the value.
      const header = parts.length > 1 && parts[parts.length - 1] === ""
        ? /^\[([A-Za-z_][\w.:-]*)\]$/.exec(value)
        : null;
      if (header) {
        fail(
          i,
          `Section header [${header[1]}] must not be indented ` +
            `(here it would continue the value of '${entry.key}' from line ${entry.start + 1})`,
        );
      }
      parts.push(value);
      entry.end = i;
      continue;
    }
    indentLevel = indent;

    if (value.startsWith("[")) {
      const close = value.lastIndexOf("]");
      if (close < 0) fail(i, "Section header is missing the closing ']'");
      if (close === 1) fail(i, "Empty section name '[]'");
      if (inlineComments && close !== value.length - 1) {
        fail(i, "Unexpected text after section header (comments need whitespace before '#' or ';')");
      }
      const name = value.slice(1, close);
      if (indent > 0) fail(i, `Section header [${name}] must not be indented`);
      const first = byName.get(name);
      if (first) fail(i, `Duplicate section [${name}] (first at line ${first.header + 1})`);
      finish();
      entry = undefined;
      current = { name, header: i, entries: [] };
      sections.push(current);
      byName.set(name, current);
      continue;
    }

    if (!current) fail(i, "File contains no section headers (a key must come after a [section] header)");
    const section = current as SectionModel;
    const delim = content.search(/[=:]/);
    if (delim < 0) fail(i, "Expected 'key = value', 'key: value' or a '[section]' header");
    const key = content.slice(0, delim).trim();
    if (key === "") fail(i, "Missing key before '=' or ':'");
    const previous = section.entries.find((e) => e.key === key);
    if (previous) {
      fail(i, `Duplicate key '${key}' in section [${section.name}] (first at line ${previous.start + 1})`);
    }
    finish();
    parts = [content.slice(delim + 1).trim()];
    entry = { key, value: "", start: i, end: i, commentStart };
    section.entries.push(entry);
  }
  finish();
  return { sections };
}

/** Flattens a model to names and values, for comparing before/after an edit. */
function listing(model: Model): Listing {
  return model.sections.map((s) => ({ name: s.name, entries: s.entries.map((e) => [e.key, e.value]) }));
}

function sameListing(a: Listing, b: Listing): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Leading whitespace of a line. */
function leadingWhitespace(text: string): string {
  return text.slice(0, text.length - text.trimStart().length);
}

/**
 * A parsed INI document that remembers its exact text, so that edits keep
 * every untouched line (comments, blank lines, spacing, line endings) intact.
 */
export class ConfigDocument {
  #lines: RawLine[];
  #bom: string;
  #file: string;
  #inlineComments: boolean;
  #eol: string;
  #model: Model;

  private constructor(lines: RawLine[], bom: string, file: string, inlineComments: boolean, model: Model) {
    this.#lines = lines;
    this.#bom = bom;
    this.#file = file;
    this.#inlineComments = inlineComments;
    this.#model = model;
    const crlf = lines.filter((l) => l.eol === "\r\n").length;
    const lf = lines.filter((l) => l.eol === "\n").length;
    this.#eol = crlf > lf ? "\r\n" : "\n";
  }

  /** The text of 1-based line `n` as read (comments included, without its line end); null past the end. */
  lineText(n: number): string | null {
    return this.#lines[n - 1]?.text ?? null;
  }

  /**
   * Parses INI text. `file` is only used in error messages.
   * @throws {ConfigParseError} on any syntax error, duplicate section or duplicate key.
   */
  static parse(text: string, file: string = DEFAULT_FILE, options: ConfigParseOptions = {}): ConfigDocument {
    const bom = text.startsWith(BOM) ? BOM : "";
    const lines = splitLines(text.slice(bom.length));
    const inlineComments = options.inlineComments ?? true;
    return new ConfigDocument(lines, bom, file, inlineComments, parseModel(lines, file, inlineComments));
  }

  /** The file name used in error messages. */
  get file(): string {
    return this.#file;
  }

  /** Section names in file order. */
  sections(): string[] {
    return this.#model.sections.map((s) => s.name);
  }

  /** Whether the section exists, or (with `key`) whether the section has that key. */
  has(section: string, key?: string): boolean {
    const s = this.#section(section);
    if (!s) return false;
    return key === undefined || s.entries.some((e) => e.key === key);
  }

  /** The value of `key` in `section`, or undefined. */
  get(section: string, key: string): string | undefined {
    return this.#entry(section, key)?.value;
  }

  /** One entry with its line, or undefined. */
  entry(section: string, key: string): ConfigEntry | undefined {
    const e = this.#entry(section, key);
    return e ? { key: e.key, value: e.value, line: e.start + 1 } : undefined;
  }

  /** The entries of a section in file order; `[]` for an unknown section. */
  entries(section: string): ConfigEntry[] {
    return (this.#section(section)?.entries ?? []).map((e) => ({ key: e.key, value: e.value, line: e.start + 1 }));
  }

  /** 1-based line of the section header, or undefined. */
  sectionLine(section: string): number | undefined {
    const s = this.#section(section);
    return s ? s.header + 1 : undefined;
  }

  /**
   * Sets a value, keeping everything else byte-for-byte. An existing key is
   * rewritten in place (its key text, delimiter spacing and inline comment are
   * kept); a new key goes right after the section's last entry (or its header);
   * a missing section is appended at the end. Multi-line values are written as
   * continuation lines indented 4 spaces deeper than the key.
   * @throws {ConfigEditError} if the key or value cannot be written so that it
   *   reads back identically (e.g. trailing newline, surrounding whitespace, a
   *   continuation line starting with `#`/`;`, a key containing `=`/`:`).
   */
  set(section: string, key: string, value: string): void {
    const lines = [...this.#lines];
    const expected = listing(this.#model);
    const s = this.#section(section);
    const existing = this.#entry(section, key);
    if (s && existing) {
      const keyLine = lines[existing.start];
      const rendered = this.#renderExisting(keyLine.text, existing.commentStart, value);
      const last = lines[existing.end];
      const newLines = rendered.map((text, i) => ({
        text,
        eol: i === rendered.length - 1 && last.eol === "" ? "" : this.#eol,
      }));
      lines.splice(existing.start, existing.end - existing.start + 1, ...newLines);
      const target = expected.find((x) => x.name === section)!;
      target.entries.find((x) => x[0] === key)![1] = value;
    } else if (s) {
      const lastEntry = s.entries.at(-1);
      const after = lastEntry ? lastEntry.end : s.header;
      const indent = lastEntry ? leadingWhitespace(lines[lastEntry.start].text) : "";
      this.#insert(lines, after + 1, this.#renderNew(indent, key, value));
      expected.find((x) => x.name === section)!.entries.push([key, value]);
    } else {
      this.#appendSection(lines, section, this.#renderNew("", key, value));
      expected.push({ name: section, entries: [[key, value]] });
    }
    this.#commit(lines, expected, `Cannot set '${key}' in section [${section}]`);
  }

  /**
   * Removes a key (with its continuation lines), or without `key` a whole
   * section: its header, entries and interleaved comments, plus the blank
   * lines that follow it. Returns false if there was nothing to remove.
   */
  remove(section: string, key?: string): boolean {
    const s = this.#section(section);
    if (!s) return false;
    const lines = [...this.#lines];
    const expected = listing(this.#model);
    if (key !== undefined) {
      const e = s.entries.find((x) => x.key === key);
      if (!e) return false;
      lines.splice(e.start, e.end - e.start + 1);
      const target = expected.find((x) => x.name === section)!;
      target.entries = target.entries.filter((x) => x[0] !== key);
    } else {
      let start = s.header;
      let end = s.entries.at(-1)?.end ?? s.header;
      while (end + 1 < lines.length && lines[end + 1].text.trim() === "") end++;
      if (end === lines.length - 1) {
        // Section ran to the end of the file: drop the blank lines that separated it too.
        while (start > 0 && lines[start - 1].text.trim() === "") start--;
      }
      lines.splice(start, end - start + 1);
      const index = expected.findIndex((x) => x.name === section);
      expected.splice(index, 1);
    }
    this.#commit(lines, expected, key === undefined ? `Cannot remove section [${section}]` : `Cannot remove '${key}'`);
    return true;
  }

  /**
   * Appends an empty section at the end of the document (after a blank line).
   * @throws {ConfigEditError} if the section exists or the name cannot be written.
   */
  addSection(section: string): void {
    if (this.#section(section)) throw new ConfigEditError(`Section [${section}] already exists`);
    const lines = [...this.#lines];
    this.#appendSection(lines, section, []);
    const expected = listing(this.#model);
    expected.push({ name: section, entries: [] });
    this.#commit(lines, expected, `Cannot add section [${section}]`);
  }

  /** The document text; identical to the parsed text when nothing was changed. */
  toString(): string {
    return this.#bom + this.#lines.map((l) => l.text + l.eol).join("");
  }

  #section(name: string): SectionModel | undefined {
    return this.#model.sections.find((s) => s.name === name);
  }

  #entry(section: string, key: string): EntryModel | undefined {
    return this.#section(section)?.entries.find((e) => e.key === key);
  }

  /** Lines of `key = value` for a new key at the given indentation. */
  #renderNew(indent: string, key: string, value: string): string[] {
    const [first, ...rest] = value.split("\n");
    return [
      first === "" ? `${indent}${key} =` : `${indent}${key} = ${first}`,
      ...rest.map((part) => (part === "" ? "" : `${indent}    ${part}`)),
    ];
  }

  /** Lines replacing an existing key line and its continuation lines. */
  #renderExisting(text: string, commentStart: number, value: string): string[] {
    const content = commentStart >= 0 ? text.slice(0, commentStart) : text;
    const delimEnd = content.search(/[=:]/) + 1;
    const valueEnd = content.trimEnd().length;
    const afterDelimiter = content.slice(delimEnd);
    // Keep the original spacing after the delimiter (`key=value` stays tight); default to one space.
    const gap = afterDelimiter.trim() !== "" ? leadingWhitespace(afterDelimiter) : " ";
    const suffix = commentStart >= 0 ? text.slice(Math.max(valueEnd, delimEnd)) : "";
    const indent = leadingWhitespace(text);
    const [first, ...rest] = value.split("\n");
    return [
      text.slice(0, delimEnd) + (first === "" ? "" : gap + first) + suffix,
      ...rest.map((part) => (part === "" ? "" : `${indent}    ${part}`)),
    ];
  }

  /** Inserts lines at `index`, giving the line before it a line ending if it had none. */
  #insert(lines: RawLine[], index: number, texts: string[]): void {
    if (index > 0 && lines[index - 1].eol === "") lines[index - 1] = { ...lines[index - 1], eol: this.#eol };
    lines.splice(index, 0, ...texts.map((text) => ({ text, eol: this.#eol })));
  }

  /** Appends a section header (after a blank separator line) and the given lines. */
  #appendSection(lines: RawLine[], section: string, body: string[]): void {
    const texts = [`[${section}]`, ...body];
    if (lines.length > 0 && lines[lines.length - 1].text.trim() !== "") texts.unshift("");
    this.#insert(lines, lines.length, texts);
  }

  /** Re-parses the edited lines and adopts them only if the result reads back as expected. */
  #commit(lines: RawLine[], expected: Listing, what: string): void {
    let model: Model;
    try {
      model = parseModel(lines, this.#file, this.#inlineComments);
    } catch (error) {
      throw new ConfigEditError(`${what}: the result would not be valid INI`, { cause: error });
    }
    if (!sameListing(listing(model), expected)) {
      throw new ConfigEditError(`${what}: it cannot be written in INI syntax so that it reads back unchanged`);
    }
    this.#lines = lines;
    this.#model = model;
  }
}

/**
 * batou's `as_list`: a value containing `,` is split on commas and each item
 * stripped (empty items kept: `"a, b,"` gives `["a", "b", ""]`); otherwise a
 * value containing a newline is split into stripped, non-empty lines;
 * otherwise the value itself is the only item.
 */
export function asList(value: string): string[] {
  if (value.includes(",")) return value.split(",").map((item) => item.trim());
  if (value.includes("\n")) return value.split(/\r\n|\n|\r/).map((item) => item.trim()).filter((item) => item !== "");
  return [value];
}
