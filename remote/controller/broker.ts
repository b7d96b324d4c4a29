/**
 * The resource broker (issue 15): every agent configures only its own roots, with only their overrides and secrets,
 * and publishes what they provide and what they require. The broker forwards to each agent only the values of other
 * hosts' roots under the keys that agent's roots require; agents whose forwarded values changed configure again, in
 * rounds, until nothing changes (batou 2.x's configure loop, across hosts). The cross-host schedule, unused resources
 * and dependency cycles come from the publications, each agent speaking only for the roots it configures. Secret
 * files go the same way: an agent that asks for secret files its roots read gets them in the next round.
 *
 * @module
 */
import { compareStrings } from "../../core/runtime/compare.ts";
import { Environment, rootLabel } from "../../core/model/environment.ts";
import type { RootComponent } from "../../core/model/component.ts";
import { Resources } from "../../core/model/resources.ts";
import { CycleError, revertGraph, topologicalSort } from "../../core/model/graph.ts";
import { ConfigurationError, CycleErrorDetected, UnusedResources } from "../../core/model/errors.ts";
import type { ForeignResource, ResourcePublication } from "../../core/model/resource_exchange.ts";
import type { RootDependency } from "../contract/methods.ts";

/** At most this many configure rounds; resources still changing after them are a configuration error. */
export const MAX_ROUNDS = 32;

/**
 * What is wrong with `publication` (its shape checked by the RPC contract, remote/contract/methods.ts) as the
 * publication of the agent of `agent`, which configures the roots of the hosts in `scope`: it must speak only about
 * roots of those hosts, naming roots and hosts that exist, with as many values as it counts.
 */
export function checkPublication(
  agent: string,
  scope: ReadonlySet<string>,
  publication: ResourcePublication | undefined,
  env: Environment,
): string | null {
  if (!publication) return "it sent no resources";
  const own = (e: { host: string; root: string }): string | null => {
    if (!scope.has(e.host)) return `it speaks for the root ${e.root} of host ${e.host}, which ${agent} does not deploy`;
    if (!env.rootComponents.some((r) => r.host.name === e.host && r.name === e.root)) {
      return `it names the root ${e.root} of host ${e.host}, which the environment does not have`;
    }
    return null;
  };
  for (const p of publication.provides) {
    const problem = own(p);
    if (problem) return problem;
    if (!Number.isInteger(p.count) || p.count < 0) return `the count of ${p.key} provided by ${p.root} is not a count`;
    if (p.values !== undefined && p.values.length !== p.count) {
      return `the values of ${p.key} provided by ${p.root} are not a list of ${p.count}`;
    }
    if (p.values === undefined && p.unserialisable === undefined) {
      return `the resource ${p.key} provided by ${p.root} has neither values nor a reason`;
    }
  }
  for (const r of publication.requires) {
    const problem = own(r);
    if (problem) return problem;
    if (r.onHost !== null && !env.hosts.has(r.onHost)) {
      return `${r.root} requires ${r.key} on a host the environment does not have`;
    }
  }
  return null;
}

/** Every string in forwarded values (values and object keys). */
export function forwardedStrings(resources: readonly ForeignResource[]): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        walk(x);
      }
    }
  };
  for (const r of resources) walk(r.values);
  return out;
}

/**
 * The secret values (and masking words of `secretData` that are part of them) contained in forwarded values: a
 * root that provides a secret hands it to the requiring host, which must mask it as its own.
 */
export function forwardedSecrets(
  resources: readonly ForeignResource[],
  maskValues: readonly string[],
  secretData: Iterable<string>,
): { maskValues: string[]; secretData: string[] } {
  const strings = forwardedStrings(resources);
  const masks = maskValues.filter((v) => strings.some((s) => s.includes(v)));
  const words = [...secretData].filter((w) => masks.some((v) => v.includes(w)));
  return { maskValues: masks, secretData: words };
}

/** The publications of all agents and what was forwarded to each. */
export class ResourceBroker {
  #scopes = new Map<string, ReadonlySet<string>>();
  #publications = new Map<string, ResourcePublication>();
  /** What each agent configured with last. */
  #sent = new Map<string, ForeignResource[]>();
  /** The registry of the current publications (built on first use after a publication). */
  #registry: { resources: Resources; display: Map<string, string> } | null = null;
  /** The secret files asked for and sent, by agent. */
  #files = new Map<string, { wanted: Set<string>; sent: Set<string> }>();
  /** Configure rounds so far (the first, which every agent runs, is round 1). */
  rounds = 1;

  constructor(readonly env: Environment) {}

  /** Records the (checked) publication of `agent`, which configures the roots of `scope`. */
  publish(agent: string, scope: ReadonlySet<string>, publication: ResourcePublication): void {
    this.#scopes.set(agent, scope);
    this.#publications.set(agent, publication);
    this.#registry = null;
    if (!this.#sent.has(agent)) this.#sent.set(agent, []);
  }

  /**
   * What `agent` gets: the values of other agents' roots under the keys its roots require (on the host they name,
   * if any). A provided value that cannot cross hosts is an error naming the root, the key and both hosts.
   */
  forward(agent: string): { resources: ForeignResource[]; errors: ConfigurationError[] } {
    const scope = this.#scopes.get(agent) ?? new Set<string>();
    const resources = new Map<string, ForeignResource>();
    const errors: ConfigurationError[] = [];
    for (const r of this.#publications.get(agent)?.requires ?? []) {
      for (const [other, publication] of this.#publications) {
        if (other === agent) continue;
        for (const p of publication.provides) {
          if (p.key !== r.key || p.count === 0 || scope.has(p.host)) continue;
          if (r.onHost !== null && p.host !== r.onHost) continue;
          const id = `${p.key}\u0000${p.host}\u0000${p.root}`;
          if (resources.has(id)) continue;
          if (!p.values) {
            const e = ConfigurationError.create(
              `The resource \`${p.key}\` cannot be sent to ${r.host}, where ${r.root} requires it: ${p.unserialisable}` +
                " (only strings, numbers, booleans, null, lists, plain objects, Address, Host and components," +
                " as snapshots of their attributes, cross hosts)",
              { root: { name: p.root, host: { name: p.host } } },
            );
            if (!errors.some((x) => x.sameAs(e))) errors.push(e);
            continue;
          }
          resources.set(id, { key: p.key, host: p.host, root: p.root, values: p.values });
        }
      }
    }
    const list = [...resources.values()].sort((a, b) =>
      compareStrings(a.key, b.key) || compareStrings(a.host, b.host) || compareStrings(a.root, b.root)
    );
    return { resources: list, errors };
  }

  /** Records that the roots of `agent` read the secret files `names` (known ones: checked by the caller). */
  wantSecretFiles(agent: string, names: readonly string[]): void {
    const files = this.#filesOf(agent);
    for (const name of names) files.wanted.add(name);
  }

  /** The secret files sent to `agent` so far. */
  sentSecretFiles(agent: string): ReadonlySet<string> {
    return this.#filesOf(agent).sent;
  }

  #filesOf(agent: string): { wanted: Set<string>; sent: Set<string> } {
    let files = this.#files.get(agent);
    if (!files) this.#files.set(agent, files = { wanted: new Set(), sent: new Set() });
    return files;
  }

  /**
   * The agents whose forwarded values differ from what they configured with last, or whose roots asked for secret
   * files not sent yet, with their new values and those files' names.
   */
  changed(): { agent: string; resources: ForeignResource[]; secretFiles: string[] }[] {
    const out: { agent: string; resources: ForeignResource[]; secretFiles: string[] }[] = [];
    for (const agent of [...this.#publications.keys()].sort(compareStrings)) {
      const { resources } = this.forward(agent);
      const files = this.#filesOf(agent);
      const secretFiles = [...files.wanted].filter((n) => !files.sent.has(n)).sort(compareStrings);
      const same = JSON.stringify(resources) === JSON.stringify(this.#sent.get(agent) ?? []);
      if (!same || secretFiles.length) out.push({ agent, resources, secretFiles });
    }
    return out;
  }

  /** Records what `agent` configures with from now on: these values, and these secret files besides earlier ones. */
  sent(agent: string, resources: ForeignResource[], secretFiles: readonly string[] = []): void {
    this.#sent.set(agent, resources);
    for (const name of secretFiles) this.#filesOf(agent).sent.add(name);
  }

  /** The keys whose values for `agent` differ in `resources` from what it configured with last. */
  changedKeys(agent: string, resources: ForeignResource[]): string[] {
    const byKey = (list: ForeignResource[]) => {
      const out = new Map<string, string>();
      for (const r of list) out.set(r.key, (out.get(r.key) ?? "") + JSON.stringify(r));
      return out;
    };
    const before = byKey(this.#sent.get(agent) ?? []), after = byKey(resources);
    const keys = new Set([...before.keys(), ...after.keys()]);
    return [...keys].filter((k) => before.get(k) !== after.get(k)).sort(compareStrings);
  }

  /** The errors of values that cannot cross to the agents requiring them. */
  forwardErrors(): ConfigurationError[] {
    const out: ConfigurationError[] = [];
    for (const agent of this.#publications.keys()) {
      for (const e of this.forward(agent).errors) if (!out.some((x) => x.sameAs(e))) out.push(e);
    }
    return out;
  }

  #root(host: string, name: string): RootComponent | undefined {
    return this.env.rootComponents.find((r) => r.host.name === host && r.name === name);
  }

  /** The whole model's resources as the agents published them (the values themselves stay out). */
  registry(): { resources: Resources; display: Map<string, string> } {
    return this.#registry ??= this.#buildRegistry();
  }

  #buildRegistry(): { resources: Resources; display: Map<string, string> } {
    const resources = new Resources();
    const display = new Map<string, string>();
    for (const publication of this.#publications.values()) {
      for (const p of publication.provides) {
        const root = this.#root(p.host, p.root);
        if (!root) continue;
        let byRoot = resources.resources.get(p.key);
        if (!byRoot) resources.resources.set(p.key, byRoot = new Map());
        byRoot.set(root, new Array(p.count).fill(null));
        display.set(`${p.key}\u0000${p.host}\u0000${p.root}`, p.display);
      }
    }
    for (const publication of this.#publications.values()) {
      for (const r of publication.requires) {
        const root = this.#root(r.host, r.root);
        if (!root) continue;
        resources.require(root, r.key, {
          host: r.onHost === null ? null : this.env.hosts.get(r.onHost) ?? null,
          strict: r.strict,
          reverse: r.reverse,
          dirty: r.dirty,
        });
      }
    }
    return { resources, display };
  }

  /** Every root of the environment (in its order) with the roots it waits for, from the publications. */
  dependencies(): RootDependency[] {
    const graph = this.registry().resources.dependencyGraph();
    return this.env.rootComponents.map((root) => ({
      host: root.host.name,
      root: root.name,
      ignore: root.ignore,
      hostIgnore: root.host.ignore,
      dependencies: [...(graph.get(root) ?? [])].map((d) => [d.host.name, d.name] as [string, string]),
    }));
  }

  /** The dependency cycle across hosts, if any, as batou reports it. */
  cycle(): CycleErrorDetected | null {
    const graph = this.registry().resources.dependencyGraph();
    for (const root of this.env.rootComponents) if (!graph.has(root)) graph.set(root, new Set());
    try {
      topologicalSort(revertGraph(graph), Environment.compareRoots);
      return null;
    } catch (e) {
      if (!(e instanceof CycleError)) throw e;
      return CycleErrorDetected.of(e.format((r: RootComponent) => rootLabel(r, this.env)));
    }
  }

  /** Provided resources that no root of any host requires: `[key, provider root, value text]`, by key. */
  unused(): UnusedResources | null {
    const { resources, display } = this.registry();
    const unused = resources.unused;
    if (!unused.size) return null;
    const list: [string, string, string][] = [];
    for (const key of [...unused.keys()].sort()) {
      for (const root of unused.get(key)!.keys()) {
        list.push([key, root.name, display.get(`${key}\u0000${root.host.name}\u0000${root.name}`) ?? ""]);
      }
    }
    return UnusedResources.of(list);
  }
}
