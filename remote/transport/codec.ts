/**
 * How an agent file travels to a target (issue 17: first-deploy bytes per host). The deno executable is ~96 MB;
 * gzip makes it ~42 MB, xz (`-6`) ~31 MB, at about 12x gzip's compression CPU (once per file, cached on the
 * controller) and ~3x its decompression CPU on the target (~1.8 s against ~0.6 s for deno). A target needs
 * nothing installed, so the decoder must already be there: xz is used when the target has `xz` (Debian's
 * xz-utils, priority standard) and the controller's xz copy of the file is ready; otherwise gzip (when the
 * target has `gzip`), else the file as it is. The xz copy is made in the background the first time a target
 * could use it (a detached `xz` process writing into the controller's cache): that deploy still sends gzip, so no
 * deploy waits for the slow compression.
 *
 * `BATOU_UPLOAD_CODEC` chooses otherwise: `gzip` (never xz, e.g. for fast local networks, where xz's decompression
 * costs more time than its bytes save), `xz` (make the xz copy now and wait for it), `none`, or `auto` (the default).
 *
 * @module
 */
import { dirname, join } from "../../core/runtime/path.ts";
import { output } from "../../core/model/output.ts";
import { statOrNull } from "../../core/runtime/fsops.ts";
import { type Artifact, gzipped, localCacheDir } from "./payload.ts";

/** What the data of an upload is: `gzip` / `xz` streams, or the file as it is. */
export type UploadCodec = "gzip" | "xz" | "none";

/** The decoders a target reported (`gzip=yes xz=yes` in its `status=missing` line). */
export interface TargetDecoders {
  gzip: boolean;
  xz: boolean;
}

/** Path of the xz copy of `a` in the controller's cache. */
export function xzPath(a: Artifact): string {
  return join(localCacheDir(), "xz", `${a.sha256}.xz`);
}

/** The xz command line used for the cached copies (`-T0`: all cores, which splits big files into blocks). */
export const XZ_ARGS: readonly string[] = ["-6", "-T0", "-c"];

let controllerXz: Promise<boolean> | null = null;

/** Whether the controller can run `xz` (checked once). */
function controllerHasXz(): Promise<boolean> {
  controllerXz ??= new Deno.Command("xz", { args: ["--version"], stdout: "null", stderr: "null", stdin: "null" })
    .output().then((r) => r.success, () => false);
  return controllerXz;
}

/** The processes making xz copies, by the copy's path (one per process and file; a finished one leaves). */
const producing = new Map<string, Promise<Deno.ChildProcess>>();

/**
 * The process that makes the xz copy of `a` (started unless one is under way): `xz` writes a temporary file that is
 * renamed into place only when it is complete (and removed when xz fails); it goes on after this program ends.
 * `background`: nobody waits for it (a process started so does not keep this program running; waiting for it
 * later makes it do so).
 */
async function xzProducer(a: Artifact, background: boolean): Promise<Deno.ChildProcess> {
  const path = xzPath(a);
  const running = producing.get(path);
  if (running) {
    const child = await running;
    if (!background) child.ref();
    return child;
  }
  const child = (async () => {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    const script = 'umask 077; xz "$@" > "$T" || { s=$?; rm -f "$T"; exit "$s"; }; mv -f "$T" "$P"';
    const xz = new Deno.Command("sh", {
      args: ["-c", script, "sh", ...XZ_ARGS, a.path],
      env: { T: tmp, P: path },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    if (background) xz.unref();
    // A failed copy is not tried again by this process (startXzCopy); a finished one may be removed later.
    xz.status.then((st) => {
      if (st.success) producing.delete(path);
    });
    return xz;
  })();
  producing.set(path, child);
  return await child;
}

/** Makes the xz copy of `a` (if missing) and waits for it; false when the controller has no `xz`. */
export async function makeXzCopy(a: Artifact): Promise<boolean> {
  if (await statOrNull(xzPath(a))) return true;
  if (!await controllerHasXz()) return false;
  output.debug(`main: compressing ${a.name} (${a.size} bytes) with xz for upload ...`);
  const child = await xzProducer(a, false);
  const st = await child.status;
  if (!st.success) throw new Error(`xz failed on ${a.path} (exit ${st.code})`);
  return true;
}

/**
 * Starts making the xz copy of `a` in the background (once per process and file): it goes on after this program
 * ends and renames its result into place only when it is complete.
 */
export async function startXzCopy(a: Artifact): Promise<void> {
  if (producing.has(xzPath(a)) || await statOrNull(xzPath(a)) || !await controllerHasXz()) return;
  output.debug(`main: compressing ${a.name} with xz in the background (the next uploads use it)`);
  await xzProducer(a, true);
}

/** The codec asked for with `BATOU_UPLOAD_CODEC` (`auto` unless set). */
export function requestedCodec(): "auto" | UploadCodec {
  const v = (Deno.env.get("BATOU_UPLOAD_CODEC") ?? "auto").trim().toLowerCase();
  return v === "gzip" || v === "xz" || v === "none" ? v : "auto";
}

/** What to send for `a` to a target with `decoders`: the codec and the local file holding the data. */
export async function chooseUpload(
  a: Artifact,
  decoders: TargetDecoders,
  requested: "auto" | UploadCodec = requestedCodec(),
): Promise<{ codec: UploadCodec; path: string }> {
  if (requested === "none") return { codec: "none", path: a.path };
  if (decoders.xz && requested !== "gzip") {
    if (requested === "xz" ? await makeXzCopy(a) : await statOrNull(xzPath(a))) {
      return { codec: "xz", path: xzPath(a) };
    }
    if (requested === "auto") await startXzCopy(a);
  }
  if (decoders.gzip) return { codec: "gzip", path: await gzipped(a) };
  return { codec: "none", path: a.path };
}
