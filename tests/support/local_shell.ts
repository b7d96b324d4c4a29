/**
 * A stand-in target for the bootstrap scripts: {@linkcode LocalShell} runs them with the local /bin/sh and only the
 * given environment, and {@linkcode toolDir} builds the PATH of tools that target has.
 */
import { join } from "../../core/runtime/path.ts";
import { statOrNullSync } from "../../core/runtime/fsops.ts";
import { type RemoteShell, runSpawned, type ShellResult } from "../../remote/transport/ssh.ts";

/** Runs the scripts with /bin/sh locally, with only `env` as environment. */
export class LocalShell implements RemoteShell {
  readonly label = "local";
  bytesSent = 0;
  constructor(readonly env: Record<string, string>) {}

  spawn(script: string, args: string[]): Deno.ChildProcess {
    return new Deno.Command("/bin/sh", {
      args: ["-c", script, "sh", ...args],
      env: this.env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  run(script: string, args: string[], stdin?: ReadableStream<Uint8Array>): Promise<ShellResult> {
    return runSpawned(this, script, args, stdin);
  }
}

/** The tools every bootstrap needs on the target. */
export const BASE_TOOLS: readonly string[] = [
  "uname",
  "id",
  "mkdir",
  "chmod",
  "mv",
  "rm",
  "cat",
  "wc",
  "touch",
  "find",
  "stat",
  "date",
];

/** A directory (`dir`, created; else a new temporary one) of symlinks to the given tools: the target's PATH. */
export async function toolDir(tools: readonly string[], dir?: string): Promise<string> {
  if (dir === undefined) dir = await Deno.makeTempDir({ prefix: "batou-bootstrap-bin-" });
  else await Deno.mkdir(dir);
  for (const tool of tools) {
    const path = ["/usr/bin", "/bin"].map((d) => join(d, tool)).find((p) => statOrNullSync(p)?.isFile);
    if (!path) throw new Error(`missing tool ${tool}`);
    await Deno.symlink(path, join(dir, tool));
  }
  return dir;
}
