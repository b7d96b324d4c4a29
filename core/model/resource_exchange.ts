/**
 * What one agent's configure tells the resource broker (the controller) and what the broker forwards to it
 * (issue 15): an agent configures only its own roots; it publishes what they provide and what they require, and
 * receives the values of other hosts' roots under the keys its roots require. All plain JSON.
 *
 * @module
 */
import type { RootComponent } from "./component.ts";
import type { Host } from "./host.ts";
import type { Resources } from "./resources.ts";
import { decodeResourceValue, encodeResourceValue, NotPlainData, type WireValue } from "./resource_values.ts";

/** What one root provides under one key. */
export interface ProvidedResource {
  host: string;
  root: string;
  key: string;
  /** How many values (0: provided nothing, which counts as not providing). */
  count: number;
  /** The values for other hosts; absent when one of them cannot cross (see `unserialisable`). */
  values?: WireValue[];
  /** Why the values cannot be sent to another host (sent only to a host that requires them: an error there). */
  unserialisable?: string;
  /** The values as batou shows them (Python's repr), for the unused-resources warning. */
  display: string;
}

/** One requirement of one root. */
export interface RequiredResource {
  host: string;
  root: string;
  key: string;
  strict: boolean;
  /** Only values of roots on this host (`require(key, {host})`), else null. */
  onHost: string | null;
  reverse: boolean;
  dirty: boolean;
}

/** An agent's resources after a configure of its roots. */
export interface ResourcePublication {
  provides: ProvidedResource[];
  requires: RequiredResource[];
}

/** Values of another host's root, forwarded by the broker. */
export interface ForeignResource {
  key: string;
  host: string;
  root: string;
  values: WireValue[];
}

/** What the roots in `own` provide and require in `resources` (foreign values are not republished). */
export function publishResources(
  resources: Resources,
  own: ReadonlySet<RootComponent>,
  display: (values: unknown[]) => string,
): ResourcePublication {
  const provides: ProvidedResource[] = [];
  for (const [key, byRoot] of resources.resources) {
    for (const [root, values] of byRoot) {
      if (!own.has(root)) continue;
      const entry: ProvidedResource = {
        host: root.host.name,
        root: root.name,
        key,
        count: values.length,
        display: display(values),
      };
      try {
        entry.values = values.map(encodeResourceValue);
      } catch (e) {
        if (!(e instanceof NotPlainData)) throw e;
        entry.unserialisable = e.message;
      }
      provides.push(entry);
    }
  }
  const requires: RequiredResource[] = [];
  for (const [key, subs] of resources.subscribers) {
    for (const s of subs.values()) {
      if (!own.has(s.root)) continue;
      requires.push({
        host: s.root.host.name,
        root: s.root.name,
        key,
        strict: s.strict,
        onHost: s.host?.name ?? null,
        reverse: s.reverse,
        dirty: s.dirty,
      });
    }
  }
  return { provides, requires };
}

/**
 * Puts forwarded values into `resources` under the roots that provided them (looked up by `root`), so that requiring
 * them, the dependency graph and the unsatisfied requirements work as if those roots were configured here.
 */
export function injectForeign(
  resources: Resources,
  foreign: readonly ForeignResource[],
  root: (host: string, name: string) => RootComponent | null,
  host: (name: string) => Host | null,
): void {
  for (const f of foreign) {
    const provider = root(f.host, f.root);
    if (!provider) continue;
    let byRoot = resources.resources.get(f.key);
    if (!byRoot) resources.resources.set(f.key, byRoot = new Map());
    byRoot.set(provider, f.values.map((v) => decodeResourceValue(v, host)));
  }
}
