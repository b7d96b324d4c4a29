/**
 * Network locations and service addresses (batou's `NetLoc`, `Address`,
 * `resolve` and `resolve_v6`).
 *
 * Name resolution is asynchronous in Deno, so an `Address` does not resolve
 * lazily inside its `listen` getter as batou does. Instead
 * `await address.resolveAddresses()` (or `await Address.create(...)`) looks up
 * the required families once, and the `listen` / `listenV6` getters report the
 * stored outcome with batou's semantics (errors are raised on access, not on
 * resolution, so an unused address that does not resolve is harmless).
 *
 * Resolution uses `node:dns` `lookup` (getaddrinfo), which honours /etc/hosts.
 *
 * @module
 */
import { compareStrings } from "../runtime/compare.ts";

/** `true`: must resolve; `false`: must not be used; `"optional"`: `null` when it does not resolve. */
export type RequireFlag = boolean | "optional";

/** Right-justifies `key` to 15 characters like batou's `output.tabular`. */
function tabular(key: string, value: string, separator = ": "): string[] {
  return `${key.padStart(15)}${separator}${value}`.split("\n");
}

/** A network location: host (name or IP) and optional port. */
export class NetLoc {
  /** Host name or IP address. */
  readonly host: string;
  /** The port as a string, or `undefined`. */
  readonly port: string | undefined;

  /** Numbers are stored as their decimal string; an empty string counts as no port. */
  constructor(host: string, port?: string | number | null) {
    this.host = host;
    this.port = port === undefined || port === null || port === "" ? undefined : String(port);
  }

  /** `host`, `host:port`, or `[host]:port` when the host contains a colon (IPv6). */
  toString(): string {
    if (this.port === undefined) return this.host;
    return this.host.includes(":") ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** True if the string forms are equal (`other` may be a NetLoc or a string). */
  equals(other: NetLoc | string): boolean {
    return this.toString() === String(other);
  }

  /** Orders by string form (not a networking order, but predictable). */
  compare(other: NetLoc | string): number {
    return compareStrings(this.toString(), String(other));
  }

  /** Comparator for `Array.prototype.sort`. */
  static compare(a: NetLoc, b: NetLoc): number {
    return a.compare(b);
  }

  /** Shows as batou's repr: ``<NetLoc `127.0.0.1:80`>``. */
  [Symbol.for("Deno.customInspect")](): string {
    return `<NetLoc \`${this.toString()}\`>`;
  }
}

/** An address family was accessed that the Address was not configured for. */
export class IPAddressConfigurationError extends Error {
  /** The connect address, e.g. `localhost:22`. */
  readonly address: string;
  /** The address family that was accessed. */
  readonly kind: 4 | 6;

  /** `address` is the connect address string. */
  constructor(address: string, kind: 4 | 6) {
    super(`Trying to access address family IPv${kind} which is not configured for ${address}.`);
    this.name = "IPAddressConfigurationError";
    this.address = address;
    this.kind = kind;
  }

  /** The lines batou's `report()` prints (without colours). */
  reportLines(): string[] {
    return [
      `ERROR: ${this.message}`,
      ...tabular("Hint", `Use \`require_v${this.kind}=True\` when instantiating the Address object.`),
    ];
  }
}

/** getaddrinfo failed for a required address family. */
export class GetAddressInfoError extends Error {
  /** `host:port` that was being resolved. */
  readonly hostname: string;
  /** The resolver's error text. */
  readonly error: string;

  /** `hostname` is `host:port`; `error` the resolver's message. */
  constructor(hostname: string, error: string) {
    super(`Error while resolving ${hostname}: ${error}`);
    this.name = "GetAddressInfoError";
    this.hostname = hostname;
    this.error = error;
  }

  /** The lines batou's `report()` prints (without colours). */
  reportLines(): string[] {
    return [
      "ERROR: Error while resolving hostname",
      ...tabular("hostname", this.hostname),
      ...tabular("message", this.error, ":\n"),
    ];
  }
}

let v4Overrides = new Map<string, string>();
let v6Overrides = new Map<string, string>();
let debugSink: ((line: string) => void) | null = null;

/** Replaces the resolver overrides (host → address) for IPv4 and IPv6. */
export function setResolverOverrides(v4: Record<string, string>, v6: Record<string, string>): void {
  v4Overrides = new Map(Object.entries(v4));
  v6Overrides = new Map(Object.entries(v6));
}

/** The current resolver overrides, e.g. to send them to a remote host. */
export function getResolverOverrides(): { v4: Record<string, string>; v6: Record<string, string> } {
  return { v4: Object.fromEntries(v4Overrides), v6: Object.fromEntries(v6Overrides) };
}

/** Receives batou's resolver debug lines (`resolving (v4) \`h\``, ...); `null` turns them off. */
export function setResolverDebug(sink: ((line: string) => void) | null): void {
  debugSink = sink;
}

function debug(line: string): void {
  debugSink?.(line);
}

/** An error that carries a getaddrinfo-style `code` (ENOTFOUND, EAI_AGAIN, ...). */
function isResolverError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

/**
 * getaddrinfo for one family. Entries of the other family (IP literals) are dropped. `node:dns` is loaded with the
 * first lookup, not with this module (it would cost every agent start ~10 ms, most resolve nothing).
 */
async function lookupFamily(host: string, family: 4 | 6): Promise<string[]> {
  const { lookup } = await import("node:dns/promises");
  const entries = await lookup(host, { family, all: true });
  const addresses = entries.filter((e) => e.family === family).map((e) => e.address);
  if (addresses.length === 0) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND", hostname: host });
  }
  return addresses;
}

/**
 * The first IPv4 address of `host`, or its override. Resolver errors
 * propagate (they carry a `code` such as `ENOTFOUND`).
 */
export async function resolve(host: string): Promise<string> {
  const override = v4Overrides.get(host);
  if (override !== undefined) {
    debug(`resolved (v4) \`${host}\` to ${override} (override)`);
    return override;
  }
  debug(`resolving (v4) \`${host}\``);
  const addresses = await lookupFamily(host, 4);
  debug(`resolved (v4) \`${host}\` to ${JSON.stringify(addresses)}`);
  const address = addresses[0];
  debug(`selected (v4) ${host}, ${address}`);
  return address;
}

/**
 * Synchronous lookup (overrides, IP literals, else `getent ahostsv4|ahostsv6`, which follows /etc/hosts and DNS
 * like getaddrinfo). Used when an address is read before it was resolved asynchronously.
 */
export function resolveSync(host: string, family: 4 | 6): string {
  const override = (family === 4 ? v4Overrides : v6Overrides).get(host);
  if (override !== undefined) return override;
  if (family === 4 && /^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return host;
  if (family === 6 && host.includes(":")) return host;
  let stdout = "";
  try {
    const out = new Deno.Command("getent", {
      args: [family === 4 ? "ahostsv4" : "ahostsv6", host],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    stdout = new TextDecoder().decode(out.stdout);
  } catch { /* no getent: treated as not found */ }
  const addresses = stdout.split("\n").map((l) => l.split(/\s+/)[0]).filter((a) =>
    a && (family === 4 ? !a.includes(":") : a.includes(":"))
  );
  const usable = family === 6 ? addresses.filter((a) => !a.toLowerCase().startsWith("fe80:")) : addresses;
  if (!usable.length) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND", hostname: host });
  }
  return usable[0];
}

/**
 * Picks the first address that is not link-local (`fe80:`).
 * @throws {Error} ``No valid address found for `host`.`` if none is left.
 */
export function selectV6Address(host: string, addresses: string[]): string {
  const address = addresses.find((a) => !a.toLowerCase().startsWith("fe80:"));
  if (address === undefined) throw new Error(`No valid address found for \`${host}\`.`);
  return address;
}

/**
 * The first non-link-local IPv6 address of `host`, or its override.
 * Resolver errors propagate; only link-local results give
 * ``No valid address found for `host`.``.
 */
export async function resolveV6(host: string): Promise<string> {
  const override = v6Overrides.get(host);
  if (override !== undefined) {
    debug(`resolved (v6) \`${host}\` to ${override} (override)`);
    return override;
  }
  debug(`resolving (v6) \`${host}\``);
  const addresses = await lookupFamily(host, 6);
  debug(`resolved (v6) \`${host}\` to ${JSON.stringify(addresses)}`);
  const address = selectV6Address(host, addresses);
  debug(`selected (v6) ${host}, ${address}`);
  return address;
}

/** Options for {@link Address}; unset flags take the class defaults. */
export interface AddressOptions {
  /** Whether an IPv4 listen address is required (default `Address.requireV4`). */
  requireV4?: RequireFlag;
  /** Whether an IPv6 listen address is required (default `Address.requireV6`). */
  requireV6?: RequireFlag;
}

/** Outcome of resolving one family. */
type Outcome = { value: NetLoc | null } | { error: unknown };

/**
 * A service address that clients connect to (`connect`) and servers listen on
 * (`listen`, `listenV6`, available after {@link Address.resolveAddresses}).
 */
export class Address {
  /** Class default for `requireV4`; the environment may change it. */
  static requireV4: RequireFlag = true;
  /** Class default for `requireV6`; the environment may change it. */
  static requireV6: RequireFlag = false;

  /** The address as clients should use it. */
  readonly connect: NetLoc;
  /** IPv4 requirement of this address. */
  readonly requireV4: RequireFlag;
  /** IPv6 requirement of this address. */
  readonly requireV6: RequireFlag;

  #v4: Outcome | undefined;
  #v6: Outcome | undefined;
  #resolving: Promise<void> | undefined;

  /**
   * `connectAddress` is `host` or `host:port` (a port in the string wins over
   * `port`); `[v6]:port` is accepted too.
   * @throws {Error} when both flags are false or no port is given
   */
  constructor(connectAddress: string, port?: string | number | null, options: AddressOptions = {}) {
    this.requireV4 = options.requireV4 ?? Address.requireV4;
    this.requireV6 = options.requireV6 ?? Address.requireV6;
    if (!this.requireV4 && !this.requireV6) {
      throw new Error("At least one of `require_v4` or `require_v6` is required. None were selected.");
    }
    let host = connectAddress;
    let explicitPort: string | number | null | undefined = port;
    const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(connectAddress);
    if (bracketed) {
      host = bracketed[1];
      if (bracketed[2] !== undefined) explicitPort = bracketed[2];
    } else if (connectAddress.includes(":")) {
      const parts = connectAddress.split(":");
      if (parts.length !== 2) {
        throw new Error(`Invalid service address \`${connectAddress}\`: use host:port or [ipv6]:port.`);
      }
      [host, explicitPort] = parts;
    }
    if (explicitPort === undefined || explicitPort === null) {
      throw new Error("Need port for service address.");
    }
    this.connect = new NetLoc(host, explicitPort);
  }

  /** Constructs and resolves an address in one step. */
  static async create(
    connectAddress: string,
    port?: string | number | null,
    options: AddressOptions = {},
  ): Promise<Address> {
    const address = new Address(connectAddress, port, options);
    await address.resolveAddresses();
    return address;
  }

  /**
   * Looks up the listen addresses of the families that are not `false`.
   * Never throws: failures are reported when `listen`/`listenV6` is read.
   * Repeated calls share the first lookup.
   */
  resolveAddresses(): Promise<void> {
    this.#resolving ??= Promise.all([
      this.requireV4 ? this.#resolveFamily(resolve).then((o) => (this.#v4 = o)) : undefined,
      this.requireV6 ? this.#resolveFamily(resolveV6).then((o) => (this.#v6 = o)) : undefined,
    ]).then(() => undefined);
    return this.#resolving;
  }

  #resolveFamilySync(kind: 4 | 6): Outcome {
    try {
      const host = this.connect.host;
      const address = kind === 4 ? resolveSync(host, 4) : selectV6Address(host, [resolveSync(host, 6)]);
      return { value: new NetLoc(address, this.connect.port) };
    } catch (error) {
      return { error };
    }
  }

  async #resolveFamily(resolver: (host: string) => Promise<string>): Promise<Outcome> {
    try {
      return { value: new NetLoc(await resolver(this.connect.host), this.connect.port) };
    } catch (error) {
      return { error };
    }
  }

  #read(kind: 4 | 6, flag: RequireFlag, outcome: Outcome | undefined): NetLoc | null {
    if (!flag) throw new IPAddressConfigurationError(this.toString(), kind);
    if (outcome === undefined) {
      // Not resolved ahead (await address.resolveAddresses() is cheaper): look it up synchronously, as batou does.
      outcome = this.#resolveFamilySync(kind);
      if (kind === 4) this.#v4 = outcome;
      else this.#v6 = outcome;
    }
    if ("value" in outcome) return outcome.value;
    if (flag === "optional") return null;
    if (isResolverError(outcome.error)) {
      throw new GetAddressInfoError(this.toString(), outcome.error.message);
    }
    throw outcome.error;
  }

  /**
   * The IPv4 listen address; `null` if optional and unresolvable.
   * @throws {IPAddressConfigurationError} if `requireV4` is false
   * @throws {GetAddressInfoError} if required and the lookup failed
   */
  get listen(): NetLoc | null {
    return this.#read(4, this.requireV4, this.#v4);
  }

  /**
   * The IPv6 listen address; `null` if optional and unresolvable.
   * @throws {IPAddressConfigurationError} if `requireV6` is false
   * @throws {GetAddressInfoError} if required and the lookup failed
   */
  get listenV6(): NetLoc | null {
    return this.#read(6, this.requireV6, this.#v6);
  }

  /** The connect address as a string. */
  toString(): string {
    return this.connect.toString();
  }

  /** Equal if the connect addresses' strings are equal. */
  equals(other: Address): boolean {
    return this.toString() === other.toString();
  }

  /** Orders by the connect address string. */
  compare(other: Address): number {
    return compareStrings(this.toString(), other.toString());
  }

  /** Comparator for `Array.prototype.sort`. */
  static compare(a: Address, b: Address): number {
    return a.compare(b);
  }
}
