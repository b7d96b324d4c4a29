/**
 * GPG (OpenPGP) encryption for batou secrets.
 *
 * - Decryption goes through the user's `gpg --decrypt`, so the keyring, gpg-agent, pinentry and smartcards work
 *   as the user has set them up.
 * - Encryption uses OpenPGP.js with the public keys exported from the user's keyring (`gpg --export <member>`),
 *   producing a binary OpenPGP message that `gpg --decrypt` reads.
 * - The key IDs a message is encrypted to are read with OpenPGP.js (no secret key needed); this is how changed
 *   recipient keys are detected.
 *
 * @module
 */

import * as openpgp from "openpgp";
import { registerErrorClass, ReportingError, type ReportWriter } from "../model/errors.ts";

/** The gpg binaries tried, in order. */
export const GPG_BINARY_CANDIDATES: readonly string[] = ["gpg", "gpg2"];

/** Where gpg finds its keyring; by default the inherited environment (GNUPGHOME or ~/.gnupg). */
export interface GpgOptions {
  /** GNUPGHOME for the gpg processes started. */
  gnupgHome?: string;
}

/** gpg exited with an error. The message has batou's report form (command, exit code, message). */
export class GPGCallError extends ReportingError {
  override name = "GPGCallError";
  /** The command line, space-separated. */
  command = "";
  /** gpg's exit code. */
  exitCode = 0;
  /** What gpg wrote to stderr. */
  output = "";

  /** Builds the error for a failed gpg run. */
  static of(command: string, exitCode: number, output: string): GPGCallError {
    const e = new GPGCallError(
      `Error while calling GPG\ncommand: ${command}\nexit code: ${exitCode}\nmessage:\n${output.trimEnd()}`,
    );
    e.command = command;
    e.exitCode = exitCode;
    e.output = output;
    return e;
  }

  /** batou's report: "Error while calling GPG" with command, exit code and gpg's message. */
  override report(w: ReportWriter): void {
    w.error("Error while calling GPG");
    w.tabular("command", this.command, { red: true });
    w.tabular("exit code", String(this.exitCode));
    w.tabular("message", this.output.trimEnd(), { separator: ":\n" });
  }
}

/** A member (recipient) that cannot be used for encryption. */
export class GpgRecipientError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "GpgRecipientError";
  }
}

let gpgBinary: string | undefined;

/**
 * The first of `gpg`, `gpg2` whose `--version` succeeds (cached). Throws
 * ``Could not find gpg binary. Is GPG installed? I tried looking for: `gpg`, `gpg2` `` otherwise.
 */
export async function findGpg(): Promise<string> {
  if (gpgBinary !== undefined) return gpgBinary;
  for (const candidate of GPG_BINARY_CANDIDATES) {
    try {
      const out = await new Deno.Command(candidate, {
        args: ["--version"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      if (out.success) {
        gpgBinary = candidate;
        return candidate;
      }
    } catch {
      // not installed under this name
    }
  }
  throw new Error(
    "Could not find gpg binary. Is GPG installed? I tried looking for: " +
      GPG_BINARY_CANDIDATES.map((c) => `\`${c}\``).join(", "),
  );
}

interface GpgResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function runGpg(
  args: string[],
  opts: GpgOptions,
  io: { stdin?: Uint8Array; inheritStdin?: boolean } = {},
): Promise<GpgResult & { command: string }> {
  const gpg = await findGpg();
  const child = new Deno.Command(gpg, {
    args,
    env: opts.gnupgHome ? { GNUPGHOME: opts.gnupgHome } : undefined,
    stdin: io.stdin ? "piped" : io.inheritStdin ? "inherit" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (io.stdin) {
    const w = child.stdin.getWriter();
    await w.write(io.stdin);
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
    command: [gpg, ...args].join(" "),
  };
}

/**
 * Decrypts an OpenPGP file with `gpg --decrypt <path>` (user's keyring, agent, pinentry, smartcards).
 * Throws GPGCallError when gpg fails.
 */
export async function gpgDecryptFile(path: string, opts: GpgOptions = {}): Promise<Uint8Array> {
  const r = await runGpg(["--decrypt", path], opts, { inheritStdin: true });
  if (r.code !== 0) throw GPGCallError.of(r.command, r.code, r.stderr);
  return r.stdout;
}

/** Decrypts OpenPGP data given in memory (fed to `gpg --decrypt` on stdin). Throws GPGCallError. */
export async function gpgDecrypt(ciphertext: Uint8Array, opts: GpgOptions = {}): Promise<Uint8Array> {
  const r = await runGpg(["--decrypt"], opts, { stdin: ciphertext });
  if (r.code !== 0) throw GPGCallError.of(r.command, r.code, r.stderr);
  return r.stdout;
}

/**
 * The public keys `gpg --export <member>` yields (a member is anything `gpg -r` accepts: email, key id,
 * fingerprint). Throws GpgRecipientError if the keyring has none.
 */
export async function exportPublicKeys(member: string, opts: GpgOptions = {}): Promise<openpgp.Key[]> {
  const r = await runGpg(["--batch", "--export", "--", member], opts);
  if (r.code !== 0) throw GPGCallError.of(r.command, r.code, r.stderr);
  if (r.stdout.length === 0) {
    throw new GpgRecipientError(`No public key found for ${member} in the GPG keyring (gpg --export ${member}).`);
  }
  return await openpgp.readKeys({ binaryKeys: r.stdout });
}

/**
 * Encrypts `plaintext` to the public keys of all `members` (exported from the keyring). Returns a binary
 * OpenPGP message (the format of `gpg --encrypt`).
 */
export async function encryptGpg(plaintext: Uint8Array, members: string[], opts: GpgOptions = {}): Promise<Uint8Array> {
  if (members.length === 0) throw new GpgRecipientError("No recipients given.");
  const keys: openpgp.Key[] = [];
  for (const member of members) {
    const exported = await exportPublicKeys(member, opts);
    for (const key of exported) {
      try {
        await key.getEncryptionKey();
      } catch (err) {
        throw new GpgRecipientError(`The GPG key for ${member} cannot encrypt: ${(err as Error).message}`);
      }
      keys.push(key);
    }
  }
  const message = await openpgp.createMessage({ binary: plaintext });
  return await openpgp.encrypt({ message, encryptionKeys: keys, format: "binary" });
}

/**
 * The key IDs (16 hex digits, upper case) a binary or armored OpenPGP message is encrypted to.
 * Returns null if the data is not an OpenPGP message.
 */
export async function messageKeyIds(ciphertext: Uint8Array): Promise<string[] | null> {
  try {
    const text = new TextDecoder().decode(ciphertext.subarray(0, 40));
    const message = text.startsWith("-----BEGIN PGP MESSAGE-----")
      ? await openpgp.readMessage({ armoredMessage: new TextDecoder().decode(ciphertext) })
      : await openpgp.readMessage({ binaryMessage: ciphertext });
    return message.getEncryptionKeyIDs().map((id) => id.toHex().toUpperCase());
  } catch {
    return null;
  }
}

/** The encryption (sub)key IDs `member` resolves to in the keyring, or null if it cannot be resolved. */
export async function memberKeyIds(member: string, opts: GpgOptions = {}): Promise<string[] | null> {
  let keys: openpgp.Key[];
  try {
    keys = await exportPublicKeys(member, opts);
  } catch {
    return null;
  }
  const ids: string[] = [];
  for (const key of keys) {
    try {
      ids.push((await key.getEncryptionKey()).getKeyID().toHex().toUpperCase());
    } catch {
      return null;
    }
  }
  return ids;
}

/**
 * True if `ciphertext` is not encrypted to exactly the keys `members` resolve to now (also when that cannot be
 * determined: unreadable message, unknown member).
 */
export async function gpgKeysChanged(
  ciphertext: Uint8Array | null,
  members: string[],
  opts: GpgOptions = {},
): Promise<boolean> {
  if (ciphertext === null || ciphertext.length === 0) return true;
  const old = await messageKeyIds(ciphertext);
  if (old === null) return true;
  const now = new Set<string>();
  for (const member of members) {
    const ids = await memberKeyIds(member, opts);
    if (ids === null) return true;
    for (const id of ids) now.add(id);
  }
  const before = new Set(old);
  return before.size !== now.size || [...now].some((id) => !before.has(id));
}

registerErrorClass("GPGCallError", GPGCallError);
