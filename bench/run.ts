/**
 * `deno task bench`: the W1 benchmark (see bench/README.md). Sets up the hosts (a private sshd with one Unix
 * account per host, tests/support/sshd.ts), runs W1 with this batou, Ansible and the physical floors, alternating
 * tools within each repetition, and writes `bench/results/W1.{md,svg,json}`. Needs root.
 *
 * usage: deno task bench [--workload W1|W2] [--reps N] [--slow-reps N] [--hosts 1,4,8] [--sizes 500,2000,8000]
 *                        [--tools batou,ansible,rsync,ssh] [--cases first,noop,change] [--full]
 *                        [--startup-reps N] [--out DIR] [--user-prefix P]
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startSshd } from "../tests/support/sshd.ts";
import { VERSION } from "../core/runtime/version.ts";
import { agentPayload, gzipped } from "../remote/transport/payload.ts";
import { makeXzCopy } from "../remote/transport/codec.ts";
import { output } from "../core/model/output.ts";
import {
  ansibleTool,
  batouTool,
  type CaseId,
  REPO,
  rsyncFloor,
  type RunResult,
  type SeriesContext,
  sshFloor,
  type Tool,
} from "./tools.ts";
import { markdown, markdownW2, type Results, svgChart } from "./report.ts";
import { setShape } from "./w1.ts";
import { measureStartup } from "./startup.ts";

/** Not copied into the snapshot the benchmark runs from. */
const SNAPSHOT_EXCLUDES = [".git", "dist", "work", "node_modules", "bench/results", "tests/corpus"];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    workload: { type: "string", default: "W1" },
    reps: { type: "string", default: "5" },
    "slow-reps": { type: "string", default: "1" },
    hosts: { type: "string" },
    sizes: { type: "string", default: "500,2000,8000" },
    tools: { type: "string" },
    cases: { type: "string", default: "first,noop,change" },
    full: { type: "boolean", default: false },
    "startup-reps": { type: "string", default: "5" },
    out: { type: "string", default: join(REPO, "bench", "results") },
    "user-prefix": { type: "string", default: "batoubench" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "usage: deno task bench [--workload W1|W2] [--reps N] [--slow-reps N] [--hosts 1,4,8] [--sizes 500,2000,8000]\n" +
      "                       [--tools batou,ansible,rsync,ssh] [--cases first,noop,change] [--full]\n" +
      "                       [--startup-reps N] [--out DIR] [--user-prefix P]\n\n" +
      "W1: without --full, the first deploy and the one-change re-deploy run at H=4 only (as in the issue's table).\n" +
      "W2: every case at H=1 with each of --sizes files, and at each of --hosts (default 8) with 2,000 files.",
  );
  Deno.exit(0);
}

/** The commit of the working tree, `-dirty` when it has uncommitted changes. */
async function gitDescribe(): Promise<string> {
  const out = await new Deno.Command("git", { args: ["-C", REPO, "describe", "--always", "--dirty"], stdout: "piped" })
    .output().catch(() => null);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : "unknown";
}

// Run from a snapshot of the working tree: edits made to the repository while the benchmark runs (other people
// work in the same tree) must not change the program under test, nor make it rebuild and re-ship its agent.
if (!Deno.env.get("BATOU_BENCH_SNAPSHOT")) {
  const snapshot = await Deno.makeTempDir({ prefix: "batou-bench-src-" });
  try {
    const copy = await new Deno.Command("rsync", {
      args: ["-a", ...SNAPSHOT_EXCLUDES.flatMap((e) => ["--exclude", e]), `${REPO}/`, `${snapshot}/`],
    }).output();
    if (!copy.success) throw new Error(`cannot snapshot the repository: ${new TextDecoder().decode(copy.stderr)}`);
    const args = [...Deno.args.filter((a, i, all) => a !== "--out" && all[i - 1] !== "--out"), "--out", values.out];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(snapshot, "bench", "run.ts"), ...args],
      env: { BATOU_BENCH_SNAPSHOT: snapshot, BATOU_BENCH_COMMIT: await gitDescribe() },
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const status = await child.status;
    Deno.exitCode = status.code;
  } finally {
    await Deno.remove(snapshot, { recursive: true }).catch(() => {});
  }
  Deno.exit();
}

const workload = values.workload.toUpperCase();
if (workload !== "W1" && workload !== "W2") throw new Error(`unknown workload ${values.workload} (W1, W2)`);
const w2 = workload === "W2";
const reps = Number(values.reps);
const slowReps = Number(values["slow-reps"]);
const hostCounts = (values.hosts ?? (w2 ? "8" : "1,4,8")).split(",").filter((x) => x !== "").map(Number);
/** One series: `hosts` hosts with `files` files each. W1: 100 files; W2: the sizes at H=1, then 2,000 at --hosts. */
const series: { hosts: number; files: number }[] = w2
  ? [
    ...values.sizes.split(",").map((n) => ({ hosts: 1, files: Number(n) })),
    ...hostCounts.map((h) => ({ hosts: h, files: 2000 })),
  ]
  : hostCounts.map((h) => ({ hosts: h, files: 100 }));
const wantedCases = new Set(values.cases.split(",") as CaseId[]);
const allTools: Record<string, () => Tool> = {
  batou: batouTool,
  ansible: ansibleTool,
  rsync: rsyncFloor,
  ssh: () => sshFloor(),
  ssh10: () => sshFloor(10),
};
const tools = (values.tools ?? (w2 ? "batou,rsync,ssh" : "batou,ansible,rsync,ssh")).split(",").map((id) => {
  if (!allTools[id]) throw new Error(`unknown tool ${id} (batou, ansible, rsync, ssh, ssh10)`);
  return allTools[id]();
});

/** The cases measured at `hosts` hosts: the issue's matrix unless --full. */
function casesFor(hosts: number): CaseId[] {
  return (["first", "noop", "change"] as CaseId[]).filter((c) =>
    wantedCases.has(c) && (w2 || values.full || c === "noop" || hosts === 4)
  );
}

async function text(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return (dec.decode(out.stdout) + dec.decode(out.stderr)).trim().split("\n")[0];
  } catch {
    return "not installed";
  }
}

async function uptime(): Promise<string> {
  const line = await text("uptime", []);
  return line.replace(/^.*load average:\s*/, "load ");
}

function log(msg: string): void {
  console.error(`[bench] ${msg}`);
}

function rotate<T>(list: T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
const results: Results = {
  workload,
  started: new Date().toISOString(),
  finished: "",
  machine: {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryMiB: Math.round(Deno.systemMemoryInfo().total / 1024 / 1024),
  },
  versions: {
    batou: `${VERSION} (source mode: deno run main.ts), working tree ${Deno.env.get("BATOU_BENCH_COMMIT") ?? "?"}`,
    deno: Deno.version.deno,
    ansible: await text("ansible-playbook", ["--version"]),
    rsync: await text("rsync", ["--version"]),
    openssh: await text("ssh", ["-V"]),
  },
  reps,
  slowReps,
  tools: tools.map((t) => ({ id: t.id, label: t.label, slow: t.slow })),
  load: [],
  samples: [],
  startup: [],
  notes: [
    "Hosts are Unix users on one private sshd on 127.0.0.1; controller and hosts share the machine's 2 cores.",
    "batou runs from source (`deno run -A main.ts deploy bench`) with a warm controller cache (the agent bundle " +
    "and its gzip copy are built before the runs); its first deploy starts from hosts without `~/.cache/batou` " +
    "and without the target directory, so it uploads the agent (deno + bundle).",
    "Ansible: Debian's ansible-core, `gather_facts: false`, pipelining on, `forks` = max(5, H), default ssh_args " +
    "(ControlPersist) with a fresh ControlPath directory per run; one repetition by default (`--slow-reps`). " +
    "Before no-op series that are not preceded by a measured first deploy, Ansible's hosts are seeded with the " +
    "tree Ansible produces (cp -a); the no-op run then must and does report changed=0.",
    "Floors: `ssh -o ControlMaster=no h true` to all hosts at once; `rsync -a --delete` of a tree rendered in " +
    "advance to all hosts at once (rendering is not timed). The floors ignore the case: the ssh floor is the same " +
    "command in every case.",
  ],
};

const fixture = await startSshd({
  hosts: Array.from({ length: Math.max(...series.map((s) => s.hosts)) }, (_, i) => `h${i + 1}`),
  // Another prefix keeps the hosts of two benchmark runs at the same time (two worktrees) apart.
  userPrefix: values["user-prefix"],
});
const scratchRoot = await Deno.makeTempDir({ prefix: "batou-bench-" });
let lastBatouCtx: SeriesContext | null = null;
try {
  if (tools.some((t) => t.id === "batou")) {
    // Warm the controller's caches: deno's module cache for the snapshot, the agent bundle and its gzip copies
    // (built once per source version).
    await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "--quiet", join(REPO, "main.ts"), "--version"] })
      .output();
    const quiet = output.backend;
    output.backend = { line: () => {}, sep: () => {} };
    log("building the agent bundle (controller cache) ...");
    for (const a of (await agentPayload()).artifacts) {
      await gzipped(a);
      // The xz copies too (made in the background by a first deploy otherwise), unless xz is switched off.
      if (!["gzip", "none"].includes(Deno.env.get("BATOU_UPLOAD_CODEC") ?? "")) await makeXzCopy(a);
    }
    output.backend = quiet;
  }
  for (const { hosts: h, files } of series) {
    setShape(files, w2 ? 0 : 5);
    const scratch = join(scratchRoot, `H${h}-N${files}`);
    await Deno.mkdir(scratch, { recursive: true });
    const ctx: SeriesContext = { fixture, hosts: fixture.hosts.slice(0, h), scratch };
    const cases = casesFor(h);
    const before = await uptime();
    log(`series H=${h}${w2 ? ` N=${files}` : ""}: ${cases.join(", ")} (${before})`);
    for (const t of tools) await t.prepare(ctx);
    const record = (t: Tool, c: CaseId, rep: number, r: RunResult) => {
      results.samples.push({ tool: t.id, case: c, hosts: h, files, rep, ...r });
      const flag = r.ok ? (r.problems.length ? ` PROBLEMS: ${r.problems.join("; ").slice(0, 300)}` : "") : " FAILED";
      log(`${t.id} ${c} H=${h}${w2 ? ` N=${files}` : ""} rep ${rep + 1}: ${(r.ms / 1000).toFixed(2)} s${flag}`);
      if (!r.ok) log(r.problems.join("\n"));
    };
    const wanted = (t: Tool, rep: number) => rep < (t.slow ? slowReps : reps);
    if (cases.includes("first")) {
      for (let rep = 0; rep < reps; rep++) {
        for (const t of rotate(tools, rep)) {
          if (!wanted(t, rep)) continue;
          await t.clean(ctx);
          record(t, "first", rep, await t.run(ctx, "first"));
        }
      }
    } else {
      for (const t of tools) {
        await t.clean(ctx);
        await t.setup(ctx);
      }
    }
    for (const c of cases.filter((c) => c !== "first")) {
      for (let rep = 0; rep < reps; rep++) {
        for (const t of rotate(tools, rep)) {
          if (wanted(t, rep)) record(t, c, rep, await t.run(ctx, c));
        }
      }
    }
    results.load.push({
      what: `H=${h}${w2 ? ` N=${files}` : ""} (${cases.join(", ")})`,
      before,
      after: await uptime(),
    });
    if (tools.some((t) => t.id === "batou")) lastBatouCtx = ctx;
  }
  const startupReps = Number(values["startup-reps"]);
  if (lastBatouCtx && startupReps > 0 && !w2) {
    const before = await uptime();
    log(`start-up figures (${before}) ...`);
    results.startup = await measureStartup(startupReps, {
      project: join(lastBatouCtx.scratch, "batou"),
      host: lastBatouCtx.hosts[0].name,
      sshConfig: fixture.sshConfig,
    });
    results.load.push({ what: "start-up figures", before, after: await uptime() });
  }
} finally {
  // Leave nothing behind on the hosts (the agent cache alone is ~100 MB per host).
  const everyone: SeriesContext = { fixture, hosts: fixture.hosts, scratch: scratchRoot };
  for (const t of tools) await t.clean(everyone).catch(() => {});
  await fixture.stop();
  await Deno.remove(scratchRoot, { recursive: true }).catch(() => {});
}
results.finished = new Date().toISOString();

await Deno.mkdir(values.out, { recursive: true });
await Deno.writeTextFile(join(values.out, `${workload}.json`), JSON.stringify(results, null, 2) + "\n");
if (w2) await Deno.writeTextFile(join(values.out, "W2.md"), markdownW2(results));
else {
  await Deno.writeTextFile(join(values.out, "W1.svg"), svgChart(results));
  await Deno.writeTextFile(join(values.out, "W1.md"), markdown(results, "W1.svg"));
}
// In the repository's style (deno fmt also checks Markdown and JSON), so that copies can be committed as they are.
await new Deno.Command(Deno.execPath(), {
  args: ["fmt", "--quiet", join(values.out, `${workload}.md`), join(values.out, `${workload}.json`)],
  stdout: "null",
  stderr: "null",
}).output();
log(`wrote ${join(values.out, `${workload}.md`)}${w2 ? "" : ", W1.svg"}, ${workload}.json`);
