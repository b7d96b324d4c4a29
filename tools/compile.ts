/**
 * `deno task compile`: builds the single-file batou binaries `dist/batou-<os>-<arch>` with `deno compile`,
 * for linux and macOS on x86_64 and aarch64.
 *
 * Every binary embeds (`--include`) `environments.example/` (for `batou init`) and
 * `dist/build/build-info.json` (version, commit, build date and target; `batou --version` shows them, see
 * core/runtime/version.ts). The build info is written anew before each target is compiled.
 *
 * `deno compile` needs the runtime `denort` of each target. It downloads it (into DENO_DIR) unless `DENORT_BIN`
 * names a local denort binary, which deno then uses for whatever target is asked: so with `DENORT_BIN` only one
 * target is built per run (by default this machine's; choose with `--target`).
 *
 * Usage: deno task compile [--target TRIPLE]... [--out-dir DIR]
 *
 * @module
 */
import { join, relative, resolve } from "../core/runtime/path.ts";
import { parseArgs } from "node:util";
import { BUILD_INFO_PATH, type BuildInfo, VERSION } from "../core/runtime/version.ts";
import { assetName, RELEASE_TARGETS, type ReleaseTarget } from "../cli/release_files.ts";
import { AGENT_V8_FLAGS } from "../remote/transport/connect.ts";

/** The repository root. */
export const REPO: string = resolve(import.meta.dirname!, "..");

async function git(args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await new Deno.Command("git", { args, cwd: REPO, stdin: "null", stdout: "piped", stderr: "null" })
      .output();
    return { ok: r.success, out: new TextDecoder().decode(r.stdout).trim() };
  } catch {
    return { ok: false, out: "" };
  }
}

/** The build information of the checkout: version, commit (`-dirty` with local changes) and date. */
export async function currentBuildInfo(target?: string): Promise<BuildInfo> {
  const head = await git(["rev-parse", "--short=12", "HEAD"]);
  const dirty = head.ok && !(await git(["diff", "--quiet", "HEAD", "--"])).ok;
  const epoch = Deno.env.get("SOURCE_DATE_EPOCH");
  const when = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  return {
    version: VERSION,
    commit: head.ok ? head.out + (dirty ? "-dirty" : "") : "unknown",
    date: when.toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(target ? { target } : {}),
  };
}

/** The `deno compile` arguments for one target (run in the repository root). */
export function compileArgs(target: ReleaseTarget, output: string): string[] {
  return [
    "compile",
    "-A",
    `--v8-flags=${AGENT_V8_FLAGS}`,
    "--target",
    target.target,
    "--include",
    "environments.example",
    "--include",
    BUILD_INFO_PATH,
    "--output",
    output,
    "main.ts",
  ];
}

/** Checks that deno.json names the same version as core/runtime/version.ts. */
async function checkVersion(): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(join(REPO, "deno.json")));
  if (config.version !== VERSION) {
    throw new Error(
      `deno.json says version ${config.version}, core/runtime/version.ts says ${VERSION}: make them agree`,
    );
  }
}

/** Writes the build info that the next compile embeds. */
export async function writeBuildInfo(info: BuildInfo): Promise<string> {
  const path = join(REPO, BUILD_INFO_PATH);
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(info, null, 2) + "\n");
  return path;
}

/** Picks the targets to build from `--target` options and `DENORT_BIN`. */
export function chooseTargets(requested: string[], denortBin: string | undefined): ReleaseTarget[] {
  const known = new Map(RELEASE_TARGETS.map((t) => [t.target, t]));
  for (const t of requested) {
    if (!known.has(t)) throw new Error(`unknown target ${t} (known: ${[...known.keys()].join(", ")})`);
  }
  if (denortBin) {
    const one = requested.length ? requested : [Deno.build.target];
    if (one.length !== 1 || !known.has(one[0])) {
      throw new Error(
        `DENORT_BIN=${denortBin} is used as the runtime of every target: build one target per run ` +
          `(--target, default ${Deno.build.target})`,
      );
    }
    return [known.get(one[0])!];
  }
  return requested.length ? requested.map((t) => known.get(t)!) : [...RELEASE_TARGETS];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { target: { type: "string", multiple: true }, "out-dir": { type: "string" } },
  });
  const outDir = resolve(REPO, values["out-dir"] ?? "dist");
  let failed = 0;
  try {
    await checkVersion();
    const denortBin = Deno.env.get("DENORT_BIN") || undefined;
    const targets = chooseTargets(values.target ?? [], denortBin);
    await Deno.mkdir(outDir, { recursive: true });
    for (const t of targets) {
      const info = await currentBuildInfo(t.target);
      await writeBuildInfo(info);
      const output = join(outDir, assetName(t.os, t.arch));
      const args = compileArgs(t, relative(REPO, output) || output);
      console.log(`\n# batou ${info.version} (${info.commit}, ${info.date}) for ${t.target}`);
      console.log(`${denortBin ? `DENORT_BIN=${denortBin} ` : ""}deno ${args.join(" ")}`);
      const r = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: REPO,
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      })
        .output();
      if (!r.success) {
        failed++;
        console.error(`compile: deno compile failed for ${t.target} (exit code ${r.code})`);
      } else {
        console.log(`built ${relative(REPO, output)}`);
      }
    }
  } catch (e) {
    console.error(`compile: ${(e as Error).message}`);
    Deno.exit(2);
  }
  if (failed) {
    console.error(
      `\ncompile: ${failed} target(s) failed. deno compile fetches the runtime (denort-<target>.zip of deno ` +
        `${Deno.version.deno}) for each target; without network access, unzip it from a machine that has it and ` +
        `run one target at a time with DENORT_BIN=/path/to/denort deno task compile --target <target>.`,
    );
    Deno.exit(1);
  }
}
