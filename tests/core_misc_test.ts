/**
 * Conformance tests of templates, the VFS sandboxes, command helpers, timers, the Python-literal parser and the
 * attribute conversions, ported from batou's test_template.py, test_vfs.py and test_utils.py
 * (reference-core.md section 5, cases 66, 67, 71, 72) and adapted to the TypeScript API.
 */
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { join } from "node:path";
import { expand } from "../core/model/template.ts";
import { DeveloperSandbox, MapSandbox } from "../core/model/vfs.ts";
import { joinCommand, runCmd, shellQuote } from "../core/model/cmd.ts";
import { formatDuration, Timer } from "../core/model/timer.ts";
import { parseLiteral } from "../core/formats/literal.ts";
import { attribute, convertValue, parseBoolean, parseList, parseNumber } from "../core/model/attribute.ts";
import { Address } from "../core/model/address.ts";
import { CmdExecutionError, TemplatingError } from "../core/model/errors.ts";
import { tempProject, withRecordedOutput } from "./core_test_helpers.ts";
import { compareStrings } from "../core/runtime/compare.ts";

// ---------------------------------------------------------------- templates (66)

Deno.test("template: expands a string (66)", () => {
  strictEqual(expand("hello {{hello}}", { hello: "world" }), "hello world");
  strictEqual(
    expand("{% for s in servers %}{{ s.name }}={{ s.address }};{% endfor %}", {
      servers: [{ name: "s1", address: "1.2.3.4" }, { name: "s2", address: "2.3.4.5" }],
    }),
    "s1=1.2.3.4;s2=2.3.4.5;",
  );
});

Deno.test("template: keeps a trailing newline and never adds one (66)", () => {
  strictEqual(expand("{{ a }}\n", { a: 1 }), "1\n");
  strictEqual(expand("{{ a }}", { a: 1 }), "1");
  strictEqual(expand("{{ a }}\n\n", { a: 1 }), "1\n\n");
  strictEqual(expand("no template\n", {}), "no template\n");
});

Deno.test("template: an unknown variable fails with a TemplatingError naming the template (66)", () => {
  throws(() => expand("unknown variable {{foo}}", {}, "my.cfg"), (e: Error) => {
    ok(e instanceof TemplatingError);
    ok(
      e.message.startsWith("An error occured while rendering a template (my.cfg): UndefinedError: 'foo' is undefined"),
      e.message,
    );
    strictEqual(e.templateIdentifier, "my.cfg");
    return true;
  });
  // Also attributes of known objects, and the default identifier.
  throws(() => expand("{{ c.missing }}", { c: {} }), /\(<template>\): UndefinedError: 'c.missing' is undefined/);
});

Deno.test("template: a syntax error is a TemplatingError with the line", () => {
  throws(() => expand("line one\n{% if %}\n", {}), (e: Error) => {
    ok(e instanceof TemplatingError);
    ok(e.message.includes("TemplateSyntaxError"), e.message);
    ok(e.message.includes("line 2"), e.message);
    return true;
  });
});

Deno.test("template: umlauts in templates and variables (66)", () => {
  strictEqual(expand("Grüße {{ name }} – {{ x }}\n", { name: "Jörg", x: "äöü€" }), "Grüße Jörg – äöü€\n");
});

Deno.test("template: values are not HTML-escaped", () => {
  strictEqual(expand("{{ v }}", { v: "<a href='x'>&</a>" }), "<a href='x'>&</a>");
});

Deno.test("template: a template over 100 KiB prints batou's warning and still renders (66)", async () => {
  const big = "{{ a }}" + "x".repeat(100 * 1024);
  const { result, lines } = await withRecordedOutput(() => expand(big, { a: "start" }));
  strictEqual(result.length, 100 * 1024 + 5);
  ok(result.startsWith("startxxx"));
  deepStrictEqual(lines, [
    "ERROR: You are trying to render a template that is bigger than 100KiB we've seen that Jinja can crash at " +
    "large templates and suggest you find alternatives for this. The affected template starts with:",
    big.slice(0, 100),
  ]);
  const small = await withRecordedOutput(() => expand("{{ a }}" + "x".repeat(1000), { a: 1 }));
  deepStrictEqual(small.lines, []);
});

// ---------------------------------------------------------------- vfs (67)

Deno.test("vfs: the Developer sandbox maps absolute paths into work/_ (67)", async () => {
  await using project = await tempProject();
  const workdir = join(project.dir, "work");
  const sandbox = new DeveloperSandbox(workdir);
  strictEqual(sandbox.map(join(workdir, "foo", "bar")), join(workdir, "foo", "bar"));
  strictEqual(sandbox.map("foo/bar"), "foo/bar");
  // As batou: the mapped path's parent is created, not the path itself.
  strictEqual(sandbox.map("/var"), join(workdir, "_", "var"));
  ok((await Deno.stat(join(workdir, "_"))).isDirectory);
  await rejects(Deno.stat(join(workdir, "_", "var")), Deno.errors.NotFound);
  strictEqual(sandbox.map("/etc/passwd"), join(workdir, "_", "etc", "passwd"));
  ok((await Deno.stat(join(workdir, "_", "etc"))).isDirectory);
  await rejects(Deno.stat(join(workdir, "_", "etc", "passwd")), Deno.errors.NotFound);
});

Deno.test("vfs: a path that only shares a prefix with the work dir is still mapped", async () => {
  await using project = await tempProject();
  const workdir = join(project.dir, "work");
  const sandbox = new DeveloperSandbox(workdir);
  strictEqual(sandbox.map(workdir + "2/x"), join(workdir, "_", workdir.slice(1) + "2", "x"));
  strictEqual(sandbox.map(workdir), workdir);
});

// batou's Map sandbox is not segment-aware (`/a` maps `/ab/c` to `/xb/c`); ours replaces whole path segments.
Deno.test("vfs: the Map sandbox replaces the longest matching prefix, by path segments (67)", () => {
  const sandbox = new MapSandbox({ sandbox: "Map", "/srv": "/tmp/srv", "/srv/app": "/opt/app", "/a": "/x" });
  strictEqual(sandbox.map("/srv/app/data"), "/opt/app/data");
  strictEqual(sandbox.map("/srv/other"), "/tmp/srv/other");
  strictEqual(sandbox.map("/srv"), "/tmp/srv");
  strictEqual(sandbox.map("/a/b"), "/x/b");
  strictEqual(sandbox.map("/ab/c"), "/ab/c");
  strictEqual(sandbox.map("/etc/hosts"), "/etc/hosts");
  strictEqual(sandbox.map("relative"), "relative");
});

Deno.test("vfs: Map keys with a trailing slash work like without", () => {
  const sandbox = new MapSandbox({ "/srv/": "/tmp/srv/" });
  strictEqual(sandbox.map("/srv/x"), "/tmp/srv/x");
  strictEqual(sandbox.map("/srvx"), "/srvx");
});

// ---------------------------------------------------------------- commands (71)

Deno.test("cmd: joinCommand joins and quotes arguments so the shell sees them unchanged (71)", async () => {
  strictEqual(joinCommand(["cat", "foo", "bar"]), "cat foo bar");
  strictEqual(shellQuote("a b"), "'a b'");
  strictEqual(shellQuote(""), "''");
  // batou writes "cat foo 'bar \'bz baz'", which a POSIX shell does not parse; we quote properly.
  const args = ["bar 'bz baz", "$HOME", 'a"b', "x;y", "", "tab\there", "new\nline", "*"];
  strictEqual(joinCommand(["cat", "foo", args[0]]), "cat foo 'bar '\\''bz baz'");
  const out = await runCmd(["printf", "%s|", ...args]);
  strictEqual(out.stdout, args.map((a) => a + "|").join(""));
});

Deno.test("cmd: runCmd returns output, raises on failure, accepts given return codes (71)", async () => {
  deepStrictEqual(await runCmd("echo out; echo err >&2"), { stdout: "out\n", stderr: "err\n", code: 0 });
  await rejects(runCmd("exit 3"), (e: Error) => {
    ok(e instanceof CmdExecutionError);
    strictEqual(e.returncode, 3);
    strictEqual(e.message, "Command exit 3 failed with return code 3\n\nSTDOUT:\n\n\nSTDERR:\n");
    return true;
  });
  strictEqual((await runCmd("exit 3", { acceptableReturnCodes: [0, 3] })).code, 3);
  strictEqual((await runCmd("exit 4", { ignoreReturnCode: true })).code, 4);
  await rejects(runCmd("true", { acceptableReturnCodes: [1] }), CmdExecutionError);
});

Deno.test("cmd: runCmd uses cwd and env, and never waits for input", async () => {
  await using project = await tempProject();
  strictEqual((await runCmd("pwd -P", { cwd: project.dir })).stdout.trim(), await Deno.realPath(project.dir));
  strictEqual((await runCmd("echo $X-$HOME", { env: { X: "1" } })).stdout, `1-${Deno.env.get("HOME")}\n`);
  strictEqual((await runCmd("cat")).stdout, "");
  strictEqual((await runCmd("wc -c", { input: new Uint8Array([1, 2, 3]) })).stdout.trim(), "3");
});

Deno.test("cmd: CmdExecutionError reports command, return code and output", async () => {
  const e = await runCmd("echo o; echo e >&2; exit 2").catch((e) => e as CmdExecutionError);
  ok(e instanceof CmdExecutionError);
  strictEqual(e.stdout, "o\n");
  strictEqual(e.stderr, "e\n");
  strictEqual(
    e.message,
    "Command echo o; echo e >&2; exit 2 failed with return code 2\n\nSTDOUT:\no\n\n\nSTDERR:\ne\n",
  );
});

// ---------------------------------------------------------------- timer (72)

Deno.test("timer: formatDuration as batou (72)", () => {
  strictEqual(formatDuration(null), "∅");
  strictEqual(formatDuration(undefined), "∅");
  strictEqual(formatDuration(0), "0.00s");
  strictEqual(formatDuration(2500), "2.50s");
  strictEqual(formatDuration(59990), "59.99s");
  strictEqual(formatDuration(60000), "1m0s");
  strictEqual(formatDuration(65500), "1m5s");
  strictEqual(formatDuration(3725000), "62m5s");
});

Deno.test("timer: steps accumulate; thresholds and humanize", () => {
  const t = new Timer("Comp");
  t.add("verify", 1500);
  t.add("verify", 500);
  t.add("total", 2500);
  strictEqual(t.humanize("total", "verify", "update"), "total=2.50s, verify=2.00s, update=∅");
  strictEqual(t.aboveThreshold({ verify: 1000, update: 1000, total: 10000 }), true);
  strictEqual(t.aboveThreshold({ verify: 2000, update: 1000, total: 10000 }), false);
});

// ---------------------------------------------------------------- literal conversion

Deno.test("literal: Python literals become JS values", () => {
  deepStrictEqual(parseLiteral("[3,3]"), [3, 3]);
  strictEqual(parseLiteral("True"), true);
  strictEqual(parseLiteral("False"), false);
  strictEqual(parseLiteral("None"), null);
  strictEqual(parseLiteral("-1.5e3"), -1500);
  strictEqual(parseLiteral("1_000"), 1000);
  strictEqual(parseLiteral("'it\\'s'"), "it's");
  strictEqual(parseLiteral('"a\\nb"'), "a\nb");
  deepStrictEqual(parseLiteral("{'a': (1, None), 'b': [True, 'x'], 2: {}}"), { a: [1, null], b: [true, "x"], 2: {} });
  deepStrictEqual(parseLiteral("(1,)"), [1]);
  deepStrictEqual(parseLiteral("()"), []);
  deepStrictEqual(parseLiteral("  [ 1 , 2 , ]  "), [1, 2]);
  deepStrictEqual(parseLiteral('{"json": [1, 2.5, True, None]}'), { json: [1, 2.5, true, null] });
  // batou's literal_eval rejects JSON's spellings: they are unknown names in Python.
  for (const word of ["true", "false", "null", "[1, true]"]) {
    throws(() => parseLiteral(word), /unknown name (true|false|null) \(Python writes (True|False|None)\)/);
  }
});

Deno.test("literal: more of Python's literal syntax: hex/octal/binary, escapes, sets", () => {
  strictEqual(parseLiteral("0x1F"), 31);
  strictEqual(parseLiteral("0o755"), 0o755);
  strictEqual(parseLiteral("0b101"), 5);
  strictEqual(parseLiteral("-0x10"), -16);
  strictEqual(parseLiteral("'\\x41\\u00e4\\t'"), "Aä\t");
  deepStrictEqual(parseLiteral("{1, 2}"), [1, 2]);
  strictEqual(parseLiteral("'a' 'b'"), "ab");
});

Deno.test("literal: invalid input is a SyntaxError naming the problem", () => {
  throws(() => parseLiteral("foo"), /unknown name foo/);
  throws(() => parseLiteral("[1, 2"), SyntaxError);
  throws(() => parseLiteral("'open"), /unterminated string/);
  throws(() => parseLiteral("1 2"), /trailing characters/);
  throws(() => parseLiteral(""), /unexpected end/);
  throws(() => parseLiteral("__import__('os')"), SyntaxError);
  throws(() => parseLiteral("0o9"), /invalid number 0o9/);
  throws(() => parseLiteral("'\\x4'"), /invalid \\x escape/);
});

// ---------------------------------------------------------------- attribute conversions

Deno.test("attribute: conversions of configured strings", () => {
  deepStrictEqual(parseList(""), []);
  deepStrictEqual(parseList("1,2"), ["1", "2"]);
  deepStrictEqual(parseList("  3, 3,"), ["3", "3"]);
  strictEqual(parseNumber(" 42 "), 42);
  strictEqual(parseNumber("0.5"), 0.5);
  throws(() => parseNumber(""), /could not convert/);
  throws(() => parseNumber("abc"), /could not convert/);
  for (const t of ["true", "True", "yes", "on", "1"]) strictEqual(parseBoolean(t), true, t);
  for (const f of ["false", "False", "no", "off", "0", ""]) strictEqual(parseBoolean(f), false, f);
  throws(() => parseBoolean("maybe"), /Cannot convert "maybe" to a boolean/);
  strictEqual(convertValue(String, "x"), "x");
  strictEqual(convertValue(Number, "8080"), 8080);
  strictEqual(convertValue(Boolean, "False"), false);
  deepStrictEqual(convertValue("literal", "[1]"), [1]);
  strictEqual(convertValue((s: string) => s.toUpperCase(), "x"), "X");
  const addr = convertValue(Address, "localhost:8080") as Address;
  ok(addr instanceof Address);
  strictEqual(String(addr.connect), "localhost:8080");
});

Deno.test("attribute: declaring attributes records conversion, default and options", () => {
  const spec = attribute(Number, 8080) as unknown as {
    conversionName: string;
    defaultValue: unknown;
    hasDefault: boolean;
    options: unknown;
  };
  strictEqual(spec.conversionName, "Number");
  strictEqual(spec.defaultValue, 8080);
  strictEqual(spec.hasDefault, true);
  deepStrictEqual(spec.options, { expand: true, map: false });
  const none = attribute(String) as unknown as { hasDefault: boolean };
  strictEqual(none.hasDefault, false);
  const nul = attribute(String, null as unknown as string) as unknown as { hasDefault: boolean; defaultValue: unknown };
  strictEqual(nul.hasDefault, true);
  strictEqual(nul.defaultValue, null);
  const mapped = attribute("list", [], { map: true, expand: false }) as unknown as { options: unknown };
  deepStrictEqual(mapped.options, { expand: false, map: true });
});

Deno.test("names sort by code units, as Python sorts batou's names (not by locale)", () => {
  deepStrictEqual(["b", "B", "a-b", "ab", "a", "host10", "host2"].sort(compareStrings), [
    "B",
    "a",
    "a-b",
    "ab",
    "b",
    "host10",
    "host2",
  ]);
});
