import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { containsSecret, type DiffLine, formatDiff, splitLines, unifiedDiffLines } from "../core/formats/diff.ts";

Deno.test("splitLines follows Python str.splitlines", () => {
  deepStrictEqual(splitLines(""), []);
  deepStrictEqual(splitLines("a"), ["a"]);
  deepStrictEqual(splitLines("a\n"), ["a"]);
  deepStrictEqual(splitLines("a\n\nb"), ["a", "", "b"]);
  deepStrictEqual(splitLines("a\r\nb\rc\u2028d\x0be"), ["a", "b", "c", "d", "e"]);
  deepStrictEqual(splitLines("\n"), [""]);
});

Deno.test("unifiedDiffLines: file created (batou transcript)", () => {
  deepStrictEqual(unifiedDiffLines("", "Hello world\n"), ["---", "+++", "@@ -0,0 +1 @@", "+Hello world"]);
});

Deno.test("unifiedDiffLines: changed line", () => {
  deepStrictEqual(unifiedDiffLines("Changed\n", "Hello world\n"), [
    "---",
    "+++",
    "@@ -1 +1 @@",
    "-Changed",
    "+Hello world",
  ]);
});

Deno.test("unifiedDiffLines: equal texts and file emptied", () => {
  deepStrictEqual(unifiedDiffLines("same\n", "same\n"), []);
  deepStrictEqual(unifiedDiffLines("a\nb\n", ""), ["---", "+++", "@@ -1,2 +0,0 @@", "-a", "-b"]);
});

Deno.test("unifiedDiffLines: 3 lines of context and separate hunks (checked against difflib)", () => {
  const old = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
  const changed = [...old];
  changed[1] = "LINE 2";
  changed[16] = "LINE 17";
  changed.splice(9, 0, "inserted");
  // difflib.unified_diff(old, changed, lineterm="") gives exactly this.
  deepStrictEqual(unifiedDiffLines(old.join("\n") + "\n", changed.join("\n")), [
    "---",
    "+++",
    "@@ -1,5 +1,5 @@",
    " line 1",
    "-line 2",
    "+LINE 2",
    " line 3",
    " line 4",
    " line 5",
    "@@ -7,6 +7,7 @@",
    " line 7",
    " line 8",
    " line 9",
    "+inserted",
    " line 10",
    " line 11",
    " line 12",
    "@@ -14,7 +15,7 @@",
    " line 14",
    " line 15",
    " line 16",
    "-line 17",
    "+LINE 17",
    " line 18",
    " line 19",
    " line 20",
  ]);
});

Deno.test("unifiedDiffLines: changes 6 lines apart share one hunk", () => {
  const old = ["a", "b", "c", "d", "e", "f", "g", "h"];
  const changed = ["A", "b", "c", "d", "e", "f", "g", "H"];
  deepStrictEqual(unifiedDiffLines(old.join("\n"), changed.join("\n")), [
    "---",
    "+++",
    "@@ -1,8 +1,8 @@",
    "-a",
    "+A",
    " b",
    " c",
    " d",
    " e",
    " f",
    " g",
    "-h",
    "+H",
  ]);
});

Deno.test("unifiedDiffLines: a change in line breaks only is still shown", () => {
  // batou (splitlines) would show nothing; we show the line with the marker.
  deepStrictEqual(unifiedDiffLines("Hello", "Hello\n"), [
    "---",
    "+++",
    "@@ -1 +1 @@",
    "-Hello",
    "\\ No newline at end of file",
    "+Hello",
  ]);
  deepStrictEqual(unifiedDiffLines("a\nHello\n", "a\nHello"), [
    "---",
    "+++",
    "@@ -1,2 +1,2 @@",
    " a",
    "-Hello",
    "+Hello",
    "\\ No newline at end of file",
  ]);
  deepStrictEqual(unifiedDiffLines("x\r\ny\n", "x\ny\n"), ["---", "+++", "@@ -1,2 +1,2 @@", "-x\\r\\n", "+x", " y"]);
});

Deno.test("unifiedDiffLines: other line break differences follow splitlines", () => {
  // Content changes AND a gained trailing newline: only the content change shows (as in batou).
  deepStrictEqual(unifiedDiffLines("a", "b\n"), ["---", "+++", "@@ -1 +1 @@", "-a", "+b"]);
});

/** Shortcut for expected lines. */
const L = (text: string, color?: DiffLine["color"]): DiffLine => (color ? { text, color } : { text });

Deno.test("formatDiff: prefix, colours and skipped blank lines", () => {
  deepStrictEqual(formatDiff("hello", ["---", "+++", "@@ -0,0 +1 @@", "+Hello world"]), [
    L("  hello ---", "red"),
    L("  hello +++", "green"),
    L("  hello @@ -0,0 +1 @@"),
    L("  hello +Hello world", "green"),
  ]);
  // A blank context line (" ") and trailing whitespace are dropped like batou's rstrip.
  deepStrictEqual(formatDiff("f", ["@@ -1,3 +1,3 @@", " ", "-x  ", "+y", "\\ No newline at end of file"]), [
    L("  f @@ -1,3 +1,3 @@"),
    L("  f -x", "red"),
    L("  f +y", "green"),
    L("  f \\ No newline at end of file"),
  ]);
});

Deno.test("formatDiff: up to max+1 lines are shown in full", () => {
  const lines = Array.from({ length: 201 }, (_, i) => `+${i}`);
  const out = formatDiff("big", lines, { fullDiffPath: "/x.diff" });
  strictEqual(out.length, 201);
  strictEqual(out[200].text, "  big +200");
});

Deno.test("formatDiff: more than max+1 lines are cut to first and last lead lines", () => {
  const lines = Array.from({ length: 300 }, (_, i) => `+${i}`);
  const out = formatDiff("big", lines, { fullDiffPath: "work/.batou-diffs/tmpabc.diff" });
  strictEqual(out.length, 2 + 50 + 1 + 50);
  deepStrictEqual(out.slice(0, 3), [
    L("More than 200 lines of diff. Showing first and last 50 lines.", "yellow"),
    L("see work/.batou-diffs/tmpabc.diff for the full diff.", "yellow"),
    L("  big +0", "green"),
  ]);
  deepStrictEqual(out.slice(51, 54), [L("  big +49", "green"), L("  big ..."), L("  big +250", "green")]);
  deepStrictEqual(out[out.length - 1], L("  big +299", "green"));
});

Deno.test("formatDiff: a diff just over the limit still shows the real last lead lines", () => {
  const lines = Array.from({ length: 210 }, (_, i) => `-${i}`);
  const out = formatDiff("f", lines, { max: 200, lead: 50 });
  // No fullDiffPath: only the "More than" line.
  strictEqual(out[0].text, "More than 200 lines of diff. Showing first and last 50 lines.");
  strictEqual(out[1].text, "  f -0");
  strictEqual(out[51].text, "  f ...");
  strictEqual(out[52].text, "  f -160");
  strictEqual(out.length, 1 + 50 + 1 + 50);
});

Deno.test("formatDiff: custom max and lead", () => {
  const lines = ["---", "+++", "@@ -1,4 +1,4 @@", "-a", "+b", " c"];
  deepStrictEqual(formatDiff("f", lines, { max: 3, lead: 1, fullDiffPath: "d" }).map((l) => l.text), [
    "More than 3 lines of diff. Showing first and last 1 lines.",
    "see d for the full diff.",
    "  f ---",
    "  f ...",
    "  f  c",
  ]);
});

Deno.test("containsSecret: words and whole lines", () => {
  const secrets = new Set(["s3cr3t", "ssh-ed25519 AAAAkey", ""]);
  strictEqual(containsSecret(["password = s3cr3t\n"], secrets), true);
  strictEqual(containsSecret(["nothing here\n", "x s3cr3t-not\n"], secrets), false);
  // A whole secret line with whitespace matches too (batou only checks words).
  strictEqual(containsSecret(["a\nssh-ed25519 AAAAkey\n"], secrets), true);
  strictEqual(containsSecret(["  ssh-ed25519 AAAAkey"], secrets), false);
  // Blank lines never match, even though secret files contribute "" to the set.
  strictEqual(containsSecret(["\n\n   \n"], secrets), false);
  strictEqual(containsSecret(["", "other\ts3cr3t"], secrets), true);
  strictEqual(containsSecret(["s3cr3t"], new Set()), false);
});
