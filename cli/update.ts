/**
 * `batou update [--check] [--version V] [--from URL]`: replaces the batou binary with a verified release.
 *
 * 1. The release is `<from>/download/v<V>/` (`--version V`, else the version pinned in the project's
 *    `.batou.json`) or `<from>/latest/download/`; `<from>` is the project's GitHub releases URL
 *    ({@linkcode RELEASES_URL}), or a mirror given with `--from` (http, https, or a `file://` directory laid out
 *    the same way).
 * 2. `SHA256SUMS` must carry a valid detached signature (`SHA256SUMS.asc`) by the release key built into the
 *    program ({@linkcode RELEASE_PUBLIC_KEY}); `release.json` must match its checksum and name the version asked
 *    for. A `latest` older than the running batou is refused (no silent downgrade through a stale mirror).
 * 3. The binary for this OS and architecture is downloaded into a temporary file beside the target, its SHA-256
 *    checked against `SHA256SUMS`, made executable and run once (`--version` must print the release's version).
 *    Only then is the old binary kept as `<target>.old` (a hard link) and the new one renamed over the target, so
 *    the target is at every moment either the complete old or the complete new binary.
 *
 * Any mismatch refuses the update with the reason and leaves the installed program as it was. In source mode
 * (`deno run main.ts`) there is no binary to replace: the command says to update the checkout with git. The same
 * code path ({@linkcode performUpdate}) is reached for any file with the hidden option `--target PATH`, which
 * the tests use.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, resolve } from "../core/runtime/path.ts";
import { fileURLToPath } from "node:url";
import { COMMANDS } from "./commands.ts";
import { parseCommand, UsageError } from "./parse.ts";
import { output } from "../core/model/output.ts";
import { lstatOrNull } from "../core/runtime/fsops.ts";
import { RELEASE_PUBLIC_KEY, RELEASES_URL } from "./release_key.ts";
import { VERSION } from "../core/runtime/version.ts";
import { isCompiled } from "../core/runtime/program.ts";
import { type Pin, readPin } from "./pin.ts";
import {
  assetName,
  compareVersions,
  keyFingerprints,
  parseReleaseInfo,
  parseSums,
  RELEASE_INFO_FILE,
  type ReleaseInfo,
  sha256Hex,
  SIGNATURE_FILE,
  SUMS_FILE,
  verifyDetached,
  VERSION_RE,
} from "./release_files.ts";

/** The environment variable that replaces the built-in release key (tests, private mirrors). */
export const TRUSTED_KEY_ENV = "BATOU_UPDATE_TRUSTED_KEY_FILE";

/** The update was refused; the message says why. Nothing was changed. */
export class UpdateRefused extends Error {
  override name = "UpdateRefused";
}

const SMALL_LIMIT = 1 << 20;
const BINARY_LIMIT = 1 << 30;

/** Options of {@linkcode performUpdate}. */
export interface UpdateOptions {
  /** The program file to replace (the running binary, or any file with `--target`). */
  target: string;
  /** Base URL of the releases (`http(s)://...` or `file://...`), without `/download/...`. */
  from: string;
  /** The version to go to; null for the latest release. */
  version: string | null;
  /** Whether {@linkcode version} came from the project's pin (for messages). */
  pinned?: Pin | null;
  /** The version of the running program (what is replaced). */
  running: string;
  /** Armored public key(s) a release must be signed by. */
  trustedKeys: string;
  /** Only check, change nothing. */
  check?: boolean;
  /** Platform to fetch (default: this one). */
  os?: string;
  arch?: string;
}

/** What {@linkcode performUpdate} did. */
export interface UpdateResult {
  status: "updated" | "current" | "available";
  from: string;
  to: string;
  /** Where the previous binary was kept (updated only). */
  old?: string;
}

/** The URL of the directory of a release (ending in `/`). */
export function releaseDirUrl(from: string, version: string | null): string {
  const base = from.replace(/\/+$/, "");
  return version ? `${base}/download/v${version}/` : `${base}/latest/download/`;
}

function checkFromUrl(from: string): void {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new UpdateRefused(`--from ${from} is not a URL (use https://..., http://... or file:///dir)`);
  }
  if (!["http:", "https:", "file:"].includes(url.protocol)) {
    throw new UpdateRefused(`--from ${from}: only http, https and file URLs are supported`);
  }
}

async function openSource(
  url: string,
  what: string,
): Promise<{ body: ReadableStream<Uint8Array>; size: number | null }> {
  if (url.startsWith("file:")) {
    const path = fileURLToPath(url);
    try {
      const file = await Deno.open(path);
      const size = (await file.stat()).size;
      return { body: file.readable, size };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new UpdateRefused(`${what} not found: ${path}`);
      throw new UpdateRefused(`cannot read ${path}: ${(e as Error).message}`);
    }
  }
  let response: Response;
  try {
    response = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(120_000) });
  } catch (e) {
    throw new UpdateRefused(`cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
    throw new UpdateRefused(`${what} not found at ${url} (${status})`);
  }
  const length = response.headers.get("content-length");
  return { body: response.body, size: length !== null && /^\d+$/.test(length) ? Number(length) : null };
}

/**
 * Streams `url` into `sink`, hashing it; throws {@linkcode UpdateRefused} when the transfer breaks off, is shorter
 * than announced or larger than `limit`.
 */
async function download(
  url: string,
  what: string,
  limit: number,
  sink: (chunk: Uint8Array) => Promise<void> | void,
): Promise<{ sha256: string; size: number }> {
  const { body, size } = await openSource(url, what);
  const hash = createHash("sha256");
  let got = 0;
  try {
    for await (const chunk of body) {
      got += chunk.length;
      if (got > limit) throw new UpdateRefused(`${what} at ${url} is larger than ${limit} bytes`);
      hash.update(chunk);
      await sink(chunk);
    }
  } catch (e) {
    await body.cancel().catch(() => {});
    if (e instanceof UpdateRefused) throw e;
    throw new UpdateRefused(`the download of ${url} was interrupted after ${got} bytes (${(e as Error).message})`);
  }
  if (size !== null && got !== size) {
    throw new UpdateRefused(`the download of ${url} was interrupted: ${got} of ${size} bytes arrived`);
  }
  return { sha256: hash.digest("hex"), size: got };
}

async function fetchSmall(url: string, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const { size } = await download(url, what, SMALL_LIMIT, (c) => void parts.push(c));
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The verified index of a release: its checksums and what it says it is. */
interface VerifiedRelease {
  dir: string;
  sums: Map<string, string>;
  info: ReleaseInfo;
  signer: string;
}

async function fetchVerifiedIndex(opts: UpdateOptions): Promise<VerifiedRelease> {
  const dir = releaseDirUrl(opts.from, opts.version);
  const label = opts.version ? `release v${opts.version}` : "the latest release";
  const sumsBytes = await fetchSmall(dir + SUMS_FILE, `${SUMS_FILE} of ${label}`);
  const signature = new TextDecoder().decode(await fetchSmall(dir + SIGNATURE_FILE, `${SIGNATURE_FILE} of ${label}`));
  let signer: string;
  try {
    signer = await verifyDetached(sumsBytes, signature, opts.trustedKeys);
  } catch (e) {
    throw new UpdateRefused(`bad signature: ${(e as Error).message}; refusing to update`);
  }
  let sums: Map<string, string>;
  try {
    sums = parseSums(new TextDecoder().decode(sumsBytes));
  } catch (e) {
    throw new UpdateRefused(`${(e as Error).message} (although it is signed); refusing to update`);
  }
  const infoHash = sums.get(RELEASE_INFO_FILE);
  if (!infoHash) throw new UpdateRefused(`${SUMS_FILE} of ${label} does not list ${RELEASE_INFO_FILE}`);
  const infoBytes = await fetchSmall(dir + RELEASE_INFO_FILE, `${RELEASE_INFO_FILE} of ${label}`);
  if (await sha256Hex(infoBytes) !== infoHash) {
    throw new UpdateRefused(`checksum mismatch: ${RELEASE_INFO_FILE} does not match ${SUMS_FILE}; refusing to update`);
  }
  let info: ReleaseInfo;
  try {
    info = parseReleaseInfo(new TextDecoder().decode(infoBytes));
  } catch (e) {
    throw new UpdateRefused(`${(e as Error).message}; refusing to update`);
  }
  if (opts.version && info.version !== opts.version) {
    throw new UpdateRefused(
      `the release at ${dir} is version ${info.version}, not ${opts.version} as asked; refusing to update`,
    );
  }
  return { dir, sums, info, signer };
}

/** Runs the new binary once: it must start on this machine and say it is `version`. */
async function smokeTest(path: string, version: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(path, {
      args: ["--version"],
      cwd: dirname(path),
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
  } catch (e) {
    throw new UpdateRefused(`the downloaded binary does not run on this machine (${(e as Error).message})`);
  }
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !text.startsWith(`batou ${version}`)) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
    throw new UpdateRefused(
      `the downloaded binary did not report version ${version} (exit code ${out.code}: ${text || err || "no output"})`,
    );
  }
}

/**
 * Downloads, verifies and installs a release over `opts.target` (see the module documentation). Throws
 * {@linkcode UpdateRefused} with the reason when anything does not check out; the target is then untouched.
 */
export async function performUpdate(opts: UpdateOptions): Promise<UpdateResult> {
  checkFromUrl(opts.from);
  const release = await fetchVerifiedIndex(opts);
  const next = release.info.version;
  const label = opts.version
    ? (opts.pinned ? `version pinned in ${opts.pinned.path}` : "requested version")
    : "latest version";
  if (next === opts.running) {
    output.line(`batou ${opts.running} is already the ${label}; nothing to do.`);
    return { status: "current", from: opts.running, to: next };
  }
  if (!opts.version && compareVersions(next, opts.running) < 0) {
    throw new UpdateRefused(
      `the latest release at ${opts.from} is ${next}, older than this batou (${opts.running}); ` +
        `use --version ${next} to downgrade on purpose`,
    );
  }
  const asset = assetName(opts.os, opts.arch);
  const expected = release.sums.get(asset);
  if (!expected) {
    const have = [...release.sums.keys()].filter((n) => n.startsWith("batou-")).sort();
    throw new UpdateRefused(
      `release ${next} has no binary for this platform (${asset}; it has: ${have.join(", ") || "none"})`,
    );
  }
  if (opts.check) {
    output.line(`batou ${opts.running} -> ${next} is available (${label}; ${SUMS_FILE} signed by ${release.signer}).`);
    return { status: "available", from: opts.running, to: next };
  }

  const target = resolve(opts.target);
  const existing = await lstatOrNull(target);
  if (existing && !existing.isFile) throw new UpdateRefused(`${target} is not a regular file`);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.update-${crypto.randomUUID().slice(0, 8)}`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    throw new UpdateRefused(`cannot write beside ${target} (${(e as Error).message})`);
  }
  const old = `${target}.old`;
  let installed = false;
  try {
    output.line(`Downloading ${release.dir}${asset} ...`);
    let got: { sha256: string; size: number };
    try {
      got = await download(release.dir + asset, asset, BINARY_LIMIT, async (chunk) => {
        let at = 0;
        while (at < chunk.length) at += await file.write(chunk.subarray(at));
      });
      await file.sync();
    } finally {
      file.close();
    }
    if (got.sha256 !== expected) {
      throw new UpdateRefused(
        `checksum mismatch for ${asset}: ${SUMS_FILE} says ${expected}, the download has ${got.sha256} ` +
          `(${got.size} bytes); refusing to update`,
      );
    }
    await Deno.chmod(tmp, 0o755);
    await smokeTest(tmp, next);
    if (existing) {
      await Deno.remove(old).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      try {
        await Deno.link(target, old);
      } catch {
        await Deno.copyFile(target, old);
      }
    }
    await Deno.rename(tmp, target);
    installed = true;
  } finally {
    if (!installed) await Deno.remove(tmp).catch(() => {});
  }
  output.line(`batou ${opts.running} -> ${next}`);
  output.line(`Installed ${target}${existing ? `; the previous binary is kept as ${old}` : ""}.`);
  return { status: "updated", from: opts.running, to: next, old: existing ? old : undefined };
}

/**
 * The key(s) a release must be signed with: the built-in release key, or the file named by
 * {@linkcode TRUSTED_KEY_ENV}. The override is announced on every use and must be a file that only its owner can
 * write.
 */
export async function trustedReleaseKeys(): Promise<string> {
  const override = Deno.env.get(TRUSTED_KEY_ENV);
  if (override) {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(override);
    } catch (e) {
      throw new UpdateRefused(`${TRUSTED_KEY_ENV}=${override}: ${(e as Error).message}`);
    }
    if (!st.isFile) throw new UpdateRefused(`${TRUSTED_KEY_ENV}=${override} is not a file`);
    if (st.mode !== null && (st.mode & 0o022) !== 0) {
      throw new UpdateRefused(`${TRUSTED_KEY_ENV}=${override} is writable by group or others; refusing to trust it`);
    }
    const armored = await Deno.readTextFile(override);
    let fingerprints: string[];
    try {
      fingerprints = await keyFingerprints(armored);
    } catch (e) {
      throw new UpdateRefused(`${TRUSTED_KEY_ENV}=${override} holds no OpenPGP public key (${(e as Error).message})`);
    }
    output.warn(
      `Trusting the release key(s) ${fingerprints.join(", ")} from ${TRUSTED_KEY_ENV}=${override} ` +
        `instead of the key built into batou.`,
    );
    return armored;
  }
  if (!RELEASE_PUBLIC_KEY.trim()) {
    throw new UpdateRefused(
      "this batou has no release key built in (cli/release_key.ts), so no release can be verified; " +
        "download and check a release by hand (see the README)",
    );
  }
  return RELEASE_PUBLIC_KEY;
}

/** What `batou update` needs from the command line's context. */
export interface UpdateContext {
  /** The deployment project directory (where `.batou.json` is looked for). */
  projectDir: string;
}

/** `batou update ...`; returns the exit code. */
export async function updateCommand(args: string[], ctx: UpdateContext): Promise<number> {
  const parsed = await parseCommand(["update"], COMMANDS.update, args);
  if (parsed === null) return 0;
  const { values } = parsed;
  let version = values.version?.replace(/^v/, "") ?? null;
  if (version !== null && !VERSION_RE.test(version)) {
    throw new UsageError(`--version ${values.version} is not a version like 1.2.3`, ["update"]);
  }
  try {
    if (!values.target && !values.check && !isCompiled()) {
      const main = Deno.mainModule.startsWith("file:") ? fileURLToPath(Deno.mainModule) : Deno.mainModule;
      if (main.endsWith(".js")) {
        output.error(
          `This batou runs as a bundle under deno (${main}), not as a compiled binary, so there is no binary to ` +
            `replace.\nReplace ${basename(main)} with the one of a newer release (checked against its SHA256SUMS), ` +
            `or use a compiled binary (see "Start a new project" in the README).`,
        );
        return 1;
      }
      output.error(
        `This batou runs from a source checkout (${main}), not as a compiled binary, so there is no binary to ` +
          `replace.\nUpdate the checkout with git instead: git -C ${dirname(main)} pull` +
          `\n(To get a binary, see "Start a new project" in the README.)`,
      );
      return 1;
    }
    const target = values.target ? resolve(ctx.projectDir, values.target) : await Deno.realPath(Deno.execPath());
    let pinned: Pin | null = null;
    if (version === null) {
      // The project's pin: the project directory's, else the one beside the binary (myproject/batou).
      try {
        pinned = await readPin(ctx.projectDir) ?? await readPin(dirname(target));
      } catch (e) {
        throw new UpdateRefused((e as Error).message);
      }
      if (pinned) {
        output.line(`Going to batou ${pinned.version}, pinned in ${pinned.path}.`);
        version = pinned.version;
      }
    }
    const trustedKeys = await trustedReleaseKeys();
    await performUpdate({
      target,
      from: values.from ?? RELEASES_URL,
      version,
      pinned,
      running: VERSION,
      trustedKeys,
      check: !!values.check,
    });
    return 0;
  } catch (e) {
    if (e instanceof UpdateRefused) {
      output.error(`Update refused: ${e.message}`);
      output.line("The installed batou was not changed.");
      return 1;
    }
    throw e;
  }
}
