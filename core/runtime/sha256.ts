/**
 * SHA-256 without Deno's Node compatibility layer, whose first use (`node:crypto`) costs an agent ~10-15 ms of CPU.
 * Small inputs that must be hashed synchronously (cache keys, checksums of rendered content) go through
 * `@noble/hashes` (~200 MB/s once warm, a few ms for the first tens of KiB in a fresh process); whole files through
 * WebCrypto (native, asynchronous); files above {@linkcode WHOLE_FILE_LIMIT} are streamed through `node:crypto`,
 * loaded only then. All give the same hex digests as `createHash("sha256")`.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./sha256.ts";
 * sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const encoder = new TextEncoder();

function bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** The hex SHA-256 of `data` (a string is hashed as UTF-8), computed synchronously. */
export function sha256Hex(data: Uint8Array | string): string {
  return bytesToHex(sha256(bytes(data)));
}

/** The hex SHA-256 of `data`, computed natively (WebCrypto) off the main thread. */
export async function sha256HexAsync(data: Uint8Array): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>)));
}

/** A running SHA-256: feed it with `update`, read the digest so far with `hex` (feeding may go on after). */
export interface Sha256Hasher {
  /** Adds `data` (a string as UTF-8). */
  update(data: Uint8Array | string): void;
  /** The hex digest of everything added so far. */
  hex(): string;
}

/** A new {@linkcode Sha256Hasher}. */
export function sha256Hasher(): Sha256Hasher {
  const hash = sha256.create();
  return {
    update(data: Uint8Array | string): void {
      hash.update(bytes(data));
    },
    hex(): string {
      return bytesToHex(hash.clone().digest());
    },
  };
}

/** Files up to this size (by the size hint) are read whole and hashed natively; bigger ones are streamed. */
export const WHOLE_FILE_LIMIT = 4 * 1024 * 1024;

/**
 * The hex SHA-256 of a file's content. Files of at most {@linkcode WHOLE_FILE_LIMIT} bytes (by `sizeHint`; an
 * unknown size counts as big) are read whole and hashed with WebCrypto; bigger ones are streamed through
 * `node:crypto`, loaded on first use.
 */
export async function sha256FileHex(path: string, sizeHint = Infinity): Promise<string> {
  if (sizeHint <= WHOLE_FILE_LIMIT) return await sha256HexAsync(await Deno.readFile(path));
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  const file = await Deno.open(path, { read: true });
  // The stream closes the file when it ends (or fails).
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}
