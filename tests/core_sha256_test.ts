/**
 * core/runtime/sha256.ts: known SHA-256 vectors, and the same digests as node:crypto for strings (UTF-8), byte arrays
 * around the block boundaries, incremental hashing and files below and above the whole-file limit.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { sha256FileHex, sha256Hasher, sha256Hex, sha256HexAsync, WHOLE_FILE_LIMIT } from "../core/runtime/sha256.ts";
import { assertEquals } from "./support/assert.ts";

const nodeHex = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

Deno.test("sha256Hex: the FIPS 180-2 vectors", () => {
  assertEquals(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assertEquals(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assertEquals(
    sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
  assertEquals(
    sha256Hex(new Uint8Array(1_000_000).fill(0x61)),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  );
});

Deno.test("sha256Hex and sha256HexAsync: as node:crypto for bytes of every length around the blocks, and UTF-8", async () => {
  const random = new Uint8Array(70_000);
  crypto.getRandomValues(random.subarray(0, 65_536));
  random.set(random.subarray(0, 70_000 - 65_536), 65_536);
  for (const n of [0, 1, 31, 32, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65_537, 70_000]) {
    const data = random.subarray(0, n);
    assertEquals(sha256Hex(data), nodeHex(data), `length ${n}`);
    assertEquals(await sha256HexAsync(data), nodeHex(data), `async, length ${n}`);
  }
  // A view into a bigger buffer hashes only its own bytes.
  assertEquals(await sha256HexAsync(random.subarray(10, 20)), nodeHex(random.slice(10, 20)));
  for (const text of ["äöü ß", "日本語", "🙂 emoji", "lone \ud800 surrogate", "x".repeat(1000)]) {
    assertEquals(sha256Hex(text), nodeHex(text), text);
  }
});

Deno.test("sha256Hasher: incremental, hex() gives the digest so far and hashing goes on", () => {
  const h = sha256Hasher();
  assertEquals(h.hex(), nodeHex(""));
  h.update("abc");
  assertEquals(h.hex(), nodeHex("abc"));
  assertEquals(h.hex(), nodeHex("abc"));
  h.update(new Uint8Array([1, 2, 3]));
  h.update("é".repeat(100));
  const node = createHash("sha256").update("abc").update(new Uint8Array([1, 2, 3])).update("é".repeat(100));
  assertEquals(h.hex(), node.digest("hex"));
});

Deno.test("sha256FileHex: small files whole, big or unknown-size files streamed; as node:crypto", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-sha256-test-" });
  try {
    const small = join(dir, "small"), big = join(dir, "big"), empty = join(dir, "empty");
    const smallData = crypto.getRandomValues(new Uint8Array(5000));
    const bigData = new Uint8Array(WHOLE_FILE_LIMIT + 12_345);
    for (let i = 0; i < bigData.length; i += 65_536) bigData.set(smallData.subarray(0, 4000), i);
    await Deno.writeFile(small, smallData);
    await Deno.writeFile(big, bigData);
    await Deno.writeFile(empty, new Uint8Array());
    assertEquals(await sha256FileHex(small, smallData.length), nodeHex(smallData));
    assertEquals(await sha256FileHex(small), nodeHex(smallData));
    assertEquals(await sha256FileHex(big, bigData.length), nodeHex(bigData));
    assertEquals(await sha256FileHex(big, 10), nodeHex(bigData));
    assertEquals(await sha256FileHex(empty, 0), nodeHex(""));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
