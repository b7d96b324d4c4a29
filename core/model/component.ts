/**
 * The component model: batou's `Component` lifecycle in TypeScript.
 *
 * A component is configured (`configure()`, adding sub-components with
 * `add()`), then deployed: sub-components first, in the order added, then its
 * own `verify()`; when verify throws {@linkcode UpdateNeeded} (or any
 * `AssertionError`) and we are not predicting, `update()` runs.
 *
 * @example
 * ```ts
 * import { attribute, Component } from "./component.ts";
 * export class Hello extends Component {
 *   port = attribute(Number, 8080);
 *   override configure() {
 *     this.provide("hello", `${this.host.fqdn}:${this.port}`);
 *   }
 * }
 * ```
 * @module
 */
import { AttributeSpec, parseBoolean, parseList, parseNumber } from "./attribute.ts";
import {
  AttributeExpansionError,
  ConfigurationError,
  ConversionError,
  DeploymentStopped,
  isUpdateSignal,
  MissingOverrideAttributes,
  ReportingError,
  SilentConfigurationError,
  UnknownComponentOptions,
  UpdateNeeded,
} from "./errors.ts";
import { output } from "./output.ts";
import { expand as expandTemplate } from "./template.ts";
import { type CmdResult, runCmd } from "./cmd.ts";
import { Timer } from "./timer.ts";
import { forgetFileInfo, statOrNull } from "../runtime/fsops.ts";
import { saveContentMemos } from "../runtime/content_memo.ts";
import { isBatouModule, stackFrames } from "../runtime/stack.ts";
import { type Sha256Hasher, sha256Hasher } from "../runtime/sha256.ts";
import type { Host } from "./host.ts";
import type { Environment } from "./environment.ts";
import { isAbsolute, join, normalize } from "../runtime/path.ts";
import { pyRepr } from "../formats/pyrepr.ts";

export { attribute } from "./attribute.ts";

/** A component class: constructed with an optional namevar and options. */
// deno-lint-ignore no-explicit-any
export type ComponentClass<T extends Component = Component> = (new (namevar?: any, options?: any) => T) & {
  namevar?: string;
  events?: Record<string, [string, string]>;
  name: string;
};

/** Options of {@linkcode Component.require}. */
export interface RequireOptions {
  /** Only values provided by roots on this host. */
  host?: Host | null;
  /** An unsatisfied requirement is an error (default true). */
  strict?: boolean;
  /** Reverse the dependency edge: the provider depends on the requirer. */
  reverse?: boolean;
  /** Do not re-configure this component when the resource changes. */
  dirty?: boolean;
}

/** Options of {@linkcode Component.cmd}. */
export interface CmdOptions {
  silent?: boolean;
  ignoreReturnCode?: boolean;
  env?: Record<string, string>;
  /** Expand the command as a template first (default true). */
  expand?: boolean;
  input?: string;
  /** Working directory (default: the component's work dir). */
  cwd?: string;
  /**
   * `false`: show each line of output as it arrives (`host: line`), for long commands (batou's
   * `cmd(communicate=False)`); the result still has all output. Default true: output only in the result.
   */
  communicate?: boolean;
  /** Called with each line of output as it arrives (implies streaming; see `communicate`). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** Names that options and overrides must never replace. */
const RESERVED = new Set([
  "parent",
  "root",
  "host",
  "environment",
  "defdir",
  "subComponents",
  "namevar",
  "breadcrumb",
  "breadcrumbs",
  "timer",
]);

const platforms = new WeakMap<ComponentClass, Map<string, ComponentClass>>();

/**
 * Registers `cls` as the platform-specific sub-component of `base` for platform `name`:
 * `platform("debian", Base)(DebianBase)`. Not inherited by subclasses of `base`.
 */
export function platform(name: string, base: ComponentClass): (cls: ComponentClass) => ComponentClass {
  return (cls) => {
    let map = platforms.get(base);
    if (!map) platforms.set(base, map = new Map());
    map.set(name, cls);
    return cls;
  };
}

/** The sub-components of a component that has none (shared, frozen). */
const NO_COMPONENTS: readonly Component[] = Object.freeze([]);

/** Components constructed since the last {@linkcode resetInstances}; used to warn about unused ones. */
const instances: Component[] = [];

/** The components whose (synchronous part of) `configure()` is running, outermost first. */
const configuring: Component[] = [];

/** Per library class: whether an option key names one of its fields (see `#applyOptions`). */
const acceptedOptions = new WeakMap<object, Map<string, boolean>>();

/** A copy of {@linkcode configuring} while it does not change (null: make a new one). */
let configuringCopy: Component[] | null = null;

/** batou's own component classes (exactly these classes, not subclasses): see {@linkcode markLibraryComponents}. */
const libraryClasses = new WeakSet<object>();

/**
 * Marks the component classes among `exports` (the `"batou"` module served to component files) as batou's own.
 * A library component's `configure()` adds every component it constructs, so no "initialized but never added"
 * warning can point into it: components it constructs skip capturing their construction stack (the costliest part
 * of constructing a component) and report the location of the library component instead.
 */
export function markLibraryComponents(exports: Record<string, unknown>): void {
  for (const value of Object.values(exports)) {
    if (typeof value === "function" && value.prototype instanceof Component) libraryClasses.add(value);
  }
}

/** Clears the list of constructed components (done before each root is prepared). */
export function resetInstances(): Component[] {
  return instances.splice(0, instances.length);
}

/** Finds the first stack frame outside batou's own modules (the user's `new X()` call). */
function callerLocation(stack: string | undefined): string {
  for (const f of stackFrames(stack)) {
    // Constructors of component subclasses are not where the component was created.
    if (f.text.startsWith("at new ") || !f.path.startsWith("/") || isBatouModule(f.path)) continue;
    return `${f.path}:${f.line}`;
  }
  return "<unknown>";
}

/** The root of a component tree: one per (host, root component name). */
export class RootComponent {
  /** Set during configure: messages logged are printed after the configure phase. */
  logs: string[] | null = null;
  component: Component | null = null;
  overrides: Record<string, string> = {};

  constructor(
    readonly name: string,
    readonly environment: Environment,
    readonly host: Host,
    readonly features: string[],
    readonly ignore: boolean,
    readonly factory: ComponentClass,
    readonly defdir: string,
    readonly workdir: string,
  ) {}

  /** Constructs and configures the top component afresh. */
  async prepare(): Promise<void> {
    this.logs = [];
    const component = new this.factory();
    this.component = component;
    if (this.features.length) (component as unknown as { features: string[] }).features = [...this.features];
    await component.prepare(this);
  }

  /** Prints the messages logged during configure. */
  logFinishConfigure(): void {
    for (const msg of this.logs ?? []) output.annotate(msg);
    this.logs = null;
  }

  /** Records (during configure) or prints a log message. */
  log(msg: string): void {
    if (this.logs) this.logs.push(msg);
    else output.annotate(`${this.host.fqdn}: ${msg}`);
  }

  /** Deploys the component tree. */
  async deploy(predictOnly: boolean): Promise<void> {
    if (!this.component) throw new Error(`Component ${this.name} was not configured`);
    try {
      await this.component.deploy(predictOnly);
    } finally {
      saveContentMemos();
    }
  }

  /** The breadcrumbs of a root is its host name. */
  get breadcrumbs(): string {
    return this.host.name;
  }

  toString(): string {
    return `<RootComponent "${this.name}">`;
  }
}

/** The base class of every component. */
export class Component {
  /** Name of the field that receives the first constructor argument. */
  static namevar?: string;
  /**
   * Set (to true) by library classes whose verify and update never change the working directory nor deploy other
   * components. Such a component is deployed without batou's read and restore of the working directory when its
   * parent knows it (a sibling with the same workdir then needs no chdir at all); it leaves the process in its
   * workdir, and the nearest component that is not trusted restores the directory it started in. Only the class
   * that sets it is trusted, not its subclasses.
   */
  static keepsWorkdir = false;
  /** Event handlers: `{ method: ["before-update", "precursor" | "*"] }`. */
  static events?: Record<string, [string, string]>;

  #parent: Component | RootComponent | null = null;
  // Created when first needed (issue 17): a no-op of 8,000 files keeps ~26,000 components alive, and empty maps and
  // arrays per component were most of what the garbage collector copied and the heap grew by.
  /** The sub-components (null: none yet). */
  #subComponents: Component[] | null = null;
  #prepared = false;
  /** The constructor's options until the component is prepared (null afterwards: nothing reads them again). */
  #pendingOptions: Record<string, unknown> | null;
  #namevarValue: unknown;
  /** Values of `attribute()` fields (null: none set). */
  #attrValues: Map<string, unknown> | null = null;
  /** The `attribute()` fields (null: none). */
  #attrSpecs: Map<string, AttributeSpec> | null = null;
  /** Async configures of sub-components not awaited yet (null: none). */
  #pending: Promise<void>[] | null = null;
  #workdir = "";
  #checksum: Sha256Hasher | null = null;
  /**
   * Captured at construction, formatted only when {@linkcode initLocation} is asked for; null when a library
   * component constructed this one (its location is then that component's).
   */
  #initStack: Error | null;
  /** The components configuring when this one was constructed (outermost first). */
  #initConfiguring: Component[];
  /** The last component added (batou's `_`). */
  _: Component | null = null;
  /** Whether this component (or a sub-component) changed during the last deploy. */
  changed = false;
  #timer: Timer | null = null;

  constructor(namevar?: unknown, options: Record<string, unknown> = {}) {
    const cls = this.constructor as ComponentClass;
    if (namevar !== undefined && namevar !== null && typeof namevar === "object" && !cls.namevar) {
      options = namevar as Record<string, unknown>;
      namevar = undefined;
    }
    if (cls.namevar && (namevar === undefined || namevar === null)) {
      throw new ConfigurationError(
        `Namevar ${cls.namevar} required (${cls.name}: new ${cls.name}(${cls.namevar}, {...}))`,
      );
    }
    if (!cls.namevar && namevar !== undefined) throw new ConfigurationError("Namevar is undefined for this component.");
    this.#namevarValue = namevar;
    this.#pendingOptions = options ?? null;
    const creator = configuring.at(-1);
    this.#initStack = creator && libraryClasses.has(creator.constructor) ? null : new Error();
    // One copy shared by every component constructed in the same configure (read only).
    this.#initConfiguring = configuringCopy ??= configuring.slice();
    instances.push(this);
  }

  // ---------------------------------------------------------------- identity

  /** The parent component, or the root for a top component. */
  get parent(): Component | RootComponent | null {
    return this.#parent;
  }

  /** The root component this component belongs to. */
  get root(): RootComponent {
    let p: Component | RootComponent | null = this.#parent;
    while (p instanceof Component) p = p.#parent;
    if (!p) throw new Error(`${this.constructor.name} is not prepared yet (add it with this.add())`);
    return p;
  }

  /** The host this component deploys to. */
  get host(): Host {
    return this.root.host;
  }

  /** The environment being deployed. */
  get environment(): Environment {
    return this.root.environment;
  }

  /** The directory of the root component's file (templates and files live there). */
  get defdir(): string {
    return this.root.defdir;
  }

  /** The working directory; relative paths resolve against it. Assignable in configure. */
  get workdir(): string {
    return this.#workdir;
  }
  set workdir(value: string) {
    this.#workdir = value;
  }

  /** The value of the namevar (the first constructor argument). */
  get namevar(): unknown {
    const name = (this.constructor as ComponentClass).namevar;
    if (!name) return undefined;
    // Before prepare the options (and the namevar) are not applied to the fields yet.
    if (!this.#parent) return this.#namevarValue;
    return (this as unknown as Record<string, unknown>)[name];
  }

  /** Step timings of the deploys so far. */
  get timer(): Timer {
    return this.#timer ??= new Timer(this.constructor.name);
  }

  /** The sub-components, in the order added. */
  get subComponents(): readonly Component[] {
    return this.#subComponents ?? NO_COMPONENTS;
  }

  /** All sub-components, depth first (pre-order), without this one. */
  *recursiveSubComponents(): Generator<Component> {
    // One generator with a stack of positions: nested `yield*` costs a resumption per level for every component.
    const lists: Component[][] = [];
    const positions: number[] = [];
    if (this.#subComponents) lists.push(this.#subComponents), positions.push(0);
    while (lists.length) {
      const top = lists.length - 1;
      const list = lists[top];
      const i = positions[top];
      if (i >= list.length) {
        lists.pop();
        positions.pop();
        continue;
      }
      positions[top] = i + 1;
      const sub = list[i];
      yield sub;
      if (sub.#subComponents?.length) lists.push(sub.#subComponents), positions.push(0);
    }
  }

  /** Whether configure has completed. */
  get prepared(): boolean {
    return this.#prepared;
  }

  /** Where `new` was called (file:line), for warnings. */
  get initLocation(): string {
    if (this.#initStack) return callerLocation(this.#initStack.stack);
    return this.#initConfiguring.at(-1)?.initLocation ?? "<unknown>";
  }

  /** The breadcrumbs of the components whose `configure()` created this one (outermost first). */
  get initBreadcrumbs(): string[] {
    return this.#initConfiguring.map((c) => c.breadcrumb);
  }

  /** `ClassName` or `ClassName('namevar')`. */
  get breadcrumb(): string {
    const value = this.namevar;
    return value
      ? `${this.constructor.name}(${typeof value === "string" ? pyRepr(value) : String(value)})`
      : this.constructor.name;
  }

  /** The breadcrumbs from the top component down to this one, joined with ` > `. */
  get breadcrumbs(): string {
    const p = this.#parent;
    if (p instanceof Component) return `${p.breadcrumbs} > ${this.breadcrumb}`;
    return this.breadcrumb;
  }

  toString(): string {
    let host = "?";
    try {
      host = this.host.name;
    } catch { /* not prepared */ }
    return `<${this.constructor.name} (${host}) "${this.#parent ? this.breadcrumbs : this.breadcrumb}">`;
  }

  // ---------------------------------------------------------------- lifecycle (override these)

  /** Builds the component: add sub-components, provide and require resources. */
  configure(): void | Promise<void> {}

  /** Checks whether the component is current; throw {@linkcode UpdateNeeded} when not. */
  verify(_predicting?: boolean): void | Promise<void> {}

  /** Brings the component up to date. */
  update(): void | Promise<void> {}

  /**
   * Runs before this component's `verify()` (in its work dir), batou's `__enter__`: set up what verify and update
   * need, e.g. mount a file system. When it throws, neither verify nor update nor {@linkcode exit} runs.
   */
  enter(): void | Promise<void> {}

  /**
   * Runs after `verify()` and `update()` (also when they threw, with that error; null otherwise), batou's `__exit__`:
   * tear down what {@linkcode enter} set up. An error it throws replaces the one it was given.
   */
  exit(_error: unknown): void | Promise<void> {}

  /** A timestamp (or comparable value) of the last change, or null when the component does not exist. */
  lastUpdated(_key?: string): number | null | Promise<number | null> {
    throw new Error(`${this.constructor.name}.lastUpdated() is not implemented`);
  }

  // ---------------------------------------------------------------- configure phase

  /** Prepares the component in the context of `parent`: options, overrides, configure. */
  prepare(parent: Component | RootComponent): void | Promise<void> {
    this.#parent = parent;
    this.#workdir = parent.workdir;
    this.#applyOptions();
    if (parent instanceof RootComponent) this.#applyOverrides(parent);
    let result: void | Promise<void>;
    configuring.push(this);
    configuringCopy = null;
    try {
      result = this.configure();
    } catch (e) {
      this.#abandonPending();
      throw e;
    } finally {
      configuring.pop();
      configuringCopy = null;
    }
    if (!(result instanceof Promise) && !this.#pending?.length) {
      this.#addPlatformComponent();
      if (!this.#pending?.length) {
        this.#prepared = true;
        this.#pendingOptions = null;
        return;
      }
      return this.#finishAsync(undefined, true);
    }
    return this.#finishAsync(result, false);
  }

  async #finishAsync(result: void | Promise<void>, platformAdded: boolean): Promise<void> {
    try {
      await result;
      await this.#drainPending();
      if (!platformAdded) {
        this.#addPlatformComponent();
        await this.#drainPending();
      }
    } catch (e) {
      this.#abandonPending();
      throw e;
    }
    this.#prepared = true;
    this.#pendingOptions = null;
  }

  /** Waits for the async configures of sub-components added (or used) so far. */
  async #drainPending(): Promise<void> {
    while (this.#pending?.length) {
      const pending = this.#pending;
      this.#pending = null;
      await Promise.all(pending);
    }
  }

  /** Drops pending sub-component configures after a failure, without leaving unhandled rejections. */
  #abandonPending(): void {
    const pending = this.#pending ?? [];
    this.#pending = null;
    for (const p of pending) p.catch(() => {});
  }

  #addPlatformComponent(): void {
    const platformComponent = this.#platformComponent();
    if (platformComponent) this.add(platformComponent);
  }

  #platformComponent(): Component | null {
    let name: string | undefined;
    try {
      name = this.host.platform ?? undefined;
    } catch {
      return null;
    }
    if (!name) return null;
    const cls = platforms.get(this.constructor as ComponentClass)?.get(name);
    return cls ? new cls() : null;
  }

  /** Adds a sub-component: it is configured at once and deploys before this one. Returns it. */
  add<T extends Component | null | undefined>(component: T): T {
    if (!component) return component;
    treeVersion++;
    (this.#subComponents ??= []).push(component);
    this.use(component);
    return component;
  }

  /** Prepares `component` in this component's context without adding it to the tree (batou's `|=`). */
  use<T extends Component | null | undefined>(component: T): T {
    if (!component) return component;
    if (!(component instanceof Component)) {
      throw new ConfigurationError(
        `${this.constructor.name}: add() and use() take a component, got ${describeValue(component)}`,
      );
    }
    this._ = component;
    if (component.#prepared) return component;
    const r = component.prepare(this);
    if (r instanceof Promise) (this.#pending ??= []).push(r);
    return component;
  }

  #applyOptions(): void {
    const cls = this.constructor as ComponentClass;
    const library = libraryClasses.has(cls);
    // batou's own classes declare no attribute() fields: no walk over their fields (thousands of Files).
    if (!library) this.#collectAttributes();
    const options = this.#pendingOptions ?? {};
    const keys = Object.keys(options);
    let bad: string[] | null = null;
    // A library class accepts the same options on every instance (no attribute() fields): decided once per key.
    let known: Map<string, boolean> | null = null;
    if (library) {
      known = acceptedOptions.get(cls) ?? null;
      if (!known) acceptedOptions.set(cls, known = new Map());
    }
    for (const key of keys) {
      let accepted = known?.get(key);
      if (accepted === undefined) {
        accepted = this.#acceptsField(key);
        known?.set(key, accepted);
      }
      if (!accepted) (bad ??= []).push(key);
    }
    // The namevar first: the report names the component as written (`Program('myapp')`).
    if (cls.namevar) this.#setField(cls.namevar, this.#namevarValue);
    if (bad) {
      throw UnknownComponentOptions.of(this, bad.sort(), {
        valid: this.#optionNames(),
        methods: bad.filter((k) => typeof (this as unknown as Record<string, unknown>)[k] === "function"),
        place: this.#projectPlace(this.initLocation),
      });
    }
    for (const key of keys) {
      const value = options[key];
      if (value !== undefined) this.#setField(key, value);
    }
  }

  /** Replaces `attribute()` markers in own fields with accessors backed by lazily resolved values. */
  #collectAttributes(): void {
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(self)) {
      const value = self[key];
      if (!(value instanceof AttributeSpec)) continue;
      (this.#attrSpecs ??= new Map()).set(key, value);
      delete self[key];
      Object.defineProperty(this, key, {
        configurable: true,
        enumerable: true,
        get: () => this.#getAttribute(key),
        set: (v: unknown) => (this.#attrValues ??= new Map()).set(key, v),
      });
    }
  }

  #getAttribute(key: string): unknown {
    if (this.#attrValues?.has(key)) return this.#attrValues.get(key);
    const spec = this.#attrSpecs!.get(key)!;
    if (!spec.hasDefault) {
      throw ConfigurationError.create(
        `No override and no default given for \`${key}\` on ${this.constructor.name} instance ${this}.`,
        this.#parent ? this : undefined,
      );
    }
    const value = typeof spec.defaultValue === "string"
      ? this.#fromConfigString(key, spec, spec.defaultValue)
      : spec.defaultValue;
    (this.#attrValues ??= new Map()).set(key, value);
    return value;
  }

  #fromConfigString(key: string, spec: AttributeSpec, raw: string): unknown {
    let value = raw;
    if (spec.options.expand) {
      try {
        value = this.expand(value);
      } catch (e) {
        throw AttributeExpansionError.of(this, key, raw, e);
      }
    }
    if (spec.options.map) value = this.map(value);
    try {
      return spec.convert(value);
    } catch (e) {
      throw ConversionError.of(this, key, value, spec.conversionName, e);
    }
  }

  #acceptsField(key: string): boolean {
    if (RESERVED.has(key) || key.startsWith("#")) return false;
    if (this.#attrSpecs?.has(key)) return true;
    if (!(key in this)) return false;
    // Read-only properties (getters without a setter) are not options either.
    const proto = Object.getPrototypeOf(this);
    if (!Object.hasOwn(this, key)) {
      for (let o: object | null = proto; o; o = Object.getPrototypeOf(o)) {
        const d = Object.getOwnPropertyDescriptor(o, key);
        if (!d) continue;
        if (d.get && !d.set) return false;
        break;
      }
    }
    return typeof (this as unknown as Record<string, unknown>)[key] !== "function";
  }

  /** The options this component accepts (attributes, plain fields, properties with a setter), sorted. */
  #optionNames(): string[] {
    const cls = this.constructor as ComponentClass;
    const names = new Set<string>([...(this.#attrSpecs?.keys() ?? []), ...Object.keys(this)]);
    for (
      let o: object | null = Object.getPrototypeOf(this);
      o && o !== Object.prototype;
      o = Object.getPrototypeOf(o)
    ) {
      for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(o))) if (d.set) names.add(key);
    }
    const hidden = new Set(["_", "changed", cls.namevar ?? ""]);
    return [...names].filter((k) => !hidden.has(k) && this.#acceptsField(k)).sort();
  }

  /** `place` (an absolute `file:line`) relative to the project, when it lies in the project. */
  #projectPlace(place: string): string {
    let base = "";
    try {
      base = this.environment.baseDir;
    } catch { /* not prepared */ }
    if (!base || !place.startsWith(base + "/")) return place;
    return place.slice(base.length + 1);
  }

  #setField(key: string, value: unknown): void {
    (this as unknown as Record<string, unknown>)[key] = value;
  }

  #applyOverrides(root: RootComponent): void {
    const overrides = root.overrides;
    const missing: string[] = [];
    const self = this as unknown as Record<string, unknown>;
    for (const [key, raw] of Object.entries(overrides)) {
      if (!this.#acceptsField(key)) {
        missing.push(key);
        continue;
      }
      const spec = this.#attrSpecs?.get(key);
      if (spec) {
        (this.#attrValues ??= new Map()).set(key, this.#fromConfigString(key, spec, raw));
        continue;
      }
      const current = self[key];
      let value: unknown = raw;
      try {
        if (typeof current === "number") value = parseNumber(raw);
        else if (typeof current === "boolean") value = parseBoolean(raw);
        else if (Array.isArray(current)) value = parseList(raw);
      } catch (e) {
        const name = typeof current === "number" ? "Number" : typeof current === "boolean" ? "Boolean" : "list";
        throw ConversionError.of(this, key, raw, name, e);
      }
      self[key] = value;
    }
    if (missing.length) {
      const e = MissingOverrideAttributes.of(this, missing, this.#optionNames());
      e.place = this.environment.overridePlace(root.name, missing);
      throw e;
    }
  }

  // ---------------------------------------------------------------- deploy phase

  /**
   * Deploys sub-components, then verifies this one and updates it when needed. After {@linkcode requestDeployStop}
   * it throws {@linkcode DeploymentStopped} instead: every component boundary is a safe point to stop at.
   */
  async deploy(predictOnly = false): Promise<void> {
    if (stopReason !== null) throw DeploymentStopped.before(this.breadcrumbs, stopReason);
    this.changed = false;
    const started = performance.now();
    const env = this.environment;
    // The working directory (see keepsWorkdir): a trusted component, deployed where the cwd is known, neither
    // reads nor restores it; any other reads it first and restores it at the end, as batou does.
    const outerCwd = knownCwd;
    const ownClass = keepsWorkdir(this);
    // The file checks' shared stat (fileInfoSync) holds only while batou's own file components run, without updates.
    const untrusted = !ownClass || this.#parent instanceof RootComponent;
    if (untrusted) forgetFileInfo();
    const trusted = env.manageCwd && outerCwd !== null && ownClass;
    const restore = env.manageCwd && !trusted ? Deno.cwd() : null;
    if (restore !== null) knownCwd = restore;
    const timer = this.timer;
    const subs = this.#subComponents;
    // The steps' start and end times are shared where nothing measurable lies between them (fewer clock reads for
    // thousands of components: issue 17).
    let verifyStart = started;
    if (subs) {
      for (const sub of subs) {
        await sub.deploy(predictOnly);
        if (sub.changed) this.changed = true;
      }
      verifyStart = performance.now();
      timer.add("sub", verifyStart - started);
    }
    // Built only when printed: most components of a no-op deploy print nothing.
    output.buffer(() => `${this.host.name}: ${this.breadcrumbs}`, DEPLOY_LINE);
    // Synchronous: one root deploys at a time per agent, and an asynchronous mkdir costs ten times the CPU (a worker
    // thread round trip) for every component (W1 no-op: agent deploy step 23 -> 10.5 ms).
    if (env.manageCwd) {
      // knownCwd may have been given up by a sub-component's update (event handlers are the project's code).
      if (knownCwd !== this.workdir) enterWorkdir(this.workdir);
      // Only a trusted body keeps it known; anything else may change the directory.
      knownCwd = trusted ? this.workdir : null;
    } else Deno.mkdirSync(this.workdir, { recursive: true });
    // enter()/exit() only when a class overrides them: no extra awaits for the common component (W1 hot path).
    const scoped = this.enter !== Component.prototype.enter || this.exit !== Component.prototype.exit;
    let entered = false;
    try {
      if (scoped) {
        await this.enter();
        entered = true;
      }
      let needsUpdate = false;
      try {
        await this.verify(predictOnly);
      } catch (e) {
        if (!isUpdateSignal(e)) throw e;
        needsUpdate = true;
      } finally {
        timer.add("verify", performance.now() - verifyStart);
      }
      if (needsUpdate) {
        forgetFileInfo();
        // Event handlers are the project's code: the working directory is not known after them.
        knownCwd = null;
        await this.#triggerEvent("before-update", predictOnly);
        output.flushBuffer();
        if (!predictOnly) {
          const updateStart = performance.now();
          try {
            await this.update();
          } finally {
            timer.add("update", performance.now() - updateStart);
          }
        }
        this.changed = true;
      }
    } catch (e) {
      // The innermost failing component is named in the report (with where the project created it).
      if (e instanceof ReportingError && !e.component && !(e instanceof DeploymentStopped)) {
        e.component = this.breadcrumbs;
        e.componentPlace = this.initLocation;
      }
      if (entered) {
        entered = false;
        await this.exit(e);
      }
      throw e;
    } finally {
      try {
        if (entered) await this.exit(null);
      } finally {
        if (untrusted) forgetFileInfo();
        output.clearBuffer();
        if (restore !== null) {
          Deno.chdir(restore);
          knownCwd = outerCwd;
        } else if (trusted && knownCwd === null) knownCwd = Deno.cwd();
      }
    }
    timer.add("total", performance.now() - started);
    if (timer.aboveThreshold(SLOW_STEP_MS)) {
      output.annotate(
        `${this.host.name}: ${this.breadcrumbs} [${timer.humanize("total", "verify", "update", "sub")}]`,
        {
          icon: "💤",
        },
      );
    }
  }

  async #triggerEvent(event: string, predictOnly: boolean): Promise<void> {
    const top = this.root.component;
    if (!top) return;
    // batou walks the whole tree for every updating component (quadratic in a big root); the index lists the
    // handlers once, in the same pre-order, with each component's position for the precursor scope.
    const index = eventIndex(this.root, top);
    for (const { target, method, event: ev, scope } of index.handlers) {
      if (ev !== event) continue;
      if (!scopeApplies(scope, this, target, index.position)) continue;
      if (predictOnly) {
        output.annotate(`Trigger ${event}: ${target}.${method}`);
      } else {
        const fn = (target as unknown as Record<string, (s: Component) => unknown>)[method];
        if (typeof fn !== "function") {
          throw new Error(`Event handler ${target.constructor.name}.${method} is not a method`);
        }
        await fn.call(target, this);
      }
    }
  }

  // ---------------------------------------------------------------- resources

  /** Provides `value` under `key` for other components (any host). */
  provide(key: string, value: unknown): void {
    this.environment.resources.provide(this.root, key, value);
  }

  /** Requires the values provided under `key`; returns a list (possibly empty). */
  require<T = unknown>(key: string, opts: RequireOptions = {}): T[] {
    return this.environment.resources.require(this.root, key, opts) as T[];
  }

  /** Requires exactly one value; none is a (silent) retry unless `strict: false`, several an error. */
  requireOne<T = unknown>(key: string, opts: RequireOptions = {}): T {
    const values = this.require<T>(key, opts);
    if (values.length > 1) {
      throw new ConfigurationError(
        `Expected only one result, got multiple for (key=${key}, host=${opts.host?.name ?? "None"})` +
          ` in ${this.breadcrumbs}`,
      );
    }
    if (values.length === 0) {
      if (opts.strict ?? true) throw new SilentConfigurationError(key);
      return null as T;
    }
    return values[0];
  }

  // ---------------------------------------------------------------- helpers

  /** Logs a message (after configure, or at once during deploy). */
  log(msg: string): void {
    this.root.log(msg);
  }

  /** Resolves `path`: `~` expanded, relative to the work dir, absolute ones through the environment's VFS. */
  map(path: string): string {
    if (path.startsWith("~")) {
      const home = Deno.env.get("HOME") ?? "/";
      path = home + path.slice(1);
    }
    if (!isAbsolute(path)) return normalize(join(this.workdir, path));
    return this.environment.map(path);
  }

  /** The template context for this component (`component`, `host`, `environment`, header). */
  templateVars(component?: Component, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const c = component ?? this;
    return {
      component: c,
      host: this.host,
      environment: this.environment,
      batou_generated_header: `File is generated by batou for component ${c.breadcrumbs}. Don't edit manually.`,
      ...extra,
    };
  }

  /** Expands a template string in this component's context. */
  expand(text: string, context?: Record<string, unknown>, component?: Component): string {
    return expandTemplate(
      text,
      this.templateVars(component, context),
      this.#parent ? this.breadcrumbs : this.breadcrumb,
    );
  }

  /** Renders a template file (path relative to the defdir) in this component's context. */
  template(filename: string, context?: Record<string, unknown>, component?: Component): string {
    const path = isAbsolute(filename) ? filename : join(this.defdir, filename);
    const source = Deno.readTextFileSync(path);
    return expandTemplate(source, this.templateVars(component, context), path);
  }

  /**
   * Runs a shell command in the work dir (or the directory {@linkcode chdir} entered). Throws
   * {@linkcode CmdExecutionError} on failure. `communicate: false` shows the output while the command runs.
   */
  async cmd(command: string, opts: CmdOptions = {}): Promise<CmdResult> {
    const line = opts.expand ?? true ? this.expand(command) : command;
    output.debug(`${this.host.name}: cmd: ${line}`, { icon: "⚙️" });
    const cwd = opts.cwd ?? this.#cwd ?? (this.workdir && (await statOrNull(this.workdir)) ? this.workdir : undefined);
    const host = this.host.name;
    const onLine = opts.onLine ??
      (opts.communicate === false ? (text: string) => output.line(`${host}: ${text}`, { icon: null }) : undefined);
    const result = await runCmd(line, {
      cwd,
      env: opts.env,
      input: opts.input,
      ignoreReturnCode: opts.ignoreReturnCode,
      onLine,
    });
    if (!opts.silent && !onLine && result.stdout) output.debug(result.stdout.replace(/\n$/, ""));
    return result;
  }

  #cwd: string | undefined = undefined;

  /**
   * batou's `with self.chdir(path):`: runs `fn` with `path` (mapped, relative to the work dir) as the working
   * directory of {@linkcode cmd} and of the process (the agent deploys one component at a time), then restores both,
   * also when `fn` throws. Returns what `fn` returns.
   */
  async chdir<T>(path: string, fn: () => T | Promise<T>): Promise<T> {
    const dir = this.map(path);
    const previousCwd = this.#cwd;
    const previous = Deno.cwd();
    Deno.chdir(dir);
    this.#cwd = dir;
    try {
      return await fn();
    } finally {
      this.#cwd = previousCwd;
      Deno.chdir(previous);
    }
  }

  /** Runs a command; a failure means "update needed". */
  async assertCmd(command: string, opts: CmdOptions = {}): Promise<CmdResult> {
    try {
      return await this.cmd(command, opts);
    } catch (e) {
      if (e instanceof Error && e.name === "CmdExecutionError") throw new UpdateNeeded(e.message);
      throw e;
    }
  }

  /** Creates `path` (mapped) or updates its modification time. */
  async touch(path: string): Promise<void> {
    const p = this.map(path);
    try {
      const now = new Date();
      await Deno.utime(p, now, now);
    } catch {
      await Deno.writeFile(p, new Uint8Array());
    }
  }

  /** Raises UpdateNeeded when `path` is missing or older than any of `requirements` (paths or components). */
  async assertFileIsCurrent(path: string, requirements: (string | Component)[] = [], key = "mtime"): Promise<void> {
    const reference = await statTime(this.map(path), key);
    if (reference === null) throw new UpdateNeeded(`${path} does not exist`);
    for (const req of requirements) {
      if (typeof req !== "string") {
        this.use(req);
        await this.#drainPending();
      }
      const t = typeof req === "string" ? await statTime(this.map(req), key) : await req.lastUpdated(key);
      if (t !== null && reference < t) throw new UpdateNeeded(`${path} is older than ${req}`);
    }
  }

  /** Raises UpdateNeeded when this component's lastUpdated() is null or older than a requirement's. */
  async assertComponentIsCurrent(requirements: Component | Component[] = [], key?: string): Promise<void> {
    const reqs = Array.isArray(requirements) ? requirements : [requirements];
    const reference = await this.lastUpdated(key);
    if (reference === null) throw new UpdateNeeded(`${this.breadcrumb} has no last-updated time`);
    for (const req of reqs) {
      this.use(req);
      await this.#drainPending();
      const t = await req.lastUpdated(key);
      if (t !== null && reference < t) throw new UpdateNeeded(`${this.breadcrumb} is older than ${req.breadcrumb}`);
    }
  }

  /** Raises UpdateNeeded when a direct sub-component changed in this deploy. */
  assertNoSubcomponentChanges(): void {
    for (const sub of this.subComponents) {
      if (sub.changed) throw new UpdateNeeded(`${sub.breadcrumb} changed`);
    }
  }

  /** Raises UpdateNeeded when this component or a direct sub-component changed. */
  assertNoChanges(): void {
    if (this.changed) throw new UpdateNeeded(`${this.breadcrumb} changed`);
    this.assertNoSubcomponentChanges();
  }

  /** An incremental SHA-256 over `value`s given so far; returns the hex digest. */
  checksum(value?: Uint8Array | string): string {
    if (!this.#checksum) this.#checksum = sha256Hasher();
    if (value !== undefined) this.#checksum.update(value);
    return this.#checksum.hex();
  }

  /** Fields that are overridable `attribute()`s (for introspection). */
  get attributeNames(): string[] {
    return [...(this.#attrSpecs?.keys() ?? [])];
  }
}

/** A short description of a value for messages. */
function describeValue(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  }
  const name = (value as object).constructor?.name;
  return name && name !== "Object" ? `an instance of ${name}` : "a plain object";
}

/** Whether a handler on `target` with `scope` fires for an event from `source` (`position`: pre-order index). */
function scopeApplies(scope: string, source: Component, target: Component, position: Map<Component, number>): boolean {
  if (scope === "*") return true;
  if (scope === "precursor") {
    const s = position.get(source);
    return s !== undefined && s < position.get(target)!;
  }
  throw new Error(`Unknown event scope: ${scope}`);
}

/**
 * The process's working directory while it is known without asking (`Deno.cwd()` and `Deno.chdir()` are a call
 * into the runtime each, three per component: ~0.4 s of a no-op of 8,000 files): set by a component that read it,
 * for its sub-components; null while the project's code runs (a verify, update, enter, exit or event handler may
 * change it).
 */
let knownCwd: string | null = null;

/**
 * Whether `component`'s own class is marked {@linkcode Component.keepsWorkdir} (a subclass, which may override
 * verify or update, is not trusted unless it says so itself).
 */
function keepsWorkdir(component: Component): boolean {
  const cls = component.constructor as typeof Component;
  return Object.hasOwn(cls, "keepsWorkdir") && cls.keepsWorkdir;
}

/**
 * Changes into `dir`, creating it first when it is missing: the existing directory (the usual case) costs one
 * chdir instead of a mkdir and a chdir per component (issue 17, no-op of 8,000 files).
 */
function enterWorkdir(dir: string): void {
  try {
    Deno.chdir(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    Deno.mkdirSync(dir, { recursive: true });
    Deno.chdir(dir);
  }
}

/** The options of a component's 🚀 line (one object for all components). */
const DEPLOY_LINE = { icon: "🚀" } as const;

/** Steps slower than this (ms) are reported with a 💤 line. */
const SLOW_STEP_MS: Record<string, number> = { verify: 1000, update: 1000, total: 10000 };

let stopReason: string | null = null;

/**
 * Asks every deployment in this process to stop at the next component boundary (the component being verified or
 * updated finishes first); `reason` is shown, e.g. "interrupted". `null` allows deployments again.
 */
export function requestDeployStop(reason: string | null): void {
  stopReason = reason;
}

/** Counts every `add()`: an event index built at another count may be stale. */
let treeVersion = 0;

/** A root's event handlers in pre-order, and each component's pre-order position. */
interface EventIndex {
  version: number;
  top: Component;
  handlers: { target: Component; method: string; event: string; scope: string }[];
  position: Map<Component, number>;
}

const eventIndexes = new WeakMap<RootComponent, EventIndex>();

/** The event index of `root` (whose top component is `top`), built once while its tree does not change. */
function eventIndex(root: RootComponent, top: Component): EventIndex {
  const known = eventIndexes.get(root);
  if (known && known.version === treeVersion && known.top === top) return known;
  const index: EventIndex = { version: treeVersion, top, handlers: [], position: new Map() };
  let i = 0;
  for (const target of top.recursiveSubComponents()) {
    index.position.set(target, i++);
    const events = (target.constructor as ComponentClass).events;
    if (!events) continue;
    for (const [method, [event, scope]] of Object.entries(events)) {
      index.handlers.push({ target, method, event, scope });
    }
  }
  eventIndexes.set(root, index);
  return index;
}

/** A file's time for `key` (`mtime`, `ctime`/`birthtime`, `atime`) in ms, or null when missing. */
export async function statTime(path: string, key = "mtime"): Promise<number | null> {
  try {
    const st = await Deno.stat(path);
    const k = key.replace(/^st_/, "");
    if (k === "ctime") return st.ctime?.getTime() ?? st.mtime?.getTime() ?? null;
    if (k === "atime") return st.atime?.getTime() ?? null;
    return st.mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}
