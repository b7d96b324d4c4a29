/**
 * OpenSSH key parsing for the age ssh-ed25519 / ssh-rsa recipient types.
 *
 * - public keys: `ssh-ed25519 AAAA... comment` and `ssh-rsa AAAA... comment` lines (authorized_keys style);
 * - private keys: `-----BEGIN OPENSSH PRIVATE KEY-----` (openssh-key-v1) with ed25519 or RSA keys, unencrypted or
 *   protected with bcrypt-pbkdf and aes{128,192,256}-{ctr,cbc} or aes{128,256}-gcm@openssh.com;
 *   legacy PEM RSA keys (`-----BEGIN RSA PRIVATE KEY-----`, also encrypted) via node:crypto.
 *
 * RSA operations use WebCrypto (RSA-OAEP with SHA-256) on keys imported as JWK.
 *
 * @module
 */

import { fromBase64, fromBase64Url, toBase64, toBase64Url } from "../formats/base64.ts";
import { createDecipheriv, createPrivateKey } from "node:crypto";
import bcrypt from "bcrypt-pbkdf";

/** OpenSSH's bcrypt_pbkdf (the `bcrypt-pbkdf` package): `keyLength` bytes from a passphrase and salt. */
export function bcryptPbkdf(pass: Uint8Array, salt: Uint8Array, keyLength: number, rounds: number): Uint8Array {
  const key = new Uint8Array(keyLength);
  const pbkdf = (bcrypt as { pbkdf(...args: unknown[]): number }).pbkdf;
  if (pbkdf(pass, pass.length, salt, salt.length, key, keyLength, rounds) !== 0) {
    throw new SshKeyError(`bcrypt_pbkdf: invalid parameters (${keyLength} bytes, ${rounds} rounds)`);
  }
  return key;
}

/** Any problem with an SSH key: malformed, unsupported type or cipher. */
export class SshKeyError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SshKeyError";
  }
}

/** The passphrase given for an encrypted private key is wrong. */
export class IncorrectPassphraseError extends SshKeyError {
  /** Creates the error. */
  constructor(message = "incorrect passphrase") {
    super(message);
    this.name = "IncorrectPassphraseError";
  }
}

/** A parsed SSH public key. */
export interface SshPublicKey {
  /** Key type as named in the wire format, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  readonly type: string;
  /** The SSH wire encoding of the key (what the base64 blob of a public key line contains). */
  readonly wire: Uint8Array;
  /** The comment of a public key line (may be empty). */
  readonly comment: string;
  /** The 32-byte Ed25519 point, for `ssh-ed25519`. */
  readonly ed25519?: Uint8Array;
  /** Modulus and public exponent (unsigned big-endian), for `ssh-rsa`. */
  readonly rsa?: { readonly n: Uint8Array; readonly e: Uint8Array };
}

/** An Ed25519 private key. */
export interface SshEd25519PrivateKey {
  readonly type: "ssh-ed25519";
  readonly publicKey: SshPublicKey;
  /** The 32-byte seed (first half of OpenSSH's 64-byte private key). */
  readonly seed: Uint8Array;
  readonly comment: string;
}

/** An RSA private key; all numbers unsigned big-endian without leading zeros. */
export interface SshRsaPrivateKey {
  readonly type: "ssh-rsa";
  readonly publicKey: SshPublicKey;
  readonly n: Uint8Array;
  readonly e: Uint8Array;
  readonly d: Uint8Array;
  readonly p: Uint8Array;
  readonly q: Uint8Array;
  /** q^-1 mod p (JWK `qi`). */
  readonly iqmp: Uint8Array;
  readonly comment: string;
}

/** A private key usable for age's ssh recipient types. */
export type SshPrivateKey = SshEd25519PrivateKey | SshRsaPrivateKey;

/** A private key file whose public half is readable without the passphrase. */
export interface SshPrivateKeyFile {
  /** File format. */
  readonly format: "openssh" | "pem";
  /** The public key, when it can be read without decrypting (always for the openssh format). */
  readonly publicKey?: SshPublicKey;
  /** True if a passphrase is needed to decrypt. */
  readonly encrypted: boolean;
  /** Decrypts the private key. Throws IncorrectPassphraseError for a wrong passphrase, SshKeyError otherwise. */
  decrypt(passphrase?: string): SshPrivateKey;
}

// ---------------------------------------------------------------------------------------------------------------
// encoding helpers

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

function stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** SSH wire `string`: uint32 length + bytes. */
function sshString(bytes: Uint8Array): Uint8Array {
  return concatBytes(u32(bytes.length), bytes);
}

/** SSH wire `mpint` of an unsigned big-endian number. */
function sshMpint(unsigned: Uint8Array): Uint8Array {
  const v = stripLeadingZeros(unsigned);
  if (v.length === 1 && v[0] === 0) return u32(0);
  return sshString(v[0] & 0x80 ? concatBytes(new Uint8Array([0]), v) : v);
}

/** Sequential reader over SSH wire data. */
class WireReader {
  private offset = 0;
  constructor(private readonly data: Uint8Array, private readonly what: string) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.offset + n > this.data.length) throw new SshKeyError(`malformed ${this.what}: truncated`);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint32(): number {
    const b = this.bytes(4);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }

  string(): Uint8Array {
    return this.bytes(this.uint32());
  }

  text(): string {
    return textDecoder.decode(this.string());
  }

  /** An mpint as unsigned big-endian bytes (negative numbers are rejected). */
  mpint(): Uint8Array {
    const raw = this.string();
    if (raw.length > 0 && raw[0] & 0x80) throw new SshKeyError(`malformed ${this.what}: negative number`);
    return raw.length === 0 ? new Uint8Array([0]) : stripLeadingZeros(raw);
  }

  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// public keys

/** Decodes the SSH wire format of a public key. Unknown key types are returned with only `type` and `wire`. */
export function parseSshPublicKeyWire(wire: Uint8Array, comment = ""): SshPublicKey {
  const r = new WireReader(wire, "SSH public key");
  const type = r.text();
  if (type === "ssh-ed25519") {
    const point = r.string();
    if (point.length !== 32) throw new SshKeyError("malformed SSH public key: Ed25519 key must be 32 bytes");
    return { type, wire, comment, ed25519: point };
  }
  if (type === "ssh-rsa") {
    const e = r.mpint();
    const n = r.mpint();
    return { type, wire, comment, rsa: { n, e } };
  }
  return { type, wire, comment };
}

/**
 * Parses a public key line `<type> <base64> [comment]` (as in `id_ed25519.pub` or authorized_keys, without
 * options). Throws SshKeyError if it is malformed or the type in the blob differs from the type in the line.
 */
export function parseSshPublicKey(line: string): SshPublicKey {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2 || !parts[0]) throw new SshKeyError(`malformed SSH public key: ${JSON.stringify(line)}`);
  let wire: Uint8Array;
  try {
    wire = fromBase64(parts[1]);
  } catch {
    throw new SshKeyError(`malformed SSH public key (bad base64): ${JSON.stringify(line)}`);
  }
  const key = parseSshPublicKeyWire(wire, parts.slice(2).join(" "));
  if (key.type !== parts[0]) {
    throw new SshKeyError(`malformed SSH public key: type ${parts[0]} does not match key blob type ${key.type}`);
  }
  return key;
}

/** Formats a public key as an authorized_keys line (`type base64 [comment]`). */
export function formatSshPublicKey(key: SshPublicKey): string {
  return [key.type, toBase64(key.wire), key.comment].filter((s) => s).join(" ");
}

function rsaPublicWire(n: Uint8Array, e: Uint8Array): Uint8Array {
  return concatBytes(sshString(textEncoder.encode("ssh-rsa")), sshMpint(e), sshMpint(n));
}

// ---------------------------------------------------------------------------------------------------------------
// private keys

const OPENSSH_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END = "-----END OPENSSH PRIVATE KEY-----";
const AUTH_MAGIC = "openssh-key-v1\0";

interface CipherSpec {
  keyLength: number;
  ivLength: number;
  blockSize: number;
  tagLength: number;
  node: string;
}

const CIPHERS: Record<string, CipherSpec> = {
  "none": { keyLength: 0, ivLength: 0, blockSize: 8, tagLength: 0, node: "" },
  "aes128-ctr": { keyLength: 16, ivLength: 16, blockSize: 16, tagLength: 0, node: "aes-128-ctr" },
  "aes192-ctr": { keyLength: 24, ivLength: 16, blockSize: 16, tagLength: 0, node: "aes-192-ctr" },
  "aes256-ctr": { keyLength: 32, ivLength: 16, blockSize: 16, tagLength: 0, node: "aes-256-ctr" },
  "aes128-cbc": { keyLength: 16, ivLength: 16, blockSize: 16, tagLength: 0, node: "aes-128-cbc" },
  "aes192-cbc": { keyLength: 24, ivLength: 16, blockSize: 16, tagLength: 0, node: "aes-192-cbc" },
  "aes256-cbc": { keyLength: 32, ivLength: 16, blockSize: 16, tagLength: 0, node: "aes-256-cbc" },
  "aes128-gcm@openssh.com": { keyLength: 16, ivLength: 12, blockSize: 16, tagLength: 16, node: "aes-128-gcm" },
  "aes256-gcm@openssh.com": { keyLength: 32, ivLength: 12, blockSize: 16, tagLength: 16, node: "aes-256-gcm" },
};

/** True if `text` looks like a private key file this module can read (OpenSSH or PEM RSA/PKCS#8). */
export function isSshPrivateKeyText(text: string): boolean {
  return text.includes(OPENSSH_BEGIN) || /-----BEGIN (RSA |ENCRYPTED )?PRIVATE KEY-----/.test(text);
}

/**
 * Parses a private key file. The openssh-key-v1 container is decoded right away (public key, cipher, kdf);
 * the private part is decrypted only by `decrypt(passphrase)`.
 */
export function parseSshPrivateKeyFile(text: string): SshPrivateKeyFile {
  if (text.includes(OPENSSH_BEGIN)) return parseOpenSshContainer(text);
  if (/-----BEGIN (RSA |ENCRYPTED )?PRIVATE KEY-----/.test(text)) return parsePemKey(text);
  throw new SshKeyError("not an SSH private key (expected -----BEGIN OPENSSH PRIVATE KEY-----)");
}

function parseOpenSshContainer(text: string): SshPrivateKeyFile {
  const start = text.indexOf(OPENSSH_BEGIN) + OPENSSH_BEGIN.length;
  const end = text.indexOf(OPENSSH_END, start);
  if (end < 0) throw new SshKeyError("malformed OpenSSH private key: missing END line");
  let blob: Uint8Array;
  try {
    blob = fromBase64(text.slice(start, end));
  } catch {
    throw new SshKeyError("malformed OpenSSH private key: bad base64");
  }
  if (textDecoder.decode(blob.subarray(0, AUTH_MAGIC.length)) !== AUTH_MAGIC) {
    throw new SshKeyError("malformed OpenSSH private key: missing openssh-key-v1 magic");
  }
  const r = new WireReader(blob.subarray(AUTH_MAGIC.length), "OpenSSH private key");
  const cipherName = r.text();
  const kdfName = r.text();
  const kdfOptions = r.string();
  const count = r.uint32();
  if (count !== 1) throw new SshKeyError(`OpenSSH private key files with ${count} keys are not supported`);
  const publicKey = parseSshPublicKeyWire(r.string().slice());
  const encryptedSection = r.string();
  const cipher = CIPHERS[cipherName];
  const tag = cipher && cipher.tagLength > 0 ? r.bytes(cipher.tagLength) : new Uint8Array();
  const encrypted = cipherName !== "none";

  return {
    format: "openssh",
    publicKey,
    encrypted,
    decrypt(passphrase?: string): SshPrivateKey {
      if (!cipher) throw new SshKeyError(`unsupported OpenSSH private key cipher ${cipherName}`);
      if (publicKey.type !== "ssh-ed25519" && publicKey.type !== "ssh-rsa") {
        throw new SshKeyError(`unsupported SSH key type ${publicKey.type} (age supports ssh-ed25519 and ssh-rsa)`);
      }
      let plain: Uint8Array;
      if (!encrypted) {
        if (kdfName !== "none") throw new SshKeyError(`malformed OpenSSH private key: kdf ${kdfName} without cipher`);
        plain = encryptedSection;
      } else {
        if (kdfName !== "bcrypt") throw new SshKeyError(`unsupported OpenSSH private key kdf ${kdfName}`);
        if (passphrase === undefined) throw new IncorrectPassphraseError("passphrase required");
        const opts = new WireReader(kdfOptions, "OpenSSH kdf options");
        const salt = opts.string();
        const rounds = opts.uint32();
        if (encryptedSection.length % cipher.blockSize !== 0) {
          throw new SshKeyError("malformed OpenSSH private key: encrypted section not a multiple of the block size");
        }
        const derived = bcryptPbkdf(textEncoder.encode(passphrase), salt, cipher.keyLength + cipher.ivLength, rounds);
        const key = derived.subarray(0, cipher.keyLength);
        const iv = derived.subarray(cipher.keyLength);
        plain = decryptSection(cipher, key, iv, encryptedSection, tag);
      }
      return parsePrivateSection(plain, publicKey);
    },
  };
}

function decryptSection(
  cipher: CipherSpec,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array,
  tag: Uint8Array,
): Uint8Array {
  const decipher = createDecipheriv(cipher.node, key, iv);
  if (cipher.tagLength > 0) (decipher as unknown as { setAuthTag(t: Uint8Array): void }).setAuthTag(tag);
  if (cipher.node.endsWith("-cbc")) decipher.setAutoPadding(false);
  try {
    return concatBytes(new Uint8Array(decipher.update(data)), new Uint8Array(decipher.final()));
  } catch {
    // only authenticated modes can fail here; a wrong key is the likely cause
    throw new IncorrectPassphraseError();
  }
}

function parsePrivateSection(plain: Uint8Array, publicKey: SshPublicKey): SshPrivateKey {
  const r = new WireReader(plain, "OpenSSH private key");
  const check1 = r.uint32();
  const check2 = r.uint32();
  if (check1 !== check2) throw new IncorrectPassphraseError();
  const type = r.text();
  if (type !== publicKey.type) {
    throw new SshKeyError(`malformed OpenSSH private key: private key type ${type} != public key type`);
  }
  let key: SshPrivateKey;
  if (type === "ssh-ed25519") {
    const pub = r.string();
    const priv = r.string();
    if (pub.length !== 32 || priv.length !== 64) throw new SshKeyError("malformed OpenSSH Ed25519 private key");
    const comment = r.text();
    key = { type, publicKey: { ...publicKey, comment }, seed: priv.slice(0, 32), comment };
  } else if (type === "ssh-rsa") {
    const n = r.mpint();
    const e = r.mpint();
    const d = r.mpint();
    const iqmp = r.mpint();
    const p = r.mpint();
    const q = r.mpint();
    const comment = r.text();
    key = { type, publicKey: { ...publicKey, comment }, n, e, d, p, q, iqmp, comment };
  } else {
    throw new SshKeyError(`unsupported SSH key type ${type}`);
  }
  const padding = r.rest();
  for (let i = 0; i < padding.length; i++) {
    if (padding[i] !== i + 1) throw new SshKeyError("malformed OpenSSH private key: bad padding");
  }
  return key;
}

function parsePemKey(text: string): SshPrivateKeyFile {
  const encrypted = /Proc-Type:\s*4,ENCRYPTED/.test(text) || text.includes("BEGIN ENCRYPTED PRIVATE KEY");
  return {
    format: "pem",
    encrypted,
    decrypt(passphrase?: string): SshPrivateKey {
      if (encrypted && passphrase === undefined) throw new IncorrectPassphraseError("passphrase required");
      let jwk: JsonWebKey;
      try {
        const key = createPrivateKey({ key: text, format: "pem", passphrase: encrypted ? passphrase : undefined });
        if (key.asymmetricKeyType !== "rsa") {
          throw new SshKeyError(`unsupported PEM private key type ${key.asymmetricKeyType}`);
        }
        jwk = key.export({ format: "jwk" }) as JsonWebKey;
      } catch (err) {
        if (err instanceof SshKeyError) throw err;
        if (encrypted) throw new IncorrectPassphraseError();
        throw new SshKeyError(`malformed PEM private key: ${(err as Error).message}`);
      }
      const b = (v: string | undefined) => stripLeadingZeros(fromBase64Url(v ?? ""));
      const n = b(jwk.n);
      const e = b(jwk.e);
      const publicKey = parseSshPublicKeyWire(rsaPublicWire(n, e));
      return { type: "ssh-rsa", publicKey, n, e, d: b(jwk.d), p: b(jwk.p), q: b(jwk.q), iqmp: b(jwk.qi), comment: "" };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// RSA via WebCrypto

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function fromBigInt(v: bigint): Uint8Array {
  const hex = v.toString(16);
  const padded = hex.length % 2 ? "0" + hex : hex;
  const out = new Uint8Array(padded.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(padded.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Imports an RSA private key for RSA-OAEP with SHA-256 decryption. */
export function rsaOaepPrivateKey(key: SshRsaPrivateKey): Promise<CryptoKey> {
  const d = toBigInt(key.d);
  const dp = fromBigInt(d % (toBigInt(key.p) - 1n));
  const dq = fromBigInt(d % (toBigInt(key.q) - 1n));
  const jwk: JsonWebKey = {
    kty: "RSA",
    n: toBase64Url(key.n),
    e: toBase64Url(key.e),
    d: toBase64Url(key.d),
    p: toBase64Url(key.p),
    q: toBase64Url(key.q),
    dp: toBase64Url(dp),
    dq: toBase64Url(dq),
    qi: toBase64Url(key.iqmp),
    alg: "RSA-OAEP-256",
    ext: false,
  };
  return crypto.subtle.importKey("jwk", jwk, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
}

/** Imports an `ssh-rsa` public key for RSA-OAEP with SHA-256 encryption. */
export function rsaOaepPublicKey(key: SshPublicKey): Promise<CryptoKey> {
  if (!key.rsa) throw new SshKeyError(`not an RSA public key: ${key.type}`);
  const jwk: JsonWebKey = { kty: "RSA", n: toBase64Url(key.rsa.n), e: toBase64Url(key.rsa.e), alg: "RSA-OAEP-256" };
  return crypto.subtle.importKey("jwk", jwk, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
}

/** Bit length of an RSA modulus. */
export function rsaModulusBits(n: Uint8Array): number {
  const v = stripLeadingZeros(n);
  return v.length === 0 ? 0 : (v.length - 1) * 8 + (32 - Math.clz32(v[0]));
}
