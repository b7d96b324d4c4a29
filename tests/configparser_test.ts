import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { asList, ConfigDocument, ConfigEditError, ConfigParseError } from "../core/formats/configparser.ts";

const FILE = "environments/dev/environment.cfg";

/** Parses `text` and returns the ConfigParseError it throws; fails otherwise. */
function parseError(text: string, options?: { inlineComments?: boolean }): ConfigParseError {
  try {
    ConfigDocument.parse(text, FILE, options);
  } catch (error) {
    ok(error instanceof ConfigParseError, `expected ConfigParseError, got ${error}`);
    return error;
  }
  throw new Error("expected a ConfigParseError");
}

/** Joins lines with "\n" and a trailing newline. */
function text(...lines: string[]): string {
  return lines.map((l) => l + "\n").join("");
}

const ENVIRONMENT = text(
  "# Development environment",
  "[environment]",
  "connect_method = ssh          ; ssh (default) | local | vagrant",
  "host_domain = example.com     ; optional",
  "jobs = 4",
  "",
  "[hosts]",
  "web1 = hello, nginx           ; comma or newline separated",
  "!web3 = hello",
  "",
  "; resolver overrides",
  "[resolver]",
  "web1 = 10.0.0.5",
);

Deno.test("sections, keys and values in file order", () => {
  const doc = ConfigDocument.parse(ENVIRONMENT, FILE);
  deepStrictEqual(doc.sections(), ["environment", "hosts", "resolver"]);
  deepStrictEqual(doc.entries("environment"), [
    { key: "connect_method", value: "ssh", line: 3 },
    { key: "host_domain", value: "example.com", line: 4 },
    { key: "jobs", value: "4", line: 5 },
  ]);
  strictEqual(doc.get("hosts", "!web3"), "hello");
  strictEqual(doc.sectionLine("resolver"), 12);
  strictEqual(doc.sectionLine("nope"), undefined);
  deepStrictEqual(doc.entries("nope"), []);
  ok(doc.has("hosts") && doc.has("hosts", "web1"));
  ok(!doc.has("hosts", "web2") && !doc.has("nope") && !doc.has("nope", "web1"));
  strictEqual(doc.get("hosts", "web2"), undefined);
});

Deno.test("full-line comments with # and ;, also indented, are ignored", () => {
  const doc = ConfigDocument.parse(text("# top", "[a]", "; semi", "  # indented", "x = 1", "   ; also"), FILE);
  deepStrictEqual(doc.entries("a"), [{ key: "x", value: "1", line: 5 }]);
});

Deno.test("inline comments need whitespace before # or ;", () => {
  const doc = ConfigDocument.parse(
    text(
      "[a]",
      "x = 1 ; one",
      "y = 2\t# two",
      "url = http://example.com/#frag",
      "semi = a;b",
      "mixed = a#b ;c",
    ),
    FILE,
  );
  strictEqual(doc.get("a", "x"), "1");
  strictEqual(doc.get("a", "y"), "2");
  strictEqual(doc.get("a", "url"), "http://example.com/#frag");
  strictEqual(doc.get("a", "semi"), "a;b");
  strictEqual(doc.get("a", "mixed"), "a#b");
});

Deno.test("inlineComments: false keeps the text after # in the value, like Python's defaults", () => {
  const doc = ConfigDocument.parse(text("[batou]  # provider", "x = age   # age | gpg"), FILE, {
    inlineComments: false,
  });
  deepStrictEqual(doc.sections(), ["batou"]);
  strictEqual(doc.get("batou", "x"), "age   # age | gpg");
});

Deno.test("colon delimiter, first delimiter wins, whitespace stripped", () => {
  const doc = ConfigDocument.parse(text("[a]", "x: 1", "y   =   a = b: c  ", "z:http://h:80", "e ="), FILE);
  strictEqual(doc.get("a", "x"), "1");
  strictEqual(doc.get("a", "y"), "a = b: c");
  strictEqual(doc.get("a", "z"), "http://h:80");
  strictEqual(doc.get("a", "e"), "");
});

Deno.test("keys are case-sensitive", () => {
  const doc = ConfigDocument.parse(text("[a]", "Key = 1", "key = 2"), FILE);
  strictEqual(doc.get("a", "Key"), "1");
  strictEqual(doc.get("a", "key"), "2");
  strictEqual(doc.get("a", "KEY"), undefined);
});

Deno.test("multi-line value after `key =` keeps Python's leading newline", () => {
  const doc = ConfigDocument.parse(text("[host:db1]", "components =", "    a", "    b", "other = 1"), FILE);
  strictEqual(doc.get("host:db1", "components"), "\na\nb");
  strictEqual(doc.get("host:db1", "other"), "1");
  deepStrictEqual(asList(doc.get("host:db1", "components")!), ["a", "b"]);
});

Deno.test("continuation lines: inner blank lines kept, trailing blank lines and comments dropped", () => {
  const doc = ConfigDocument.parse(
    text("[a]", "x = first", "  second", "", "     ", "  # not a value line", "\tthird", "", "", "y = 2"),
    FILE,
  );
  strictEqual(doc.get("a", "x"), "first\nsecond\n\n\nthird");
  strictEqual(doc.get("a", "y"), "2");
});

Deno.test("continuation depends on indentation relative to the key line", () => {
  const doc = ConfigDocument.parse(text("[a]", "  x = 1", "  y = 2", "    more", " z = 3"), FILE);
  deepStrictEqual(doc.entries("a").map((e) => [e.key, e.value]), [["x", "1"], ["y", "2\nmore"], ["z", "3"]]);
});

Deno.test("indented lines that look like headers or keys inside a value are value text", () => {
  const doc = ConfigDocument.parse(text("[a]", "conf =", "    [inner]", "    k = v", "[b]"), FILE);
  strictEqual(doc.get("a", "conf"), "\n[inner]\nk = v");
  deepStrictEqual(doc.sections(), ["a", "b"]);
});

Deno.test("duplicate section names file, line and first occurrence", () => {
  const error = parseError(text("[environment]", "", "[hosts]", "a = 1", "", "", "", "", "", "", "", "[hosts]"));
  strictEqual(error.message, `${FILE}:12: Duplicate section [hosts] (first at line 3)`);
  strictEqual(error.file, FILE);
  strictEqual(error.line, 12);
});

Deno.test("duplicate key in a section names file, line and first occurrence", () => {
  const error = parseError(text("[hosts]", "web1 = a", "web2 = b", "web1 : c"));
  strictEqual(error.message, `${FILE}:4: Duplicate key 'web1' in section [hosts] (first at line 2)`);
  strictEqual(error.line, 4);
});

Deno.test("the same key in different sections is fine", () => {
  const doc = ConfigDocument.parse(text("[a]", "x = 1", "[b]", "x = 2"), FILE);
  deepStrictEqual([doc.get("a", "x"), doc.get("b", "x")], ["1", "2"]);
});

Deno.test("key before any section header is an error", () => {
  const error = parseError(text("# comment", "", "a = 1", "[s]"));
  strictEqual(error.line, 3);
  ok(error.message.startsWith(`${FILE}:3: File contains no section headers`), error.message);
});

Deno.test("a line without delimiter is an error that does not quote the line", () => {
  const error = parseError(text("[s]", "a = 1", "s3cr3t-value"));
  strictEqual(error.line, 3);
  ok(!error.message.includes("s3cr3t"), error.message);
  ok(error.message.startsWith(`${FILE}:3: Expected 'key = value'`), error.message);
});

Deno.test("weird header and key lines are errors with file:line", () => {
  strictEqual(parseError(text("[s]", "  [t]")).message, `${FILE}:2: Section header [t] must not be indented`);
  strictEqual(parseError(text("[s", "a = 1")).line, 1);
  strictEqual(parseError(text("[]")).line, 1);
  strictEqual(parseError(text("[s]", "= value")).reason, "Missing key before '=' or ':'");
  strictEqual(parseError(text("[s] junk")).line, 1);
  // With inline comments the trailing comment is fine.
  deepStrictEqual(ConfigDocument.parse(text("[s]   ; note"), FILE).sections(), ["s"]);
});

Deno.test("file name defaults to <string> in errors", () => {
  throws(() => ConfigDocument.parse("x = 1\n"), (e: unknown) => e instanceof ConfigParseError && e.file === "<string>");
});

Deno.test("[DEFAULT] is an ordinary section (no inheritance)", () => {
  const doc = ConfigDocument.parse(text("[DEFAULT]", "x = 1", "[a]", "y = 2"), FILE);
  deepStrictEqual(doc.sections(), ["DEFAULT", "a"]);
  strictEqual(doc.get("a", "x"), undefined);
});

Deno.test("BOM and CRLF are tolerated and round-trip exactly", () => {
  const input = "\uFEFF[a]\r\nx = 1\r\ny =\r\n    p\r\n    q\r\n";
  const doc = ConfigDocument.parse(input, FILE);
  deepStrictEqual(doc.sections(), ["a"]);
  strictEqual(doc.get("a", "x"), "1");
  strictEqual(doc.get("a", "y"), "\np\nq");
  strictEqual(doc.toString(), input);
});

Deno.test("CRLF document: edits use CRLF for new lines", () => {
  const doc = ConfigDocument.parse("[a]\r\nx = 1\r\n", FILE);
  doc.set("a", "y", "2\n3");
  strictEqual(doc.toString(), "[a]\r\nx = 1\r\ny = 2\r\n    3\r\n");
  strictEqual(doc.get("a", "y"), "2\n3");
});

Deno.test("round trip without changes is byte-identical", () => {
  const inputs = [
    ENVIRONMENT,
    "",
    "# only a comment",
    "[a]\nx = 1",
    "[a]\n\n\n  x  =  1   ; c  \n\t\n",
    "[a]\nx = 1\r\nweird = a\rb\n",
  ];
  for (const input of inputs) strictEqual(ConfigDocument.parse(input, FILE).toString(), input);
});

Deno.test("set existing single-line key keeps spacing and inline comment", () => {
  const doc = ConfigDocument.parse(ENVIRONMENT, FILE);
  doc.set("environment", "connect_method", "local");
  doc.set("hosts", "!web3", "hello, db");
  const expected = ENVIRONMENT
    .replace("connect_method = ssh          ;", "connect_method = local          ;")
    .replace("!web3 = hello\n", "!web3 = hello, db\n");
  strictEqual(doc.toString(), expected);
  strictEqual(doc.get("environment", "connect_method"), "local");
});

Deno.test("set keeps tight `key=value` spacing", () => {
  const doc = ConfigDocument.parse(text("[a]", "x=1", "y:2"), FILE);
  doc.set("a", "x", "10");
  doc.set("a", "y", "20");
  strictEqual(doc.toString(), text("[a]", "x=10", "y:20"));
});

Deno.test("set existing multi-line key replaces all its continuation lines cleanly", () => {
  const input = text(
    "[batou]",
    "members = alice,",
    "    bob,",
    "",
    "    carol",
    "",
    "# keep me",
    "secret_provider = age",
  );
  const doc = ConfigDocument.parse(input, FILE);
  doc.set("batou", "members", "x,\ny");
  strictEqual(
    doc.toString(),
    text("[batou]", "members = x,", "    y", "", "# keep me", "secret_provider = age"),
  );
  strictEqual(doc.get("batou", "members"), "x,\ny");
  doc.set("batou", "members", "single");
  strictEqual(doc.toString(), text("[batou]", "members = single", "", "# keep me", "secret_provider = age"));
});

Deno.test("set a multi-line value with leading newline and inner blank line", () => {
  const doc = ConfigDocument.parse(text("[a]", "x = 1"), FILE);
  doc.set("a", "x", "\nl1\n\nl2");
  strictEqual(doc.toString(), text("[a]", "x =", "    l1", "", "    l2"));
  strictEqual(doc.get("a", "x"), "\nl1\n\nl2");
  strictEqual(ConfigDocument.parse(doc.toString(), FILE).get("a", "x"), "\nl1\n\nl2");
});

Deno.test("set on an indented key indents continuation lines deeper than the key", () => {
  const doc = ConfigDocument.parse(text("[a]", "  x = 1", "  y = 2"), FILE);
  doc.set("a", "x", "p\nq");
  strictEqual(doc.toString(), text("[a]", "  x = p", "      q", "  y = 2"));
  strictEqual(doc.get("a", "x"), "p\nq");
});

Deno.test("set new key in existing section goes after its last entry, before blank lines and comments", () => {
  const doc = ConfigDocument.parse(ENVIRONMENT, FILE);
  doc.set("hosts", "web4", "hello");
  doc.set("environment", "timeout", "30");
  const lines = doc.toString().split("\n");
  strictEqual(lines[5], "timeout = 30");
  strictEqual(lines[6], "");
  strictEqual(lines[9], "!web3 = hello");
  strictEqual(lines[10], "web4 = hello");
  strictEqual(lines[11], "");
  strictEqual(lines[12], "; resolver overrides");
  strictEqual(doc.entries("hosts").at(-1)?.line, 11);
  strictEqual(
    doc.toString(),
    ENVIRONMENT.replace("jobs = 4\n", "jobs = 4\ntimeout = 30\n").replace(
      "!web3 = hello\n",
      "!web3 = hello\nweb4 = hello\n",
    ),
  );
});

Deno.test("set new key after a multi-line last entry and into an empty section", () => {
  const doc = ConfigDocument.parse(text("[a]", "x =", "    1", "    2", "", "[empty]", "", "[z]"), FILE);
  doc.set("a", "y", "3");
  doc.set("empty", "k", "v");
  strictEqual(doc.toString(), text("[a]", "x =", "    1", "    2", "y = 3", "", "[empty]", "k = v", "", "[z]"));
  strictEqual(doc.get("a", "x"), "\n1\n2");
});

Deno.test("set in a missing section appends the section; file without final newline", () => {
  const doc = ConfigDocument.parse("[a]\nx = 1", FILE);
  doc.set("component:hello", "port", "9090");
  strictEqual(doc.toString(), "[a]\nx = 1\n\n[component:hello]\nport = 9090\n");
  deepStrictEqual(doc.sections(), ["a", "component:hello"]);
  strictEqual(doc.sectionLine("component:hello"), 4);
});

Deno.test("set refuses values and keys that would not read back unchanged", () => {
  const input = text("[a]", "x = 1");
  const doc = ConfigDocument.parse(input, FILE);
  for (const [key, value] of [["x", "trailing\n"], ["x", " padded"], ["x", "a\n# b"], ["k=v", "1"], ["", "1"]]) {
    throws(() => doc.set("a", key, value), ConfigEditError);
  }
  throws(() => doc.set("a", "x", "a ; b"), ConfigEditError);
  strictEqual(doc.toString(), input);
  const raw = ConfigDocument.parse(input, FILE, { inlineComments: false });
  raw.set("a", "x", "a ; b");
  strictEqual(raw.get("a", "x"), "a ; b");
});

Deno.test("remove key with continuation lines keeps surrounding lines", () => {
  const input = text("[a]", "# about x", "x = 1", "    2", "", "    3", "", "; about y", "y = 4");
  const doc = ConfigDocument.parse(input, FILE);
  ok(doc.remove("a", "x"));
  strictEqual(doc.toString(), text("[a]", "# about x", "", "; about y", "y = 4"));
  deepStrictEqual(doc.entries("a"), [{ key: "y", value: "4", line: 5 }]);
  ok(!doc.remove("a", "x"));
  ok(!doc.remove("nope", "y"));
  ok(!doc.remove("nope"));
});

Deno.test("remove whole section keeps the comments of the next section", () => {
  const doc = ConfigDocument.parse(ENVIRONMENT, FILE);
  ok(doc.remove("hosts"));
  strictEqual(
    doc.toString(),
    text(
      "# Development environment",
      "[environment]",
      "connect_method = ssh          ; ssh (default) | local | vagrant",
      "host_domain = example.com     ; optional",
      "jobs = 4",
      "",
      "; resolver overrides",
      "[resolver]",
      "web1 = 10.0.0.5",
    ),
  );
  ok(doc.remove("resolver"));
  strictEqual(doc.toString().endsWith("jobs = 4\n\n; resolver overrides\n"), true);
  deepStrictEqual(doc.sections(), ["environment"]);
});

Deno.test("remove the last section drops its separating blank lines", () => {
  const doc = ConfigDocument.parse(text("[a]", "x = 1", "", "[b]", "y = 2", ""), FILE);
  ok(doc.remove("b"));
  strictEqual(doc.toString(), text("[a]", "x = 1"));
});

Deno.test("addSection appends after a blank line and rejects duplicates", () => {
  const doc = ConfigDocument.parse(text("[a]", "x = 1"), FILE);
  doc.addSection("host:web1");
  strictEqual(doc.toString(), text("[a]", "x = 1", "", "[host:web1]"));
  throws(() => doc.addSection("a"), ConfigEditError);
  doc.set("host:web1", "data-role", "primary");
  strictEqual(doc.toString(), text("[a]", "x = 1", "", "[host:web1]", "data-role = primary"));
  const empty = ConfigDocument.parse("", FILE);
  empty.addSection("batou");
  strictEqual(empty.toString(), "[batou]\n");
});

Deno.test("edits keep untouched lines byte-for-byte (comments, odd spacing, CRLF mix)", () => {
  const input = "# head\r\n[a]\r\n  x  :  1   ; keep\r\n\t\r\n;; odd\r\n[b]\ny=2\n";
  const doc = ConfigDocument.parse(input, FILE);
  doc.set("a", "x", "9");
  doc.set("b", "z", "3");
  strictEqual(doc.toString(), "# head\r\n[a]\r\n  x  :  9   ; keep\r\n\t\r\n;; odd\r\n[b]\ny=2\nz = 3\r\n");
});

Deno.test("asList follows batou's as_list", () => {
  deepStrictEqual(asList("a, b,"), ["a", "b", ""]);
  deepStrictEqual(asList("\na\nb"), ["a", "b"]);
  deepStrictEqual(asList("x"), ["x"]);
  deepStrictEqual(asList(""), [""]);
  deepStrictEqual(asList("a,\nb"), ["a", "b"]);
  deepStrictEqual(asList("\n  a \n\n b"), ["a", "b"]);
  deepStrictEqual(asList("hello, nginx"), ["hello", "nginx"]);
});
