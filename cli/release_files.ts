/**
 * The files of a batou release and their formats, shared by the release tool (tools/release.ts, which writes
 * them) and `batou update` (cli/update.ts, which checks them):
 *
 * - `batou-<os>-<arch>`: the compiled binaries (`os` and `arch` as Deno names them: linux/darwin, x86_64/aarch64);
 * - `release.json`: {@linkcode ReleaseInfo}, the version the release claims to be;
 * - `SHA256SUMS`: `sha256sum` format (`<hex>  <name>`), one line per file above;
 * - `SHA256SUMS.asc`: a detached, armored OpenPGP signature of `SHA256SUMS` (binary signature type, so
 *   `gpg --verify SHA256SUMS.asc SHA256SUMS` checks it as well).
 *
 * @module
 */
import * as openpgp from "openpgp";
import { VERSION_RE } from "../core/runtime/version.ts";

/** Name of the checksum file. */
export const SUMS_FILE = "SHA256SUMS";
/** Name of its detached signature. */
export const SIGNATURE_FILE = "SHA256SUMS.asc";
/** Name of the release description. */
export const RELEASE_INFO_FILE = "release.json";

/** One platform batou is released for. */
export interface ReleaseTarget {
  /** `deno compile --target`. */
  target: string;
  /** `Deno.build.os`. */
  os: string;
  /** `Deno.build.arch`. */
  arch: string;
}

/** The platforms of a release. */
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { target: "x86_64-unknown-linux-gnu", os: "linux", arch: "x86_64" },
  { target: "aarch64-unknown-linux-gnu", os: "linux", arch: "aarch64" },
  { target: "x86_64-apple-darwin", os: "darwin", arch: "x86_64" },
  { target: "aarch64-apple-darwin", os: "darwin", arch: "aarch64" },
];

/** The binary's file name for a platform: `batou-linux-x86_64`. */
export function assetName(os: string = Deno.build.os, arch: string = Deno.build.arch): string {
  return `batou-${os}-${arch}`;
}

/** What `release.json` says. */
export interface ReleaseInfo {
  /** The version, without `v`. */
  version: string;
  commit: string;
  date: string;
}

/** Parses `release.json`; throws a readable error when it is not one. */
export function parseReleaseInfo(text: string): ReleaseInfo {
  let data: Partial<ReleaseInfo>;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${RELEASE_INFO_FILE} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof data?.version !== "string" || !VERSION_RE.test(data.version)) {
    throw new Error(`${RELEASE_INFO_FILE} names no valid version`);
  }
  return { version: data.version, commit: String(data.commit ?? ""), date: String(data.date ?? "") };
}

/** A version as batou writes it: `1.2.3` or `1.2.3-rc.1` (defined in core/runtime/version.ts). */
export { VERSION_RE };

/** Compares two versions (semver order, pre-releases before the release); negative when `a < b`. */
export function compareVersions(a: string, b: string): number {
  const split = (v: string) => {
    const [core, pre] = v.split(/-(.*)/s, 2);
    return { nums: core.split(".").map((n) => Number(n) || 0), pre: pre ?? null };
  };
  const x = split(a), y = split(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  const xp = x.pre.split("."), yp = y.pre.split(".");
  for (let i = 0; i < Math.max(xp.length, yp.length); i++) {
    if (xp[i] === undefined) return -1;
    if (yp[i] === undefined) return 1;
    const xn = /^\d+$/.test(xp[i]), yn = /^\d+$/.test(yp[i]);
    if (xn && yn && Number(xp[i]) !== Number(yp[i])) return Number(xp[i]) - Number(yp[i]);
    if (xn !== yn) return xn ? -1 : 1;
    if (xp[i] !== yp[i]) return xp[i] < yp[i] ? -1 : 1;
  }
  return 0;
}

/** Writes `SHA256SUMS` text for `entries` (sorted by name). */
export function formatSums(entries: { name: string; sha256: string }[]): string {
  return [...entries].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    .map((e) => `${e.sha256}  ${e.name}\n`).join("");
}

/** Parses `SHA256SUMS` (name -> lower-case hex). Throws on a malformed line or a name given twice. */
export function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const m = /^([0-9a-fA-F]{64}) [ *]([^/\\\s][^/\\]*)$/.exec(line.replace(/\r$/, ""));
    if (!m) throw new Error(`${SUMS_FILE} line ${i + 1} is malformed`);
    if (sums.has(m[2])) throw new Error(`${SUMS_FILE} lists ${m[2]} twice`);
    sums.set(m[2], m[1].toLowerCase());
  });
  return sums;
}

/** SHA-256 of bytes as lower-case hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Signs `data` with an armored private key: returns the armored detached signature. */
export async function signDetached(data: Uint8Array, armoredPrivateKey: string, passphrase?: string): Promise<string> {
  let key = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
  if (!key.isDecrypted()) {
    if (passphrase === undefined) throw new Error("the signing key is protected by a passphrase; none was given");
    key = await openpgp.decryptKey({ privateKey: key, passphrase });
  }
  const message = await openpgp.createMessage({ binary: data });
  return await openpgp.sign({ message, signingKeys: key, detached: true, format: "armored" });
}

/** The fingerprints (upper-case hex) of the keys in an armored key block. */
export async function keyFingerprints(armoredKeys: string): Promise<string[]> {
  const keys = await openpgp.readKeys({ armoredKeys });
  return keys.map((k) => k.getFingerprint().toUpperCase());
}

/**
 * Verifies a detached armored signature of `data` against the armored public key(s). Returns the fingerprint of
 * the key that made it; throws an Error saying why not otherwise.
 */
export async function verifyDetached(data: Uint8Array, armoredSignature: string, armoredKeys: string): Promise<string> {
  let keys: openpgp.Key[];
  try {
    keys = await openpgp.readKeys({ armoredKeys });
  } catch (e) {
    throw new Error(`the trusted key cannot be read (${(e as Error).message})`);
  }
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature });
  } catch (e) {
    throw new Error(`${SIGNATURE_FILE} is not an OpenPGP signature (${(e as Error).message})`);
  }
  const message = await openpgp.createMessage({ binary: data });
  const result = await openpgp.verify({ message, signature, verificationKeys: keys, format: "binary" });
  if (!result.signatures.length) throw new Error(`${SIGNATURE_FILE} holds no signature`);
  for (const sig of result.signatures) {
    try {
      await sig.verified;
      const key = keys.find((k) => k.getKeys(sig.keyID).length > 0);
      return (key?.getFingerprint() ?? sig.keyID.toHex()).toUpperCase();
    } catch { /* try the next one */ }
  }
  const ids = result.signatures.map((s) => s.keyID.toHex().toUpperCase()).join(", ");
  const known = result.signatures.some((s) => keys.some((k) => k.getKeys(s.keyID).length > 0));
  throw new Error(
    known
      ? `the signature in ${SIGNATURE_FILE} does not match ${SUMS_FILE} (made by key ${ids}): the file was altered`
      : `${SIGNATURE_FILE} was made by key ${ids}, which is not the trusted release key`,
  );
}
