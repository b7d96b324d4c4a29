/** core/formats/base64.ts against btoa/atob, and core/formats/pyrepr.ts against Python's own repr(). */
import { assertEquals } from "./support/assert.ts";
import { throws as assertThrows } from "node:assert/strict";
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from "../core/formats/base64.ts";
import { pyRepr, pyValueRepr } from "../core/formats/pyrepr.ts";
import { requireTools } from "./support/tools.ts";

function viaBtoa(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("base64: same text as btoa for every length, round trips, padding optional, white space ignored", () => {
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n * 11) & 0xff);
    const text = toBase64(bytes);
    assertEquals(text, viaBtoa(bytes));
    assertEquals(fromBase64(text), bytes);
    assertEquals(fromBase64(text.replace(/=+$/, "")), bytes);
    assertEquals(fromBase64(text.replace(/(.{4})/g, "$1\n ")), bytes);
    const url = toBase64Url(bytes);
    assertEquals(url, text.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""));
    assertEquals(fromBase64Url(url), bytes);
  }
  assertThrows(() => fromBase64("a*b="));
});

Deno.test("pyRepr: the same text as Python's repr() of str", async () => {
  await requireTools("python3");
  const samples = [
    "",
    "plain",
    "it's",
    'say "hi"',
    `both ' and "`,
    "back\\slash",
    "tab\tnew\nline\rret",
    "bell\x07 esc\x1b del\x7f c1\x85 nbsp\xa0",
    "unicode äöü € 😀",
  ];
  const script = "import json,sys\nfor s in json.load(sys.stdin): print(repr(s))";
  const cmd = new Deno.Command("python3", { args: ["-c", script], stdin: "piped", stdout: "piped" }).spawn();
  const w = cmd.stdin.getWriter();
  await w.write(new TextEncoder().encode(JSON.stringify(samples)));
  await w.close();
  const out = new TextDecoder().decode((await cmd.output()).stdout).split("\n").slice(0, -1);
  assertEquals(samples.map(pyRepr), out);
});

Deno.test("pyValueRepr: configured values as Python's repr shows them", () => {
  assertEquals(pyValueRepr("wrongmode"), "'wrongmode'");
  assertEquals(pyValueRepr(true), "True");
  assertEquals(pyValueRepr(null), "None");
  assertEquals(pyValueRepr(["a", 1, false]), "['a', 1, False]");
  assertEquals(pyValueRepr({ k: "it's" }), `{'k': "it's"}`);
});
