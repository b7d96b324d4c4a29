/**
 * The W1 benchmark's parts: the template renders the same bytes through batou's template engine as the TypeScript
 * reference, the Ansible playbook covers the workload, the report and chart are produced from results, the agent
 * reports its memory, and W1 deploys over ssh with the figures the benchmark reads (a real sshd, one host).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { expand } from "../core/model/template.ts";
import { agentStats } from "../remote/agent/agent.ts";
import { ansiblePlaybook, BATOU_TEMPLATE, checkTree, renderW1, w1Files, writeRenderedTree } from "../bench/w1.ts";
import { markdown, median, type Results, type Sample, svgChart } from "../bench/report.ts";
import { batouFigures, batouTool, type SeriesContext } from "../bench/tools.ts";
import { requireTools, startSshd } from "./support/sshd.ts";

Deno.test("W1 template: batou's engine renders the reference bytes; only f000 uses the greeting", () => {
  for (const name of ["f000", "f001", "f055"]) {
    const ctx = { host: { name: "h1" }, args: { name }, component: { greeting: "Hej" } };
    assertEquals(expand(BATOU_TEMPLATE, ctx), renderW1("h1", name, "Hej"));
  }
  assertStringIncludes(renderW1("h1", "f000", "Hej"), "greeting = Hej\n");
  assertEquals(renderW1("h1", "f001", "Hej"), renderW1("h1", "f001", "Hello"));
  const size = renderW1("h8", "f099", "Hello").length;
  assert(size > 900 && size < 1200, `about 1 KiB, got ${size}`);
});

Deno.test("W1 files: 100 in 10 directories, every fifth 0600; the playbook lists them all", () => {
  const files = w1Files();
  assertEquals(files.length, 100);
  assertEquals(new Set(files.map((f) => f.path.split("/")[0])).size, 10);
  assertEquals(files.filter((f) => f.mode === 0o600).map((f) => f.name).slice(0, 3), ["f000", "f005", "f010"]);
  const play = ansiblePlaybook();
  assertEquals(play.match(/- \{ name: f\d{3}, dir: d\d/g)?.length, 100);
  assertEquals(play.match(/mode: "0600"/g)?.length, 20);
  assertStringIncludes(play, "ansible.builtin.template:");
});

Deno.test("W1 rendered tree passes checkTree; a changed file and a wrong mode are found", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-bench-tree-" });
  try {
    await writeRenderedTree(dir, "h2", "Hello", dir);
    assertEquals(await checkTree(dir, "h2", "Hello"), []);
    await Deno.writeTextFile(join(dir, "d3/f031"), "x");
    await Deno.chmod(join(dir, "d1/f010"), 0o644);
    const problems = await checkTree(dir, "h2", "Hello");
    assertEquals(problems.length, 2, problems.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench report: medians, the Markdown table and an SVG bar per tool and group", () => {
  assertEquals(median([3, 1, 2]), 2);
  assertEquals(median([4, 1, 2, 3]), 2.5);
  const sample = (tool: string, c: Sample["case"], hosts: number, ms: number): Sample => ({
    tool,
    case: c,
    hosts,
    rep: 0,
    ms,
    ok: true,
    problems: [],
    figures: tool === "batou" ? { "stats-agent-upload": 0, "sync-bytes": 0, "stats-agent-rss-peak-kb-max": 90000 } : {},
  });
  const r: Results = {
    workload: "W1",
    started: "s",
    finished: "f",
    machine: { cpu: "cpu", cores: 2, memoryMiB: 1024 },
    versions: { deno: "2" },
    reps: 2,
    slowReps: 1,
    tools: [{ id: "batou", label: "batou (this)", slow: false }, { id: "ssh", label: "floor ssh", slow: false }],
    load: [{ what: "H=4", before: "load 1", after: "load 2" }],
    samples: [
      sample("batou", "noop", 4, 1000),
      sample("batou", "noop", 4, 1400),
      sample("ssh", "noop", 4, 500),
      sample("ssh", "noop", 4, 700),
    ],
    startup: [{ id: "version", label: "version", ms: [100, 120, 110] }],
    notes: [],
  };
  const md = markdown(r, "W1.svg");
  assertStringIncludes(
    md,
    "| (b) no-op re-deploy | 4 | **1.20** (1.00–1.40, n=2) | **0.60** (0.50–0.70, n=2) | 2.00x |",
  );
  assertMatch(md, /no-op H=4 vs floor `ssh true` H=4 \| 2\.00x .*\| met \|/);
  assertMatch(md, /agent peak RSS .* 88 MiB .* met/);
  const svg = svgChart(r);
  assertEquals(svg.match(/<rect x="\d+(\.\d+)?" y="[\d.]+" width="18"/g)?.length, 2);
  assertStringIncludes(svg, "<title>batou (this): 1.20 s (1.00–1.40)</title>");
});

Deno.test("agentStats reports the process's peak and current resident memory", async () => {
  const s = await agentStats();
  assert(s.rssPeakKiB !== null && s.rssPeakKiB > 1000, JSON.stringify(s));
  assert(s.rssKiB !== null && s.rssKiB <= s.rssPeakKiB, JSON.stringify(s));
});

Deno.test("W1 over ssh (one host): deploys the tree, reports agent memory; a re-deploy changes and ships nothing", async () => {
  await requireTools("ssh", "sshd");
  const fixture = await startSshd({ hosts: ["w1a"], userPrefix: "batoubenchtest" });
  const scratch = await Deno.makeTempDir({ prefix: "batou-bench-test-" });
  const ctx: SeriesContext = { fixture, hosts: fixture.hosts, scratch };
  const tool = batouTool();
  try {
    await tool.prepare(ctx);
    await tool.clean(ctx);
    const first = await tool.run(ctx, "first");
    assert(first.ok, first.problems.join("\n"));
    assertEquals(first.problems, []);
    assert(first.figures["stats-agent-upload"] > 0);
    assert(first.figures["stats-agent-rss-peak-kb-max"] > 1000, JSON.stringify(first.figures));
    const noop = await tool.run(ctx, "noop");
    assertEquals(noop.problems, []);
    // The deno executable is never shipped again (the bundle may be, when the working tree changed meanwhile).
    assert(noop.figures["stats-agent-upload"] < first.figures["stats-agent-upload"] / 10, JSON.stringify(noop));
    assertEquals(noop.figures["sync-bytes"], 0);
    assertEquals(noop.figures.changes, 0);
    const change = await tool.run(ctx, "change");
    assertEquals(change.problems, []);
    assert(change.figures.changes > 0);
    assertEquals(batouFigures("📊 a: stats: sent=5 agent-rss-peak-kb=7\n📊 b: stats: sent=6 agent-rss-peak-kb=9\n"), {
      "stats-sent": 11,
      "stats-agent-rss-peak-kb-max": 9,
      changes: 0,
    });
  } finally {
    await tool.clean(ctx).catch(() => {});
    await fixture.stop();
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
});

Deno.test("bench report, many hosts: both ssh floors, controller RSS per host and its growth, bytes per host", () => {
  const sample = (tool: string, c: Sample["case"], hosts: number, ms: number, figures = {}): Sample => ({
    tool,
    case: c,
    hosts,
    rep: 0,
    ms,
    ok: true,
    problems: [],
    figures,
  });
  const batou = (c: Sample["case"], hosts: number, ms: number, rssKb: number, sent: number) =>
    sample("batou", c, hosts, ms, { "controller-rss-kb": rssKb, "stats-sent": sent, "stats-agent-upload": sent });
  const r: Results = {
    workload: "W1",
    started: "s",
    finished: "f",
    machine: { cpu: "cpu", cores: 2, memoryMiB: 1024 },
    versions: { deno: "2" },
    reps: 1,
    slowReps: 1,
    tools: [
      { id: "batou", label: "batou (this)", slow: false },
      { id: "ssh", label: "floor ssh", slow: false },
      { id: "ssh10", label: "floor ssh 10", slow: false },
    ],
    load: [],
    samples: [
      batou("noop", 16, 3000, 102400, 16e6),
      sample("ssh", "noop", 16, 2000),
      sample("ssh10", "noop", 16, 1500),
      batou("noop", 32, 6000, 135168, 64e3),
      sample("ssh", "noop", 32, 4000),
      sample("ssh10", "noop", 32, 3000),
    ],
    startup: [],
    notes: [],
  };
  const md = markdown(r, "W1.svg");
  assertStringIncludes(
    md,
    "| (b) no-op re-deploy | 16 | 3.00 | 1.50x | 2.00x | 100.0 MiB | 6.3 MiB | 1.00 MB | 1.00 MB |",
  );
  assertStringIncludes(
    md,
    "| (b) no-op re-deploy | 32 | 6.00 | 1.50x | 2.00x | 132.0 MiB | 4.1 MiB | 2.0 kB | 2.0 kB |",
  );
  assertStringIncludes(md, "(b) no-op re-deploy: 2.00 MiB per extra host (H=16 -> 32)");
});
