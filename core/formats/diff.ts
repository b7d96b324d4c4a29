/**
 * batou's diff layout for managed file content (`ManagedContentBase.verify`):
 * a difflib-style unified diff of two texts, its per-line presentation with
 * colours and the 200-line cut, and the secret auto-detection.
 *
 * Hunks are computed with jsdiff's `structuredPatch` (context 3), so they can
 * differ from difflib's SequenceMatcher on pathological input.
 *
 * @module
 */

import { structuredPatch } from "diff";

/** One line of presentation output. */
export interface DiffLine {
  /** The full text of the line, without a line break. */
  text: string;
  /** Colour hint for the output layer; `undefined` means plain. */
  color?: "red" | "green" | "yellow";
}

/** Python `str.splitlines()` line boundaries (`\r\n` counts as one). */
// deno-lint-ignore no-control-regex -- \x1c-\x1e are line boundaries in Python
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;

/** One line of a text and the break that ended it ("" for a last line without one). */
interface SplitLine {
  content: string;
  end: string;
}

function splitWithEnds(text: string): SplitLine[] {
  const result: SplitLine[] = [];
  let start = 0;
  for (const match of text.matchAll(LINE_BREAK)) {
    result.push({ content: text.slice(start, match.index), end: match[0] });
    start = match.index + match[0].length;
  }
  if (start < text.length) result.push({ content: text.slice(start), end: "" });
  return result;
}

/** Splits `text` like Python's `str.splitlines()`: no trailing empty line, all of Python's line breaks. */
export function splitLines(text: string): string[] {
  return splitWithEnds(text).map((line) => line.content);
}

/** difflib's `_format_range_unified` given jsdiff's 1-based start and length. */
function formatRange(start: number, length: number): string {
  if (length === 1) return `${start}`;
  if (length === 0) return `${start - 1},0`;
  return `${start},${length}`;
}

/** Runs jsdiff on two texts and renders the hunks the way difflib does (with `---`/`+++` headers). */
function unifiedLines(oldText: string, newText: string): string[] {
  const { hunks } = structuredPatch("", "", oldText, newText, "", "", { context: 3 });
  if (hunks.length === 0) return [];
  const result = ["---", "+++"];
  for (const hunk of hunks) {
    result.push(`@@ -${formatRange(hunk.oldStart, hunk.oldLines)} +${formatRange(hunk.newStart, hunk.newLines)} @@`);
    result.push(...hunk.lines);
  }
  return result;
}

/** Makes a line break other than "\n" visible, e.g. "\r\n" -> "\\r\\n". */
function escapeBreak(end: string): string {
  return [...end].map((c) => {
    switch (c) {
      case "\r":
        return "\\r";
      case "\n":
        return "\\n";
      case "\v":
        return "\\v";
      case "\f":
        return "\\f";
      default:
        return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
    }
  }).join("");
}

/**
 * Text for diffing when only line breaks differ: "\n" stays a plain line
 * break, other breaks are shown escaped at the end of their line, and a
 * missing final break stays missing (jsdiff then adds
 * `\ No newline at end of file`).
 */
function breaksVisible(text: string): string {
  return splitWithEnds(text).map(({ content, end }) => {
    if (end === "" || end === "\n") return content + end;
    return `${content}${escapeBreak(end)}\n`;
  }).join("");
}

/**
 * The unified diff of `current` → `wanted` as batou shows it: both texts are
 * split with `splitlines` semantics (line breaks are not part of the
 * comparison), 3 lines of context, headers `---` and `+++` (difflib's with the
 * trailing blank stripped), hunk headers like `@@ -0,0 +1 @@`, then lines
 * starting with " ", "-" or "+". Equal texts give `[]`.
 *
 * batou prints nothing at all when the texts differ only in line breaks (for
 * example a file that only gains a trailing newline). We show that change
 * instead: the affected lines are diffed with their breaks, the way `diff -u`
 * does it. A missing final newline adds the line `\ No newline at end of file`
 * after the line concerned, and breaks other than "\n" are shown escaped at the
 * end of the line (`-Hello\r\n`, `+Hello`).
 */
export function unifiedDiffLines(current: string, wanted: string): string[] {
  if (current === wanted) return [];
  const a = splitLines(current);
  const b = splitLines(wanted);
  if (a.length === b.length && a.every((line, i) => line === b[i])) {
    return unifiedLines(breaksVisible(current), breaksVisible(wanted));
  }
  const join = (lines: string[]) => lines.map((line) => `${line}\n`).join("");
  return unifiedLines(join(a), join(b));
}

/** Options for {@link formatDiff}. */
export interface FormatDiffOptions {
  /** At most this many lines (+1) are shown in full (batou `_max_diff`, default 200). */
  max?: number;
  /** Lines shown at the start and at the end of a cut diff (batou `_max_diff_lead`, default 50). */
  lead?: number;
  /** Where the full diff was written; named in the `see … for the full diff.` line. */
  fullDiffPath?: string;
}

/**
 * Lays out diff lines for the terminal the way batou does:
 * - every line becomes `"  <basename> <line>"` with trailing whitespace
 *   removed; blank lines are skipped; lines starting with "-" (including
 *   `---`) are red, lines starting with "+" (including `+++`) green;
 * - if there are more than `max + 1` lines, two yellow lines without prefix
 *   come first, `More than 200 lines of diff. Showing first and last 50 lines.`
 *   and `see <fullDiffPath> for the full diff.` (left out without a path),
 *   followed by the first `lead` lines, a `...` line and the last `lead` lines.
 *
 * Deviation: batou's tail only holds the lines after the first `max + 1`, so a
 * diff of, say, 210 lines shows just its last 9 lines. We show the real last
 * `lead` lines, as the message says.
 */
export function formatDiff(basename: string, lines: string[], opts: FormatDiffOptions = {}): DiffLine[] {
  const max = opts.max ?? 200;
  const lead = opts.lead ?? 50;
  const result: DiffLine[] = [];
  let shown = lines;
  if (lines.length > max + 1) {
    result.push({
      text: `More than ${max} lines of diff. Showing first and last ${lead} lines.`,
      color: "yellow",
    });
    if (opts.fullDiffPath !== undefined) {
      result.push({ text: `see ${opts.fullDiffPath} for the full diff.`, color: "yellow" });
    }
    shown = [...lines.slice(0, lead), "...", ...lines.slice(Math.max(lead, lines.length - lead))];
  }
  for (const raw of shown) {
    const line = raw.trimEnd();
    if (line === "") continue;
    const entry: DiffLine = { text: `  ${basename} ${line}` };
    if (line.startsWith("-")) entry.color = "red";
    else if (line.startsWith("+")) entry.color = "green";
    result.push(entry);
  }
  return result;
}

/**
 * batou's secret auto-detection, extended: true if any whitespace-separated
 * word of any line of `texts`, or any whole non-blank line, is in
 * `secretWords`. (batou only checks words, so secret-file lines that contain
 * whitespace never matched; blank lines are ignored because secret files
 * contribute their empty lines to the set.)
 */
export function containsSecret(texts: string[], secretWords: Set<string>): boolean {
  if (secretWords.size === 0) return false;
  for (const text of texts) {
    for (const line of splitLines(text)) {
      if (line.trim() === "") continue;
      if (secretWords.has(line)) return true;
      for (const word of line.split(/\s+/)) {
        if (word !== "" && secretWords.has(word)) return true;
      }
    }
  }
  return false;
}
