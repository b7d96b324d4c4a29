/**
 * The contestants of the W1 benchmark: this batou, Ansible (an ordinary playbook) and the two physical floors
 * (parallel `ssh true` over new connections; rsync of a pre-rendered tree). Each one deploys W1 onto the hosts of
 * a series and reports its wall-clock time, measured from process start to exit, as a user would see it.
 *
 * @module
 */
import { join } from "node:path";
import type { SshdFixture, TestHost } from "../tests/support/sshd.ts";
import {
  checkTree,
  DEFAULT_GREETING,
  renderW1,
  setBatouGreeting,
  writeAnsibleProject,
  writeBatouProject,
  writeRenderedTree,
} from "./w1.ts";

/** The repository root. */
export const REPO: string = join(import.meta.dirname!, "..");

/** The benchmark cases: first deploy onto clean hosts, no-op re-deploy, one-change re-deploy. */
export type CaseId = "first" | "noop" | "change";

/** The outcome of one timed run. */
export interface RunResult {
  /** Wall-clock milliseconds. */
  ms: number;
  ok: boolean;
  /** What went wrong (ok false) or looked wrong (a check after the run). */
  problems: string[];
  /** Tool-specific figures (bytes, changes, agent memory). */
  figures: Record<string, number>;
}

/** What a tool works with during one series (one host count). */
export interface SeriesContext {
  fixture: SshdFixture;
  hosts: TestHost[];
  /** A private scratch directory of the series. */
  scratch: string;
}

/** One contestant. */
export interface Tool {
  id: string;
  label: string;
  /** Slow tools get fewer repetitions. */
  slow: boolean;
  /** Writes the tool's project for the series. */
  prepare(ctx: SeriesContext): Promise<void>;
  /** Removes everything the tool left on the hosts (and its caches there). */
  clean(ctx: SeriesContext): Promise<void>;
  /** Brings the hosts into the deployed state without being measured (before no-op series). */
  setup(ctx: SeriesContext): Promise<void>;
  /** One timed run of a case. */
  run(ctx: SeriesContext, kind: CaseId): Promise<RunResult>;
}

interface Exec {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const started = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  const dec = new TextDecoder();
  return { ms, code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) } satisfies Exec;
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function rmrf(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch(() => {});
}

/** Runs `fn` for every host at once and waits for all. */
async function everyHost<T>(hosts: TestHost[], fn: (h: TestHost) => Promise<T>): Promise<T[]> {
  return await Promise.all(hosts.map(fn));
}

/** Copies a tree as root and gives it to `user` (seeding a host's deployed state without a tool run). */
async function seedTree(from: string, to: string, user: string): Promise<void> {
  await rmrf(to);
  const cp = await exec("cp", ["-a", from, to]);
  if (cp.code !== 0) throw new Error(`cp failed: ${cp.stderr}`);
  const chown = await exec("chown", ["-R", `${user}:${user}`, to]);
  if (chown.code !== 0) throw new Error(`chown failed: ${chown.stderr}`);
}

// ---------------------------------------------------------------------------------------------- floors

/** Runs `fn` for every host, at most `limit` at a time, and waits for all. */
async function boundedHosts<T>(hosts: TestHost[], limit: number, fn: (h: TestHost) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const i = next++;
      results[i] = await fn(hosts[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, hosts.length) }, worker));
  return results;
}

/**
 * Floor: `ssh host true` to every host in parallel over new connections (no multiplexing). With `limit`, at most
 * that many at a time (`ssh10`): batou opens at most 10 ssh connections at once (sshd's default `MaxStartups
 * 10:30:100` drops connections beyond 10 unauthenticated ones; the benchmark's sshd allows 100), so above 10 hosts
 * this is the floor measured the way batou connects.
 */
export function sshFloor(limit?: number): Tool {
  return {
    id: limit ? `ssh${limit}` : "ssh",
    label: limit ? `floor: ssh true, ${limit} at a time` : "floor: parallel ssh true",
    slow: false,
    prepare: () => Promise.resolve(),
    clean: () => Promise.resolve(),
    setup: () => Promise.resolve(),
    async run(ctx) {
      const started = performance.now();
      const results = await boundedHosts(ctx.hosts, limit ?? ctx.hosts.length, (h) =>
        exec("ssh", [
          "-F",
          ctx.fixture.sshConfig,
          "-o",
          "ControlMaster=no",
          "-o",
          "ControlPath=none",
          h.name,
          "true",
        ]));
      const ms = performance.now() - started;
      const failed = results.filter((r) => r.code !== 0);
      return {
        ms,
        ok: failed.length === 0,
        problems: failed.map((r) => tail(r.stderr)),
        figures: {},
      };
    },
  };
}

/** Floor: rsync of a pre-rendered W1 tree to every host in parallel (`rsync -a --delete` over ssh). */
export function rsyncFloor(): Tool {
  let greeting = DEFAULT_GREETING;
  const base = (h: TestHost) => join(h.home, "w1-rsync");
  const local = (ctx: SeriesContext, h: TestHost) => join(ctx.scratch, "rsync", h.name);
  const push = async (ctx: SeriesContext): Promise<RunResult> => {
    const started = performance.now();
    const results = await everyHost(ctx.hosts, (h) =>
      exec("rsync", [
        "-a",
        "--delete",
        "-e",
        `ssh -F ${ctx.fixture.sshConfig} -o ControlMaster=no -o ControlPath=none`,
        `${local(ctx, h)}/`,
        `${h.name}:w1-rsync/`,
      ]));
    const ms = performance.now() - started;
    const failed = results.filter((r) => r.code !== 0);
    return { ms, ok: failed.length === 0, problems: failed.map((r) => tail(r.stderr)), figures: {} };
  };
  return {
    id: "rsync",
    label: "floor: rsync pre-rendered",
    slow: false,
    async prepare(ctx) {
      greeting = DEFAULT_GREETING;
      for (const h of ctx.hosts) await writeRenderedTree(local(ctx, h), h.name, greeting, base(h));
    },
    async clean(ctx) {
      await everyHost(ctx.hosts, (h) => rmrf(base(h)));
    },
    async setup(ctx) {
      const r = await push(ctx);
      if (!r.ok) throw new Error(`rsync setup failed: ${r.problems.join("\n")}`);
    },
    async run(ctx, kind) {
      if (kind === "change") {
        greeting = greeting === DEFAULT_GREETING ? "Hej" : DEFAULT_GREETING;
        // The pre-rendered tree changes in one file per host; rendering is not part of the floor.
        for (const h of ctx.hosts) {
          await Deno.writeTextFile(join(local(ctx, h), "d0/f000"), renderW1(h.name, "f000", greeting));
        }
      }
      const r = await push(ctx);
      if (r.ok && kind !== "noop") r.problems.push(...await checkTree(base(ctx.hosts[0]), ctx.hosts[0].name, greeting));
      return r;
    },
  };
}

// ---------------------------------------------------------------------------------------------- batou

/** GNU time, for the controller's peak RSS. */
const GNU_TIME = "/usr/bin/time";

let gnuTime: Promise<boolean> | null = null;

function hasGnuTime(): Promise<boolean> {
  gnuTime ??= Deno.stat(GNU_TIME).then((s) => s.isFile, () => false);
  return gnuTime;
}

/** Figures of the `📊 host: stats|sync: k=v ...` lines, summed over hosts (`*-max` keys: maximum). */
export function batouFigures(output: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const m of output.matchAll(/📊 (\S+): (stats|sync): (.*)/g)) {
    for (const kv of m[3].matchAll(/([\w-]+)=(\d+)/g)) {
      const key = `${m[2]}-${kv[1]}`;
      const value = Number(kv[2]);
      if (/rss|hwm/i.test(kv[1])) sums[`${key}-max`] = Math.max(sums[`${key}-max`] ?? 0, value);
      else sums[key] = (sums[key] ?? 0) + value;
    }
  }
  sums.changes = output.split("\n").filter((l) => l.startsWith("🚀")).length;
  return sums;
}

/** This batou: `deno run -A main.ts deploy bench` in a generated project with the fixture's ssh_config. */
export function batouTool(): Tool {
  let greeting = DEFAULT_GREETING;
  const target = "~/bench-batou";
  const base = (h: TestHost) => join(h.home, "bench-batou", "work", "w1");
  const project = (ctx: SeriesContext) => join(ctx.scratch, "batou");
  const deploy = async (ctx: SeriesContext): Promise<RunResult> => {
    const dir = project(ctx);
    const command = [Deno.execPath(), "run", "-A", "--quiet", join(REPO, "main.ts"), "deploy", "bench"];
    // The controller's peak RSS (ru_maxrss) through GNU time, when it is installed (Debian's `time`).
    const rssFile = join(ctx.scratch, "controller-rss");
    const timed = await hasGnuTime();
    const r = await exec(timed ? GNU_TIME : command[0], [
      ...(timed ? ["-o", rssFile, "-f", "%M"] : []),
      ...command.slice(timed ? 0 : 1),
    ], {
      cwd: dir,
      env: { INIT_CWD: dir, NO_COLOR: "1", BATOU_STATS: "1" },
    });
    const output = r.stdout + r.stderr;
    const figures = batouFigures(output);
    if (timed) {
      const kb = Number((await Deno.readTextFile(rssFile).catch(() => "")).trim().split("\n").at(-1));
      if (kb > 0) figures["controller-rss-kb"] = kb;
    }
    return {
      ms: r.ms,
      ok: r.code === 0,
      problems: r.code === 0 ? [] : [tail(output, 30)],
      figures,
    };
  };
  return {
    id: "batou",
    label: "batou (this)",
    slow: false,
    async prepare(ctx) {
      greeting = DEFAULT_GREETING;
      await writeBatouProject(project(ctx), {
        hosts: ctx.hosts.map((h) => h.name),
        sshConfig: ctx.fixture.sshConfig,
        greeting,
        targetDirectory: target,
      });
    },
    async clean(ctx) {
      await everyHost(ctx.hosts, async (h) => {
        await rmrf(join(h.home, "bench-batou"));
        await rmrf(join(h.home, ".cache", "batou"));
      });
    },
    async setup(ctx) {
      const r = await deploy(ctx);
      if (!r.ok) throw new Error(`batou setup failed:\n${r.problems.join("\n")}`);
    },
    async run(ctx, kind) {
      if (kind === "change") {
        greeting = greeting === DEFAULT_GREETING ? "Hej" : DEFAULT_GREETING;
        await setBatouGreeting(project(ctx), ctx.hosts.map((h) => h.name), greeting, target);
      }
      const r = await deploy(ctx);
      if (!r.ok) return r;
      if (kind === "noop" && r.figures.changes !== 0) r.problems.push(`no-op run changed ${r.figures.changes}`);
      if (kind === "change" && r.figures.changes === 0) r.problems.push(`one-change run changed nothing`);
      if (kind !== "noop") r.problems.push(...await checkTree(base(ctx.hosts[0]), ctx.hosts[0].name, greeting));
      return r;
    },
  };
}

// ---------------------------------------------------------------------------------------------- Ansible

/** `changed=` of every host in Ansible's PLAY RECAP, summed. */
function ansibleChanged(output: string): number {
  let sum = 0;
  for (const m of output.matchAll(/^\S+\s+:\s+ok=\d+\s+changed=(\d+)/gm)) sum += Number(m[1]);
  return sum;
}

/** Ansible (Debian's `ansible`): an ordinary playbook with the template and file modules, pipelining on. */
export function ansibleTool(): Tool {
  let greeting = DEFAULT_GREETING;
  const base = (h: TestHost) => join(h.home, "w1-ansible");
  const project = (ctx: SeriesContext) => join(ctx.scratch, "ansible");
  const play = async (ctx: SeriesContext): Promise<RunResult> => {
    const dir = project(ctx);
    // A fresh ControlPath directory per run: no run profits from the previous run's master connections.
    const cp = await Deno.makeTempDir({ dir: ctx.scratch, prefix: "ansible-cp-" });
    try {
      const r = await exec("ansible-playbook", ["-e", `greeting=${greeting}`, "w1.yml"], {
        cwd: dir,
        env: {
          ANSIBLE_CONFIG: join(dir, "ansible.cfg"),
          ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
          ANSIBLE_NOCOLOR: "1",
          ANSIBLE_FORCE_COLOR: "0",
        },
      });
      const output = r.stdout + r.stderr;
      return {
        ms: r.ms,
        ok: r.code === 0,
        problems: r.code === 0 ? [] : [tail(output, 30)],
        figures: { changes: ansibleChanged(output) },
      };
    } finally {
      // Close the ControlPersist masters the run left behind.
      for await (const e of Deno.readDir(cp)) {
        await exec("ssh", ["-o", `ControlPath=${join(cp, e.name)}`, "-O", "exit", "x"]).catch(() => {});
      }
      await rmrf(cp);
    }
  };
  return {
    id: "ansible",
    label: "Ansible (ordinary playbook)",
    slow: true,
    async prepare(ctx) {
      greeting = DEFAULT_GREETING;
      await writeAnsibleProject(project(ctx), {
        hosts: ctx.hosts.map((h) => ({ name: h.name, base: base(h) })),
        sshConfig: ctx.fixture.sshConfig,
      });
    },
    async clean(ctx) {
      await everyHost(ctx.hosts, async (h) => {
        await rmrf(base(h));
        await rmrf(join(h.home, ".ansible"));
      });
    },
    async setup(ctx) {
      // Seeded with the tree Ansible would produce: an Ansible first deploy at H=8 alone takes minutes.
      // The first measured no-op run proves the seed right (it must report changed=0).
      for (const h of ctx.hosts) {
        const tree = join(ctx.scratch, "seed", h.name);
        await writeRenderedTree(tree, h.name, greeting, base(h));
        await seedTree(tree, base(h), h.user);
      }
    },
    async run(ctx, kind) {
      if (kind === "change") greeting = greeting === DEFAULT_GREETING ? "Hej" : DEFAULT_GREETING;
      const r = await play(ctx);
      if (!r.ok) return r;
      if (kind === "noop" && r.figures.changes !== 0) r.problems.push(`no-op run changed ${r.figures.changes}`);
      if (kind === "change" && r.figures.changes !== ctx.hosts.length) {
        r.problems.push(`one-change run changed ${r.figures.changes} (expected ${ctx.hosts.length})`);
      }
      if (kind !== "noop") r.problems.push(...await checkTree(base(ctx.hosts[0]), ctx.hosts[0].name, greeting));
      return r;
    },
  };
}
