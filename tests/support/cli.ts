/**
 * Helpers for end-to-end tests that drive the `batou` command line as a user would.
 *
 * @module
 */
import { join, resolve } from "node:path";

/** The repository root. */
export const REPO: string = resolve(import.meta.dirname!, "..", "..");

/** The result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together (stderr after stdout). */
  output: string;
}

/** Runs `batou <args>` in `cwd` (the project directory) from the source checkout. */
export async function batou(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO, "main.ts"), ...args],
    cwd,
    env: { NO_COLOR: "1", INIT_CWD: cwd, ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout), stderr = dec.decode(out.stderr);
  return { code: out.code, stdout, stderr, output: stdout + stderr };
}

/** Copies a directory tree (files, dirs and symlinks). */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    const src = join(from, e.name), dst = join(to, e.name);
    if (e.isDirectory) await copyTree(src, dst);
    else if (e.isSymlink) await Deno.symlink(await Deno.readLink(src), dst);
    else await Deno.copyFile(src, dst);
  }
}

/** Copies `examples/<name>` into a new temp dir and returns its path. */
export async function exampleProject(name: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `batou-e2e-${name}-` });
  await copyTree(join(REPO, "examples", name), dir);
  return dir;
}

/** Writes files (relative path -> content) below `dir`, creating directories. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    await Deno.mkdir(join(p, ".."), { recursive: true });
    await Deno.writeTextFile(p, content);
  }
}

/** The lines of `text` that start with the 🚀 change marker. */
export function changeLines(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("🚀"));
}

/** mtime (ms) and inode of a path. */
export async function fileIdentity(path: string): Promise<{ mtime: number; ino: number | null }> {
  const st = await Deno.lstat(path);
  return { mtime: st.mtime!.getTime(), ino: st.ino };
}
