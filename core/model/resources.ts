/**
 * The resource registry: root components provide values under keys and other
 * roots require them. Requirements record subscriptions that drive the
 * configure loop (re-configure on change) and the dependency graph (deploy order).
 *
 * @module
 */
import { compareStrings } from "../runtime/compare.ts";
import type { Host } from "./host.ts";
import type { RootComponent } from "./component.ts";

/** A recorded requirement. */
export interface Subscription {
  root: RootComponent;
  key: string;
  strict: boolean;
  host: Host | null;
  reverse: boolean;
  dirty: boolean;
}

/** Options of {@linkcode Resources.require}. */
export interface ResourceRequireOptions {
  host?: Host | null;
  strict?: boolean;
  reverse?: boolean;
  dirty?: boolean;
}

/** The registry of provided values and subscriptions. */
export class Resources {
  /** key -> provider root -> values (insertion order is provide order). */
  readonly resources = new Map<string, Map<RootComponent, unknown[]>>();
  /** key -> subscriptions (deduplicated). */
  readonly subscribers = new Map<string, Map<string, Subscription>>();
  /** Roots that must be configured again because a resource they use changed. */
  readonly dirtyDependencies = new Set<RootComponent>();
  #ids = new WeakMap<RootComponent, number>();
  #nextId = 0;

  #id(root: RootComponent): number {
    let id = this.#ids.get(root);
    if (id === undefined) this.#ids.set(root, id = this.#nextId++);
    return id;
  }

  #subscriptions(key: string, host: Host | null): Subscription[] {
    return [...(this.subscribers.get(key)?.values() ?? [])].filter((s) =>
      s.host === null || host === null || s.host === host
    );
  }

  /** Adds `value` under `key` for `root`, marking its (non-dirty) subscribers for re-configuration. */
  provide(root: RootComponent, key: string, value: unknown): void {
    let byRoot = this.resources.get(key);
    if (!byRoot) this.resources.set(key, byRoot = new Map());
    let values = byRoot.get(root);
    if (!values) byRoot.set(root, values = []);
    values.push(value);
    for (const s of this.#subscriptions(key, root.host)) {
      if (!s.dirty) this.dirtyDependencies.add(s.root);
    }
  }

  /** The values under `key`, in provider order; only providers on `host` when given. */
  get(key: string, host: Host | null = null): unknown[] {
    const out: unknown[] = [];
    for (const [root, values] of this.resources.get(key) ?? []) {
      if (host !== null && root.host !== host) continue;
      out.push(...values);
    }
    return out;
  }

  /** Records a subscription of `root` to `key` and returns the current values. */
  require(root: RootComponent, key: string, opts: ResourceRequireOptions = {}): unknown[] {
    const s: Subscription = {
      root,
      key,
      strict: opts.strict ?? true,
      host: opts.host ?? null,
      reverse: opts.reverse ?? false,
      dirty: opts.dirty ?? false,
    };
    let subs = this.subscribers.get(key);
    if (!subs) this.subscribers.set(key, subs = new Map());
    subs.set(`${this.#id(root)}|${s.strict}|${s.host?.name ?? ""}|${s.reverse}|${s.dirty}`, s);
    return this.get(key, s.host);
  }

  /** Forgets everything `root` provided; its subscribers must be configured again. */
  resetComponentResources(root: RootComponent): void {
    for (const [key, byRoot] of this.resources) {
      if (!byRoot.delete(root)) continue;
      for (const s of this.#subscriptions(key, root.host)) {
        if (!s.dirty) this.dirtyDependencies.add(s.root);
      }
    }
  }

  /** Whether nothing was provided or required yet. */
  get isEmpty(): boolean {
    return this.resources.size === 0 && this.subscribers.size === 0;
  }

  /** Forgets everything (a configure that starts over). */
  clear(): void {
    this.resources.clear();
    this.subscribers.clear();
    this.dirtyDependencies.clear();
  }

  /** Provided values that nobody requires: key -> provider -> values. */
  get unused(): Map<string, Map<RootComponent, unknown[]>> {
    const out = new Map<string, Map<RootComponent, unknown[]>>();
    for (const [key, byRoot] of this.resources) {
      const subs = [...(this.subscribers.get(key)?.values() ?? [])];
      if (subs.some((s) => s.host === null)) continue;
      const left = new Map(
        [...byRoot].filter(([root, values]) => values.length > 0 && !subs.some((s) => s.host === root.host)),
      );
      if (left.size) out.set(key, left);
    }
    return out;
  }

  /** Strict requirements without any provider: `[key, host name or null, requiring roots]`. */
  get unsatisfied(): [string, string | null, RootComponent[]][] {
    const out: [string, string | null, RootComponent[]][] = [];
    for (const [key, subs] of this.subscribers) {
      const strict = [...subs.values()].filter((s) => s.strict);
      if (!strict.length) continue;
      const providers = [...(this.resources.get(key) ?? [])].filter(([, v]) => v.length > 0).map(([r]) => r);
      const groups = new Map<string | null, Set<RootComponent>>();
      for (const s of strict) {
        const satisfied = s.host === null ? providers.length > 0 : providers.some((r) => r.host === s.host);
        if (satisfied) continue;
        const hostName = s.host?.name ?? null;
        if (!groups.has(hostName)) groups.set(hostName, new Set());
        groups.get(hostName)!.add(s.root);
      }
      for (const [host, roots] of groups) out.push([key, host, [...roots]]);
    }
    return out.sort((a, b) => compareStrings(a[0] + "\0" + (a[1] ?? ""), b[0] + "\0" + (b[1] ?? "")));
  }

  /** Roots that have an unsatisfied strict requirement. */
  get unsatisfiedComponents(): Set<RootComponent> {
    return new Set(this.unsatisfied.flatMap(([, , roots]) => roots));
  }

  /** root -> the roots it must wait for (its providers; flipped for `reverse`). */
  dependencyGraph(): Map<RootComponent, Set<RootComponent>> {
    const graph = new Map<RootComponent, Set<RootComponent>>();
    const edge = (from: RootComponent, to: RootComponent) => {
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    };
    for (const [key, subs] of this.subscribers) {
      for (const s of subs.values()) {
        for (const [provider, values] of this.resources.get(key) ?? []) {
          if (!values.length || provider === s.root) continue;
          if (s.host !== null && provider.host !== s.host) continue;
          if (s.reverse) edge(provider, s.root);
          else edge(s.root, provider);
        }
      }
    }
    return graph;
  }
}
