/**
 * The release tool: signs what `deno task compile` (and `deno task bundle`) built, and makes the release key.
 *
 * ```
 * deno run -A tools/release.ts sign [--dir dist] [--key FILE]     # key file also from BATOU_RELEASE_KEY_FILE
 * deno run -A tools/release.ts verify [--dir dist] [--key PUBLIC_KEY_FILE]
 * deno run -A tools/release.ts keygen --out FILE [--user-id "batou releases <releases@example.org>"]
 * ```
 *
 * `sign` writes into the directory: `release.json` (version, commit and date, from `dist/build/build-info.json`
 * when the binaries were compiled, else from the checkout), `SHA256SUMS` for the built files there (the
 * binaries `batou-<os>-<arch>`, `batou.js`) and `release.json`, nothing else, and `SHA256SUMS.asc`, a detached armored OpenPGP signature of
 * `SHA256SUMS`. A passphrase-protected key takes its passphrase from `BATOU_RELEASE_KEY_PASSPHRASE`.
 * See docs/releasing.md.
 *
 * @module
 */
import { join, resolve } from "../core/runtime/path.ts";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as openpgp from "openpgp";
import { BUILD_INFO_PATH, readBuildInfo, VERSION } from "../core/runtime/version.ts";
import { RELEASE_PUBLIC_KEY } from "../cli/release_key.ts";
import {
  formatSums,
  parseSums,
  RELEASE_INFO_FILE,
  type ReleaseInfo,
  sha256Hex,
  SIGNATURE_FILE,
  signDetached,
  SUMS_FILE,
  verifyDetached,
} from "../cli/release_files.ts";
import { currentBuildInfo, REPO } from "./compile.ts";

/** Options of {@linkcode writeRelease}. */
export interface WriteReleaseOptions {
  /** The directory holding the files to release; the index files are written there. */
  dir: string;
  /** What the release is. */
  info: ReleaseInfo;
  /** Armored private key that signs `SHA256SUMS`. */
  privateKey: string;
  passphrase?: string;
}

/** The built files a release publishes: the binaries `batou-<os>-<arch>` and the bundle `batou.js`. */
export const RELEASE_FILE_RE = /^batou(?:-[a-z0-9]+-[a-z0-9_]+|\.js)$/;

/** The files of `dir` that a release publishes (nothing else there, e.g. never a key file, is listed). */
export async function releaseFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && RELEASE_FILE_RE.test(e.name)) {
      names.push(e.name);
    }
  }
  return names.sort();
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  await Deno.writeTextFile(tmp, data);
  await Deno.rename(tmp, path);
}

/**
 * Writes `release.json`, `SHA256SUMS` (every release file plus `release.json`) and its detached signature
 * `SHA256SUMS.asc` into `opts.dir`. Returns the names listed in `SHA256SUMS`.
 */
export async function writeRelease(opts: WriteReleaseOptions): Promise<string[]> {
  const files = await releaseFiles(opts.dir);
  if (!files.some((f) => f.startsWith("batou"))) throw new Error(`${opts.dir} holds no batou build to release`);
  const info: ReleaseInfo = { version: opts.info.version, commit: opts.info.commit, date: opts.info.date };
  await writeAtomic(join(opts.dir, RELEASE_INFO_FILE), JSON.stringify(info, null, 2) + "\n");
  const entries = [];
  for (const name of [...files, RELEASE_INFO_FILE]) {
    entries.push({ name, sha256: await sha256Hex(await Deno.readFile(join(opts.dir, name))) });
  }
  const sums = formatSums(entries);
  const signature = await signDetached(new TextEncoder().encode(sums), opts.privateKey, opts.passphrase);
  await writeAtomic(join(opts.dir, SUMS_FILE), sums);
  await writeAtomic(join(opts.dir, SIGNATURE_FILE), signature);
  return entries.map((e) => e.name).sort();
}

/** Checks a release directory: the signature of `SHA256SUMS` and every file's checksum. Returns problems. */
export async function verifyRelease(dir: string, armoredPublicKey: string): Promise<string[]> {
  const problems: string[] = [];
  const sums = await Deno.readFile(join(dir, SUMS_FILE));
  try {
    await verifyDetached(sums, await Deno.readTextFile(join(dir, SIGNATURE_FILE)), armoredPublicKey);
  } catch (e) {
    problems.push((e as Error).message);
  }
  for (const [name, hex] of parseSums(new TextDecoder().decode(sums))) {
    try {
      if (await sha256Hex(await Deno.readFile(join(dir, name))) !== hex) problems.push(`${name}: checksum mismatch`);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Generates an ed25519 release key pair (armored). */
export async function generateReleaseKey(
  userId: { name: string; email?: string },
  passphrase?: string,
): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: "ecc",
    curve: "ed25519Legacy",
    userIDs: [userId],
    passphrase,
    format: "armored",
  });
  const fingerprint = (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase();
  return { privateKey, publicKey, fingerprint };
}

async function releaseInfo(): Promise<ReleaseInfo> {
  const built = readBuildInfo(pathToFileURL(join(REPO, BUILD_INFO_PATH)));
  if (built) return { version: built.version, commit: built.commit, date: built.date };
  const info = await currentBuildInfo();
  return { version: info.version, commit: info.commit, date: info.date };
}

function fail(message: string, code = 1): never {
  console.error(`release: ${message}`);
  Deno.exit(code);
}

if (import.meta.main) {
  const [command, ...rest] = Deno.args;
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: "string" },
      key: { type: "string" },
      out: { type: "string" },
      "user-id": { type: "string" },
    },
  });
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const dir = resolve(cwd, values.dir ?? join(REPO, "dist"));
  if (command === "sign") {
    const keyFile = values.key ?? Deno.env.get("BATOU_RELEASE_KEY_FILE");
    if (!keyFile) fail("give the signing key with --key FILE or BATOU_RELEASE_KEY_FILE", 2);
    const privateKey = await Deno.readTextFile(resolve(cwd, keyFile)).catch((e) => fail(`${keyFile}: ${e.message}`));
    const info = await releaseInfo();
    if (info.version !== VERSION) fail(`the build is version ${info.version}, the checkout ${VERSION}`);
    try {
      const names = await writeRelease({
        dir,
        info,
        privateKey,
        passphrase: Deno.env.get("BATOU_RELEASE_KEY_PASSPHRASE"),
      });
      console.log(`release ${info.version} (${info.commit}) in ${dir}:`);
      for (const n of names) console.log(`  ${n}`);
      console.log(`  ${SUMS_FILE}\n  ${SIGNATURE_FILE}`);
    } catch (e) {
      fail((e as Error).message);
    }
  } else if (command === "verify") {
    const publicKey = values.key ? await Deno.readTextFile(resolve(cwd, values.key)) : RELEASE_PUBLIC_KEY;
    if (!publicKey.trim()) fail("no public key: give --key FILE (cli/release_key.ts has none yet)", 2);
    const problems = await verifyRelease(dir, publicKey);
    for (const p of problems) console.error(`release: ${p}`);
    if (problems.length) Deno.exit(1);
    console.log(`${dir}: signature and checksums are good`);
  } else if (command === "keygen") {
    if (!values.out) fail("usage: tools/release.ts keygen --out FILE [--user-id 'Name <email>']", 2);
    const m = /^(.*?)\s*(?:<(.+)>)?$/.exec(values["user-id"] ?? "batou releases");
    const key = await generateReleaseKey(
      { name: m?.[1] || "batou releases", email: m?.[2] },
      Deno.env.get("BATOU_RELEASE_KEY_PASSPHRASE"),
    );
    const out = resolve(cwd, values.out);
    await Deno.writeTextFile(out, key.privateKey, { createNew: true, mode: 0o600 }).catch((e) =>
      fail(`${out}: ${e.message}`)
    );
    console.log(`private key written to ${out} (keep it offline; fingerprint ${key.fingerprint})`);
    console.log("put this public key into RELEASE_PUBLIC_KEY in cli/release_key.ts:\n");
    console.log(key.publicKey);
  } else {
    fail("usage: tools/release.ts sign|verify|keygen [options] (see docs/releasing.md)", 2);
  }
}
