/**
 * Text encodings for managed file content, strict like Python's codecs:
 * encoding a character the encoding cannot represent is an error, never a
 * silent replacement.
 *
 * Supported for writing: utf-8, ascii, latin-1 (iso-8859-1) and utf-16le.
 * Reading also accepts any label `TextDecoder` knows.
 *
 * @module
 */

/** Python's `UnicodeEncodeError`: a character cannot be represented in the encoding. */
export class EncodeError extends Error {
  override name = "UnicodeEncodeError";
}

/** Python's `UnicodeDecodeError`: bytes are not valid in the encoding. */
export class DecodeError extends Error {
  override name = "UnicodeDecodeError";
}

type Canonical = "utf-8" | "ascii" | "latin-1" | "utf-16le";

const ALIASES: Record<string, Canonical> = {
  "utf-8": "utf-8",
  utf8: "utf-8",
  "utf_8": "utf-8",
  ascii: "ascii",
  "us-ascii": "ascii",
  "latin-1": "latin-1",
  latin1: "latin-1",
  "latin_1": "latin-1",
  "iso-8859-1": "latin-1",
  "iso8859-1": "latin-1",
  "utf-16le": "utf-16le",
  "utf_16_le": "utf-16le",
};

/** The canonical name of a supported encoding, or null. */
export function canonicalEncoding(name: string): Canonical | null {
  return ALIASES[name.trim().toLowerCase()] ?? null;
}

/** Whether `name` can be used to write content. */
export function isSupportedEncoding(name: string): boolean {
  return canonicalEncoding(name) !== null;
}

function charRepr(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, "0")}'`;
  return `'${ch}'`;
}

/** One encoder for every utf-8 text (an encoder per call is garbage: issue 17, thousands of files). */
const UTF8 = new TextEncoder();

/** Encodes `text`; throws {@linkcode EncodeError} with Python's message for characters out of range. */
export function encodeText(text: string, encoding: string): Uint8Array {
  const name = canonicalEncoding(encoding);
  if (name === null) throw new EncodeError(`unknown encoding: ${encoding}`);
  if (name === "utf-8") return UTF8.encode(text);
  if (name === "utf-16le") {
    const out = new Uint8Array(text.length * 2);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      out[2 * i] = c & 0xff;
      out[2 * i + 1] = c >> 8;
    }
    return out;
  }
  const limit = name === "ascii" ? 0x80 : 0x100;
  const out = new Uint8Array(text.length);
  let position = 0;
  let n = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= limit) {
      throw new EncodeError(
        `'${name === "ascii" ? "ascii" : "latin-1"}' codec can't encode character ${charRepr(ch)} in position ` +
          `${position}: ordinal not in range(${limit})`,
      );
    }
    out[n++] = code;
    position++;
  }
  return out.subarray(0, n);
}

/**
 * Decodes `bytes`. With `fatal` invalid input throws {@linkcode DecodeError};
 * otherwise it becomes U+FFFD (Python's `errors="replace"`).
 */
export function decodeText(bytes: Uint8Array, encoding: string, fatal = true): string {
  const name = canonicalEncoding(encoding);
  if (name === "latin-1" || name === "ascii") {
    let out = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (name === "ascii" && b >= 0x80) {
        if (fatal) {
          throw new DecodeError(
            `'ascii' codec can't decode byte 0x${b.toString(16)} in position ${i}: ordinal not in range(128)`,
          );
        }
        out += "\ufffd";
      } else out += String.fromCharCode(b);
    }
    return out;
  }
  try {
    return new TextDecoder(name ?? encoding, { fatal, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    if (e instanceof RangeError) throw new DecodeError(`unknown encoding: ${encoding}`);
    throw new DecodeError(`'${name ?? encoding}' codec can't decode the data: ${(e as Error).message}`);
  }
}
