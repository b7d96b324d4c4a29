/**
 * An environment: `environments/<name>/environment.cfg` (or `environments/<name>.cfg`)
 * with its hosts, component assignments, overrides and settings, and the
 * fixed-point configure loop over all root components on all hosts.
 *
 * @example
 * ```ts
 * import { Environment } from "./environment.ts";
 * const env = new Environment("dev", { baseDir: "/path/to/project" });
 * env.load({ batou: await import("../../mod.ts") });
 * const errors = await env.configure();
 * ```
 * @module
 */
import { statOrNullSync } from "../runtime/fsops.ts";
import { unknownNameError } from "./unknown_name.ts";
import { closestName } from "../formats/suggest.ts";
import { compareStrings } from "../runtime/compare.ts";
import { join } from "../runtime/path.ts";
import { type ConfigDocument, ConfigParseError } from "../formats/configparser.ts";
import { environmentConfigPath, readEnvironmentConfig } from "./environment_file.ts";
import {
  ConfigFileError,
  ConfigurationError,
  CycleErrorDetected,
  DuplicateHostError,
  DuplicateOverride,
  InvalidIPAddressError,
  MissingComponent,
  MissingEnvironment,
  NonConvergingWorkingSet,
  type ReportingError,
  SilentConfigurationError,
  SuperfluousComponentSection,
  SuperfluousSecretsSection,
  SuperfluousSection,
  UnknownComponentConfigurationError,
  UnknownHostSecretsSection,
  UnsatisfiedResources,
  UnusedResources,
} from "./errors.ts";
import { Component, markLibraryComponents, resetInstances, RootComponent } from "./component.ts";
import { type ComponentDefinition, loadComponents } from "./loader.ts";
import { Host } from "./host.ts";
import { Resources } from "./resources.ts";
import {
  type ForeignResource,
  injectForeign,
  publishResources,
  type ResourcePublication,
} from "./resource_exchange.ts";
import { CycleError, revertGraph, topologicalSort } from "./graph.ts";
import { DeveloperSandbox, MapSandbox, type PathMapper } from "./vfs.ts";
import { Address, type RequireFlag, setResolverOverrides } from "./address.ts";
import { parseBoolean } from "./attribute.ts";
import { output } from "./output.ts";
import { SecretFiles } from "./secret_files.ts";

/** Settings given on the command line; they win over environment.cfg. */
export interface EnvironmentOptions {
  /** The deployment project directory. */
  baseDir: string;
  /** `-p`: platform ("" means none). */
  platform?: string | null;
  /** `-t`: timeout in seconds. */
  timeout?: number | null;
  /** `-j`: parallel hosts. */
  jobs?: number | null;
  /** `-L`: configure everything locally. */
  checkAndPredictLocal?: boolean;
}

/** Which roots {@linkcode Environment.configure} configures and reports on. */
export interface ConfigureScope {
  /**
   * Configure only the roots of these hosts (all roots when absent): an agent's share of a brokered configure. What
   * other hosts' roots provide comes from `foreign` only; {@linkcode Environment.publication} tells what these roots
   * provide and require afterwards.
   */
  hosts?: ReadonlySet<string>;
  /** Print logs and warnings only for roots of these hosts; for all when absent. */
  report?: ReadonlySet<string>;
  /** With `hosts`: the values of other hosts' roots under the keys these roots require (from the broker). */
  foreign?: readonly ForeignResource[];
  /**
   * With `hosts`: keep the logs and warnings until {@linkcode Environment.printConfigureReport} (another round with
   * other foreign values may follow).
   */
  deferReport?: boolean;
}

/** What one run of the configure loop found, printed by the environment once the run is final. */
interface ConfigurePass {
  exceptions: ReportingError[];
  warnings: Map<RootComponent, string[]>;
  order: RootComponent[];
  unusedWarning: UnusedResources | null;
  unusedRoots: RootComponent[];
}

/**
 * What a controller sends an agent to build its environment from (besides the project files): the overrides of
 * environment.cfg and secrets merged, resolver entries, host data, secret files and the words to mask.
 */
export interface EnvironmentSnapshot {
  overrides: Record<string, Record<string, string>>;
  resolveOverride: Record<string, string>;
  resolveV6Override: Record<string, string>;
  hostData: Record<string, Record<string, string>>;
  /** The contents of the secret files sent (all of them unless `secretFileNames` is given). */
  secretFiles: Record<string, string>;
  /**
   * Every secret file's name, when `secretFiles` holds only some contents: a root that reads another known name is
   * retried once it comes (see {@linkcode Environment.wantedSecretFiles}).
   */
  secretFileNames?: string[];
  secretData: string[];
}

/** Secrets to merge into an environment (decrypted on the controller). */
export interface SecretsData {
  overrides: Record<string, Record<string, string>>;
  hostData: Record<string, Record<string, string>>;
  secretFiles: Record<string, string>;
  secretWords: Iterable<string>;
}

const ENVIRONMENT_KEYS = [
  "service_user",
  "require_sudo",
  "host_domain",
  "target_directory",
  "connect_method",
  "update_method",
  "branch",
  "platform",
  "timeout",
  "repository_url",
  "repository_root",
  "jobs",
  "require_v4",
  "require_v6",
  "unused_resources",
] as const;

const HOST_KEYS = ["components", "ignore", "platform", "service_user", "require_sudo", "provisioner"];
/**
 * batou's `update_method` values: what is sent to the targets (see remote/controller/sync_source.ts); the transfer
 * itself is always the agent's sync.
 */
export const UPDATE_METHODS: readonly string[] = [
  "rsync",
  "rsync-ext",
  "git-bundle",
  "git-pull",
  "hg-bundle",
  "hg-pull",
];

const CONNECT_METHODS = ["ssh", "local", "vagrant"];

/** One entry of a host's component list: `[!]name[:feature]`. */
export interface HostComponent {
  features: string[];
  ignore: boolean;
}

/** Parses a host's component list (`a, !b, c:feature`). */
export function parseHostComponents(items: string[]): Map<string, HostComponent> {
  const out = new Map<string, HostComponent>();
  for (let item of items) {
    item = item.trim();
    if (!item) continue;
    let ignore = false;
    if (item.startsWith("!")) {
      ignore = true;
      item = item.slice(1).trim();
    }
    const [name, feature] = item.split(":", 2).map((s) => s.trim());
    let entry = out.get(name);
    if (!entry) out.set(name, entry = { features: [], ignore: false });
    if (feature) entry.features.push(feature);
    entry.ignore ||= ignore;
  }
  return out;
}

/** Splits a list value on commas or newlines, trimming and dropping empty items. */
export function splitList(value: string): string[] {
  return value.split(/[,\n]/).map((s) => s.trim()).filter((s) => s !== "");
}

/** Lists the environment names of a project (`environments/<x>/environment.cfg` and `environments/<x>.cfg`). */
export function environmentNames(baseDir: string): string[] {
  const names = new Set<string>();
  try {
    for (const e of Deno.readDirSync(join(baseDir, "environments"))) {
      if (e.isDirectory) {
        try {
          Deno.statSync(join(baseDir, "environments", e.name, "environment.cfg"));
          names.add(e.name);
        } catch { /* not an environment */ }
      } else if (e.name.endsWith(".cfg")) names.add(e.name.slice(0, -4));
    }
  } catch { /* no environments */ }
  return [...names].filter((n) => Environment.configPath(baseDir, n) !== null).sort();
}

/** A deployment environment. */
export class Environment {
  readonly baseDir: string;
  readonly workdirBase: string;
  readonly hosts = new Map<string, Host>();
  readonly resources = new Resources();
  /** root name -> attribute -> configured string. */
  overrides: Record<string, Record<string, string>> = {};
  /** Words and lines of secret values, for diff masking. */
  secretData = new Set<string>();
  /** Secret files by name (on an agent with only some contents: see {@linkcode EnvironmentSnapshot.secretFileNames}). */
  secretFiles: Record<string, string> = {};
  /** With a snapshot's `secretFileNames`: every known secret file, and which contents came. */
  #secretFiles: SecretFiles | null = null;
  /** Whether the configure loop runs (a secret file that has not come is wanted only then). */
  #configuring = false;
  /** Errors collected while loading and configuring. */
  exceptions: ReportingError[] = [];
  /** After {@linkcode configure}: the hosts whose roots were configured, or null for all of them. */
  configuredHosts: string[] | null = null;
  /** After a configure of some hosts' roots: what they provide and require (for the resource broker). */
  publication: ResourcePublication | null = null;
  /** The errors of loading, kept for each configure round of a brokered configure. */
  #loadExceptions: ReportingError[] | null = null;
  /** A deferred report: the last round's logs and warnings, printed by {@linkcode printConfigureReport}. */
  #pendingReport: { pass: ConfigurePass; report?: ReadonlySet<string> } | null = null;
  components = new Map<string, ComponentDefinition>();
  rootComponents: RootComponent[] = [];

  serviceUser: string | null = null;
  requireSudo: boolean | null = null;
  hostDomain: string | null = null;
  branch: string | null = null;
  connectMethod = "ssh";
  updateMethod: string | null = null;
  platform: string | null = null;
  timeout = 3;
  /** Whether `timeout` was given (`-t` or environment.cfg) rather than defaulted: ssh honours only a given one. */
  timeoutConfigured = false;
  targetDirectory = "~/deployment";
  jobs: number | null = null;
  repositoryUrl: string | null = null;
  repositoryRoot: string | null = null;
  requireV4: RequireFlag = true;
  requireV6: RequireFlag = false;
  /** The `[vfs]` sandbox, if any. */
  vfs: PathMapper | null = null;
  /** `[resolver]` overrides. */
  resolveOverride: Record<string, string> = {};
  resolveV6Override: Record<string, string> = {};
  /**
   * `unused_resources = warn | error`: provided resources nobody requires are a warning by default
   * (batou 2.x makes them an error, which `error` restores).
   */
  unusedResources: "warn" | "error" = "warn";
  /** Whether deploy steps chdir into the component's work dir (the agent turns this on). */
  manageCwd = false;
  /**
   * Called, and awaited, before each root is configured (the agent tells the controller which root it configures,
   * so that one that never finishes can be named).
   */
  beforeRootConfigure: ((root: RootComponent) => void | Promise<void>) | null = null;
  /** The config file that was read (relative to baseDir). */
  configFile = "";
  /** Host names in config order (`[hosts]` first, then `[host:x]`). */
  hostOrder: string[] = [];
  readonly options: EnvironmentOptions;

  constructor(readonly name: string, options: EnvironmentOptions) {
    this.options = options;
    this.baseDir = options.baseDir;
    this.workdirBase = join(this.baseDir, "work");
  }

  /** Path of the environment's config file, or null when the environment does not exist. */
  static configPath(baseDir: string, name: string): string | null {
    return environmentConfigPath(baseDir, name);
  }

  /** Component names that files which failed to load appear to define (see `LoadResult.failed`). */
  #failedComponents = new Set<string>();
  /** environment.cfg as parsed by {@linkcode load} (for the lines of names in messages). */
  #config: ConfigDocument | null = null;
  /** The lines of `[component:x]` keys in {@linkcode configFile}: component -> key -> line. */
  #overrideLines: Record<string, Record<string, number>> = {};

  /** Where the overrides `keys` of component `name` are set (`file:line[,line...]`), or "" (e.g. from secrets). */
  overridePlace(name: string, keys: string[]): string {
    const lines = keys.map((k) => this.#overrideLines[name]?.[k]).filter((l): l is number => l !== undefined);
    return lines.length ? `${this.configFile}:${[...new Set(lines)].sort((a, b) => a - b).join(",")}` : "";
  }

  /** The exports of the `"batou"` module, for suggestions on typos in component files. */
  #batouNames: string[] = [];

  /**
   * Reads the config and the component files. Errors are collected in {@linkcode exceptions};
   * a missing environment throws {@linkcode MissingEnvironment}. With a `snapshot` (an agent, from its controller)
   * the controller's overrides, resolver entries, host data and secrets take the place of what this host would
   * compute itself, as part of the load: the environment is built from that one snapshot.
   */
  load(modules: Record<string, unknown>, snapshot?: EnvironmentSnapshot): void {
    setResolverOverrides({}, {});
    const path = Environment.configPath(this.baseDir, this.name);
    if (!path) throw this.#missing();
    this.configFile = path;
    const batou = modules["batou"];
    if (batou && typeof batou === "object") {
      markLibraryComponents(batou as Record<string, unknown>);
      this.#batouNames = Object.keys(batou);
    }
    const loaded = loadComponents(this.baseDir, modules);
    this.components = loaded.components;
    this.#failedComponents = loaded.failed;
    this.exceptions.push(...loaded.errors);
    let config: ConfigDocument;
    try {
      const read = readEnvironmentConfig(this.baseDir, this.name);
      if (!read) throw this.#missing();
      config = read.config;
    } catch (e) {
      if (e instanceof ConfigParseError) {
        this.exceptions.push(ConfigFileError.at(e.file, e.line, e.reason));
        return;
      }
      throw e;
    }
    this.#config = config;
    this.#loadEnvironment(config);
    this.#loadHosts(config);
    this.#loadResolver(config);
    this.#loadOverrides(config);
    if (snapshot) this.#applySnapshot(snapshot);
  }

  #missing(): MissingEnvironment {
    const isProject = statOrNullSync(join(this.baseDir, "environments"))?.isDirectory ?? false;
    return MissingEnvironment.of(this.name, environmentNames(this.baseDir), isProject);
  }

  #applySnapshot(snapshot: EnvironmentSnapshot): void {
    this.overrides = snapshot.overrides;
    this.resolveOverride = { ...this.resolveOverride, ...snapshot.resolveOverride };
    this.resolveV6Override = { ...this.resolveV6Override, ...snapshot.resolveV6Override };
    setResolverOverrides(this.resolveOverride, this.resolveV6Override);
    for (const [host, data] of Object.entries(snapshot.hostData)) {
      const h = this.hosts.get(host);
      if (h) Object.assign(h.data, data);
    }
    if (snapshot.secretFileNames) {
      this.#secretFiles = new SecretFiles(snapshot.secretFileNames, snapshot.secretFiles, () => this.#configuring);
      this.secretFiles = this.#secretFiles.view;
    } else this.secretFiles = snapshot.secretFiles;
    this.secretData = new Set(snapshot.secretData);
  }

  #error(line: number | undefined, message: string): void {
    this.exceptions.push(ConfigFileError.at(this.configFile, line ?? 0, message));
  }

  #loadEnvironment(config: ConfigDocument): void {
    const values: Record<string, string> = {};
    for (const e of config.entries("environment")) {
      if (!(ENVIRONMENT_KEYS as readonly string[]).includes(e.key)) {
        this.#error(e.line, `Unknown key \`${e.key}\` in [environment] (known keys: ${ENVIRONMENT_KEYS.join(", ")})`);
        continue;
      }
      values[e.key] = e.value.trim();
    }
    const line = (k: string) => config.entries("environment").find((e) => e.key === k)?.line;
    const opts = this.options;
    if (values.service_user) this.serviceUser = values.service_user;
    if (values.require_sudo !== undefined) {
      try {
        this.requireSudo = parseBoolean(values.require_sudo);
      } catch (e) {
        this.#error(line("require_sudo"), `require_sudo: ${(e as Error).message}`);
      }
    }
    if (values.host_domain) this.hostDomain = values.host_domain;
    if (values.target_directory) this.targetDirectory = values.target_directory;
    if (values.connect_method) {
      if (!CONNECT_METHODS.includes(values.connect_method)) {
        this.#error(
          line("connect_method"),
          `Unknown connect_method \`${values.connect_method}\` (use one of: ${CONNECT_METHODS.join(", ")})`,
        );
      } else this.connectMethod = values.connect_method;
    }
    if (values.update_method) {
      if (!UPDATE_METHODS.includes(values.update_method)) {
        this.#error(
          line("update_method"),
          `Unknown update_method \`${values.update_method}\` (use one of: ${UPDATE_METHODS.join(", ")})`,
        );
      } else this.updateMethod = values.update_method;
    }
    if (values.branch) this.branch = values.branch;
    if (values.repository_url) this.repositoryUrl = values.repository_url;
    if (values.repository_root) this.repositoryRoot = values.repository_root;
    if (opts.platform !== undefined && opts.platform !== null) this.platform = opts.platform || null;
    else if (values.platform) this.platform = values.platform;
    else this.platform = this.hostDomain;
    if (opts.timeout !== undefined && opts.timeout !== null) {
      this.timeout = opts.timeout;
      this.timeoutConfigured = true;
    } else if (values.timeout !== undefined) {
      const t = Number(values.timeout);
      if (!Number.isInteger(t) || t <= 0) {
        this.#error(line("timeout"), `timeout must be a positive whole number of seconds, got \`${values.timeout}\``);
      } else {
        this.timeout = t;
        this.timeoutConfigured = true;
      }
    }
    if (opts.jobs !== undefined && opts.jobs !== null) this.jobs = opts.jobs;
    else if (values.jobs !== undefined) {
      const j = Number(values.jobs);
      if (!Number.isInteger(j) || j <= 0) {
        this.#error(line("jobs"), `jobs must be a positive whole number, got \`${values.jobs}\``);
      } else this.jobs = j;
    }
    if (values.unused_resources !== undefined) {
      const v = values.unused_resources.toLowerCase();
      if (v === "warn" || v === "error") this.unusedResources = v;
      else {this.#error(
          line("unused_resources"),
          `unused_resources must be warn or error, got \`${values.unused_resources}\``,
        );}
    }
    for (const family of ["require_v4", "require_v6"] as const) {
      const v = values[family];
      if (v === undefined) continue;
      let flag: RequireFlag;
      if (v.toLowerCase() === "optional") flag = "optional";
      else {
        try {
          flag = parseBoolean(v);
        } catch (e) {
          this.#error(line(family), `${family}: ${(e as Error).message}`);
          continue;
        }
      }
      if (family === "require_v4") this.requireV4 = flag;
      else this.requireV6 = flag;
    }
    Address.requireV4 = this.requireV4;
    Address.requireV6 = this.requireV6;
    if (opts.checkAndPredictLocal) this.connectMethod = "local";
    if (config.has("vfs")) {
      const section = Object.fromEntries(config.entries("vfs").map((e) => [e.key, e.value]));
      if (section.sandbox === "Developer") this.vfs = new DeveloperSandbox(this.workdirBase);
      else if (section.sandbox === "Map") this.vfs = new MapSandbox(section);
      else {
        this.#error(
          config.entries("vfs").find((e) => e.key === "sandbox")?.line ?? config.sectionLine("vfs"),
          `Unknown [vfs] sandbox \`${section.sandbox ?? ""}\` (use Developer or Map)`,
        );
      }
    }
  }

  #addHost(name: string, settings: Record<string, string>, line: number | undefined, componentsLine = line): void {
    if (name === "") {
      this.#error(line, "Missing host name");
      return;
    }
    if (!/^[A-Za-z0-9_.:-]+$/.test(name)) {
      this.#error(line, `Invalid host name \`${name}\``);
      return;
    }
    if (this.hosts.has(name)) this.exceptions.push(DuplicateHostError.of(name));
    else this.hostOrder.push(name);
    const fqdn = this.hostDomain ? `${name}.${this.hostDomain}` : name;
    const host = new Host(name, fqdn);
    host.ignore = settings.ignore !== undefined ? this.#bool(settings.ignore, line, "ignore") : false;
    host.platform = settings.platform ?? this.platform;
    host.serviceUser = settings.service_user ?? this.serviceUser;
    host.requireSudo = settings.require_sudo !== undefined
      ? this.#bool(settings.require_sudo, line, "require_sudo")
      : this.requireSudo;
    for (const [k, v] of Object.entries(settings)) {
      if (k.startsWith("data-")) host.data[k.slice(5)] = v;
    }
    // Roots of a replaced duplicate definition go away with it.
    this.rootComponents = this.rootComponents.filter((r) => r.host.name !== name);
    this.hosts.set(name, host);
    for (const [component, spec] of parseHostComponents(splitList(settings.components ?? ""))) {
      if (component === "") {
        this.#error(componentsLine, `Missing component name in the components of host \`${name}\``);
        continue;
      }
      this.addRoot(component, host, spec.features, spec.ignore, componentsLine);
    }
  }

  #bool(value: string, line: number | undefined, key: string): boolean {
    try {
      return parseBoolean(value);
    } catch (e) {
      this.#error(line, `${key}: ${(e as Error).message}`);
      return false;
    }
  }

  #loadHosts(config: ConfigDocument): void {
    for (const e of config.entries("hosts")) {
      const ignore = e.key.startsWith("!");
      const name = ignore ? e.key.slice(1).trim() : e.key;
      this.#addHost(name, { components: e.value, ignore: String(ignore) }, e.line);
    }
    for (const section of config.sections()) {
      if (!section.startsWith("host:")) continue;
      const name = section.slice(5).trim();
      const settings: Record<string, string> = {};
      for (const e of config.entries(section)) {
        if (!HOST_KEYS.includes(e.key) && !e.key.startsWith("data-") && !e.key.startsWith("provision")) {
          this.#error(e.line, `Unknown key \`${e.key}\` in [${section}] (known keys: ${HOST_KEYS.join(", ")}, data-*)`);
          continue;
        }
        settings[e.key] = e.value;
      }
      if (settings.components === undefined) settings.components = "";
      const componentsLine = config.entries(section).find((e) => e.key === "components")?.line;
      this.#addHost(name, settings, config.sectionLine(section), componentsLine ?? config.sectionLine(section));
    }
  }

  #loadResolver(config: ConfigDocument): void {
    for (const e of config.entries("resolver")) {
      for (const addr of splitList(e.value)) {
        if (/^\d{1,3}(\.\d{1,3}){3}$/.test(addr)) this.resolveOverride[e.key] = addr;
        else if (addr.includes(":") && /^[0-9a-fA-F:.]+$/.test(addr)) this.resolveV6Override[e.key] = addr;
        else {
          const error = InvalidIPAddressError.of(addr);
          error.affectedHostname = e.key;
          this.exceptions.push(error);
        }
      }
    }
    setResolverOverrides(this.resolveOverride, this.resolveV6Override);
  }

  #loadOverrides(config: ConfigDocument): void {
    for (const section of config.sections()) {
      if (["hosts", "environment", "vfs", "resolver"].includes(section) || section.startsWith("host:")) continue;
      if (!section.startsWith("component:")) {
        this.exceptions.push(SuperfluousSection.of(section));
        continue;
      }
      const name = section.slice("component:".length).trim();
      if (name === "") {
        this.#error(config.sectionLine(section), `Missing component name in section [${section}]`);
        continue;
      }
      if (!this.components.has(name)) {
        if (this.#failedComponents.has(name.toLowerCase())) continue;
        const e = SuperfluousComponentSection.of(name);
        const line = config.sectionLine(section);
        if (line) e.place = `${this.configFile}:${line}`;
        e.suggestion = closestName(name, this.components.keys()) ?? "";
        this.exceptions.push(e);
        continue;
      }
      const target = this.overrides[name] ??= {};
      const lines = this.#overrideLines[name] ??= {};
      for (const e of config.entries(section)) {
        target[e.key] = e.value;
        if (e.line) lines[e.key] = e.line;
      }
    }
  }

  /** Merges decrypted secrets: component overrides, host data, secret files and masking words. */
  loadSecrets(secrets: SecretsData): void {
    for (const [host, data] of Object.entries(secrets.hostData)) {
      const h = this.hosts.get(host);
      if (!h) {
        this.exceptions.push(UnknownHostSecretsSection.of(host));
        continue;
      }
      for (const [k, v] of Object.entries(data)) h.data[k.replace(/^data-/, "")] = v;
    }
    for (const [component, values] of Object.entries(secrets.overrides)) {
      if (!this.components.has(component) && !this.#failedComponents.has(component.toLowerCase())) {
        this.exceptions.push(SuperfluousSecretsSection.of(component));
      }
      const target = this.overrides[component] ??= {};
      for (const [k, v] of Object.entries(values)) {
        if (k in target) this.exceptions.push(DuplicateOverride.of(component, k));
        target[k] = v;
      }
    }
    this.secretFiles = { ...this.secretFiles, ...secrets.secretFiles };
    for (const w of secrets.secretWords) this.secretData.add(w);
  }

  /** Adds secret file contents the controller sent in a later configure round. */
  receiveSecretFiles(contents: Record<string, string>): void {
    if (this.#secretFiles) this.#secretFiles.receive(contents);
    else this.secretFiles = { ...this.secretFiles, ...contents };
  }

  /** The names of known secret files that roots read during configure and whose contents have not come, sorted. */
  get wantedSecretFiles(): string[] {
    return this.#secretFiles?.wanted ?? [];
  }

  /**
   * The line of {@linkcode configFile} that names `name` in the value whose key is on `line` (a value may continue
   * on indented lines); `line` itself when none does.
   */
  #lineOfName(line: number, name: string): number {
    const config = this.#config;
    if (!config) return line;
    const word = new RegExp(`(^|[\\s,=:!])${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[\\s,:])`);
    for (let n = line;; n++) {
      const text = config.lineText(n);
      if (text === null || (n > line && text.trim() !== "" && !/^\s/.test(text))) break;
      if (word.test(text.replace(/[;#].*$/, ""))) return n;
    }
    return line;
  }

  /** Adds a root component for `host` (a MissingComponent error when the name is unknown). */
  addRoot(name: string, host: Host, features: string[] = [], ignore = false, line?: number): RootComponent | null {
    const def = this.components.get(name);
    if (!def) {
      // A component of a file that failed to load is reported by that failure.
      if (this.#failedComponents.has(name.toLowerCase())) return null;
      const place = line ? `${this.configFile}:${this.#lineOfName(line, name)}` : "";
      this.exceptions.push(MissingComponent.of(name, host.name, place, this.components.keys()));
      return null;
    }
    const root = new RootComponent(
      name,
      this,
      host,
      features,
      ignore,
      def.factory,
      def.defdir,
      join(this.workdirBase, name),
    );
    this.rootComponents.push(root);
    return root;
  }

  /** Maps an absolute path through the VFS sandbox (identity without one). */
  map(path: string): string {
    return this.vfs ? this.vfs.map(path) : path;
  }

  /** The host called `name`. */
  getHost(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new ConfigurationError(`Unknown host ${name}`);
    return h;
  }

  /** The root `name` on `host`. */
  getRoot(name: string, host: string): RootComponent {
    const root = this.rootComponents.find((r) => r.name === name && r.host.name === host);
    if (!root) throw new ConfigurationError(`Component ${name} not configured for host ${host}`);
    return root;
  }

  /** The roots of a host. */
  rootsFor(host: string): RootComponent[] {
    return this.rootComponents.filter((r) => r.host.name === host);
  }

  /** Compares roots by host name, then component name. */
  static compareRoots(a: RootComponent, b: RootComponent): number {
    return compareStrings(a.host.name, b.host.name) || compareStrings(a.name, b.name);
  }

  /** Each root's dependencies (the roots it must wait for), complete with roots without any. */
  rootDependencies(): Map<RootComponent, Set<RootComponent>> {
    const graph = this.resources.dependencyGraph();
    for (const root of this.rootComponents) if (!graph.has(root)) graph.set(root, new Set());
    return graph;
  }

  /**
   * The fixed-point configure loop over all roots on all hosts. Returns (and
   * appends to {@linkcode exceptions}) the errors of the last iteration.
   *
   * With `scope.hosts`, only the roots of those hosts are configured (one round of a brokered configure: it can be
   * called again with other `foreign` values, starting afresh). Provided resources nobody here requires and cycles
   * through other hosts' roots are then the broker's to tell, not this configure's.
   * With `scope.report`, logs and warnings are printed only for roots on those hosts (an agent per host prints its
   * own; the model is the same).
   */
  async configure(scope: ConfigureScope = {}): Promise<ReportingError[]> {
    if (!scope.hosts) {
      this.configuredHosts = null;
      return this.#finish(await this.#configureRoots(this.rootComponents, false), scope.report);
    }
    const hosts = scope.hosts;
    this.exceptions = [...(this.#loadExceptions ??= [...this.exceptions])];
    this.resources.clear();
    for (const r of this.rootComponents) r.component = null;
    injectForeign(
      this.resources,
      scope.foreign ?? [],
      (h, n) => this.rootComponents.find((r) => r.host.name === h && r.name === n && !hosts.has(h)) ?? null,
      (n) => this.hosts.get(n) ?? null,
    );
    const own = this.rootComponents.filter((r) => hosts.has(r.host.name));
    const pass = await this.#configureRoots(own, true);
    this.configuredHosts = [...hosts].sort();
    this.publication = publishResources(this.resources, new Set(own), (values) => reprValue(values));
    this.#pendingReport = null;
    if (!scope.deferReport) return this.#finish(pass, scope.report);
    this.#pendingReport = { pass, report: scope.report };
    this.exceptions.push(...pass.exceptions);
    return this.exceptions;
  }

  /** Prints the logs and warnings a `deferReport` configure kept (once). */
  printConfigureReport(): void {
    const pending = this.#pendingReport;
    this.#pendingReport = null;
    if (pending) this.#print(pending.pass, pending.report);
  }

  /** The loop of {@linkcode configure} over `roots`: its errors, warnings and order (nothing is printed yet). */
  async #configureRoots(roots: RootComponent[], brokered: boolean): Promise<ConfigurePass> {
    this.#configuring = true;
    try {
      return await this.#configureLoop(roots, brokered);
    } finally {
      this.#configuring = false;
    }
  }

  async #configureLoop(roots: RootComponent[], brokered: boolean): Promise<ConfigurePass> {
    let workingSet = [...roots].sort(Environment.compareRoots);
    const previous: Set<RootComponent>[] = [];
    let order: RootComponent[] = [];
    let exceptions: ReportingError[] = [];
    const warnings = new Map<RootComponent, string[]>();
    while (workingSet.length) {
      exceptions = [];
      previous.push(new Set(workingSet));
      const retry = new Set<RootComponent>();
      this.resources.dirtyDependencies.clear();
      for (const root of workingSet) {
        if (this.beforeRootConfigure) await this.beforeRootConfigure(root);
        resetInstances();
        this.resources.resetComponentResources(root);
        root.overrides = this.overrides[root.name] ?? {};
        try {
          await root.prepare();
          warnings.set(root, this.#warningsFor(root, resetInstances()));
          continue;
        } catch (e) {
          if (e instanceof SilentConfigurationError) { /* retried below */ }
          else if (e instanceof ConfigurationError || isReporting(e)) {
            exceptions.push(e as ReportingError);
          } else {
            const unknown = unknownNameError(e, this.baseDir, this.#batouNames);
            if (unknown) [unknown.rootName, unknown.affectedHostname] = [root.name, root.host.name];
            exceptions.push(unknown ?? UnknownComponentConfigurationError.of(root, e, this.baseDir));
          }
        }
        retry.add(root);
      }
      for (const r of this.resources.dirtyDependencies) retry.add(r);
      for (const r of this.resources.unsatisfiedComponents) retry.add(r);
      try {
        order = topologicalSort(revertGraph(this.rootDependencies()), Environment.compareRoots);
      } catch (e) {
        if (!(e instanceof CycleError)) throw e;
        if (brokered) order = [...roots].sort(Environment.compareRoots);
        else exceptions.push(CycleErrorDetected.of(e.format((r: RootComponent) => rootLabel(r, this))));
      }
      const seen = previous.findIndex((p) => sameSet(p, retry));
      if (seen >= 0) {
        const unsatisfied = this.resources.unsatisfied;
        if (unsatisfied.length) {
          exceptions.push(
            UnsatisfiedResources.of(
              unsatisfied.map(([k, h, roots]) => [k, h, [...new Set(roots.map((r) => r.name))].sort()]),
            ),
          );
        }
        const unconfigured = previous.slice(seen).flatMap((p) => [...p].map((r) => r.name));
        exceptions.push(NonConvergingWorkingSet.of(unconfigured));
        break;
      }
      workingSet = [...retry].sort(Environment.compareRoots);
    }
    const unused = brokered ? new Map() : this.resources.unused;
    let unusedWarning: UnusedResources | null = null;
    const unusedRoots: RootComponent[] = [];
    if (unused.size) {
      const list: [string, string, string][] = [];
      for (const key of [...unused.keys()].sort()) {
        for (const [root, values] of unused.get(key)!) {
          list.push([key, root.name, reprValue(values)]);
          unusedRoots.push(root);
        }
      }
      const error = UnusedResources.of(list);
      if (this.unusedResources === "error") exceptions.push(error);
      else unusedWarning = error;
    }
    return { exceptions, warnings, order, unusedWarning, unusedRoots };
  }

  /**
   * Prints the logs and warnings of a configure pass (for roots on the hosts in `report`; all when absent), adds
   * its errors to {@linkcode exceptions} and returns those.
   */
  #finish(pass: ConfigurePass, report?: ReadonlySet<string>): ReportingError[] {
    this.#print(pass, report);
    this.exceptions.push(...pass.exceptions);
    return this.exceptions;
  }

  /** Prints the logs and warnings of a configure pass (for roots on the hosts in `report`; all when absent). */
  #print(pass: ConfigurePass, report?: ReadonlySet<string>): void {
    const { warnings, order, unusedWarning, unusedRoots, exceptions } = pass;
    const reported = (r: RootComponent) => !report || report.has(r.host.name);
    for (const root of order) {
      if (!reported(root)) continue;
      root.logFinishConfigure();
      for (const w of warnings.get(root) ?? []) output.warn(w);
    }
    // With errors, resources left unused are a follow-on: their consumers failed or were never configured.
    const unusedShown = exceptions.length ? [] : unusedWarning?.unused.filter((_, i) => reported(unusedRoots[i])) ?? [];
    if (unusedShown.length) {
      output.warn("Unused provided resources");
      for (const [key, component, value] of unusedShown) {
        output.line(`    Resource "${key}" provided by ${component} with value ${value}`, { yellow: true });
      }
    }
  }

  #warningsFor(root: RootComponent, constructed: Component[]): string[] {
    const out: string[] = [];
    const unused = constructed.filter((c) => !c.prepared);
    if (unused.length) {
      let text = "Some components were initialized but never added to the environment:";
      for (const c of unused) {
        const by = c.initBreadcrumbs;
        text += `\n    '${c.constructor.name}'${by.length ? `: ${by.join(" -> ")}` : ""}`;
        text += `\n        initialized in ${c.initLocation}`;
      }
      text += `\nRoot: ${root.name}\nAdd the components to the environment using \`this.add(component)\`.`;
      out.push(text);
    }
    const top = root.component;
    if (top) {
      const classes = new Set<string>();
      // Each class checked once, in tree order (thousands of components share a few classes: issue 17).
      const seen = new Set<object>();
      const check = (c: Component) => {
        const proto = Object.getPrototypeOf(c);
        if (seen.has(proto)) return;
        seen.add(proto);
        if (proto.update !== Component.prototype.update && proto.verify === Component.prototype.verify) {
          classes.add(c.constructor.name);
        }
      };
      check(top);
      for (const c of top.recursiveSubComponents()) check(c);
      if (classes.size) {
        out.push(
          "Some components have an update method but no verify method:\n" +
            [...classes].map((c) => `    '${c}'`).join("\n") +
            `\nRoot: ${root.name}\nThe update() method may not be called by batou if the verify() method is missing.`,
        );
      }
    }
    return out;
  }
}

/**
 * A value as batou shows it in reports (Python's repr): `[42]`, `['a']`, `{'k': True}`, and components by their
 * `toString()`. Never throws, also not for circular structures.
 */
export function reprValue(value: unknown, depth = 0): string {
  if (typeof value === "string") return "'" + value.replaceAll("\\", "\\\\").replaceAll("'", "\\'") + "'";
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value !== "object") return String(value);
  if (depth > 4) return "...";
  if (Array.isArray(value)) return `[${value.map((v) => reprValue(v, depth + 1)).join(", ")}]`;
  if (value.toString !== Object.prototype.toString) return String(value);
  const items = Object.entries(value).map(([k, v]) => `${reprValue(k)}: ${reprValue(v, depth + 1)}`);
  return `{${items.join(", ")}}`;
}

function isReporting(e: unknown): boolean {
  return e instanceof Error && typeof (e as { report?: unknown }).report === "function" &&
    Array.isArray((e as { sortKey?: unknown }).sortKey);
}

function sameSet<T>(a: Set<T>, b: Set<T>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** A root's name in cycle reports: `name` alone, or `name@host` when the environment has several hosts. */
/** A root as batou names it in messages: `name@host` when the environment has more than one host. */
export function rootLabel(root: RootComponent, env: Environment): string {
  return env.hosts.size > 1 ? `${root.name}@${root.host.name}` : root.name;
}
