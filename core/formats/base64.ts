/**
 * base64 (RFC 4648) of byte strings, standard and URL-safe, on the runtime's native `Uint8Array` methods.
 *
 * ```ts
 * import { fromBase64, toBase64 } from "./base64.ts";
 * toBase64(new TextEncoder().encode("hi")); // "aGk="
 * fromBase64("aGk"); // Uint8Array [104, 105]: padding is optional, white space ignored
 * ```
 *
 * @module
 */

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** Decodes standard base64 (padding optional, white space ignored); throws a SyntaxError on other characters. */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.fromBase64(text.replace(/\s+/g, ""));
}

/** URL-safe base64 without padding (JWK, RFC 7515). */
export function toBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Decodes URL-safe base64 (padding optional). */
export function fromBase64Url(text: string): Uint8Array {
  return Uint8Array.fromBase64(text.replace(/\s+/g, ""), { alphabet: "base64url" });
}
