/**
 * What batou ships to a target and how it is prepared on the controller: the payload (the compiled binary, or the
 * deno executable plus the agent bundle), the bundle build (cached by source hash), SHA-256 of big files (cached by
 * path, size, inode, mtime and ctime) and the gzip copies for uploads, all below the controller's cache directory.
 * See remote/transport/bootstrap.ts for how the payload reaches and starts on a target.
 *
 * @module
 */
import { dirname, join } from "../../core/runtime/path.ts";
import { output } from "../../core/model/output.ts";
import { produceAtomically, statOrNull } from "../../core/runtime/fsops.ts";
import { VERSION } from "../../core/runtime/version.ts";
import { isCompiled } from "../../core/runtime/program.ts";
import { fromFileUrl } from "../contract/paths.ts";
import { cacheRoot } from "../../core/runtime/disk_cache.ts";

/** One file shipped to the target. */
export interface Artifact {
  /** Its name in the target's cache: `<kind>-<version>-<sha256 prefix>[.js]`. */
  name: string;
  /** Local path. */
  path: string;
  sha256: string;
  size: number;
}

/** What is shipped and how it is started. */
export interface AgentPayload {
  mode: "compiled" | "source";
  /** compiled: `[binary]`; source: `[deno, bundle]`. */
  artifacts: Artifact[];
  /** The `uname -sm` a target must report to run these files, e.g. `Linux x86_64`. */
  platform: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Controller side: local cache, payload.

/** The controller's cache directory: `$BATOU_CACHE_DIR`, else `~/.cache/batou`. */
export function localCacheDir(): string {
  const root = cacheRoot();
  if (root === null) throw new Error("HOME is not set; set BATOU_CACHE_DIR");
  return root;
}

/**
 * core/runtime/sha256.ts, loaded on first use: `batou deploy` starts its ssh connections (remote/controller/early_connect.ts) before it
 * needs any hash, and that module brings the noble package along.
 */
function hashing(): Promise<typeof import("../../core/runtime/sha256.ts")> {
  return import("../../core/runtime/sha256.ts");
}

/** The hex SHA-256 of a text (WebCrypto). */
async function sha256Text(text: string): Promise<string> {
  return await (await hashing()).sha256HexAsync(new TextEncoder().encode(text));
}

/**
 * SHA-256 of a local file. Big files (the deno executable) are hashed once: the result is remembered in
 * `<cache>/hashes/` under a key of path, size, inode, mtime and ctime.
 */
export async function sha256File(path: string): Promise<string> {
  const real = await Deno.realPath(path);
  const st = await Deno.stat(real);
  const key = [real, st.size, st.ino, st.mtime?.getTime(), st.ctime?.getTime()].join("\0");
  return await rememberedHash(key, async () => (await hashing()).sha256FileHex(real, st.size));
}

/**
 * The SHA-256 remembered in `<cache>/hashes/` under (the SHA-256 of) `key`, else `compute()`'s, then remembered
 * (one file per key, written atomically; a damaged or missing one is computed again).
 */
async function rememberedHash(key: string, compute: () => Promise<string>): Promise<string> {
  const memo = join(localCacheDir(), "hashes", await sha256Text(key));
  try {
    const known = Deno.readTextFileSync(memo).trim();
    if (/^[0-9a-f]{64}$/.test(known)) return known;
  } catch { /* not yet */ }
  const hex = await compute();
  await produceAtomically(memo, (tmp) => Deno.writeTextFile(tmp, hex + "\n")).catch(() => {});
  return hex;
}

/** Path of the gzip-compressed copy of `a` in the local cache, made (once) when missing. */
export async function gzipped(a: Artifact): Promise<string> {
  const path = join(localCacheDir(), "gz", `${a.sha256}.gz`);
  if (await statOrNull(path)) return path;
  output.debug(`main: compressing ${a.name} (${a.size} bytes) for upload ...`);
  await produceAtomically(path, async (tmp) => {
    using src = await Deno.open(a.path);
    const dst = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
    await src.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(dst.writable);
  });
  return path;
}

/** `uname -sm` of a platform as Deno names it. */
export function unamePlatform(os: string = Deno.build.os, arch: string = Deno.build.arch): string {
  const sys: Record<string, string> = { linux: "Linux", darwin: "Darwin", freebsd: "FreeBSD", netbsd: "NetBSD" };
  const machine = os === "darwin" && arch === "aarch64" ? "arm64" : arch;
  return `${sys[os] ?? os} ${machine}`;
}

const SKIP_DIRS = new Set(["node_modules", "work", "dist"]);

/** The program's source files below `dir` (synchronous: ~150 small reads, cheaper without a thread round trip each). */
function sourceFiles(dir: string, rel = ""): string[] {
  const found: string[] = [];
  const entries = [...Deno.readDirSync(join(dir, rel))];
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) {
      // Only the program's own folders: tests, benchmarks, tools and examples are not part of the agent.
      if (rel === "" && !PROGRAM_DIRS.has(e.name)) continue;
      if (e.name.startsWith(".") || SKIP_DIRS.has(e.name)) continue;
      found.push(...sourceFiles(dir, path));
    } else if (e.isFile && (e.name.endsWith(".ts") || (rel === "" && /^deno\.(lock|json)$/.test(e.name)))) {
      found.push(path);
    }
  }
  return found;
}

/** The top-level folders whose modules make up the program (main.ts imports only from these). */
const PROGRAM_DIRS = new Set(["core", "lib", "remote", "cli"]);

/** Files changed less than this long ago are not vouched for by their signature (the "racily clean" case). */
const SETTLE_MS = 2000;

/**
 * Hash of the program's sources: the .ts files of main.ts, mod.ts and the program folders, plus deno.json and
 * deno.lock. Every deploy needs it (it names the agent bundle), so it is remembered in `<cache>/hashes/` under a key
 * of every file's path, size, inode, mtime and ctime: an unchanged tree costs one `stat` per file instead of reading
 * and hashing ~1 MB. When a file changed within `settleMs` (default {@linkcode SETTLE_MS}) of the call, the sources are
 * read and the result is not remembered, since a second change within the clock's granularity could keep its
 * signature.
 */
export async function sourceHash(repoDir: string, settleMs: number = SETTLE_MS): Promise<string> {
  const files = sourceFiles(repoDir);
  const now = Date.now();
  let settled = true;
  const signatures = files.map((path) => {
    const st = Deno.statSync(join(repoDir, path));
    const mtime = st.mtime?.getTime() ?? now;
    // Deno gives the ctime in whole seconds: the change may have been up to a second later.
    const ctime = st.ctime ? st.ctime.getTime() + 999 : now;
    if (now - Math.max(mtime, ctime) < settleMs) settled = false;
    return [path, st.size, st.ino, mtime, ctime].join("\0");
  });
  const key = `sources ${VERSION} ${Deno.version.deno} ${repoDir}\0${signatures.join("\n")}`;
  return settled ? await rememberedHash(key, () => hashSources(repoDir, files)) : await hashSources(repoDir, files);
}

/** The SHA-256 of the named files' paths and contents, in order. */
async function hashSources(repoDir: string, files: string[]): Promise<string> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(`batou ${VERSION} deno ${Deno.version.deno}\0`)];
  for (const path of files) {
    parts.push(encoder.encode(path + "\0"), Deno.readFileSync(join(repoDir, path)), encoder.encode("\0"));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return await (await hashing()).sha256HexAsync(all);
}

/**
 * What a minified bundle needs in front: `deno bundle --minify` leaves out the `require` that the bundled CommonJS
 * packages use for `node:` built-ins (the unminified bundle defines it), so they would fail with "Dynamic require of
 * node:events is not supported". It imports nothing (any `node:` module makes Deno initialise its Node
 * compatibility layer, ~15 ms of CPU at every agent start):
 * - `require` hands each call to the bundle's core/runtime/bundle_require.ts (which core/runtime/lazy.ts registers as
 *   `require.builtin` before any package is evaluated: `node:path` from batou's own module,
 *   `node:fs` & co. loaded on first use); without it, the real built-in through `process.getBuiltinModule`;
 * - `setImmediate` reaches the global one only when called: a package that tests `typeof setImmediate` when it is
 *   loaded, and the global's getter would initialise the compatibility layer.
 */
export const MINIFIED_REQUIRE_PRELUDE = `var require=function(i){if(require.builtin)return require.builtin(i);` +
  `var m=globalThis.process.getBuiltinModule(i);if(m===void 0)throw Object.assign(new Error("Cannot find module '"+i+` +
  `"'"),{code:"MODULE_NOT_FOUND"});return m},setImmediate=function(){return globalThis.setImmediate.apply(` +
  `globalThis,arguments)};\n`;

/** Options of {@linkcode buildBundle}. */
export interface BundleOptions {
  /**
   * Minify (names of functions and classes are kept): what the agent ships. A third of the size, so the target's
   * deno parses, analyses and keeps less: the agent starts with about half the CPU time and memory.
   */
  minify?: boolean;
  /**
   * What to bundle: `"program"` (main.ts, the whole command line; the default) or `"agent"` (remote/agent/agent_main.ts:
   * only what `agent` runs, which is what source mode ships).
   */
  entry?: "program" | "agent";
}

const BUNDLE_ENTRIES = { program: "main.ts", agent: "remote/agent/agent_main.ts" } as const;

/** Builds (once per version, source hash and entry) a bundle of the program and returns its path in the local cache. */
export async function buildBundle(repoDir: string, opts: BundleOptions = {}): Promise<string> {
  const src = await sourceHash(repoDir);
  const suffix = opts.minify ? ".min.js" : ".js";
  const entry = opts.entry ?? "program";
  const kind = entry === "agent" ? "agent" : "batou";
  const path = join(localCacheDir(), "bundles", `${kind}-${VERSION}-${src.slice(0, 16)}${suffix}`);
  if (await statOrNull(path)) return path;
  output.debug(`main: bundling the agent into ${path} ...`);
  await produceAtomically(path, async (tmp) => {
    // --keep-names: class names travel in the protocol (error types) and show in breadcrumbs.
    const args = ["bundle", "--quiet", "--platform", "deno", "--keep-names", ...(opts.minify ? ["--minify"] : [])];
    const result = await new Deno.Command(Deno.execPath(), {
      args: [...args, "-o", tmp, join(repoDir, BUNDLE_ENTRIES[entry])],
      cwd: repoDir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(`deno bundle failed:\n${new TextDecoder().decode(result.stderr)}`);
    }
    // The minifier renames every top-level name of the bundle, so the prelude's `require` collides with none.
    if (opts.minify) await Deno.writeTextFile(tmp, MINIFIED_REQUIRE_PRELUDE + await Deno.readTextFile(tmp));
  });
  return path;
}

async function artifact(kind: string, path: string, suffix = ""): Promise<Artifact> {
  const sha256 = await sha256File(path);
  const size = (await Deno.stat(path)).size;
  return { name: `${kind}-${sha256.slice(0, 16)}${suffix}`, path, sha256, size };
}

/** Builds the payload of this program (see the module documentation). */
export async function buildPayload(): Promise<AgentPayload> {
  const platform = unamePlatform();
  if (isCompiled()) {
    return { mode: "compiled", artifacts: [await artifact(`batou-${VERSION}`, Deno.execPath())], platform };
  }
  const deno = await artifact(`deno-${Deno.version.deno}`, Deno.execPath());
  const here = import.meta.url;
  let bundle: string;
  if (here.startsWith("file:") && await statOrNull(fromFileUrl(new URL("../../main.ts", here)))) {
    bundle = await buildBundle(dirname(fromFileUrl(new URL("../../main.ts", here))), { minify: true, entry: "agent" });
  } else if (Deno.mainModule.startsWith("file:") && Deno.mainModule.endsWith(".js")) {
    bundle = fromFileUrl(Deno.mainModule); // running from a bundle already: ship it as it is
  } else {
    throw new Error(`cannot find the program's sources to bundle (running from ${here})`);
  }
  return { mode: "source", artifacts: [deno, await artifact(`batou-${VERSION}`, bundle, ".js")], platform };
}

let payloadPromise: Promise<AgentPayload> | null = null;

/** The payload, built once per process. */
export function agentPayload(): Promise<AgentPayload> {
  if (!payloadPromise) {
    payloadPromise = buildPayload();
    payloadPromise.catch(() => payloadPromise = null);
  }
  return payloadPromise;
}
