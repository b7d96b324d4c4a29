/** core/runtime/lines.ts: lines of a stream as they arrive, in bounded pieces, the text given back exactly. */
import { assertEquals } from "./support/assert.ts";
import { readLines } from "../core/runtime/lines.ts";

/** A stream of `chunks` (UTF-8 bytes, split anywhere, also inside a character). */
function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks);
}

async function linesOf(bytes: Uint8Array, chunkSize: number, max?: number): Promise<[string, boolean][]> {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.slice(i, i + chunkSize));
  const out: [string, boolean][] = [];
  await readLines(streamOf(chunks), (line, ended) => out.push([line, ended]), max);
  return out;
}

Deno.test("readLines: lines with and without a newline, whatever the chunks; joined they are the text", async () => {
  const text = "eins\r\nzwei ä€\n\nletzte";
  const bytes = new TextEncoder().encode(text);
  for (const size of [1, 2, 3, 7, bytes.length]) {
    const lines = await linesOf(bytes, size);
    assertEquals(lines, [["eins\r", true], ["zwei ä€", true], ["", true], ["letzte", false]], `chunks of ${size}`);
    assertEquals(lines.map(([l, ended]) => ended ? l + "\n" : l).join(""), text);
  }
  assertEquals(await linesOf(new TextEncoder().encode("a\n"), 1), [["a", true]]);
  assertEquals(await linesOf(new Uint8Array(), 1), []);
});

Deno.test("readLines: with maxLineChars a long line comes in pieces of that size before its end", async () => {
  // (Byte by byte: a piece goes as soon as more than maxLineChars wait without a newline.)
  const lines = await linesOf(new TextEncoder().encode("abcdefghij\nxyz"), 1, 4);
  assertEquals(lines, [["abcd", false], ["efgh", false], ["ij", true], ["xyz", false]]);
});
