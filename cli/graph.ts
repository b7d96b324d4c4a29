/**
 * `batou graph ENV [--format dot|mermaid]`: configures the model on this
 * machine and draws the root components per host with their dependencies
 * (an edge points from a provider to the root that waits for it).
 *
 * @module
 */
import { followOnNote, isFollowOn } from "../core/model/follow_on.ts";
import { compareStrings } from "../core/runtime/compare.ts";
import { Environment, type SecretsData } from "../core/model/environment.ts";
import type { RootComponent } from "../core/model/component.ts";
import { output, TerminalBackend } from "../core/model/output.ts";
import { sortErrors } from "../core/model/errors.ts";

/** The graph as nodes per host and edges provider -> consumer. */
export interface RootGraph {
  hosts: Map<string, string[]>;
  edges: [string, string][];
  ignored: Set<string>;
}

function nodeId(root: RootComponent): string {
  return `${root.host.name}/${root.name}`;
}

/** Builds the graph of a configured environment. */
export function rootGraph(env: Environment): RootGraph {
  const hosts = new Map<string, string[]>();
  const ignored = new Set<string>();
  for (const root of [...env.rootComponents].sort(Environment.compareRoots)) {
    if (!hosts.has(root.host.name)) hosts.set(root.host.name, []);
    hosts.get(root.host.name)!.push(root.name);
    if (root.ignore || root.host.ignore) ignored.add(nodeId(root));
  }
  const edges: [string, string][] = [];
  for (const [root, deps] of env.rootDependencies()) {
    for (const dep of deps) edges.push([nodeId(dep), nodeId(root)]);
  }
  edges.sort((a, b) => compareStrings(a[0] + a[1], b[0] + b[1]));
  return { hosts, edges, ignored };
}

const quote = (s: string) => JSON.stringify(s);
const mermaidId = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");

/** Renders the graph as Graphviz dot. */
export function toDot(g: RootGraph, name: string): string {
  const lines = [`digraph ${quote(name)} {`, "  rankdir=LR;", "  node [shape=box];"];
  for (const [host, roots] of g.hosts) {
    lines.push(`  subgraph ${quote(`cluster_${host}`)} {`, `    label=${quote(host)};`);
    for (const r of roots) {
      const id = `${host}/${r}`;
      lines.push(`    ${quote(id)} [label=${quote(r)}${g.ignored.has(id) ? ", style=dashed" : ""}];`);
    }
    lines.push("  }");
  }
  for (const [from, to] of g.edges) lines.push(`  ${quote(from)} -> ${quote(to)};`);
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Renders the graph as a Mermaid flowchart. */
export function toMermaid(g: RootGraph): string {
  const lines = ["flowchart LR"];
  for (const [host, roots] of g.hosts) {
    lines.push(`  subgraph ${mermaidId(host)}[${quote(host)}]`);
    for (const r of roots) lines.push(`    ${mermaidId(`${host}/${r}`)}[${quote(r)}]`);
    lines.push("  end");
  }
  for (const [from, to] of g.edges) lines.push(`  ${mermaidId(from)} --> ${mermaidId(to)}`);
  return lines.join("\n") + "\n";
}

/** Runs `batou graph`. Returns the exit code. */
export async function graphCommand(opts: {
  environment: string;
  baseDir: string;
  format: string;
  modules: Record<string, unknown>;
  loadSecrets?: (env: Environment) => Promise<SecretsData | null>;
}): Promise<number> {
  if (!["dot", "mermaid"].includes(opts.format)) {
    output.error(`Unknown format \`${opts.format}\` (use dot or mermaid)`);
    return 2;
  }
  // The graph goes to stdout; everything else (logs, errors) to stderr.
  output.backend = new TerminalBackend(Deno.stderr);
  const env = new Environment(opts.environment, { baseDir: opts.baseDir, checkAndPredictLocal: true });
  try {
    env.load(opts.modules);
    if (!env.exceptions.length && opts.loadSecrets) {
      const secrets = await opts.loadSecrets(env);
      if (secrets) env.loadSecrets(secrets);
    }
    if (!env.exceptions.length) await env.configure();
  } catch (e) {
    env.exceptions.push(e as never);
  }
  if (env.exceptions.length) {
    const all = env.exceptions;
    for (const e of sortErrors(all.filter((e) => !isFollowOn(e, all)))) {
      output.line("");
      if (typeof e.report === "function") e.report(output);
      else output.error(String(e));
    }
    const note = followOnNote(all);
    if (note.length) output.line("");
    for (const line of note) output.line(line, { red: true });
    return 1;
  }
  const g = rootGraph(env);
  const text = opts.format === "dot" ? toDot(g, env.name) : toMermaid(g);
  await Deno.stdout.write(new TextEncoder().encode(text));
  return 0;
}
