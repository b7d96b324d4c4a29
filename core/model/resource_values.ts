/**
 * Resource values that cross hosts (issue 15): an agent configures only its own roots, so what they provide for
 * roots on other hosts travels through the controller as plain JSON. Strings, numbers, booleans, null, lists and
 * plain objects cross as they are; an {@linkcode Address}, a {@linkcode NetLoc} and a {@linkcode Host} by their
 * identity; a provided {@linkcode Component} (batou's `self.provide("x", self)`) as a read-only snapshot of its public
 * attribute values (its sub-components and methods stay behind). Anything else cannot cross: a clear error.
 *
 * @module
 */
import { Address, NetLoc, type RequireFlag } from "./address.ts";
import { Component } from "./component.ts";
import { Host } from "./host.ts";

/** One value on the wire (JSON); objects are tagged so that no user key is ever taken for a tag. */
export type WireValue =
  | null
  | boolean
  | number
  | string
  | WireValue[]
  | { $o: Record<string, WireValue> }
  | { $undefined: true }
  | { $host: string }
  | { $netloc: [string, string | null] }
  | { $address: { connect: string; requireV4: RequireFlag; requireV6: RequireFlag } }
  | { $component: { class: string; host: string; fields: Record<string, WireValue> } };

/** A value that cannot be sent to another host; `path` says where in the value (`.url`, `[2]`, ...). */
export class NotPlainData extends Error {
  override name = "NotPlainData";
  constructor(readonly path: string, readonly what: string) {
    super(`value${path} is ${what}`);
  }
}

/** Fields of a component that are batou's bookkeeping, not data: never part of a snapshot. */
const BOOKKEEPING = new Set(["_", "changed", "timer"]);
const MAX_DEPTH = 32;

function describe(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (typeof value === "bigint") return "a bigint";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "number") return `the number ${value}`;
  const name = (value as { constructor?: { name?: string } })?.constructor?.name;
  return name ? `a ${name}` : "an object without prototype";
}

/**
 * `value` as plain JSON for another host.
 * @throws {NotPlainData} naming the part that cannot cross
 */
export function encodeResourceValue(value: unknown): WireValue {
  return encode(value, "", new Set(), 0);
}

function encode(value: unknown, path: string, stack: Set<object>, depth: number): WireValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (value === undefined) return { $undefined: true };
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new NotPlainData(path, describe(value));
    return value;
  }
  if (typeof value !== "object") throw new NotPlainData(path, describe(value));
  if (depth > MAX_DEPTH) throw new NotPlainData(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (stack.has(value)) throw new NotPlainData(path, "a circular reference");
  if (value instanceof Host) return { $host: value.name };
  if (value instanceof NetLoc) return { $netloc: [value.host, value.port ?? null] };
  if (value instanceof Address) {
    return {
      $address: { connect: value.connect.toString(), requireV4: value.requireV4, requireV6: value.requireV6 },
    };
  }
  stack.add(value);
  try {
    if (Array.isArray(value)) return value.map((v, i) => encode(v, `${path}[${i}]`, stack, depth + 1));
    if (value instanceof Component) {
      const fields: Record<string, WireValue> = {};
      for (const name of Object.getOwnPropertyNames(value)) {
        if (BOOKKEEPING.has(name) || name.startsWith("_")) continue;
        const v = (value as unknown as Record<string, unknown>)[name];
        if (typeof v === "function" || v instanceof Component) continue; // methods and sub-components stay behind
        fields[name] = encode(v, `${path}.${name}`, stack, depth + 1);
      }
      return { $component: { class: value.constructor.name, host: value.host.name, fields } };
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new NotPlainData(path, describe(value));
    const out: Record<string, WireValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = encode(v, `${path}.${k}`, stack, depth + 1);
    return { $o: out };
  } finally {
    stack.delete(value);
  }
}

/**
 * The value of `wire` on this host: plain data frozen (read-only, as the provider's own value must not change from
 * here), hosts by name through `host` (unknown names stay names), a component snapshot as a frozen object with its
 * fields and its host.
 */
export function decodeResourceValue(wire: unknown, host: (name: string) => Host | null): unknown {
  if (wire === null || typeof wire !== "object") return wire;
  if (Array.isArray(wire)) return Object.freeze(wire.map((w) => decodeResourceValue(w, host)));
  const w = wire as Record<string, unknown>;
  if (w.$undefined === true) return undefined;
  if (typeof w.$host === "string") return host(w.$host) ?? w.$host;
  if (Array.isArray(w.$netloc)) return new NetLoc(String(w.$netloc[0]), (w.$netloc[1] as string | null) ?? undefined);
  if (w.$address && typeof w.$address === "object") {
    const a = w.$address as { connect: string; requireV4: RequireFlag; requireV6: RequireFlag };
    return new Address(String(a.connect), undefined, { requireV4: a.requireV4, requireV6: a.requireV6 });
  }
  if (w.$component && typeof w.$component === "object") {
    const c = w.$component as { class: string; host: string; fields: Record<string, unknown> };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c.fields ?? {})) out[k] = decodeResourceValue(v, host);
    out.host = host(String(c.host)) ?? String(c.host);
    const label = `<${String(c.class)} (${String(c.host)}), a snapshot from another host>`;
    Object.defineProperty(out, "toString", { value: () => label });
    return Object.freeze(out);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((w.$o ?? {}) as Record<string, unknown>)) {
    out[k] = decodeResourceValue(v, host);
  }
  return Object.freeze(out);
}
