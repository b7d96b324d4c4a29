/**
 * The shell scripts that run on a target under `/bin/sh` (every value comes in as a positional parameter): the
 * service-user wrapper, the start script that checks the cached agent files and starts the agent, the upload
 * script, and the status lines they write. See remote/transport/bootstrap.ts for the whole procedure.
 *
 * @module
 */
import { AGENT_V8_FLAGS } from "./connect.ts";

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
 * `verified NAME SHA [SIG]` succeeds when `$c/NAME` is a regular file (no symlink) with that SHA-256 (SIG: its stat
 * signature when already known; `sig` takes several files, one line each, so a start runs one `stat`). The full hash is
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
  stat -c '%i %s %Y %Z' "$@" 2>/dev/null || stat -f '%i %z %m %c' "$@" 2>/dev/null
}
verified() {
  f=$c/$1; k=$c/.$1.ok
  if [ -L "$f" ] || ! [ -f "$f" ]; then return 1; fi
  s=$3
  [ -n "$s" ] || s=$(sig "$f") || s=
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
# uname -sm, from /proc where Linux (6.1 and later) has both parts: a start forks as little as it can.
p=
if [ -r /proc/sys/kernel/ostype ] && [ -r /proc/sys/kernel/arch ]; then
  IFS= read -r os < /proc/sys/kernel/ostype && IFS= read -r arch < /proc/sys/kernel/arch && p="$os $arch"
fi
[ -n "$p" ] || p=$(uname -sm)
if [ "$p" != "$plat" ]; then say "status=platform platform=$p"; exit 91; fi
cachebase "$alt"
c=$b/agents
tool=
nl='
'
while [ -z "$fresh" ]; do
  miss=
  nohash=
  # Both files' signatures from one stat (two lines) when both are there; verified stats on its own otherwise.
  s1= s2=
  if [ -n "$n2" ] && [ -f "$c/$n1" ] && [ -f "$c/$n2" ] && sigs=$(sig "$c/$n1" "$c/$n2"); then
    case $sigs in *"$nl"*) s1=\${sigs%%"$nl"*}; s2=\${sigs#*"$nl"} ;; esac
  fi
  for x in "$n1 $h1 $s1" "$n2 $h2 $s2"; do
    set -- $x
    [ $# -ge 2 ] || continue
    n=$1; h=$2; shift 2
    verified "$n" "$h" "$*"
    case $? in 0) ;; 2) nohash=yes ;; *) miss="$miss $n" ;; esac
  done
  if [ -n "$miss" ] && [ -z "$tool" ] && ! tool=$(hashtool); then nohash=yes; fi
  if [ -z "$miss$nohash" ]; then
    # The agent touches these stamps (the expiry of unused agents counts from them), saving a touch process here.
    BATOU_AGENT_STAMPS="$c/.$n1.ok\${n2:+$nl$c/.$n2.ok}"
    export BATOU_AGENT_STAMPS
    break
  fi
  if [ -n "$nohash" ]; then
    say "status=nohash"
  else
    gz=no
    if command -v gzip >/dev/null 2>&1; then gz=yes; fi
    xz=no
    if command -v xz >/dev/null 2>&1; then xz=yes; fi
    say "status=missing gzip=$gz xz=$xz missing=$miss"
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
 * Ends an agent that stopped responding (remote/transport/liveness.ts): $1 is its pid. Run through
 * {@linkcode WRAP_SCRIPT} as the agent's user; an agent already gone is no error.
 */
export const KILL_SCRIPT = `
kill -KILL "$1" 2>/dev/null
exit 0
`;

/**
 * Receives one file on stdin: $1 fresh run directory or empty (cache), $2 name, $3 SHA-256, $4 size,
 * $5 the codec of the data (codec.ts `UploadCodec`: `gzip`, `xz` or `none`). Writes a temporary file, checks size
 * and hash, fsyncs it (`sync FILE`) and renames it into place.
 */
export const PUT_SCRIPT = `
u0=$(umask)
umask 077
fresh=$1; n=$2; h=$3; size=$4; codec=$5; alt=$6
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
case $codec in gzip) gzip -dc > "$tmp" ;; xz) xz -dc > "$tmp" ;; *) cat > "$tmp" ;; esac
rc=$?
got=$(wc -c < "$tmp" 2>/dev/null)
got=$((got+0))
if [ "$rc" -ne 0 ] || [ "$got" -ne "$size" ]; then rm -f "$tmp"; say "status=short got=$got size=$size"; exit 94; fi
if [ -z "$fresh" ]; then
  if ! tool=$(hashtool); then rm -f "$tmp"; say "status=nohash"; exit 92; fi
  v=$(sha "$tool" "$tmp")
  if [ "$v" != "$h" ]; then rm -f "$tmp"; say "status=badhash got=$v"; exit 95; fi
fi
# On disk before the rename: after a power loss the name must not hold a file of the right size and inode whose
# data never reached the disk (a later start's stamp would vouch for it). \`sync FILE\` fsyncs that file (coreutils,
# newer busybox); where sync takes no files it flushes everything, still only on an upload.
if command -v sync >/dev/null 2>&1; then sync "$tmp" 2>/dev/null; fi
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
