/**
 * age v1 encryption (binary format) for batou secrets.
 *
 * The file format, X25519 (`age1...` / `AGE-SECRET-KEY-1...`) and the post-quantum/tag recipient types come from
 * the `age-encryption` package; the `ssh-ed25519` and `ssh-rsa` recipient types of the age spec
 * (`filippo.io/age/agessh`) are implemented here on top of ./openssh.ts.
 *
 * Identities are read from `BATOU_AGE_IDENTITIES` or the usual `~/.ssh/id_*` files. Passphrase-protected keys are
 * unlocked lazily, only when a file actually has a stanza for them; the passphrase comes from
 * `BATOU_AGE_IDENTITY_PASSPHRASE` (literal, or a 1Password `op://` reference), else from a prompt on the terminal.
 *
 * @module
 */

import { registerErrorClass, ReportingError } from "../model/errors.ts";
import { armor, Decrypter, Encrypter, type Identity, type Recipient, Stanza } from "age-encryption";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { fromBase64, toBase64 } from "../formats/base64.ts";
import {
  IncorrectPassphraseError,
  isSshPrivateKeyText,
  parseSshPrivateKeyFile,
  parseSshPublicKey,
  rsaModulusBits,
  rsaOaepPrivateKey,
  rsaOaepPublicKey,
  type SshPrivateKey,
  type SshPublicKey,
} from "./openssh.ts";

export type { Identity as AgeIdentity, Recipient as AgeRecipient } from "age-encryption";

const ED25519_LABEL = new TextEncoder().encode("age-encryption.org/v1/ssh-ed25519");
const RSA_LABEL = new TextEncoder().encode("age-encryption.org/v1/ssh-rsa");
const AGE_MAGIC = "age-encryption.org/v1\n";
const NO_MATCH = "no identity matched any of the file's recipients";

/** A recipient string that is neither `age1...` nor a supported ssh public key. */
export class AgeRecipientError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AgeRecipientError";
  }
}

/** Decryption failed with every identity. `message` names the file and the identity files tried. */
export class AgeDecryptError extends ReportingError {
  override name = "AgeDecryptError";
  /** The file (or label) that could not be decrypted. */
  path = "";
  /** Paths of the identity sources that were tried. */
  identityPaths: string[] = [];
  /** Problems found on the way (unusable identity files, wrong passphrases, ...), one line each. */
  problems: string[] = [];
  /** True when the data is not age-encrypted at all (garbage, a plain file), not merely undecryptable here. */
  notAge = false;

  /** Builds the error. */
  static of(message: string, path: string, identityPaths: string[], problems: string[]): AgeDecryptError {
    const e = new AgeDecryptError(message);
    e.path = path;
    e.identityPaths = identityPaths;
    e.problems = problems;
    return e;
  }
}

/** Identities read from one file (or given in memory). */
export interface AgeIdentitySource {
  /** The identity file, or a label for in-memory identities. Shown in error messages. */
  readonly path: string;
  /** `AGE-SECRET-KEY-1...` strings or Identity objects (for example an {@link SshIdentity}). */
  readonly identities: (string | Identity)[];
  /** Why the file yields no identity (unsupported key type, unreadable, ...), when it does not. */
  readonly error?: string;
}

/** Returns a passphrase for the identity file `path`. */
export type PassphraseProvider = (path: string) => Promise<string>;

// ---------------------------------------------------------------------------------------------------------------
// small crypto helpers

function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

function sha512(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha512").update(data).digest());
}

function hkdf32(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, 32));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** base64 without padding, as used in age headers. */
function b64nopad(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, "");
}

function fromB64nopad(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*$/.test(text) || text.length % 4 === 1) return null;
  return fromBase64(text);
}

function aeadSeal(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const c = createCipheriv("chacha20-poly1305", key, new Uint8Array(12), { authTagLength: 16 });
  const body = concat(new Uint8Array(c.update(plaintext)), new Uint8Array(c.final()));
  return concat(body, new Uint8Array(c.getAuthTag()));
}

function aeadOpen(key: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < 16) return null;
  const d = createDecipheriv("chacha20-poly1305", key, new Uint8Array(12), { authTagLength: 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return concat(new Uint8Array(d.update(sealed.subarray(0, sealed.length - 16))), new Uint8Array(d.final()));
  } catch {
    return null;
  }
}

/** The 4-byte key tag of the ssh recipient types: base64(SHA-256(wire public key)[:4]). */
export function sshKeyTag(key: SshPublicKey): string {
  return b64nopad(sha256(key.wire).subarray(0, 4));
}

function ed25519Tweak(key: SshPublicKey): Uint8Array {
  return hkdf32(new Uint8Array(0), key.wire, ED25519_LABEL);
}

// ---------------------------------------------------------------------------------------------------------------
// recipients

/** age `ssh-ed25519` recipient. */
export class SshEd25519Recipient implements Recipient {
  private readonly montgomery: Uint8Array;

  /** Creates the recipient from an `ssh-ed25519` public key. */
  constructor(private readonly key: SshPublicKey) {
    if (!key.ed25519) throw new AgeRecipientError(`not an ssh-ed25519 key: ${key.type}`);
    try {
      this.montgomery = ed25519.utils.toMontgomery(key.ed25519);
    } catch (err) {
      throw new AgeRecipientError(`invalid Ed25519 public key: ${(err as Error).message}`);
    }
  }

  /** Wraps the file key into one `ssh-ed25519` stanza. */
  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = new Uint8Array(randomBytes(32));
    const share = x25519.getPublicKey(ephemeral);
    let shared = x25519.getSharedSecret(ephemeral, this.montgomery);
    shared = x25519.getSharedSecret(ed25519Tweak(this.key), shared);
    const wrappingKey = hkdf32(shared, concat(share, this.montgomery), ED25519_LABEL);
    return [new Stanza(["ssh-ed25519", sshKeyTag(this.key), b64nopad(share)], aeadSeal(wrappingKey, fileKey))];
  }
}

/** age `ssh-rsa` recipient (RSA-OAEP-SHA256, label `age-encryption.org/v1/ssh-rsa`). */
export class SshRsaRecipient implements Recipient {
  private cryptoKey?: Promise<CryptoKey>;

  /** Creates the recipient from an `ssh-rsa` public key of at least 2048 bits. */
  constructor(private readonly key: SshPublicKey) {
    if (!key.rsa) throw new AgeRecipientError(`not an ssh-rsa key: ${key.type}`);
    if (rsaModulusBits(key.rsa.n) < 2048) throw new AgeRecipientError("RSA key size is too small");
  }

  /** Wraps the file key into one `ssh-rsa` stanza. */
  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    this.cryptoKey ??= rsaOaepPublicKey(this.key);
    const body = await crypto.subtle.encrypt(
      { name: "RSA-OAEP", label: RSA_LABEL },
      await this.cryptoKey,
      fileKey as Uint8Array<ArrayBuffer>,
    );
    return [new Stanza(["ssh-rsa", sshKeyTag(this.key)], new Uint8Array(body))];
  }
}

/**
 * Turns a recipient string into what the age Encrypter accepts: `age1...` strings stay strings; `ssh-ed25519 ...`
 * and `ssh-rsa ...` public key lines become recipient objects. Throws AgeRecipientError otherwise.
 */
export function parseAgeRecipient(recipient: string): string | Recipient {
  const r = recipient.trim();
  if (r.startsWith("age1")) return r;
  if (r.startsWith("ssh-ed25519 ") || r.startsWith("ssh-rsa ")) {
    let key: SshPublicKey;
    try {
      key = parseSshPublicKey(r);
    } catch (err) {
      throw new AgeRecipientError(`malformed SSH recipient: ${JSON.stringify(r)}: ${(err as Error).message}`);
    }
    return key.type === "ssh-ed25519" ? new SshEd25519Recipient(key) : new SshRsaRecipient(key);
  }
  throw new AgeRecipientError(
    `unsupported age recipient ${JSON.stringify(r)} (expected age1..., ssh-ed25519 ... or ssh-rsa ...)`,
  );
}

/** Encrypts `plaintext` to all `recipients` (`age1...`, `ssh-ed25519 ...`, `ssh-rsa ...`); binary age format. */
export async function encryptAge(plaintext: Uint8Array, recipients: string[]): Promise<Uint8Array> {
  if (recipients.length === 0) throw new AgeRecipientError("no recipients given");
  const e = new Encrypter();
  for (const r of recipients) {
    const parsed = parseAgeRecipient(r);
    try {
      e.addRecipient(parsed);
    } catch (err) {
      throw new AgeRecipientError(`invalid age recipient ${JSON.stringify(r)}: ${(err as Error).message}`);
    }
  }
  return await e.encrypt(plaintext);
}

// ---------------------------------------------------------------------------------------------------------------
// identities

/**
 * An age identity backed by an SSH private key (`ssh-ed25519` or `ssh-rsa`). The private key is unlocked lazily
 * via `unlock`, only when the file has a stanza with this key's tag.
 */
export class SshIdentity implements Identity {
  private unlocked?: Promise<SshPrivateKey>;
  private rsaKey?: Promise<CryptoKey>;

  /**
   * @param path where the key came from (for messages)
   * @param publicKey the public key, if known without unlocking (always for OpenSSH-format files)
   * @param unlock returns the decrypted private key (may prompt for a passphrase)
   */
  constructor(
    readonly path: string,
    readonly publicKey: SshPublicKey | undefined,
    private readonly unlock: () => Promise<SshPrivateKey>,
  ) {}

  private privateKey(): Promise<SshPrivateKey> {
    this.unlocked ??= this.unlock();
    this.unlocked.catch(() => this.unlocked = undefined);
    return this.unlocked;
  }

  /** Returns the file key from a stanza for this key, or null when no stanza is for this key. */
  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    const candidates = stanzas.filter((s) =>
      (s.args[0] === "ssh-ed25519" || s.args[0] === "ssh-rsa") &&
      (this.publicKey === undefined || (s.args[0] === this.publicKey.type && s.args[1] === sshKeyTag(this.publicKey)))
    );
    if (candidates.length === 0) return null;
    if (this.publicKey === undefined && !candidates.some((s) => s.args[0] === "ssh-rsa")) return null;
    const key = await this.privateKey();
    for (const s of candidates) {
      if (s.args[0] !== key.type || s.args[1] !== sshKeyTag(key.publicKey)) continue;
      return key.type === "ssh-ed25519" ? this.unwrapEd25519(key.seed, key.publicKey, s) : await this.unwrapRsa(key, s);
    }
    return null;
  }

  private unwrapEd25519(seed: Uint8Array, publicKey: SshPublicKey, s: Stanza): Uint8Array {
    if (s.args.length !== 3) throw new Error("invalid ssh-ed25519 recipient block");
    const share = fromB64nopad(s.args[2]);
    if (share === null || share.length !== 32) throw new Error("invalid ssh-ed25519 recipient block");
    const secret = sha512(seed).subarray(0, 32);
    const ourPublic = x25519.getPublicKey(secret);
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(secret, share);
    } catch (err) {
      throw new Error(`invalid X25519 recipient: ${(err as Error).message}`);
    }
    shared = x25519.getSharedSecret(ed25519Tweak(publicKey), shared);
    const wrappingKey = hkdf32(shared, concat(share, ourPublic), ED25519_LABEL);
    const fileKey = aeadOpen(wrappingKey, s.body);
    if (fileKey === null) throw new Error("failed to decrypt file key");
    return fileKey;
  }

  private async unwrapRsa(key: SshPrivateKey & { type: "ssh-rsa" }, s: Stanza): Promise<Uint8Array> {
    if (s.args.length !== 2) throw new Error("invalid ssh-rsa recipient block");
    this.rsaKey ??= rsaOaepPrivateKey(key);
    try {
      const fileKey = await crypto.subtle.decrypt(
        { name: "RSA-OAEP", label: RSA_LABEL },
        await this.rsaKey,
        s.body as Uint8Array<ArrayBuffer>,
      );
      return new Uint8Array(fileKey);
    } catch (err) {
      throw new Error(`failed to decrypt file key: ${(err as Error).message}`);
    }
  }
}

/**
 * An age identity file protected with a passphrase (`age -p` output, binary or armored) that contains
 * `AGE-SECRET-KEY-1...` lines. Decrypted lazily on first use.
 */
class EncryptedIdentityFile implements Identity {
  private inner?: Promise<Decrypter>;

  constructor(
    readonly path: string,
    private readonly ciphertext: Uint8Array,
    private readonly pass: () => Promise<string>,
  ) {}

  private open(): Promise<Decrypter> {
    this.inner ??= (async () => {
      const d = new Decrypter();
      d.addPassphrase(await this.pass());
      let text: string;
      try {
        text = await d.decrypt(this.ciphertext, "text");
      } catch {
        throw new IncorrectPassphraseError();
      }
      const inner = new Decrypter();
      let n = 0;
      for (const line of text.split(/\r?\n/)) {
        if (line.startsWith("AGE-SECRET-KEY-")) {
          inner.addIdentity(line.trim());
          n++;
        }
      }
      if (n === 0) throw new Error("the encrypted identity file contains no AGE-SECRET-KEY lines");
      return inner;
    })();
    this.inner.catch(() => this.inner = undefined);
    return this.inner;
  }

  async unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> {
    if (!stanzas.some((s) => s.args[0] === "X25519" || s.args[0] === "mlkem768x25519")) return null;
    const d = await this.open();
    return await (d as unknown as { unwrapFileKey(s: Stanza[]): Promise<Uint8Array | null> }).unwrapFileKey(stanzas);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// passphrases

const knownPassphrases = new Map<string, string>();

/** Forgets all cached passphrases (for tests and long-running processes). */
export function forgetPassphrases(): void {
  knownPassphrases.clear();
}

async function opRead(ref: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("op", { args: ["read", ref], stdout: "piped", stderr: "piped", stdin: "null" })
      .output();
  } catch (err) {
    throw new Error(`Could not run \`op read\` for BATOU_AGE_IDENTITY_PASSPHRASE: ${(err as Error).message}`);
  }
  if (out.code !== 0) {
    throw new Error(
      `\`op read ${ref}\` failed (exit code ${out.code}): ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/**
 * Reads a line from the terminal without echo (stdin in raw mode, prompt on stderr).
 * Throws if stdin is not a terminal or the user presses Ctrl-C.
 */
export async function promptHidden(prompt: string): Promise<string> {
  if (!Deno.stdin.isTerminal()) throw new Error("stdin is not a terminal");
  const enc = new TextEncoder();
  const bytes: number[] = [];
  // raw mode first: what is typed after the prompt appears must never be echoed
  Deno.stdin.setRaw(true);
  try {
    await Deno.stderr.write(enc.encode(prompt));
    const buf = new Uint8Array(64);
    reading: for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      for (const c of buf.subarray(0, n)) {
        if (c === 3) throw new Error("Interrupted while reading the passphrase");
        if (c === 13 || c === 10 || c === 4) break reading;
        if (c === 127 || c === 8) {
          // drop one whole UTF-8 character
          while (bytes.length > 0 && (bytes[bytes.length - 1] & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
          continue;
        }
        if (c === 21) { // Ctrl-U: clear line
          bytes.length = 0;
          continue;
        }
        bytes.push(c);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * The default passphrase source: `BATOU_AGE_IDENTITY_PASSPHRASE` (an `op://` reference is read with
 * `op read`, anything else is the passphrase itself), else a prompt without echo on the terminal.
 * Results are cached per identity file.
 */
export async function defaultPassphrase(path: string): Promise<string> {
  const known = knownPassphrases.get(path);
  if (known !== undefined) return known;
  const env = Deno.env.get("BATOU_AGE_IDENTITY_PASSPHRASE");
  let passphrase: string;
  if (env) {
    passphrase = env.startsWith("op://") ? await opRead(env) : env;
  } else if (Deno.stdin.isTerminal()) {
    passphrase = await promptHidden(`Enter passphrase for "${path}": `);
  } else {
    throw new Error(
      `The identity ${path} is protected by a passphrase: set BATOU_AGE_IDENTITY_PASSPHRASE ` +
        "or run batou in a terminal to be asked for it.",
    );
  }
  knownPassphrases.set(path, passphrase);
  return passphrase;
}

function interactivePassphrase(): boolean {
  return !Deno.env.get("BATOU_AGE_IDENTITY_PASSPHRASE") && Deno.stdin.isTerminal();
}

// ---------------------------------------------------------------------------------------------------------------
// identity files

/** Identity files tried when `BATOU_AGE_IDENTITIES` is not set (OpenSSH's default order). */
export const DEFAULT_IDENTITY_FILES: readonly string[] = [
  "~/.ssh/id_rsa",
  "~/.ssh/id_ecdsa",
  "~/.ssh/id_ecdsa_sk",
  "~/.ssh/id_ed25519",
  "~/.ssh/id_ed25519_sk",
  "~/.ssh/id_dsa",
];

function expandHome(path: string): string {
  if (path === "~" || path.startsWith("~/")) {
    const home = Deno.env.get("HOME") ?? "";
    return home + path.slice(1);
  }
  return path;
}

/** The identity file paths to use: `paths`, else `BATOU_AGE_IDENTITIES`, else the defaults; existing files only. */
export async function identityPaths(paths?: string[]): Promise<string[]> {
  let list: readonly string[] | undefined = paths;
  if (list === undefined) {
    const env = Deno.env.get("BATOU_AGE_IDENTITIES");
    const fromEnv = env ? env.split(",").map((s) => s.trim()).filter((s) => s !== "") : [];
    list = fromEnv.length > 0 ? fromEnv : DEFAULT_IDENTITY_FILES;
  }
  const existing: string[] = [];
  for (const p of list.map(expandHome)) {
    try {
      if ((await Deno.stat(p)).isFile) existing.push(p);
    } catch {
      // not there: skipped like batou does
    }
  }
  return existing;
}

/** Options for {@link loadIdentities} and {@link loadIdentityFile}. */
export interface LoadIdentitiesOptions {
  /** Identity files; default: `BATOU_AGE_IDENTITIES` (comma-separated) or the `~/.ssh/id_*` files. */
  paths?: string[];
  /** Passphrase source for protected keys; default {@link defaultPassphrase}. */
  passphrase?: PassphraseProvider;
}

/** Reads one identity file: an OpenSSH/PEM private key, an age identity file, or a passphrase-encrypted one. */
export async function loadIdentityFile(
  path: string,
  passphrase: PassphraseProvider = defaultPassphrase,
): Promise<AgeIdentitySource> {
  const retry = passphrase === defaultPassphrase;
  let data: Uint8Array;
  try {
    data = await Deno.readFile(path);
  } catch (err) {
    return { path, identities: [], error: `cannot read ${path}: ${(err as Error).message}` };
  }
  const text = new TextDecoder().decode(data);

  if (isSshPrivateKeyText(text)) {
    let file;
    try {
      file = parseSshPrivateKeyFile(text);
    } catch (err) {
      return { path, identities: [], error: `${path}: ${(err as Error).message}` };
    }
    let publicKey = file.publicKey;
    if (publicKey === undefined) publicKey = await readPubFile(`${path}.pub`);
    if (publicKey && publicKey.type !== "ssh-ed25519" && publicKey.type !== "ssh-rsa") {
      return {
        path,
        identities: [],
        error: `${path}: unsupported SSH key type ${publicKey.type} (age supports ssh-ed25519 and ssh-rsa)`,
      };
    }
    const unlock = async (): Promise<SshPrivateKey> => {
      if (!file.encrypted) return file.decrypt();
      for (let attempt = 1;; attempt++) {
        const pass = await passphrase(path);
        try {
          return file.decrypt(pass);
        } catch (err) {
          if (err instanceof IncorrectPassphraseError) {
            knownPassphrases.delete(path);
            if (retry && attempt < 3 && interactivePassphrase()) continue;
            throw new IncorrectPassphraseError(`incorrect passphrase for ${path}`);
          }
          throw err;
        }
      }
    };
    return { path, identities: [new SshIdentity(path, publicKey, unlock)] };
  }

  if (text.startsWith(AGE_MAGIC) || text.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) {
    const ciphertext = text.startsWith(AGE_MAGIC) ? data : armor.decode(text);
    return { path, identities: [new EncryptedIdentityFile(path, ciphertext, () => passphrase(path))] };
  }

  const identities: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("AGE-SECRET-KEY-1") || line.startsWith("AGE-SECRET-KEY-PQ-1")) {
      identities.push(line);
    } else {
      return {
        path,
        identities: [],
        error: `${path}: not an SSH private key or age identity file (unsupported line ${
          JSON.stringify(line.slice(0, 20))
        }...)`,
      };
    }
  }
  if (identities.length === 0) return { path, identities: [], error: `${path}: no identities found` };
  return { path, identities };
}

async function readPubFile(path: string): Promise<SshPublicKey | undefined> {
  try {
    return parseSshPublicKey(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
}

/**
 * Loads the identities batou decrypts age files with: `opts.paths`, else `BATOU_AGE_IDENTITIES` (comma-separated),
 * else `~/.ssh/id_rsa, id_ecdsa, id_ecdsa_sk, id_ed25519, id_ed25519_sk, id_dsa`; only existing files.
 * Unusable files are returned with `error` set, so that decryption failures can explain them.
 */
export async function loadIdentities(opts: LoadIdentitiesOptions = {}): Promise<AgeIdentitySource[]> {
  const out: AgeIdentitySource[] = [];
  for (const path of await identityPaths(opts.paths)) {
    out.push(await loadIdentityFile(path, opts.passphrase ?? defaultPassphrase));
  }
  return out;
}

/** In-memory identities (`AGE-SECRET-KEY-1...` strings), e.g. for tests. */
export function identitiesFromStrings(label: string, keys: string[]): AgeIdentitySource {
  return { path: label, identities: keys };
}

// ---------------------------------------------------------------------------------------------------------------
// decryption

/** True if `data` starts like an age file (binary or armored). */
export function looksLikeAge(data: Uint8Array): boolean {
  const head = new TextDecoder().decode(data.subarray(0, 40));
  return head.startsWith(AGE_MAGIC) || head.startsWith("-----BEGIN AGE ENCRYPTED FILE-----");
}

/**
 * Decrypts an age file with the first identity that matches one of its recipient stanzas.
 * Throws AgeDecryptError `Could not decrypt <path> with any of the identities [...]` (plus the problems met,
 * one per line) when none works.
 */
export async function decryptAge(
  ciphertext: Uint8Array,
  identities: AgeIdentitySource[],
  opts: { path?: string } = {},
): Promise<Uint8Array> {
  const path = opts.path ?? "<data>";
  let data = ciphertext;
  if (!looksLikeAge(data)) {
    const e = AgeDecryptError.of(`${path} is not an age-encrypted file`, path, [], []);
    e.notAge = true;
    throw e;
  }
  if (data[0] === 0x2d) data = armor.decode(new TextDecoder().decode(data));

  const problems: string[] = [];
  for (const source of identities) {
    if (source.error) {
      problems.push(source.error);
      continue;
    }
    const d = new Decrypter();
    try {
      for (const id of source.identities) d.addIdentity(id);
      return await d.decrypt(data);
    } catch (err) {
      const msg = (err as Error).message;
      if (msg === NO_MATCH) continue;
      problems.push(msg.includes(source.path) ? msg : `${source.path}: ${msg}`);
    }
  }
  const tried = identities.map((s) => s.path);
  const detail = problems.length > 0 ? "\n" + problems.join("\n") : "";
  const hint = tried.length === 0
    ? "\nNo identity files found: set BATOU_AGE_IDENTITIES or create ~/.ssh/id_ed25519 (or id_rsa)."
    : "";
  throw AgeDecryptError.of(
    `Could not decrypt ${path} with any of the identities ${JSON.stringify(tried)}${detail}${hint}`,
    path,
    tried,
    problems,
  );
}

registerErrorClass("AgeDecryptError", AgeDecryptError);
