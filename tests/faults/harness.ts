/**
 * Shared machinery of the fault-injection suite (`tests/faults/*_test.ts`): projects deployed over the private
 * sshd of `tests/support/sshd.ts`, `batou deploy` runs that always end (a watchdog kills them), a seeded random
 * generator whose seed is printed, process lookup on the "targets" (local accounts) through /proc, and a poller
 * process that watches managed files during a deployment and records every distinct content it saw.
 *
 * Every helper that starts something returns or registers a way to stop it; tests call them in `finally`.
 *
 * @module
 */
import { join } from "node:path";
import { createHash } from "node:crypto";
import { REPO, writeFiles } from "../support/cli.ts";
import { requireTools, type SshdFixture, startSshd } from "../support/sshd.ts";

export { REPO };

/** How long one `batou deploy` may run before the watchdog kills it (the test then fails). */
export const DEPLOY_DEADLINE_MS = 180_000;

/** The result of one CLI run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together. */
  output: string;
  /** True when the watchdog had to kill the run. */
  killed: boolean;
  /** Wall-clock time of the run (reported, never asserted). */
  ms: number;
}

/** A running `batou deploy`. */
export interface RunningDeploy {
  child: Deno.ChildProcess;
  result: Promise<RunResult>;
}

/** Starts `batou <args>` in `cwd` from the source checkout; killed after `deadlineMs`. */
export function spawnBatou(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  deadlineMs = DEPLOY_DEADLINE_MS,
): RunningDeploy {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO, "main.ts"), ...args],
    cwd,
    env: { NO_COLOR: "1", INIT_CWD: cwd, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, deadlineMs);
  const result = child.output().then((out) => {
    clearTimeout(timer);
    const dec = new TextDecoder();
    const stdout = dec.decode(out.stdout), stderr = dec.decode(out.stderr);
    return { code: out.code, stdout, stderr, output: stdout + stderr, killed, ms: performance.now() - started };
  });
  return { child, result };
}

/** Runs `batou <args>` to its end (or the watchdog). */
export function runBatou(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  deadlineMs = DEPLOY_DEADLINE_MS,
): Promise<RunResult> {
  return spawnBatou(cwd, args, env, deadlineMs).result;
}

/** The lines of `text` that start with the 🚀 change marker. */
export function changeLines(text: string): string[] {
  return text.split("\n").filter((l) => l.startsWith("🚀"));
}

/** Fails when `output` shows a stack trace (`at file.ts:1:2` frames) or an unexpected exception. */
export function assertNoStackTrace(output: string): void {
  if (/^\s+at .*(\.ts|\.js|ext:[a-z_/]+\.js):\d+:\d+/m.test(output) || /Unexpected exception/.test(output)) {
    throw new Error(`a stack trace or unexpected exception in the output:\n${output}`);
  }
}

// ------------------------------------------------------------------------------------------------ random

/** A small seeded generator (mulberry32): the same seed gives the same kill points. */
export class SeededRandom {
  #state: number;
  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6D2B79F5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/**
 * The generator for one test: the seed comes from `BATOU_FAULT_SEED` (to replay a run) or is drawn at random;
 * it is printed either way.
 */
export function seeded(testName: string): SeededRandom {
  const given = Deno.env.get("BATOU_FAULT_SEED");
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  console.log(`[faults] ${testName}: seed ${seed} (replay with BATOU_FAULT_SEED=${seed})`);
  return new SeededRandom(seed);
}

// ------------------------------------------------------------------------------------------------ waiting

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { sleep };

/**
 * Polls `probe` until it returns a value other than undefined. Fails when `running` (a deployment) ends first or
 * after `deadlineMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: { running?: Promise<unknown>; deadlineMs?: number; intervalMs?: number } = {},
): Promise<T> {
  let ended = false;
  opts.running?.finally(() => ended = true);
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    if (ended) {
      const last = await probe();
      if (last !== undefined) return last;
      throw new Error(`the deployment ended before ${what}`);
    }
    await sleep(opts.intervalMs ?? 10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Resolves as soon as an entry whose name starts with `prefix` is created in `dir` (inotify through
 * `Deno.watchFs`, so that short windows such as a file being written are not missed). Fails when `running`
 * ends first or after `deadlineMs`.
 */
export async function watchForName(
  dir: string,
  prefix: string,
  opts: { running?: Promise<unknown>; deadlineMs?: number } = {},
): Promise<string> {
  const watcher = Deno.watchFs(dir, { recursive: false });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${prefix}* in ${dir}`)),
      opts.deadlineMs ?? 120_000,
    );
    opts.running?.then(() => reject(new Error(`the deployment ended before ${prefix}* appeared in ${dir}`)));
  });
  stop.catch(() => {});
  const seen = (async () => {
    for await (const event of watcher) {
      for (const path of event.paths) {
        const name = path.split("/").at(-1)!;
        if (event.kind === "create" && name.startsWith(prefix)) return name;
      }
    }
    throw new Error("watcher closed");
  })();
  try {
    return await Promise.race([seen, stop]);
  } finally {
    clearTimeout(timer);
    watcher.close();
    seen.catch(() => {});
  }
}

/** The text of `path`, or undefined when it is missing or empty. */
export async function readIfThere(path: string): Promise<string | undefined> {
  try {
    const text = await Deno.readTextFile(path);
    return text ? text : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------ processes

/** A process as seen in /proc. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  uid: number;
  cmdline: string[];
}

/** All processes (best effort: processes may vanish while reading). */
export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z") continue;
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0").filter((s) => s !== "");
      out.push({ pid: Number(entry.name), ppid: Number(rest[1]), uid, cmdline });
    } catch { /* gone */ }
  }
  return out;
}

/** uid of a local account. */
export async function uidOf(user: string): Promise<number> {
  const out = await new Deno.Command("id", { args: ["-u", user], stdout: "piped", stderr: "null" }).output();
  if (!out.success) throw new Error(`no such user ${user}`);
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** The batou agents running as `uid` (the agent process itself, not the shell or sudo around it). */
export function agentPids(uid: number): number[] {
  return processes().filter((p) =>
    p.uid === uid && p.cmdline.length > 1 && p.cmdline.at(-1) === "agent" &&
    /\/(deno-|batou-)[^/]*$/.test(p.cmdline[0])
  ).map((p) => p.pid);
}

/** The sshd processes serving connections of `user` (`sshd: user@notty`, `sshd-session: user@notty`). */
export function sshdSessionPids(user: string): number[] {
  return processes().filter((p) =>
    p.cmdline.length === 1 && new RegExp(`^sshd(-session)?: ${user}(@| )`).test(p.cmdline[0])
  )
    .map((p) => p.pid);
}

/** Sends `signal` to each pid, ignoring processes that are already gone. */
export function killAll(pids: number[], signal: Deno.Signal = "SIGKILL"): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch { /* gone */ }
  }
}

/** Whether a process is alive (not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Kills every process of `uid` (test accounts only): orphaned commands of killed agents. */
export function killUserProcesses(uid: number): void {
  if (uid < 1000) throw new Error(`refusing to kill processes of system uid ${uid}`);
  killAll(processes().filter((p) => p.uid === uid).map((p) => p.pid));
}

// ------------------------------------------------------------------------------------------------ poller

/** SHA-256 (hex) of bytes. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** What a poller saw for one file: content hash (or "missing") -> number of reads. */
export type Observations = Record<string, Record<string, number>>;

const POLLER_SCRIPT = `
import { createHash } from "node:crypto";
const files = Deno.args;
const seen = {};
for (const f of files) seen[f] = {};
let stop = false;
(async () => { for await (const _ of Deno.stdin.readable) { /* until EOF */ } stop = true; })();
let rounds = 0;
while (!stop) {
  for (const f of files) {
    let key;
    try { key = createHash("sha256").update(Deno.readFileSync(f)).digest("hex"); }
    catch (e) { key = e instanceof Deno.errors.NotFound ? "missing" : "error:" + e.name; }
    seen[f][key] = (seen[f][key] ?? 0) + 1;
  }
  rounds++;
  await new Promise((r) => setTimeout(r, 1));
}
console.log(JSON.stringify({ rounds, seen }));
`;

/** A separate process reading `files` in a loop; {@linkcode stop} returns what it saw. */
export class Poller {
  #child: Deno.ChildProcess;
  #out: Promise<Deno.CommandOutput>;

  constructor(readonly files: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", POLLER_SCRIPT, ...files],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#out = this.#child.output();
  }

  /** Stops the poller; returns its rounds and observations. */
  async stop(): Promise<{ rounds: number; seen: Observations }> {
    await this.#child.stdin.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    const out = await this.#out;
    clearTimeout(timer);
    return JSON.parse(new TextDecoder().decode(out.stdout));
  }
}

/**
 * Checks that every content seen of each file is one of the `allowed` full contents (hash), or "missing" where
 * that is allowed; returns a description of each violation.
 */
export function unexpectedContents(
  seen: Observations,
  allowed: Record<string, { contents: (string | Uint8Array)[]; missingOk: boolean }>,
): string[] {
  const problems: string[] = [];
  for (const [file, rule] of Object.entries(allowed)) {
    const ok = new Set(rule.contents.map((c) => sha256(c)));
    if (rule.missingOk) ok.add("missing");
    for (const [key, count] of Object.entries(seen[file] ?? {})) {
      if (!ok.has(key)) problems.push(`${file}: saw content ${key} (${count} reads), neither the old nor the new one`);
    }
  }
  return problems;
}

// ------------------------------------------------------------------------------------------------ projects

/** A deployment project whose environment `prod` deploys to hosts of an sshd fixture. */
export interface FaultProject {
  dir: string;
  /** `target_directory` below each account's home (relative name). */
  target: string;
  fixture: SshdFixture;
  /** Home directory of a host's account. */
  home(host: string): string;
  /** The deployment directory of a host. */
  base(host: string): string;
  /** Rewrites `environments/prod/environment.cfg` (its `[environment]` header with target_directory is kept). */
  setConfig(cfg: string): Promise<void>;
  deploy(args?: string[], env?: Record<string, string>): Promise<RunResult>;
  spawnDeploy(args?: string[], env?: Record<string, string>): RunningDeploy;
  cleanup(): Promise<void>;
}

/** Options of {@linkcode faultProject}. */
export interface ProjectOptions {
  /** Files of the project (relative path -> content). */
  files: Record<string, string>;
  /** environment.cfg after the `[environment]` line with `target_directory` (may add more keys first). */
  cfg: string;
  /** Absolute target directory instead of `~/<random>`. */
  targetDirectory?: string;
  /** Appended to the fixture's ssh_config. */
  extraSsh?: string;
}

/** Creates a project with the fixture's ssh_config; `cleanup()` removes it and the deployments. */
export async function faultProject(fixture: SshdFixture, opts: ProjectOptions): Promise<FaultProject> {
  const dir = await Deno.makeTempDir({ prefix: "batou-fault-" });
  const target = `fault-${crypto.randomUUID().slice(0, 8)}`;
  const targetDirectory = opts.targetDirectory ?? `~/${target}`;
  const cfgPath = join(dir, "environments/prod/environment.cfg");
  const header = `[environment]\ntarget_directory = ${targetDirectory}\n`;
  await writeFiles(dir, {
    ...opts.files,
    "ssh_config": (await Deno.readTextFile(fixture.sshConfig)) + (opts.extraSsh ?? ""),
    "environments/prod/environment.cfg": header + opts.cfg,
  });
  const homes = new Map(fixture.hosts.map((h) => [h.name, h.home]));
  const home = (host: string) => homes.get(host) ?? `/home/${host}`;
  const base = (host: string) => opts.targetDirectory ?? join(home(host), target);
  return {
    dir,
    target,
    fixture,
    home,
    base,
    setConfig: (cfg) => Deno.writeTextFile(cfgPath, header + cfg),
    deploy: (args = [], env = {}) => runBatou(dir, ["deploy", ...args, "prod"], env),
    spawnDeploy: (args = [], env = {}) => spawnBatou(dir, ["deploy", ...args, "prod"], env),
    async cleanup() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (!opts.targetDirectory) {
        for (const h of homes.values()) await Deno.remove(join(h, target), { recursive: true }).catch(() => {});
      }
    },
  };
}

/** Options of {@linkcode withSshd}. */
export interface FixtureOptions {
  /** Host names (accounts `<prefix>-<host>`). */
  hosts: string[];
  /** Account prefix: one per test file, so that parallel test files never share an account (or its agent cache). */
  prefix: string;
  sudoers?: string[];
  extraUsers?: string[];
}

/** Starts a private sshd for the hosts, runs `body`, stops sshd (also on failure). */
export async function withSshd(opts: FixtureOptions, body: (fixture: SshdFixture) => Promise<void>): Promise<void> {
  await requireTools("ssh", "sshd", "sudo");
  const fixture = await startSshd({
    hosts: opts.hosts,
    userPrefix: opts.prefix,
    sudoers: opts.sudoers,
    extraUsers: opts.extraUsers,
  });
  try {
    await body(fixture);
  } finally {
    await fixture.stop();
  }
}

/** A directory every test account may write to (markers of slow components); remove it in `finally`. */
export async function sharedDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "batou-fault-shared-" });
  await Deno.chmod(dir, 0o1777);
  return dir;
}

/** Names in `dir` (recursively, relative) that look like temporary files of batou's writers. */
export async function tempLeftovers(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (rel: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(rel ? join(dir, rel) : dir));
    } catch {
      return;
    }
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (/\.batou-tmp-|^\.batou-sync-tmp-|^\.batou-remove-|^\.upload-/.test(e.name)) found.push(path);
      if (e.isDirectory) await walk(path);
    }
  };
  await walk("");
  return found.sort();
}
