/**
 * bcrypt_pbkdf, the key derivation function OpenSSH uses for passphrase-protected private keys
 * (`kdfname = "bcrypt"`), built on the Blowfish-based "bcrypt hash" of OpenBSD.
 *
 * Blowfish's initial P-array and S-boxes are the hexadecimal digits of pi; they are computed once (lazily) with
 * Machin's formula instead of being embedded as a table.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Number of 32-bit words in the Blowfish P-array (18) plus the four S-boxes (4 * 256). */
const STATE_WORDS = 18 + 4 * 256;

let initialState: Uint32Array | undefined;

/** The first `count` 32-bit words of the fractional part of pi (0x243f6a88, 0x85a308d3, ...). */
export function piFractionWords(count: number): Uint32Array {
  const bits = BigInt(count * 32 + 64); // 64 guard bits absorb the truncation error of the series
  const one = 1n << bits;
  const arctanInv = (x: bigint): bigint => {
    let sum = 0n;
    let term = one / x;
    let k = 1n;
    let positive = true;
    const x2 = x * x;
    while (term !== 0n) {
      sum = positive ? sum + term / k : sum - term / k;
      term /= x2;
      k += 2n;
      positive = !positive;
    }
    return sum;
  };
  const pi = 4n * (4n * arctanInv(5n) - arctanInv(239n));
  let frac = (pi - (3n << bits)) >> 64n;
  const out = new Uint32Array(count);
  for (let i = count - 1; i >= 0; i--) {
    out[i] = Number(frac & 0xffffffffn);
    frac >>= 32n;
  }
  return out;
}

/** Blowfish state: P-array at [0, 18), S-box k at [18 + 256k, 18 + 256(k+1)). */
function freshState(): Uint32Array {
  initialState ??= piFractionWords(STATE_WORDS);
  return initialState.slice();
}

/** Encrypts the block (l, r) in place in `block` using state `s`. */
function encipher(s: Uint32Array, block: Uint32Array): void {
  let l = block[0];
  let r = block[1];
  l ^= s[0];
  for (let i = 1; i <= 16; i += 2) {
    r ^= (((s[18 + (l >>> 24)] + s[274 + ((l >>> 16) & 0xff)]) ^ s[530 + ((l >>> 8) & 0xff)]) +
      s[786 + (l & 0xff)]) ^ s[i];
    l ^= (((s[18 + (r >>> 24)] + s[274 + ((r >>> 16) & 0xff)]) ^ s[530 + ((r >>> 8) & 0xff)]) +
      s[786 + (r & 0xff)]) ^ s[i + 1];
  }
  block[0] = (r ^ s[17]) >>> 0;
  block[1] = l >>> 0;
}

/** Reads 4 bytes big-endian from `data`, cycling around its end; `pos` is advanced. */
function streamToWord(data: Uint8Array, pos: { j: number }): number {
  let word = 0;
  for (let i = 0; i < 4; i++) {
    if (pos.j >= data.length) pos.j = 0;
    word = ((word << 8) | data[pos.j]) >>> 0;
    pos.j++;
  }
  return word;
}

/** Blowfish_expandstate: the "expensive key schedule" mixing in both `data` (salt) and `key`. */
function expandState(s: Uint32Array, data: Uint8Array, key: Uint8Array): void {
  const kp = { j: 0 };
  for (let i = 0; i < 18; i++) s[i] = (s[i] ^ streamToWord(key, kp)) >>> 0;
  const dp = { j: 0 };
  const block = new Uint32Array(2);
  for (let i = 0; i < STATE_WORDS; i += 2) {
    block[0] ^= streamToWord(data, dp);
    block[1] ^= streamToWord(data, dp);
    encipher(s, block);
    s[i] = block[0];
    s[i + 1] = block[1];
  }
}

/** Blowfish_expand0state: the plain key schedule with `key`. */
function expand0State(s: Uint32Array, key: Uint8Array): void {
  const kp = { j: 0 };
  for (let i = 0; i < 18; i++) s[i] = (s[i] ^ streamToWord(key, kp)) >>> 0;
  const block = new Uint32Array(2);
  for (let i = 0; i < STATE_WORDS; i += 2) {
    encipher(s, block);
    s[i] = block[0];
    s[i + 1] = block[1];
  }
}

const MAGIC = new TextEncoder().encode("OxychromaticBlowfishSwatDynamite");

/** The OpenBSD bcrypt_hash: 32 bytes from the SHA-512 digests of passphrase and salt. */
function bcryptHash(sha2pass: Uint8Array, sha2salt: Uint8Array): Uint8Array {
  const s = freshState();
  expandState(s, sha2salt, sha2pass);
  for (let i = 0; i < 64; i++) {
    expand0State(s, sha2salt);
    expand0State(s, sha2pass);
  }
  const cdata = new Uint32Array(8);
  const mp = { j: 0 };
  for (let i = 0; i < 8; i++) cdata[i] = streamToWord(MAGIC, mp);
  const block = new Uint32Array(2);
  for (let round = 0; round < 64; round++) {
    for (let b = 0; b < 8; b += 2) {
      block[0] = cdata[b];
      block[1] = cdata[b + 1];
      encipher(s, block);
      cdata[b] = block[0];
      cdata[b + 1] = block[1];
    }
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    // little-endian output, as in OpenBSD
    out[4 * i] = cdata[i] & 0xff;
    out[4 * i + 1] = (cdata[i] >>> 8) & 0xff;
    out[4 * i + 2] = (cdata[i] >>> 16) & 0xff;
    out[4 * i + 3] = cdata[i] >>> 24;
  }
  return out;
}

function sha512(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha512");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * Derives `keyLength` bytes from `passphrase` and `salt` with `rounds` iterations (OpenBSD `bcrypt_pbkdf`).
 * OpenSSH uses it with the salt and rounds stored in the private key's kdfoptions.
 */
export function bcryptPbkdf(
  passphrase: Uint8Array,
  salt: Uint8Array,
  keyLength: number,
  rounds: number,
): Uint8Array {
  if (rounds < 1) throw new Error("bcrypt_pbkdf: rounds must be at least 1");
  if (keyLength < 1 || keyLength > 32 * 32) throw new Error("bcrypt_pbkdf: invalid key length");
  const stride = Math.ceil(keyLength / 32);
  let amount = Math.ceil(keyLength / stride);
  const key = new Uint8Array(keyLength);
  const sha2pass = sha512(passphrase);
  let remaining = keyLength;
  for (let count = 1; remaining > 0; count++) {
    const countBytes = new Uint8Array([count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff]);
    let tmp = bcryptHash(sha2pass, sha512(salt, countBytes));
    const out = tmp.slice();
    for (let i = 1; i < rounds; i++) {
      tmp = bcryptHash(sha2pass, sha512(tmp));
      for (let j = 0; j < out.length; j++) out[j] ^= tmp[j];
    }
    amount = Math.min(amount, remaining);
    let i = 0;
    for (; i < amount; i++) {
      const dest = i * stride + (count - 1);
      if (dest >= keyLength) break;
      key[dest] = out[i];
    }
    remaining -= i;
  }
  return key;
}
