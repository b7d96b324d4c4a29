/**
 * Getting batou onto a target and starting it there as `batou agent`, with nothing installed on the target.
 *
 * What is shipped (the only difference between the two modes):
 * - compiled mode ({@linkcode isCompiled}): the batou binary itself (`Deno.execPath()`), started as `<bin> agent`;
 * - source mode (`deno run main.ts`): the deno executable plus one bundle of the agent
 *   (`deno bundle --platform deno --keep-names --minify remote/agent/agent_main.ts`: the model, the library and the
 *   agent, without the controller's commands; built once per program version and source hash and cached locally;
 *   minified and agent-only, the target's deno starts it with less than half the CPU time and memory),
 *   started as `deno run --v8-flags=<AGENT_V8_FLAGS> -A --no-config --no-lock --quiet --no-prompt <bundle> agent`. A bundle has no imports
 *   but `node:` built-ins, so it needs neither the repository's deno.json nor any download.
 *
 * Target side, per user (the login user, or the service user when the agent runs through sudo):
 * - the files live in `~/.cache/batou/agents` (mode 0700), named by version and content hash
 *   (`deno-2.9.6-<sha>`, `batou-0.1.0-<sha>.js`); `DENO_DIR` is `~/.cache/batou/deno` and the agent's own caches
 *   (transpiled components, compiled templates) go to `~/.cache/batou` too (`BATOU_CACHE_DIR`), so nothing else is
 *   written to the target's home. When the home cannot take them (a read-only home with `target_directory`
 *   elsewhere), `<target_directory>/.batou-cache` is used instead;
 * - every start first checks `uname -sm` and that every file it will execute has the expected SHA-256, computed
 *   with the target's own `sha256sum` (or `shasum -a 256`, `openssl dgst -sha256`, `sha256`), then `exec`s it.
 *   A file is hashed in full once; a stamp beside it (`.<name>.ok`) then holds the hash with the file's inode, size,
 *   mtime and ctime, and later starts that find the same signature skip the hash (see `STAMP_FUNCTIONS`: any
 *   change to the file changes its ctime, so a changed file is hashed again). A missing or wrong file (also a
 *   symlink or a directory in its place) is reported back (a status line), and the start script waits while the
 *   controller uploads it over another session of the same ssh connection, then checks again (`START_SCRIPT`);
 * - files unused for 30 days (every start touches the stamps of the files it runs) are removed whenever something
 *   new is uploaded, so old versions do not pile up;
 * - an upload goes to a temporary name, is decompressed (`gzip -dc`, when the target has gzip; the controller
 *   compresses each file once and caches the result in `~/.cache/batou/gz`), checked for size and SHA-256, and
 *   only then renamed into place;
 * - a target without any SHA-256 tool cannot check a cached file, and a cached deno must never vouch for itself
 *   (a tampered binary would report whatever hash it is asked for). There the files are uploaded afresh on every
 *   run into a new private directory `~/.cache/batou/agents/run-<random>` (size checked; the bytes come straight
 *   from this controller over the authenticated ssh channel), executed from there and removed when the agent ends.
 *
 * Service users (`service_user`, `require_sudo`): every script runs through one wrapper that, when the login user
 * is not the service user (or `require_sudo = true`), re-executes it as `sudo -n -u <user> -H /bin/sh -c ...`. So
 * the service user's cache is in the service user's home, and uploads for it are streamed through sudo straight
 * into that cache and verified there by the service user: nothing is staged in /tmp or in the login user's home.
 *
 * @module
 */
import { neutralizeControls } from "../../core/formats/terminal_text.ts";
import { dirname, join } from "../../core/runtime/path.ts";
import type { Environment } from "../../core/model/environment.ts";
import type { Host } from "../../core/model/host.ts";
import { ConfigurationError } from "../../core/model/errors.ts";
import { output } from "../../core/model/output.ts";
import { produceAtomically, statOrNull } from "../../core/runtime/fsops.ts";
import { VERSION } from "../../core/runtime/version.ts";
import {
  AGENT_V8_FLAGS,
  type AgentConnection,
  collectStderr,
  type HelloInfo,
  isCompiled,
  replayOutput,
} from "./connect.ts";
import { fromFileUrl } from "../contract/paths.ts";
import { PROTOCOL_VERSION, RpcError, RpcPeer } from "../contract/protocol.ts";
import type { AgentStats } from "../agent/agent.ts";
import {
  classifySshFailure,
  projectSshConfig,
  RemoteConnectError,
  type RemoteShell,
  SshConnection,
  type SshOptions,
  vagrantSshConfig,
} from "./ssh.ts";
import { cacheRoot } from "../../core/runtime/disk_cache.ts";
import { sleep } from "../../core/runtime/sleep.ts";

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
  const key = await sha256Text([real, st.size, st.ino, st.mtime?.getTime(), st.ctime?.getTime()].join("\0"));
  const memo = join(localCacheDir(), "hashes", key);
  try {
    const known = (await Deno.readTextFile(memo)).trim();
    if (/^[0-9a-f]{64}$/.test(known)) return known;
  } catch { /* not yet */ }
  const hex = await (await hashing()).sha256FileHex(real, st.size);
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

/** Hash of the program's sources: the .ts files of main.ts, mod.ts and the program folders, plus deno.json and deno.lock. */
export async function sourceHash(repoDir: string): Promise<string> {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(`batou ${VERSION} deno ${Deno.version.deno}\0`)];
  for (const path of sourceFiles(repoDir)) {
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

// ---------------------------------------------------------------------------------------------------------------
// Target side: the shell scripts. They run under /bin/sh; every value comes in as a positional parameter.

/** SHA-256 of nothing: a hash tool must prove it computes SHA-256 before its answers count. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * `sha TOOL FILE` prints the SHA-256 of FILE; `hashtool` picks the first tool that hashes the empty input right
 * (openssl first: it uses the CPU's SHA instructions, coreutils' sha256sum may not).
 */
const HASH_FUNCTIONS = `
sha() {
  case $1 in
    openssl) r=$(openssl dgst -sha256 -r < "$2") ;;
    sha256sum) r=$(sha256sum < "$2") ;;
    shasum) r=$(shasum -a 256 < "$2") ;;
    sha256) r=$(sha256 -q < "$2") ;;
    *) return 1 ;;
  esac || return 1
  echo "\${r%% *}"
}
hashtool() {
  for t in openssl sha256sum shasum sha256; do
    command -v "$t" >/dev/null 2>&1 || continue
    if [ "$(sha "$t" /dev/null 2>/dev/null)" = ${EMPTY_SHA256} ]; then echo "$t"; return 0; fi
  done
  return 1
}
say() { echo "batou-bootstrap: $*"; }
`;

/**
 * `cachebase ALT` sets `b` to the agent cache base: `~/.cache/batou`, or, when that cannot be created or written
 * (a read-only home) and ALT (the configured `target_directory`: `~/x`, `/x` or relative to the home) is
 * given, `<target_directory>/.batou-cache` (sync never touches `.batou*` names). The target directory itself is
 * created with the user's own umask (`u0`), as the agent would.
 */
const CACHE_FUNCTIONS = `
cachebase() {
  b=$HOME/.cache/batou
  if [ -d "$b" ] && [ -w "$b" ]; then return 0; fi
  if mkdir -p "$b" 2>/dev/null && [ -w "$b" ]; then return 0; fi
  [ -n "$1" ] || return 0
  t=$1
  case $t in
    "~") t=$HOME ;;
    "~/"*) t=$HOME/\${t#"~/"} ;;
    /*) ;;
    *) t=$HOME/$t ;;
  esac
  (umask "$u0"; mkdir -p "$t") 2>/dev/null
  b=$t/.batou-cache
}
`;

/**
 * `verified NAME SHA` succeeds when `$c/NAME` is a regular file (no symlink) with that SHA-256. The full hash is
 * computed once: afterwards `$c/.NAME.ok` holds the hash and the file's stat signature (inode, size, mtime, ctime)
 * from that check, and a start whose signature still matches skips the 95 MB read. Any change to the file after the
 * check (a write, truncate, chmod, touch, or another file renamed into its place) gives it a new ctime, which no
 * user can set back, so a changed file is always hashed again. A check in the same second as the file's last change
 * writes no stamp (a change later in that second would keep the ctime's seconds). Without `stat` or `date` every
 * start hashes, as before. `$tool` (the hash tool) is looked for only when a hash is needed; without one the
 * function returns 2.
 */
const STAMP_FUNCTIONS = `
sig() {
  stat -c '%i %s %Y %Z' "$1" 2>/dev/null || stat -f '%i %z %m %c' "$1" 2>/dev/null
}
verified() {
  f=$c/$1; k=$c/.$1.ok
  if [ -L "$f" ] || ! [ -f "$f" ]; then return 1; fi
  s=$(sig "$f") || s=
  r=
  if [ -n "$s" ] && [ -f "$k" ]; then read -r r < "$k" 2>/dev/null; fi
  if [ -n "$s" ] && [ "$r" = "$2 $s" ]; then return 0; fi
  if [ -z "$tool" ] && ! tool=$(hashtool); then return 2; fi
  if [ "$(sha "$tool" "$f")" != "$2" ]; then rm -f "$k"; return 1; fi
  now=$(date +%s 2>/dev/null) || now=
  if [ -n "$s" ] && [ -n "$now" ] && [ "\${s##* }" -lt "$now" ] 2>/dev/null; then
    echo "$2 $s" > "$k.$$" 2>/dev/null && mv -f "$k.$$" "$k" 2>/dev/null
  fi
  return 0
}
`;

/**
 * Runs as the login user: $1 is the script to run, $2 the service user (or empty), $3 the sudo mode
 * (auto|yes|no); the rest are the script's arguments. Re-executes the script through `sudo -n -u USER -H` unless
 * the login user already is the service user (mode auto) or sudo is switched off.
 */
export const WRAP_SCRIPT = `
inner=$1; u=$2; mode=$3; shift 3
if [ -n "$u" ] && [ "$mode" != no ]; then
  me=$(id -un 2>/dev/null || whoami)
  if [ "$mode" = yes ] || [ "$me" != "$u" ]; then
    if ! id "$u" >/dev/null 2>&1; then echo "batou-bootstrap: status=nouser user=$u"; exit 90; fi
    if ! command -v sudo >/dev/null 2>&1; then echo "batou-bootstrap: status=nosudo"; exit 90; fi
    exec sudo -n -u "$u" -H /bin/sh -c "$inner" sh "$@"
  fi
fi
exec /bin/sh -c "$inner" sh "$@"
`;

/**
 * Starts the agent. Its parameters come as the first lines of stdin, one per line (so the ssh connection is made
 * while the controller still prepares them): mode (compiled|source), expected \`uname -sm\`, name and SHA-256 of
 * the executable, of the bundle (source mode; else empty lines), and the target directory. When a file is missing
 * or wrong (or there is no hash tool) it says so (\`status=missing ...\`, \`status=nohash\`) and waits for the
 * controller to upload over other sessions of the same connection and answer \`again\` (with a fresh run directory
 * after nohash), then checks again. \`status=start\` comes right before the agent runs: from then on stdin and
 * stdout are the agent's.
 */
export const START_SCRIPT = `
u0=$(umask)
umask 077
IFS= read -r mode && IFS= read -r plat && IFS= read -r n1 && IFS= read -r h1 && IFS= read -r n2 && IFS= read -r h2 &&
  IFS= read -r alt || exit 92
fresh=
${HASH_FUNCTIONS}
${CACHE_FUNCTIONS}
${STAMP_FUNCTIONS}
p=$(uname -sm)
if [ "$p" != "$plat" ]; then say "status=platform platform=$p"; exit 91; fi
cachebase "$alt"
c=$b/agents
tool=
while [ -z "$fresh" ]; do
  miss=
  nohash=
  for x in "$n1 $h1" "$n2 $h2"; do
    [ "$x" != " " ] || continue
    verified "\${x% *}" "\${x#* }"
    case $? in 0) ;; 2) nohash=yes ;; *) miss="$miss \${x% *}" ;; esac
  done
  if [ -n "$miss" ] && [ -z "$tool" ] && ! tool=$(hashtool); then nohash=yes; fi
  if [ -z "$miss$nohash" ]; then
    touch -c "$c/.$n1.ok" \${n2:+"$c/.$n2.ok"} 2>/dev/null
    break
  fi
  if [ -n "$nohash" ]; then
    say "status=nohash"
  else
    gz=no
    if command -v gzip >/dev/null 2>&1; then gz=yes; fi
    say "status=missing gzip=$gz missing=$miss"
  fi
  read -r cmd fresh || exit 92
  [ "$cmd" = again ] || exit 92
done
d=$c
if [ -n "$fresh" ]; then d=$c/$fresh; fi
cd "$d" || exit 93
DENO_DIR=$b/deno
DENO_NO_UPDATE_CHECK=1
BATOU_CACHE_DIR=$b
export DENO_DIR DENO_NO_UPDATE_CHECK BATOU_CACHE_DIR
# The agent creates the deployment with the login's umask, not with the cache's 077.
umask "$u0"
if [ "$mode" = compiled ]; then
  set -- "$d/$n1" agent
else
  set -- "$d/$n1" run --v8-flags=${AGENT_V8_FLAGS} -A --no-config --no-lock --quiet --no-prompt "$d/$n2" agent
fi
say "status=start"
if [ -z "$fresh" ]; then exec "$@"; fi
"$@"
rc=$?
cd "$c" && rm -rf "$d"
exit $rc
`;

/**
 * Receives one file on stdin: $1 fresh run directory or empty (cache), $2 name, $3 SHA-256, $4 size,
 * $5 yes when the data is gzip-compressed. Writes a temporary file, checks size and hash, renames it into place.
 */
export const PUT_SCRIPT = `
u0=$(umask)
umask 077
fresh=$1; n=$2; h=$3; size=$4; gz=$5; alt=$6
${HASH_FUNCTIONS}
${CACHE_FUNCTIONS}
cachebase "$alt"
c=$b/agents
if ! mkdir -p "$c" || ! chmod 700 "$b" "$c"; then say "status=nodir dir=$c"; exit 93; fi
d=$c
if [ -n "$fresh" ]; then
  d=$c/$fresh
  if ! mkdir -p "$d"; then say "status=nodir dir=$d"; exit 93; fi
fi
tmp=$d/.upload-$$-$n
if [ "$gz" = yes ]; then gzip -dc > "$tmp"; else cat > "$tmp"; fi
rc=$?
got=$(wc -c < "$tmp" 2>/dev/null)
got=$((got+0))
if [ "$rc" -ne 0 ] || [ "$got" -ne "$size" ]; then rm -f "$tmp"; say "status=short got=$got size=$size"; exit 94; fi
if [ -z "$fresh" ]; then
  if ! tool=$(hashtool); then rm -f "$tmp"; say "status=nohash"; exit 92; fi
  v=$(sha "$tool" "$tmp")
  if [ "$v" != "$h" ]; then rm -f "$tmp"; say "status=badhash got=$v"; exit 95; fi
fi
# A directory or symlink in the way would make mv move the file into it (or through it): remove it first.
if [ -L "$d/$n" ] || [ -d "$d/$n" ]; then rm -rf "$d/$n"; fi
if ! chmod 700 "$tmp" || ! mv -f "$tmp" "$d/$n"; then rm -f "$tmp"; say "status=nodir dir=$d"; exit 96; fi
if [ -z "$fresh" ]; then
  # Unused for 30 days: the stamp (touched by every start) or, without one, the file itself is that old.
  for f in "$c"/deno-* "$c"/batou-*; do
    [ -f "$f" ] || continue
    k=$c/.\${f##*/}.ok
    r=$f
    if [ -f "$k" ]; then r=$k; fi
    if [ -n "$(find "$r" -mtime +30 2>/dev/null)" ]; then rm -f "$f" "$k"; fi
  done
  for k in "$c"/.*.ok; do
    [ -f "$k" ] || continue
    f=\${k#"$c/."}
    if ! [ -e "$c/\${f%.ok}" ]; then rm -f "$k"; fi
  done
  find "$c" -maxdepth 1 -mtime +1 "(" -name ".upload-*" -o -name "run-*" -o -name ".*.ok.*" ")" -exec rm -rf {} + 2>/dev/null
fi
say "status=ok"
`;

/** A parsed `batou-bootstrap:` status line. */
export interface BootstrapStatus {
  status: string;
  fields: Record<string, string>;
  /** Names listed after `missing=`. */
  missing: string[];
}

/** Parses `batou-bootstrap: status=missing gzip=yes missing= a b` (the last key takes the rest of the line). */
export function parseStatus(line: string): BootstrapStatus | null {
  const m = /^batou-bootstrap: (.*)$/.exec(line.trim());
  if (!m) return null;
  const fields: Record<string, string> = {};
  const rest = m[1];
  const re = /(\w+)=/g;
  const keys: { key: string; start: number; end: number }[] = [];
  for (let k; (k = re.exec(rest));) keys.push({ key: k[1], start: k.index, end: re.lastIndex });
  keys.forEach((k, i) => {
    const stop = k.key === "missing" || k.key === "platform" ? rest.length : (keys[i + 1]?.start ?? rest.length);
    if (fields[k.key] === undefined) fields[k.key] = rest.slice(k.end, stop).trim();
  });
  return {
    status: fields.status ?? "",
    fields,
    missing: (fields.missing ?? "").split(/\s+/).filter(Boolean),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Starting the agent.

/** Options of {@linkcode startAgent}. */
export interface StartOptions {
  host: Host;
  /** What to ship and start (may still be in the making: the session starts meanwhile). */
  payload: AgentPayload | Promise<AgentPayload>;
  serviceUser?: string | null;
  requireSudo?: boolean | null;
  /** Prefix agent output lines with the host name (more than one host connected). */
  prefixOutput?: boolean;
  /** Called once when the start is over: the agent connection closed, or the start failed or was closed (e.g. to end the ssh connection). */
  onClose?: () => Promise<void>;
  /**
   * The configured `target_directory`: the agent cache goes to `<target_directory>/.batou-cache` when the home
   * directory cannot take `~/.cache/batou` (a read-only home).
   */
  targetDirectory?: string | null;
  /**
   * Upload missing or outdated agent files (default true). When false, a target without the current files fails
   * with a {@linkcode RemoteConnectError} of kind `not-cached` and gets nothing (an early start: the deployment
   * uploads later, once the project has loaded without errors).
   */
  uploadMissing?: boolean;
}

/** A started remote agent: the connection plus what it took. */
export interface RemoteAgentConnection extends AgentConnection {
  /** Agent bytes uploaded for this connection (0 when the target's cache was current). */
  uploadedBytes: number;
  /** Bytes sent in total: uploads plus JSON-RPC traffic. */
  sentBytes(): number;
}

function sudoMode(requireSudo: boolean | null | undefined): string {
  return requireSudo === true ? "yes" : requireSudo === false ? "no" : "auto";
}

/** The error for an agent that did not start; `stderr` is what the remote side printed. */
function startFailure(host: string, code: number, stderr: string, opts: StartOptions): RemoteConnectError {
  const user = opts.serviceUser ?? "";
  if (/sudo: .*password is required|sudo: no password|a terminal is required to read the password/i.test(stderr)) {
    return RemoteConnectError.of(
      host,
      "sudo-password",
      `sudo needs a password to run the agent as \`${user}\` (batou uses \`sudo -n\`: allow it without password)`,
      stderr,
    );
  }
  if (/not in the sudoers file|is not allowed to execute|may not run sudo|not allowed to run sudo/i.test(stderr)) {
    return RemoteConnectError.of(host, "sudo-denied", `the login user may not run commands as \`${user}\``, stderr);
  }
  if (/sudo: .*must have a tty/i.test(stderr)) {
    return RemoteConnectError.of(host, "sudo-tty", "sudo requires a tty (`Defaults requiretty`)", stderr);
  }
  if (code === 255) {
    const kind = classifySshFailure(stderr);
    return RemoteConnectError.of(host, `ssh-${kind}`, "the ssh connection failed while starting the agent", stderr);
  }
  return RemoteConnectError.of(host, "agent", `could not start the batou agent (exit code ${code})`, stderr);
}

/** The error for a bootstrap status line; `detail` is what the script's commands said on stderr. */
function statusError(
  host: string,
  st: BootstrapStatus,
  opts: StartOptions & { payload: AgentPayload },
  detail = "",
): RemoteConnectError {
  switch (st.status) {
    case "platform":
      return RemoteConnectError.of(
        host,
        "platform",
        `the target runs ${st.fields.platform}, but this batou runs on ${opts.payload.platform} and can only ship ` +
          `itself`,
      );
    case "nouser":
      return RemoteConnectError.of(host, "nouser", `the service user \`${st.fields.user}\` does not exist`);
    case "nosudo":
      return RemoteConnectError.of(
        host,
        "nosudo",
        `sudo is needed to run as \`${opts.serviceUser}\` but not installed`,
      );
    case "nodir":
      return RemoteConnectError.of(host, "agent", `cannot create the agent cache ${st.fields.dir}`);
    case "badhash":
      return RemoteConnectError.of(host, "agent", "the uploaded agent has a wrong SHA-256; the transfer was corrupted");
    case "short": {
      const full = /No space left on device|Disk quota exceeded/i.test(detail);
      return RemoteConnectError.of(
        host,
        full ? "nospace" : "agent",
        `the agent upload is incomplete (${st.fields.got} of ${st.fields.size ?? "?"} bytes written)` +
          (full ? ": the target's disk is full" : ""),
        detail,
      );
    }
    default:
      return RemoteConnectError.of(host, "agent", `unexpected bootstrap status ${st.status}`);
  }
}

/** How long the agent may take to answer the handshake (including the hash checks) before it is given up. */
export const HELLO_TIMEOUT_MS = 120_000;

/** What the start script said (a status line), or that its session ended. */
type StartEvent = { status: BootstrapStatus } | { ended: Deno.CommandStatus };

/**
 * The agent's start on one target: the start script's session (for ssh the connection's first session, see
 * {@linkcode SshConnection.openPrimary}), from its parameters to the agent's handshake. {@linkcode AgentStart.begin}
 * starts the session at once (the ssh process runs before it returns when a setup slot is free);
 * {@linkcode AgentStart.connect} sends the parameters, uploads what the target lacks over further sessions while the
 * script waits, and shakes hands with the agent once the script says it starts it. `opts.onClose` runs once when
 * the start is over: when the agent connection closes, or when the start failed or was closed without an agent.
 */
export class AgentStart {
  #child!: Deno.ChildProcess;
  #peer!: RpcPeer;
  #stderr!: (() => string) & { ended: Promise<void> };
  #events: StartEvent[] = [];
  #wake: (() => void) | null = null;
  #wrote = false;
  #attempt = 0;
  #rounds = 0;
  #uploaded = 0;
  #finished = false;
  #timedOut = false;
  #spawned: Promise<void>;

  private constructor(readonly shell: RemoteShell, readonly opts: StartOptions) {
    this.#spawned = this.#spawn();
    this.#spawned.catch(() => {});
  }

  /** Starts the script's session on `shell` (see the class documentation). */
  static begin(shell: RemoteShell, opts: StartOptions): AgentStart {
    return new AgentStart(shell, opts);
  }

  #spawn(): Promise<void> {
    this.#attempt++;
    this.#events = [];
    this.#wrote = false;
    const args = [START_SCRIPT, this.opts.serviceUser ?? "", sudoMode(this.opts.requireSudo)];
    const shell = this.shell;
    const started = shell.openPrimary
      ? shell.openPrimary(WRAP_SCRIPT, args)
      : new Promise<Deno.ChildProcess>((resolve) => resolve(shell.spawn(WRAP_SCRIPT, args)));
    return started.then((child) => this.#attach(child));
  }

  #attach(child: Deno.ChildProcess): void {
    const { host } = this.opts;
    this.#child = child;
    this.#stderr = collectStderr(child.stderr);
    const wrote = () => {
      if (this.#wrote) return;
      this.#wrote = true;
      this.shell.primaryStarted?.();
    };
    const peer = new RpcPeer(child.stdout, child.stdin, {}, (method, params) => {
      wrote();
      // A remote host's lines always carry its name (prefixOutput or not): it must not pass for the controller.
      if (method === "output") replayOutput(host, params, true);
      else if (method === "garbage") {
        const line = String(params.line ?? "");
        const st = parseStatus(line);
        if (st) this.#push({ status: st });
        else output.line(`${host.name}: ${neutralizeControls(output.mask(line))}`);
      }
    });
    this.#peer = peer;
    // The end comes after every line the script wrote.
    Promise.all([child.status, peer.closed, this.#stderr.ended]).then(([st]) => this.#push({ ended: st }));
    const payload = this.opts.payload;
    Promise.resolve(payload).then((p) => {
      const [a1, a2] = p.artifacts;
      const params = [p.mode, p.platform, a1.name, a1.sha256, a2?.name ?? "", a2?.sha256 ?? ""];
      return peer.sendLine([...params, this.opts.targetDirectory ?? ""].join("\n"));
    }).catch(() => {}); // a payload that cannot be built fails connect(); a lost session ends it
  }

  #push(e: StartEvent): void {
    this.#events.push(e);
    this.#wake?.();
  }

  /** The next status line or the end of the session; the session is killed after {@linkcode HELLO_TIMEOUT_MS}. */
  async #next(): Promise<StartEvent> {
    const timer = setTimeout(() => {
      this.#timedOut = true;
      this.#kill();
    }, HELLO_TIMEOUT_MS);
    try {
      while (!this.#events.length) await new Promise<void>((resolve) => this.#wake = resolve);
      return this.#events.shift()!;
    } finally {
      this.#wake = null;
      clearTimeout(timer);
    }
  }

  #kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
  }

  /**
   * Goes on until the agent answers the handshake. With `uploadMissing` false, a target that lacks the current files
   * gets nothing and null is returned: the script keeps waiting, and a later `connect()` uploads and goes on.
   * Throws {@linkcode RemoteConnectError} naming the host (the start is then over).
   */
  async connect(uploadMissing = true): Promise<RemoteAgentConnection | null> {
    try {
      const opts = { ...this.opts, payload: await this.opts.payload };
      await this.#spawned;
      for (;;) {
        const event = await this.#next();
        if ("ended" in event) {
          await this.#ended(event.ended);
          continue;
        }
        const st = event.status;
        if (st.status === "start") return await this.#handshake();
        if (st.status !== "missing" && st.status !== "nohash") {
          this.#kill();
          throw statusError(opts.host.name, st, opts);
        }
        if (!uploadMissing) {
          this.#events.unshift(event); // for the next connect()
          return null;
        }
        await this.#upload(st, opts);
      }
    } catch (e) {
      await this.#finish();
      throw e;
    }
  }

  /** The session ended before the agent ran: try to connect again, or throw why it failed. */
  async #ended(st: Deno.CommandStatus): Promise<void> {
    const stderr = this.#stderr();
    if (this.#timedOut) {
      // A target that never answers (a hanging login script, a stuck file system) must not hang the deployment.
      throw RemoteConnectError.of(
        this.opts.host.name,
        "agent",
        `the target did not answer within ${HELLO_TIMEOUT_MS / 1000}s`,
        stderr,
      );
    }
    if (!this.#wrote) {
      const failure = this.shell.connectFailure?.(st.code, stderr, this.#attempt);
      if (failure?.retryAfterMs != null) {
        await sleep(failure.retryAfterMs);
        await this.#spawn();
        return;
      }
      if (failure) throw failure.error;
    }
    throw startFailure(this.opts.host.name, st.code, stderr, this.opts);
  }

  async #upload(st: BootstrapStatus, opts: StartOptions & { payload: AgentPayload }): Promise<void> {
    const host = opts.host.name;
    if (++this.#rounds > 2) {
      this.#kill();
      const what = st.status === "nohash"
        ? "the agent could not be started afresh"
        : "the agent files are still missing after the upload";
      throw RemoteConnectError.of(host, "agent", what);
    }
    const before = this.shell.bytesSent;
    if (st.status === "missing") {
      for (const name of st.missing) {
        const a = opts.payload.artifacts.find((x) => x.name === name);
        if (!a) throw RemoteConnectError.of(host, "agent", `the target asked for an unknown file ${name}`);
        await upload(this.shell, opts, a, "", st.fields.gzip === "yes");
      }
      await this.#peer.sendLine("again");
    } else {
      output.debug(`${host}: no SHA-256 tool on the target; shipping the agent afresh for this run`);
      const fresh = `run-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      for (const a of opts.payload.artifacts) await upload(this.shell, opts, a, fresh, false);
      await this.#peer.sendLine(`again ${fresh}`);
    }
    this.#uploaded += this.shell.bytesSent - before;
  }

  async #handshake(): Promise<RemoteAgentConnection> {
    const { host } = this.opts;
    const peer = this.#peer;
    const status = this.#child.status;
    let hello: HelloInfo;
    // A target that never answers (a hanging file system) must not hang the deployment.
    let timedOut = false;
    const helloTimer = setTimeout(() => {
      timedOut = true;
      this.#kill();
    }, HELLO_TIMEOUT_MS);
    try {
      hello = await peer.call<HelloInfo>("hello", { protocol: PROTOCOL_VERSION });
    } catch (e) {
      if (e instanceof RpcError) {
        this.#kill();
        await status;
        throw RemoteConnectError.of(host.name, "agent", `the agent did not answer the handshake: ${e.message}`);
      }
      const timer = setTimeout(() => this.#kill(), 10_000);
      const st = await status;
      clearTimeout(timer);
      await this.#stderr.ended;
      if (timedOut) {
        throw RemoteConnectError.of(
          host.name,
          "agent",
          `the agent did not answer within ${HELLO_TIMEOUT_MS / 1000}s`,
          this.#stderr(),
        );
      }
      throw startFailure(host.name, st.code, this.#stderr(), this.opts);
    } finally {
      clearTimeout(helloTimer);
    }
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.#kill();
      await status;
      throw RemoteConnectError.of(
        host.name,
        "agent",
        `the agent speaks protocol ${hello.protocol}, this batou speaks ${PROTOCOL_VERSION} (agent ${hello.version})`,
      );
    }
    const uploaded = this.#uploaded;
    return {
      host,
      peer,
      hello,
      via: "ssh",
      stderr: this.#stderr,
      uploadedBytes: uploaded,
      sentBytes: () => uploaded + peer.stats.bytesSent,
      close: async () => {
        await peer.close();
        const timer = setTimeout(() => this.#kill(), 5000);
        await status;
        clearTimeout(timer);
        await this.#finish();
      },
    };
  }

  /** Ends a start that has no agent (the script stops waiting), or does nothing once the start is over. */
  async close(): Promise<void> {
    await this.#spawned.catch(() => {});
    if (this.#finished) return;
    if (this.#peer) {
      await this.#peer.close();
      const timer = setTimeout(() => this.#kill(), 5000);
      await this.#child.status;
      clearTimeout(timer);
    }
    await this.#finish();
  }

  async #finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    if (this.opts.onClose) await this.opts.onClose();
  }
}

async function upload(
  shell: RemoteShell,
  opts: StartOptions & { payload: AgentPayload },
  a: Artifact,
  fresh: string,
  gzip: boolean,
): Promise<void> {
  const host = opts.host.name;
  const source = gzip ? await gzipped(a) : a.path;
  output.debug(`${host}: uploading ${a.name} (${gzip ? "gzip, " : ""}${(await Deno.stat(source)).size} bytes)`);
  const file = await Deno.open(source);
  const total = (await file.stat()).size;
  const result = await shell.run(WRAP_SCRIPT, [
    PUT_SCRIPT,
    opts.serviceUser ?? "",
    sudoMode(opts.requireSudo),
    fresh,
    a.name,
    a.sha256,
    String(a.size),
    gzip ? "yes" : "no",
    opts.targetDirectory ?? "",
  ], file.readable.pipeThrough(uploadProgress(host, a.name, total)));
  if (result.code === 0) return;
  const st = result.stdout.split("\n").map(parseStatus).find((s) => s !== null);
  if (st) {
    if (st.status === "badhash" && gzip) {
      // A broken compressed copy in the local cache: drop it and send the file as it is.
      await Deno.remove(source).catch(() => {});
      return await upload(shell, opts, a, fresh, false);
    }
    throw statusError(host, st, opts, result.stderr);
  }
  throw startFailure(host, result.code, result.stderr, opts);
}

/** Bytes sent of the total of every upload under way, by `host: file` (for the status line). */
const uploadsUnderWay = new Map<string, { sent: number; total: number }>();

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** Shows the uploads under way in the status line (terminals only): `h1 12.0/41.2 MB · h2 3.5/41.2 MB`. */
function showUploads(): void {
  const parts = [...uploadsUnderWay].map(([k, u]) =>
    `${k.split(": ")[0]} ${megabytes(u.sent)}/${megabytes(u.total)} MB`
  );
  output.status(parts.length ? `uploading the agent: ${parts.join(" · ")}` : "");
}

/**
 * Passes an upload's bytes through and reports its progress: one line per host and file when it starts (what a
 * piped run shows) and, on a terminal, the bytes sent of the total in the status line, at most every 200 ms.
 */
function uploadProgress(host: string, name: string, total: number): TransformStream<Uint8Array, Uint8Array> {
  const key = `${host}: ${name}`;
  let last = 0;
  const done = () => {
    uploadsUnderWay.delete(key);
    showUploads();
  };
  return new TransformStream({
    start() {
      output.annotate(`${host}: uploading ${name} (${megabytes(total)} MB)`, { icon: "📤" });
      uploadsUnderWay.set(key, { sent: 0, total });
    },
    transform(chunk, controller) {
      const u = uploadsUnderWay.get(key);
      if (u) u.sent += chunk.length;
      const now = performance.now();
      if (now - last >= 200) {
        last = now;
        showUploads();
      }
      controller.enqueue(chunk);
    },
    flush: done,
    cancel: done,
  });
}

/**
 * Starts the agent over `shell`: runs the cached files; uploads what is missing or wrong and checks again. A target
 * whose cache is current gets no agent bytes at all. With `uploadMissing` false, a target without the current files
 * fails with a {@linkcode RemoteConnectError} of kind `not-cached`.
 */
export async function startAgent(shell: RemoteShell, opts: StartOptions): Promise<RemoteAgentConnection> {
  const start = AgentStart.begin(shell, opts);
  const conn = await start.connect(opts.uploadMissing !== false);
  if (conn) return conn;
  await start.close();
  throw RemoteConnectError.of(opts.host.name, "not-cached", "the agent is not in the target's cache");
}

// ---------------------------------------------------------------------------------------------------------------
// The controller's `connectRemote` hook.

let vagrantUp: Promise<void> | null = null;

async function ensureVagrantUp(env: Environment): Promise<void> {
  if (!vagrantUp) {
    vagrantUp = (async () => {
      output.line("vagrant: Ensuring machines are up ...", { icon: null });
      const result = await new Deno.Command("vagrant", { args: ["up"], cwd: env.baseDir, stdin: "null" }).output()
        .catch((e: Error) => {
          throw new ConfigurationError(`cannot run vagrant: ${e.message}`);
        });
      if (!result.success) throw new ConfigurationError("`vagrant up` failed");
    })();
  }
  await vagrantUp;
}

/** Whether to print the per-host traffic line (`--debug` or `BATOU_STATS=1`). */
function statsEnabled(): boolean {
  return output.enableDebug || !!Deno.env.get("BATOU_STATS");
}

/** How one host's agent is reached over ssh and run there. */
export interface RemoteAgentTarget {
  /** The ssh connection (destination, label = host name, ssh config, timeout). */
  ssh: SshOptions;
  host: Host;
  serviceUser: string | null;
  requireSudo: boolean | null;
  targetDirectory: string | null;
  /** More than one host is connected: agent output lines get the host name in front. */
  prefixOutput: boolean;
}

/** The target of `host` in `env` (ssh, or vagrant with its generated ssh config and the machine name). */
export function remoteAgentTarget(
  env: Environment,
  host: Host,
  configFile: string | null = projectSshConfig(env.baseDir, env.name),
  destination: string = host.fqdn,
): RemoteAgentTarget {
  return {
    ssh: { destination, label: host.name, configFile, timeout: env.timeoutConfigured ? env.timeout : null },
    host,
    serviceUser: host.serviceUser,
    requireSudo: host.requireSudo,
    targetDirectory: env.targetDirectory,
    prefixOutput: [...env.hosts.values()].filter((h) => !h.ignore).length > 1,
  };
}

/** Options of {@linkcode beginRemoteAgent}. */
export interface RemoteStartOptions {
  /** Called after the ssh connection is closed. */
  cleanup?: () => Promise<void>;
  /** Whether the traffic line (`--debug`, `BATOU_STATS=1`) is printed when the connection closes (default yes). */
  reportStats?: () => boolean;
}

/** The start of one target's agent over its own ssh connection (see {@linkcode beginRemoteAgent}). */
export interface RemoteStart {
  /** The ssh connection (agent uploads are counted in its `bytesSent`). */
  readonly ssh: SshConnection;
  /** See {@linkcode AgentStart.connect}; closing the agent connection closes `ssh`. */
  connect(uploadMissing?: boolean): Promise<RemoteAgentConnection | null>;
  /** Ends a start that has no agent, and its ssh connection. */
  close(): Promise<void>;
}

/**
 * Starts the agent of `target` over a new ssh connection: the ssh process is running when this returns (unless
 * {@linkcode MAX_PARALLEL_SETUPS} connections are being set up), while the payload is still being prepared.
 * `connect()` goes on from there. Throws {@linkcode RemoteConnectError} for an invalid destination.
 */
export function beginRemoteAgent(target: RemoteAgentTarget, opts: RemoteStartOptions = {}): RemoteStart {
  const { host } = target;
  const cleanup = opts.cleanup ?? (() => Promise.resolve());
  const stats = () => statsEnabled() && (opts.reportStats?.() ?? true);
  const ssh = SshConnection.create(target.ssh);
  let agent: RemoteAgentConnection | null = null;
  let memory = "";
  const payload = agentPayload();
  const start = AgentStart.begin(ssh, {
    host,
    payload,
    serviceUser: target.serviceUser,
    requireSudo: target.requireSudo,
    prefixOutput: target.prefixOutput,
    targetDirectory: target.targetDirectory,
    onClose: async () => {
      if (agent && stats()) {
        const rpc = agent.peer.stats;
        output.line(
          `${agent.host.name}: stats: sent=${agent.sentBytes()} agent-upload=${agent.uploadedBytes} ` +
            `rpc-sent=${rpc.bytesSent} received=${rpc.bytesReceived} calls=${rpc.calls}${memory}`,
          { icon: "📊" },
        );
      }
      await ssh.close();
      await cleanup();
    },
  });
  return {
    ssh,
    close: () => start.close(),
    async connect(uploadMissing = true) {
      const conn = await start.connect(uploadMissing);
      if (!conn) return null;
      agent = conn;
      // The agent's peak memory and CPU, asked for just before the connection closes (the `stats` call is counted).
      const close = conn.close;
      conn.close = async () => {
        if (stats()) {
          const s = await conn.peer.call<AgentStats>("stats").catch(() => null);
          if (s?.rssPeakKiB != null) memory = ` agent-rss-peak-kb=${s.rssPeakKiB}`;
          if (s?.cpuMs != null) memory += ` agent-cpu-ms=${s.cpuMs}`;
        }
        await close();
      };
      output.debug(
        `${host.name}: agent ${conn.hello.version} pid ${conn.hello.pid} as ${conn.hello.user} ` +
          `(${(await payload).mode} mode, uploaded ${conn.uploadedBytes} bytes)`,
      );
      return conn;
    },
  };
}

/**
 * Connects to `host` (connect_method ssh or vagrant) and starts an agent there. Throws
 * {@linkcode RemoteConnectError} naming the host when it cannot.
 */
export async function connectRemote(env: Environment, host: Host): Promise<AgentConnection> {
  if (env.connectMethod === "ssh") return await connectTarget(remoteAgentTarget(env, host));
  if (env.connectMethod !== "vagrant") {
    throw new ConfigurationError(`Unknown connect_method \`${env.connectMethod}\` (use ssh, local or vagrant)`);
  }
  await ensureVagrantUp(env);
  const scratch = await Deno.makeTempDir({ prefix: "batou-vagrant-" });
  const cleanup = () => Deno.remove(scratch, { recursive: true }).catch(() => {});
  let configFile: string;
  try {
    configFile = await vagrantSshConfig(env.baseDir, host.name, scratch);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return await connectTarget(remoteAgentTarget(env, host, configFile, host.name), cleanup);
}

/** Opens the ssh connection of `target` and starts its agent; `cleanup` runs when the connection is done. */
export async function connectTarget(
  target: RemoteAgentTarget,
  cleanup: () => Promise<void> = () => Promise.resolve(),
): Promise<RemoteAgentConnection> {
  let start: RemoteStart;
  try {
    start = beginRemoteAgent(target, { cleanup });
  } catch (e) {
    await cleanup();
    throw e;
  }
  return (await start.connect())!;
}
