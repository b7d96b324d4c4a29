/**
 * The benchmark's results: the raw record, a Markdown table of medians with min-max, and an SVG chart of grouped
 * bars (medians, min-max whiskers, log scale) drawn here without any library.
 *
 * @module
 */
import type { CaseId } from "./tools.ts";

/** One timed run. */
export interface Sample {
  tool: string;
  case: CaseId;
  hosts: number;
  /** Files per host (W1: 100; W2: the series' N). */
  files?: number;
  rep: number;
  ms: number;
  ok: boolean;
  problems: string[];
  figures: Record<string, number>;
}

/** One measured start-up figure (milliseconds per repetition). */
export interface StartupFigure {
  id: string;
  label: string;
  ms: number[];
  note?: string;
}

/** The whole record of a benchmark run (`W1.json`). */
export interface Results {
  workload: "W1" | "W2";
  started: string;
  finished: string;
  machine: { cpu: string; cores: number; memoryMiB: number };
  versions: Record<string, string>;
  reps: number;
  slowReps: number;
  tools: { id: string; label: string; slow: boolean }[];
  /** `uptime` before and after each series. */
  load: { what: string; before: string; after: string }[];
  samples: Sample[];
  startup: StartupFigure[];
  notes: string[];
}

/** Median, minimum, maximum and count of successful runs. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** The median of `values` (mean of the middle two for even counts). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Summarizes milliseconds; null when there are none. */
export function summarize(ms: number[]): Summary | null {
  if (!ms.length) return null;
  return { median: median(ms), min: Math.min(...ms), max: Math.max(...ms), n: ms.length };
}

const CASE_LABEL: Record<CaseId, string> = {
  first: "(a) first deploy",
  noop: "(b) no-op re-deploy",
  change: "(c) one-change re-deploy",
};
const CASE_ORDER: CaseId[] = ["first", "noop", "change"];

/** The (case, hosts) groups present in the results, in table order. */
export function groups(r: Results): { case: CaseId; hosts: number }[] {
  const seen = new Map<string, { case: CaseId; hosts: number }>();
  for (const s of r.samples) seen.set(`${s.case}/${s.hosts}`, { case: s.case, hosts: s.hosts });
  return [...seen.values()].sort((a, b) =>
    CASE_ORDER.indexOf(a.case) - CASE_ORDER.indexOf(b.case) || a.hosts - b.hosts
  );
}

/** Summary of one tool in one group (successful runs only). */
export function cell(r: Results, tool: string, c: CaseId, hosts: number): Summary | null {
  return summarize(
    r.samples.filter((s) => s.tool === tool && s.case === c && s.hosts === hosts && s.ok).map((s) => s.ms),
  );
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2);
}

function fmtCell(x: Summary | null): string {
  if (!x) return "–";
  return `**${seconds(x.median)}** (${seconds(x.min)}–${seconds(x.max)}, n=${x.n})`;
}

function figureMedian(r: Results, tool: string, c: CaseId, hosts: number, key: string): number | null {
  const v = r.samples.filter((s) => s.tool === tool && s.case === c && s.hosts === hosts && s.ok)
    .map((s) => s.figures[key]).filter((x) => typeof x === "number");
  return v.length ? median(v) : null;
}

/** `30.90 MB`, or `2.0 kB` below a megabyte. */
function bytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

function mib(kb: number | null): string {
  return kb ? `${(kb / 1024).toFixed(1)} MiB` : "–";
}

/**
 * Issue 17, many hosts: per case and H, batou against both ssh floors (all at once; 10 at a time, as batou
 * connects), the controller's peak RSS (total, per host, and its growth per extra host between the smallest and
 * the largest H of a case) and the bytes written to each host's ssh stdin (everything; the agent upload alone).
 */
export function manyHosts(r: Results): string[] {
  const rows = groups(r).filter((g) => cell(r, "batou", g.case, g.hosts) && g.hosts >= 8);
  if (!rows.length) return [];
  const out = ["", "## Many hosts (issue 17): floors, controller memory, bytes per host (medians)", ""];
  out.push(
    "| case | H | batou | batou / ssh floor | batou / ssh floor 10 at a time | controller peak RSS | per host | " +
      "bytes to ssh per host | agent upload per host |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  const ratio = (b: Summary | null, f: Summary | null) => b && f ? `${(b.median / f.median).toFixed(2)}x` : "–";
  const growth: string[] = [];
  for (const g of rows) {
    const b = cell(r, "batou", g.case, g.hosts);
    const f = (k: string) => figureMedian(r, "batou", g.case, g.hosts, k);
    const rss = f("controller-rss-kb"), sent = f("stats-sent"), upload = f("stats-agent-upload");
    out.push(
      `| ${CASE_LABEL[g.case]} | ${g.hosts} | ${b ? seconds(b.median) : "–"} | ${
        ratio(b, cell(r, "ssh", g.case, g.hosts))
      } | ${ratio(b, cell(r, "ssh10", g.case, g.hosts))} | ${mib(rss)} | ${mib(rss ? rss / g.hosts : null)} | ${
        sent !== null ? bytes(sent / g.hosts) : "–"
      } | ${upload !== null ? bytes(upload / g.hosts) : "–"} |`,
    );
  }
  for (const c of new Set(rows.map((g) => g.case))) {
    const hs = rows.filter((g) => g.case === c).map((g) => g.hosts).sort((a, b) => a - b);
    const lo = figureMedian(r, "batou", c, hs[0], "controller-rss-kb");
    const hi = figureMedian(r, "batou", c, hs.at(-1)!, "controller-rss-kb");
    if (hs.length > 1 && lo && hi) {
      growth.push(
        `${CASE_LABEL[c]}: ${(((hi - lo) / (hs.at(-1)! - hs[0])) / 1024).toFixed(2)} MiB per extra host ` +
          `(H=${hs[0]} -> ${hs.at(-1)})`,
      );
    }
  }
  if (growth.length) out.push("", `Controller RSS growth: ${growth.join("; ")}.`);
  return out;
}

/** Reference medians from the issue (seconds), keyed `tool/case/hosts`. */
export const REFERENCE: Record<string, number> = {
  "ssh/noop/1": 0.24,
  "ssh/noop/4": 0.36,
  "ssh/noop/8": 0.57,
  "rsync/first/4": 0.41,
  "rsync/noop/1": 0.28,
  "rsync/noop/4": 0.39,
  "rsync/noop/8": 0.68,
  "rsync/change/4": 0.39,
  "batou2/first/4": 5.2,
  "batou2/noop/1": 1.3,
  "batou2/noop/4": 4.6,
  "batou2/noop/8": 14.3,
  "batou2/change/4": 4.6,
  "ansible/first/4": 89,
  "ansible/noop/1": 36,
  "ansible/noop/4": 88,
  "ansible/noop/8": 206,
  "ansible/change/4": 93,
  "ansible-tuned/first/4": 3.0,
  "ansible-tuned/noop/1": 1.9,
  "ansible-tuned/noop/4": 2.7,
  "ansible-tuned/noop/8": 5.1,
  "ansible-tuned/change/4": 2.6,
};

/** The issue's targets, checked against this run's figures. */
function targets(r: Results): string[] {
  const rows: string[] = [];
  const med = (tool: string, c: CaseId, h: number) => cell(r, tool, c, h)?.median ?? null;
  const ratio = (label: string, a: number | null, b: number | null, limit: number) => {
    if (a === null || b === null) return rows.push(`| ${label} | – | ≤ ${limit}x | not measured |`);
    const x = a / b;
    rows.push(
      `| ${label} | ${x.toFixed(2)}x (${seconds(a)} s / ${seconds(b)} s) | ≤ ${limit}x | ${
        x <= limit ? "met" : "missed"
      } |`,
    );
  };
  ratio("no-op H=4 vs floor `ssh true` H=4", med("batou", "noop", 4), med("ssh", "noop", 4), 2);
  ratio("no-op H=8 vs floor `ssh true` H=8", med("batou", "noop", 8), med("ssh", "noop", 8), 2.5);
  ratio("one-change H=4 vs floor `ssh true` H=4", med("batou", "change", 4), med("ssh", "change", 4), 2.5);
  ratio("one-change H=4 vs floor rsync one-change H=4", med("batou", "change", 4), med("rsync", "change", 4), 2.5);
  const first = med("batou", "first", 4);
  rows.push(
    `| first deploy H=4 vs 2 × batou 2.x (2 × 5.2 s) | ${first === null ? "–" : `${seconds(first)} s`} | < 10.4 s | ${
      first === null ? "not measured" : first < 10400 ? "met" : "missed"
    } |`,
  );
  const upload = figureMedian(r, "batou", "noop", 4, "stats-agent-upload");
  const content = figureMedian(r, "batou", "noop", 4, "sync-bytes");
  rows.push(
    `| no-op H=4: agent bytes / project content bytes sent | ${upload ?? "–"} / ${content ?? "–"} | 0 / 0 | ${
      upload === 0 && content === 0 ? "met" : upload === null ? "not measured" : "missed"
    } |`,
  );
  const rss = Math.max(
    ...r.samples.filter((s) => s.tool === "batou" && s.ok).map((s) => s.figures["stats-agent-rss-peak-kb-max"] ?? 0),
  );
  rows.push(
    `| agent peak RSS (VmHWM, any W1 run) | ${rss > 0 ? `${(rss / 1024).toFixed(0)} MiB` : "–"} | < 150 MB | ${
      rss <= 0 ? "not measured" : rss * 1024 < 150e6 ? "met" : "missed"
    } |`,
  );
  return rows;
}

/** The Markdown report. */
export function markdown(r: Results, chartFile: string): string {
  const out: string[] = [];
  const tools = r.tools;
  out.push("# W1 benchmark: batou vs. Ansible vs. the physical floor", "");
  out.push(
    `Run ${r.started} – ${r.finished} on ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryMiB} MiB. ` +
      `Wall-clock seconds from process start to exit: **median** (min–max, n = successful runs). ` +
      `${r.reps} repetitions (${r.slowReps} for slow tools: ${
        tools.filter((t) => t.slow).map((t) => t.label).join(", ") || "none"
      }), ` +
      `tools alternating within each repetition.`,
    "",
  );
  out.push(`![chart](${chartFile})`, "");
  out.push(`| case | H | ${tools.map((t) => t.label).join(" | ")} | batou / ssh floor |`);
  out.push(`|---|---:|${tools.map(() => "---:").join("|")}|---:|`);
  for (const g of groups(r)) {
    const cells = tools.map((t) => fmtCell(cell(r, t.id, g.case, g.hosts)));
    const b = cell(r, "batou", g.case, g.hosts), f = cell(r, "ssh", g.case, g.hosts);
    const ratio = b && f ? `${(b.median / f.median).toFixed(2)}x` : "–";
    out.push(`| ${CASE_LABEL[g.case]} | ${g.hosts} | ${cells.join(" | ")} | ${ratio} |`);
  }
  out.push("", "## Targets (ratios from this run)", "");
  out.push("| target | this run | goal | |", "|---|---|---|---|", ...targets(r));

  const batouGroups = groups(r).filter((g) => cell(r, "batou", g.case, g.hosts));
  if (batouGroups.length) {
    out.push("", "## batou's traffic and memory (medians over runs, summed over hosts)", "");
    out.push(
      "| case | H | agent upload bytes | project sync content bytes | files synced | RPC bytes sent | RPC calls | agent peak RSS | agent CPU (all hosts) |",
    );
    out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const g of batouGroups) {
      const f = (k: string) => figureMedian(r, "batou", g.case, g.hosts, k);
      const rss = f("stats-agent-rss-peak-kb-max");
      const cpu = f("stats-agent-cpu-ms");
      out.push(
        `| ${CASE_LABEL[g.case]} | ${g.hosts} | ${f("stats-agent-upload") ?? "–"} | ${f("sync-bytes") ?? "–"} | ${
          f("sync-sent") ?? "–"
        } | ${f("stats-rpc-sent") ?? "–"} | ${f("stats-calls") ?? "–"} | ${
          rss ? `${(rss / 1024).toFixed(0)} MiB` : "–"
        } | ${cpu ? `${cpu} ms` : "–"} |`,
      );
    }
  }

  out.push(...manyHosts(r));

  if (r.startup.length) {
    out.push("", "## Start-up cost (this batou)", "");
    out.push("| what | median (min–max, n) | note |", "|---|---:|---|");
    for (const s of r.startup) {
      const x = summarize(s.ms);
      out.push(
        `| ${s.label} | ${
          x ? `**${x.median.toFixed(0)} ms** (${x.min.toFixed(0)}–${x.max.toFixed(0)}, n=${x.n})` : "–"
        } | ${s.note ?? ""} |`,
      );
    }
  }

  out.push("", "## Machine load (`uptime` before / after each series)", "");
  out.push("| series | before | after |", "|---|---|---|");
  for (const l of r.load) out.push(`| ${l.what} | ${l.before} | ${l.after} |`);

  out.push("", "## Versions", "");
  for (const [k, v] of Object.entries(r.versions)) out.push(`- ${k}: ${v}`);

  out.push("", "## Reference figures from the issue (other run, same kind of machine; medians, seconds)", "");
  out.push("| case | H | floor ssh | floor rsync | batou 2.x | Ansible ordinary | Ansible tuned |");
  out.push("|---|---:|---:|---:|---:|---:|---:|");
  for (const [c, h] of [["first", 4], ["noop", 1], ["noop", 4], ["noop", 8], ["change", 4]] as [CaseId, number][]) {
    const ref = (t: string) => REFERENCE[`${t}/${c}/${h}`] ?? "–";
    out.push(
      `| ${CASE_LABEL[c]} | ${h} | ${ref("ssh")} | ${ref("rsync")} | ${ref("batou2")} | ${ref("ansible")} | ${
        ref("ansible-tuned")
      } |`,
    );
  }

  if (r.notes.length) out.push("", "## Notes", "", ...r.notes.map((n) => `- ${n}`));
  const bad = r.samples.filter((s) => !s.ok || s.problems.length);
  if (bad.length) {
    out.push("", "## Problems seen", "");
    for (const s of bad) {
      out.push(`- ${s.tool} ${s.case} H=${s.hosts} rep ${s.rep}${s.ok ? "" : " (FAILED, not counted)"}:`);
      out.push("", "```", s.problems.join("\n").slice(0, 2000), "```", "");
    }
  }
  return out.join("\n") + "\n";
}

const COLOURS = ["#2b7bba", "#7f7f7f", "#b0b0b0", "#d9534f", "#5cb85c", "#f0ad4e"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The SVG chart: one group of bars per (case, H), one bar per tool, log-scale seconds, min-max whiskers. */
export function svgChart(r: Results): string {
  const gs = groups(r);
  const tools = r.tools;
  const barW = 22, gap = 34, left = 70, top = 50, plotH = 360, bottom = 80;
  const groupW = tools.length * barW;
  const width = Math.max(left + gs.length * (groupW + gap) + gap + 20, left + tools.length * 190 + 20);
  const height = top + plotH + bottom;
  const all = gs.flatMap((g) => tools.map((t) => cell(r, t.id, g.case, g.hosts))).filter((x) => x) as Summary[];
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...all.map((x) => x.min))) / 1000)));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all.map((x) => x.max)) / 1000)));
  const y = (ms: number) => top + plotH - (Math.log10(ms / 1000 / lo) / Math.log10(hi / lo)) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(
    `<text x="${left}" y="20" font-size="14" font-weight="bold">W1: wall-clock seconds (median, whiskers min–max, log scale)</text>`,
  );
  for (let decade = lo; decade <= hi * 1.0001; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m;
      if (v > hi * 1.0001) break;
      const yy = y(v * 1000);
      out.push(
        `<line x1="${left}" x2="${width - 20}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="${
          m === 1 ? "#ccc" : "#eee"
        }"/>`,
      );
      out.push(
        `<text x="${left - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${v >= 1 ? v : v.toFixed(1)}</text>`,
      );
    }
  }
  out.push(
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${
      top + plotH / 2
    })" text-anchor="middle">seconds</text>`,
  );
  gs.forEach((g, gi) => {
    const x0 = left + gap + gi * (groupW + gap);
    tools.forEach((t, ti) => {
      const x = cell(r, t.id, g.case, g.hosts);
      if (!x) return;
      const bx = x0 + ti * barW;
      const by = y(x.median);
      out.push(
        `<rect x="${bx + 2}" y="${by.toFixed(1)}" width="${barW - 4}" height="${(top + plotH - by).toFixed(1)}" fill="${
          COLOURS[ti % COLOURS.length]
        }"><title>${esc(t.label)}: ${seconds(x.median)} s (${seconds(x.min)}–${seconds(x.max)})</title></rect>`,
      );
      const cx = bx + barW / 2;
      out.push(
        `<line x1="${cx}" x2="${cx}" y1="${y(x.max).toFixed(1)}" y2="${y(x.min).toFixed(1)}" stroke="black"/>`,
        `<line x1="${cx - 4}" x2="${cx + 4}" y1="${y(x.max).toFixed(1)}" y2="${y(x.max).toFixed(1)}" stroke="black"/>`,
        `<line x1="${cx - 4}" x2="${cx + 4}" y1="${y(x.min).toFixed(1)}" y2="${y(x.min).toFixed(1)}" stroke="black"/>`,
      );
      out.push(
        `<text x="${cx}" y="${(y(x.max) - 4).toFixed(1)}" text-anchor="middle" font-size="9">${
          seconds(x.median)
        }</text>`,
      );
    });
    const label = { first: "first", noop: "no-op", change: "one-change" }[g.case];
    out.push(
      `<text x="${x0 + groupW / 2}" y="${top + plotH + 16}" text-anchor="middle">${label}</text>`,
      `<text x="${x0 + groupW / 2}" y="${top + plotH + 30}" text-anchor="middle">H=${g.hosts}</text>`,
    );
  });
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="black"/>`);
  tools.forEach((t, ti) => {
    const lx = left + ti * 190, ly = top + plotH + 52;
    out.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLOURS[ti % COLOURS.length]}"/>`,
      `<text x="${lx + 16}" y="${ly + 10}">${esc(t.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/** W2's median for `tool` in (case, H, N), successful runs only. */
function w2Cell(r: Results, tool: string, c: CaseId, hosts: number, files: number): Summary | null {
  return summarize(
    r.samples.filter((s) => s.tool === tool && s.case === c && s.hosts === hosts && s.files === files && s.ok)
      .map((s) => s.ms),
  );
}

/**
 * The W2 report (issue 17): per (case, H, N) the medians of every tool and batou's ratio to the rsync floor, then
 * the targets: per-component cost flat (time at 8,000 files <= 4.5 x time at 2,000, every case, H=1) and the
 * 8,000-file no-op within 3x of rsync of the pre-rendered tree.
 */
export function markdownW2(r: Results): string {
  const out: string[] = [];
  const tools = r.tools;
  out.push("# W2 benchmark: cost per component (N templated files per host)", "");
  out.push(
    `Run ${r.started} – ${r.finished} on ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryMiB} MiB ` +
      `(shared machine: compare ratios within this run). Wall-clock seconds: **median** (min–max, n). ` +
      `${r.reps} repetitions.`,
    "",
  );
  const series = [...new Set(r.samples.map((s) => `${s.hosts}/${s.files ?? 100}`))].map((k) =>
    k.split("/").map(Number)
  );
  out.push(`| case | H | N | ${tools.map((t) => t.label).join(" | ")} | batou / rsync | batou ms per file |`);
  out.push(`|---|---:|---:|${tools.map(() => "---:").join("|")}|---:|---:|`);
  for (const c of CASE_ORDER) {
    for (const [h, n] of series) {
      const cells = tools.map((t) => w2Cell(r, t.id, c, h, n));
      if (cells.every((x) => !x)) continue;
      const b = w2Cell(r, "batou", c, h, n), f = w2Cell(r, "rsync", c, h, n);
      const ratio = b && f ? `${(b.median / f.median).toFixed(2)}x` : "–";
      const per = b ? (b.median / (n * h)).toFixed(2) : "–";
      out.push(`| ${CASE_LABEL[c]} | ${h} | ${n} | ${cells.map(fmtCell).join(" | ")} | ${ratio} | ${per} |`);
    }
  }
  out.push("", "## Targets (ratios from this run)", "", "| target | this run | goal | |", "|---|---|---|---|");
  const row = (label: string, a: Summary | null, b: Summary | null, limit: number) => {
    if (!a || !b) return out.push(`| ${label} | – | ≤ ${limit}x | not measured |`);
    const x = a.median / b.median;
    out.push(
      `| ${label} | ${x.toFixed(2)}x (${seconds(a.median)} s / ${seconds(b.median)} s) | ≤ ${limit}x | ${
        x <= limit ? "met" : "missed"
      } |`,
    );
  };
  for (const c of CASE_ORDER) {
    row(`${CASE_LABEL[c]}: N=8000 / N=2000 (H=1)`, w2Cell(r, "batou", c, 1, 8000), w2Cell(r, "batou", c, 1, 2000), 4.5);
  }
  row(
    "no-op N=8000: batou / rsync -a --delete",
    w2Cell(r, "batou", "noop", 1, 8000),
    w2Cell(r, "rsync", "noop", 1, 8000),
    3,
  );
  out.push("", "## Machine load (`uptime` before / after each series)", "");
  out.push("| series | before | after |", "|---|---|---|");
  for (const l of r.load) out.push(`| ${l.what} | ${l.before} | ${l.after} |`);
  out.push("", "## Versions", "");
  for (const [k, v] of Object.entries(r.versions)) out.push(`- ${k}: ${v}`);
  const bad = r.samples.filter((s) => !s.ok || s.problems.length);
  if (bad.length) {
    out.push("", "## Problems seen", "");
    for (const s of bad) {
      out.push(`- ${s.tool} ${s.case} H=${s.hosts} N=${s.files} rep ${s.rep}${s.ok ? "" : " (FAILED, not counted)"}:`);
      out.push("", "```", s.problems.join("\n").slice(0, 2000), "```", "");
    }
  }
  return out.join("\n") + "\n";
}
