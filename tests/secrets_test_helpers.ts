/** Shared helpers for the secrets tests: temp dirs, running real binaries (ssh-keygen, age, gpg). */

/** Result of a finished process. */
export interface RunResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs a program; throws with a clear message if it is not installed. Never uses a shell. */
export async function run(
  cmd: string,
  args: string[],
  opts: { stdin?: Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: opts.env,
      cwd: opts.cwd,
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`The test needs the \`${cmd}\` binary, which is not installed (apt-get install -y ${cmd}).`);
    }
    throw err;
  }
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    await w.write(opts.stdin);
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** Runs a program and fails unless it exits 0; returns stdout. */
export async function runOk(
  cmd: string,
  args: string[],
  opts: { stdin?: Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): Promise<Uint8Array> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed with exit code ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Creates a temp dir, runs `fn`, removes the dir. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "batou-secrets-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Generates an ssh key with ssh-keygen; returns the private key path (public key at `<path>.pub`). */
export async function sshKeygen(
  dir: string,
  name: string,
  type: "ed25519" | "rsa" | "ecdsa",
  passphrase = "",
  extra: string[] = [],
): Promise<string> {
  const path = `${dir}/${name}`;
  const bits = type === "rsa" ? ["-b", "2048"] : [];
  await runOk("ssh-keygen", ["-q", "-t", type, ...bits, "-N", passphrase, "-C", `${name}@test`, ...extra, "-f", path]);
  return path;
}

/** UTF-8 encode. */
export const enc = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s);
/** UTF-8 decode. */
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/**
 * Runs `code` as a separate Deno program (with this project's deno.json) in `dir`, with environment `env`
 * added to (or, for `undefined` values, removed from) the current one. Used where a test needs its own
 * process environment: test files share one process, so tests must never change Deno.env.
 */
export async function runDenoChild(
  dir: string,
  code: string,
  env: Record<string, string | undefined> = {},
): Promise<RunResult> {
  const file = `${dir}/child-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(file, code);
  const full: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k];
    else full[k] = v;
  }
  const config = new URL("../deno.json", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, file],
    env: full,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** file:// URL of a module under the project root, for imports in child programs. */
export function moduleUrl(relative: string): string {
  return new URL(`../${relative}`, import.meta.url).href;
}

/** A throw-away keyring with two keys: a (ed25519/cv25519) and b (rsa2048 with an rsa encryption subkey). */
export async function withGnupgHome(fn: (home: string, dir: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const home = `${dir}/gnupg`;
    await Deno.mkdir(home, { mode: 0o700 });
    const env = { GNUPGHOME: home };
    try {
      const gen = (uid: string, algo: string) =>
        runOk("gpg", ["--batch", "--passphrase", "", "--quick-gen-key", uid, algo, "default", "never"], { env });
      await gen("Alice <a@example.com>", "future-default");
      await gen("Bob <b@example.com>", "rsa2048");
      const fpr = dec(await runOk("gpg", ["--with-colons", "--list-keys", "b@example.com"], { env }))
        .split("\n").find((l) => l.startsWith("fpr:"))!.split(":")[9];
      await runOk("gpg", ["--batch", "--passphrase", "", "--quick-add-key", fpr, "rsa2048", "encr", "never"], { env });
      await fn(home, dir);
    } finally {
      await run("gpgconf", ["--kill", "gpg-agent"], { env });
    }
  });
}
