/**
 * `deno task bundle`: builds the single-file program that source mode ships to target hosts (the same bundle,
 * built by `remote/transport/payload.ts`'s {@linkcode buildBundle} and cached by source hash) and copies it to
 * `dist/batou.js`. Run it with `deno run -A dist/batou.js <command>`.
 *
 * Usage: deno task bundle [--out FILE]
 *
 * @module
 */
import { dirname, join, relative, resolve } from "../core/runtime/path.ts";
import { parseArgs } from "node:util";
import { buildBundle } from "../remote/transport/payload.ts";

/** The repository root. */
export const REPO: string = resolve(import.meta.dirname!, "..");

/** Builds the bundle of the program in `repoDir` and copies it atomically to `out`; returns `out`. */
export async function bundleTo(repoDir: string, out: string): Promise<string> {
  const built = await buildBundle(repoDir);
  await Deno.mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${Deno.pid}`;
  try {
    await Deno.copyFile(built, tmp);
    await Deno.chmod(tmp, 0o644);
    await Deno.rename(tmp, out);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string" } } });
  const out = resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), values.out ?? join(REPO, "dist", "batou.js"));
  try {
    await bundleTo(REPO, out);
  } catch (e) {
    console.error(`bundle: ${(e as Error).message}`);
    Deno.exit(1);
  }
  const size = (await Deno.stat(out)).size;
  console.log(`${relative(Deno.cwd(), out) || out} (${size} bytes): run it with \`deno run -A ${out} --help\``);
}
