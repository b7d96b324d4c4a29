/**
 * batou's error classes: each knows how to report itself the way batou does,
 * how it sorts among other errors, and how to travel as JSON from an agent to
 * the controller (where identical errors of several hosts are merged).
 *
 * @module
 */
import { closestName } from "../formats/suggest.ts";
import { formatPlace, isBatouModule, stackFrames } from "../runtime/stack.ts";
import { normalizeStack } from "../runtime/script.ts";
import type { LineOptions } from "./output.ts";
import { pyValueRepr } from "../formats/pyrepr.ts";

/** The part of {@linkcode Output} that reports write to. */
export interface ReportWriter {
  error(message: string, opts?: LineOptions): void;
  tabular(key: string, value: string, opts?: LineOptions & { separator?: string }): void;
  line(message: string, opts?: LineOptions): void;
  annotate(message: string, opts?: LineOptions): void;
}

/** One sortable key element list, compared element by element like Python tuples. */
export type SortKey = (string | number | null)[];

/** Compares two sort keys like Python tuples (null sorts first). */
export function compareSortKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i >= a.length) return -1;
    if (i >= b.length) return 1;
    const x = a[i], y = b[i];
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/** The serialized form of a {@linkcode ReportingError}. */
export interface ErrorJSON {
  type: string;
  fields: Record<string, unknown>;
  affectedHostname?: string | null;
}

/** Error classes by their transport tag, and the tag of each registered class (see {@linkcode registerErrorClass}). */
const registry = new Map<string, new () => ReportingError>();
const tags = new Map<unknown, string>();

/** The tag of the nearest registered class of `error` ("UnexpectedError" when none is). */
function tagOf(error: ReportingError): string {
  for (let c: unknown = error.constructor; typeof c === "function"; c = Object.getPrototypeOf(c)) {
    const tag = tags.get(c);
    if (tag) return tag;
  }
  return "UnexpectedError";
}

/**
 * Shortens an error stack to the innermost frame in the user's project (outside batou itself). With `projectDir`,
 * any frame in a file below it counts (component files and the project's own helper modules).
 */
export function simplifiedTraceback(error: unknown, projectDir?: string): string {
  return simplifiedStack(error instanceof Error && error.stack ? error.stack : "", projectDir);
}

/**
 * {@linkcode simplifiedTraceback} for a stack text (e.g. one sent by an agent). The frame is shown as
 * `  <file>:<line>, in <function>`, never in the `at f (file:line:col)` form of a stack trace.
 */
export function simplifiedStack(stackText: string, projectDir?: string): string {
  // Frames without a place (`at async Promise.all (index 0)`) tell the user nothing: stackFrames drops them.
  const frames = stackFrames(stackText);
  const base = projectDir ? (projectDir.endsWith("/") ? projectDir : projectDir + "/").replace(/^file:\/\//, "") : null;
  if (base) {
    const own = frames.find((f) => f.path.startsWith(base) && !f.path.includes("/node_modules/"));
    if (own) return formatPlace(own.path.slice(base.length), own.line, own.fn);
  }
  for (const f of frames) {
    if (isBatouModule(f.text)) continue;
    if (f.text.includes("ext:") || f.text.includes("node:") || f.text.includes("<anonymous>")) continue;
    if (/batou[^/]*\.js/.test(f.text) || f.text.includes("/npm/")) continue;
    const file = base && f.file.startsWith(base) ? f.file.slice(base.length) : f.file;
    return formatPlace(file, f.line, f.fn);
  }
  return "<no-non-remote-internal-traceback-lines-found>";
}

/** `ClassName: message`, as batou's `prepare_error`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    return `${error.name === "Error" ? error.constructor.name : error.name}: ${error.message}`;
  }
  return `Error: ${String(error)}`;
}

/** Base class of every error that batou reports in its own format. */
export class ReportingError extends Error {
  /** The host the error happened on; `<HOSTNAME>` once merged. */
  affectedHostname: string | null = null;
  /** At deploy time: the breadcrumbs of the component that failed (innermost), or "". */
  component = "";
  /** At deploy time: where that component was created in the project (`file:line`), or "". */
  componentPlace = "";

  /** Position among other errors in a report. */
  get sortKey(): SortKey {
    return [-99];
  }

  /** Writes batou's report; the first line is `ERROR: <title>`. */
  report(w: ReportWriter): void {
    w.error(this.message);
  }

  /** The data that identifies the error, without the host; used for merging and transport. */
  fields(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) {
      if (k === "affectedHostname" || k === "stack") continue;
      if ((k === "component" || k === "componentPlace") && v === "") continue;
      out[k] = v;
    }
    out.message = this.message;
    return out;
  }

  /** Serializes the error for the agent protocol. */
  toJSON(): ErrorJSON {
    return { type: tagOf(this), fields: this.fields(), affectedHostname: this.affectedHostname };
  }

  /** Whether two errors are the same apart from the host they happened on. */
  sameAs(other: ReportingError): boolean {
    return other.constructor === this.constructor && JSON.stringify(other.fields()) === JSON.stringify(this.fields());
  }
}

/** What a field's value must be, checked by {@linkcode errorJSONProblem}: null when it is that, else the expectation. */
type FieldCheck = (value: unknown) => string | null;

const isString = (v: unknown): v is string => typeof v === "string";
const stringList: FieldCheck = (v) => Array.isArray(v) && v.every(isString) ? null : "a list of strings";
/** The list fields that are not lists of strings (by field name; every other list field is one). */
const LIST_FIELDS: Record<string, FieldCheck> = {
  unused: (v) =>
    Array.isArray(v) && v.every((t) => Array.isArray(t) && t.length === 3 && t.every(isString))
      ? null
      : "a list of [key, component, value] strings",
  unsatisfied: (v) =>
    Array.isArray(v) &&
      v.every((t) =>
        Array.isArray(t) && t.length === 3 && isString(t[0]) && (t[1] === null || isString(t[1])) &&
        stringList(t[2]) === null
      )
      ? null
      : "a list of [key, host or null, [root, ...]]",
};

/** The check of field `key` of a fresh error, from its initial value (null when the field is not a known one). */
function fieldCheck(fresh: ReportingError, key: string): FieldCheck | null {
  if (!Object.hasOwn(fresh, key) || key === "affectedHostname" || key === "stack") return null;
  const initial = (fresh as unknown as Record<string, unknown>)[key];
  if (Array.isArray(initial)) return LIST_FIELDS[key] ?? stringList;
  if (initial === null) return (v) => v === null || isString(v) ? null : "a string or null";
  if (typeof initial === "string") return (v) => typeof v === "string" ? null : "a string";
  if (typeof initial === "number") return (v) => typeof v === "number" ? null : "a number";
  if (typeof initial === "boolean") return (v) => typeof v === "boolean" ? null : "a boolean";
  return null;
}

/** The JSON type of `v` in a few words, for "must be X, not Y". */
export function jsonTypeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * What is wrong with serialized error `data` (as another, untrusted process sent it), or null: `type` must be a
 * string, `fields` an object whose known fields (those of the class `type` names) have their class's types,
 * `message` a string and `affectedHostname` a string or null. Unknown fields are no problem: they are dropped.
 */
export function errorJSONProblem(data: unknown): string | null {
  const read = readErrorJSON(data);
  return typeof read === "string" ? read : null;
}

/**
 * Rebuilds an error serialized with {@linkcode ReportingError.toJSON}. Only the fields its class declares are set
 * (so no field can replace a method such as `report`), each checked against the class's type; unknown fields are
 * dropped. Throws a TypeError saying what is wrong when `data` is not a valid serialized error
 * ({@linkcode errorJSONProblem}).
 */
export function errorFromJSON(data: ErrorJSON): ReportingError {
  const read = readErrorJSON(data);
  if (typeof read === "string") throw new TypeError(`invalid serialized error: ${read}`);
  return read;
}

/** Checks serialized error `data` and rebuilds it in one pass: the error, or what is wrong with `data`. */
function readErrorJSON(data: unknown): ReportingError | string {
  if (!data || typeof data !== "object" || Array.isArray(data)) return `must be an object, not ${jsonTypeOf(data)}`;
  const d = data as Record<string, unknown>;
  if (!isString(d.type)) return `type must be a string, not ${jsonTypeOf(d.type)}`;
  const fields = d.fields;
  if (!fields || typeof fields !== "object" || Array.isArray(fields)) {
    return `fields must be an object, not ${jsonTypeOf(fields)}`;
  }
  if (d.affectedHostname !== undefined && d.affectedHostname !== null && !isString(d.affectedHostname)) {
    return `affectedHostname must be a string or null, not ${jsonTypeOf(d.affectedHostname)}`;
  }
  const cls = registry.get(d.type) ?? UnexpectedError;
  const err = new cls();
  const target = err as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (key === "message") {
      if (!isString(value)) return `fields.message must be a string, not ${jsonTypeOf(value)}`;
      err.message = value;
      continue;
    }
    const check = fieldCheck(err, key);
    if (!check) continue;
    const expected = check(value);
    if (expected) return `fields.${key} must be ${expected}, not ${jsonTypeOf(value)}`;
    target[key] = value;
  }
  err.affectedHostname = (d.affectedHostname as string | null | undefined) ?? null;
  if (cls === UnexpectedError && !isString((fields as Record<string, unknown>).errorType)) {
    (err as UnexpectedError).errorType = d.type;
  }
  return err;
}

/** Signals from `verify()` that `update()` must run. Any `AssertionError` does the same. */
export class UpdateNeeded extends Error {
  override name = "AssertionError";
  constructor(message = "Update needed") {
    super(message);
  }
}

/** Whether `error` means "update needed" (UpdateNeeded or any AssertionError). */
export function isUpdateSignal(error: unknown): boolean {
  return error instanceof UpdateNeeded ||
    (error instanceof Error && (error.name === "AssertionError" || error.constructor.name === "AssertionError"));
}

/** A configuration problem that another error reports; it only makes the configure loop retry. */
export class SilentConfigurationError extends Error {
  override name = "SilentConfigurationError";
}

type ComponentLike = { root: { name: string; host: { name: string } }; breadcrumbs: string };

/** A generic configuration error, optionally tied to a component. */
export class ConfigurationError extends ReportingError {
  override name = "ConfigurationError";
  componentRootName: string | null = null;

  /** Builds the error; `component` gives the root name and host shown in the report. */
  static create(message: string, component?: { root: { name: string; host: { name: string } } }): ConfigurationError {
    const e = new this(message);
    if (component) {
      e.componentRootName = component.root.name;
      e.affectedHostname = component.root.host.name;
    }
    return e;
  }

  override get sortKey(): SortKey {
    return [0, this.message];
  }

  override report(w: ReportWriter): void {
    w.error(this.componentRootName ? `${this.componentRootName}: ${this.message}` : this.message);
  }
}

/** A component was used incorrectly (e.g. a required option is missing). */
export class ComponentUsageError extends ConfigurationError {
  override name = "ComponentUsageError";
  traceback = "";

  /** Builds the error with the place in the user's code that caused it. */
  static usage(message: string, projectDir?: string): ComponentUsageError {
    const e = new ComponentUsageError(message);
    e.traceback = simplifiedTraceback(new Error(), projectDir);
    return e;
  }

  override get sortKey(): SortKey {
    return [-1, this.message];
  }

  override report(w: ReportWriter): void {
    w.error("Component usage error");
    w.tabular("Message", this.message, { red: true });
    w.annotate("Traceback (most recent call last):", { red: true });
    w.annotate(this.traceback, { red: true });
  }
}

/** A syntax error in a config file, with its place. */
export class ConfigFileError extends ConfigurationError {
  override name = "ConfigFileError";
  file = "";
  lineNo = 0;

  /** Builds the error for `file` at 1-based `line`. */
  static at(file: string, line: number, message: string): ConfigFileError {
    const e = new ConfigFileError(message);
    e.file = file;
    e.lineNo = line;
    return e;
  }

  override get sortKey(): SortKey {
    return [0, this.file, this.lineNo];
  }

  override report(w: ReportWriter): void {
    w.error(`${this.file}${this.lineNo ? `:${this.lineNo}` : ""}: ${this.message}`);
  }
}

/** The environment named on the command line does not exist. */
export class MissingEnvironment extends ConfigurationError {
  override name = "MissingEnvironment";
  environmentName = "";
  /** The environments the project has. */
  known: string[] = [];
  /** Whether the directory has an `environments/` folder at all. */
  isProject = true;

  /** Builds the error for environment `name`; `known`: the project's environments. */
  static of(name: string, known: string[] = [], isProject = true): MissingEnvironment {
    const e = new MissingEnvironment(`Missing environment \`${name}\``);
    e.environmentName = name;
    e.known = known;
    e.isProject = isProject;
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error("Missing environment");
    w.tabular("Environment", this.environmentName, { red: true });
    if (!this.isProject) {
      w.line("This directory is not a batou project (it has no environments/ folder). Create one with `batou init`.");
      return;
    }
    const guess = closestName(this.environmentName, this.known);
    if (guess) w.line(`Did you mean \`${guess}\`?`);
    w.line(this.known.length ? `Known environments: ${this.known.join(", ")}` : "The project has no environments yet.");
  }
}

/** A component file failed to load (syntax error or exception at load time). */
export class ComponentLoadingError extends ConfigurationError {
  override name = "ComponentLoadingError";
  filename = "";
  exceptionStr = "";
  traceback = "";

  /** Builds the error for `filename`; `where` is the simplified place (file:line). */
  static of(filename: string, error: unknown, where: string): ComponentLoadingError {
    const e = new ComponentLoadingError(`Failed loading component file ${filename}`);
    e.filename = filename;
    e.exceptionStr = error instanceof Error ? error.message : String(error);
    e.traceback = where;
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error("Failed loading component file");
    w.tabular("File", this.filename, { red: true });
    w.tabular("Exception", this.exceptionStr, { red: true });
    w.annotate("Traceback (simplified, most recent call last):", { red: true });
    w.annotate(this.traceback, { red: true });
  }
}

/** A host lists a component that no component file defines. */
export class MissingComponent extends ConfigurationError {
  override name = "MissingComponent";
  componentName = "";

  /** Where the host lists it (`environments/dev/environment.cfg:5`), or "". */
  place = "";
  /** The closest component the project has, or "". */
  suggestion = "";

  /** Builds the error for component `name` on `host`; `known`: the project's components (for a suggestion). */
  static of(name: string, host: string, place = "", known: Iterable<string> = []): MissingComponent {
    const e = new MissingComponent(`Missing component: ${name}`);
    e.componentName = name;
    e.affectedHostname = host;
    e.place = place;
    e.suggestion = closestName(name, known) ?? "";
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error("Missing component");
    w.tabular("Component", this.componentName, { red: true });
    if (this.place) w.tabular("Place", this.place, { red: true });
    if (this.suggestion) w.line(`Did you mean \`${this.suggestion}\`?`);
  }
}

/** Builds the small "title + one row" errors of environment loading. */
function sectionError(name: string, title: string, strPrefix: string, row: string) {
  const cls = class extends ConfigurationError {
    override name = name;
    subject = "";
    /** Where it is (`environments/dev/environment.cfg:7`), or "". */
    place = "";
    /** The closest known name, or "". */
    suggestion = "";
    override get sortKey(): SortKey {
      return [0];
    }
    override report(w: ReportWriter): void {
      w.error(title);
      w.tabular(row, this.subject, { red: true });
      if (this.place) w.tabular("Place", this.place, { red: true });
      if (this.suggestion) w.line(`Did you mean \`${this.suggestion}\`?`);
    }
  };
  Object.defineProperty(cls, "name", { value: name });
  return Object.assign(cls, {
    /** Builds the error about `subject`. */
    of(subject: string) {
      const e = new cls(strPrefix + subject);
      e.subject = subject;
      return e;
    },
  });
}

/** A section in environment.cfg that batou does not know. */
export const SuperfluousSection = sectionError(
  "SuperfluousSection",
  "Superfluous section in environment configuration",
  "Superfluous section in environment: ",
  "Section",
);
/** A `[component:x]` section for an unknown component. */
export const SuperfluousComponentSection = sectionError(
  "SuperfluousComponentSection",
  "Override section for unknown component found",
  "Override section for unknown component found: ",
  "Component",
);
/** A secrets section for an unknown component. */
export const SuperfluousSecretsSection = sectionError(
  "SuperfluousSecretsSection",
  "Secrets section for unknown component found",
  "Secrets section for unknown component found: ",
  "Component",
);
/** A secrets `[host:x]` section for an unknown host. */
export const UnknownHostSecretsSection = sectionError(
  "UnknownHostSecretsSection",
  "Secrets section for unknown host found",
  "Secrets section for unknown host found: ",
  "Host",
);

/** The same attribute is set in environment.cfg and in the secrets. */
export class DuplicateOverride extends ConfigurationError {
  override name = "DuplicateOverride";
  componentName = "";
  attribute = "";

  /** Builds the error for `component.attribute`. */
  static of(component: string, attribute: string): DuplicateOverride {
    const e = new DuplicateOverride(
      `A value ${component}.${attribute} is defined both in environment and secrets.`,
    );
    e.componentName = component;
    e.attribute = attribute;
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error("Attribute override found both in environment and secrets");
    w.tabular("Component", this.componentName, { red: true });
    w.tabular("Attribute", this.attribute, { red: true });
  }
}

/** A host is defined twice (`[hosts]` and `[host:x]`, or twice in one of them). */
export class DuplicateHostError extends ConfigurationError {
  override name = "DuplicateHostError";

  /** Builds the error for host `name`. */
  static of(name: string): DuplicateHostError {
    const e = new DuplicateHostError(`Duplicate host: ${name}`);
    e.affectedHostname = name;
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error(`Duplicate definition of host: ${this.affectedHostname}`);
  }
}

/** A `[resolver]` entry that is not an IP address. */
export class InvalidIPAddressError extends ConfigurationError {
  override name = "InvalidIPAddressError";
  address = "";

  /** Builds the error for `address`. */
  static of(address: string): InvalidIPAddressError {
    const e = new InvalidIPAddressError(`Not a valid IP address: ${address}`);
    e.address = address;
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error(`Not a valid IP address: ${this.address}`);
  }
}

/** A template failed to render (syntax error, undefined variable, ...). */
export class TemplatingError extends ReportingError {
  override name = "TemplatingError";
  exceptionStr = "";
  templateIdentifier = "";

  /** Builds the error for the template `identifier`. */
  static of(identifier: string, error: unknown): TemplatingError {
    const e = new TemplatingError();
    e.exceptionStr = describeError(error);
    e.templateIdentifier = identifier;
    e.message = `An error occured while rendering a template (${identifier}): ${e.exceptionStr}`;
    return e;
  }

  override get sortKey(): SortKey {
    return [0];
  }

  override report(w: ReportWriter): void {
    w.error(this.message);
  }
}

/** An override or default could not be expanded as a template. */
export class AttributeExpansionError extends ConfigurationError {
  override name = "AttributeExpansionError";
  componentBreadcrumbs = "";
  valueRepr = "";
  error = "";
  key = "";

  /** Builds the error for `component.key`. */
  static of(component: ComponentLike, key: string, value: unknown, error: unknown): AttributeExpansionError {
    const e = new AttributeExpansionError();
    e.affectedHostname = component.root.host.name;
    e.componentBreadcrumbs = component.breadcrumbs;
    e.valueRepr = pyValueRepr(value);
    e.error = error instanceof TemplatingError ? error.exceptionStr : describeError(error);
    e.key = key;
    e.message = `Error while expanding attribute: ${e.error}`;
    return e;
  }

  override get sortKey(): SortKey {
    return [1, this.affectedHostname, this.componentBreadcrumbs, this.key];
  }

  override report(w: ReportWriter): void {
    w.error("Error while expanding attribute:");
    w.tabular("Message", this.error, { red: true });
    w.tabular("Attribute", `${this.componentBreadcrumbs}.${this.key}`, { red: true });
  }
}

/** An override could not be converted to the attribute's type. */
export class ConversionError extends ConfigurationError {
  override name = "ConversionError";
  componentBreadcrumbs = "";
  conversionName = "";
  valueRepr = "";
  key = "";

  /** Builds the error for `component.key`. */
  static of(component: ComponentLike, key: string, value: unknown, conversion: string, error: unknown) {
    const e = new ConversionError(error instanceof Error ? error.message : String(error));
    e.affectedHostname = component.root.host.name;
    e.componentBreadcrumbs = component.breadcrumbs;
    e.conversionName = conversion;
    e.valueRepr = pyValueRepr(value);
    e.key = key;
    return e;
  }

  override get sortKey(): SortKey {
    return [1, this.affectedHostname, this.componentBreadcrumbs, this.key];
  }

  override report(w: ReportWriter): void {
    w.error(this.message);
    w.tabular("Attribute", `${this.componentBreadcrumbs}.${this.key}`, { red: true });
    w.tabular("Conversion", `${this.conversionName}(${this.valueRepr})`, { red: true });
  }
}

/** `name`, with the closest of `valid` as a suggestion: "name (did you mean `guess`?)"; `name` alone if none is close. */
function withGuess(name: string, valid: string[]): string {
  const guess = closestName(name, valid);
  return guess ? `${name} (did you mean \`${guess}\`?)` : name;
}

/** Overrides name attributes the component does not have. */
export class MissingOverrideAttributes extends ConfigurationError {
  override name = "MissingOverrideAttributes";
  componentBreadcrumbs = "";
  attributes: string[] = [];

  /** The attributes the component has (for suggestions). */
  valid: string[] = [];
  /** Where the overrides are set (`environments/dev/environment.cfg:8`), or "" (e.g. from secrets). */
  place = "";

  /** Builds the error for `component` and the unknown `attributes`; `valid`: the attributes it has. */
  static of(component: ComponentLike, attributes: string[], valid: string[] = []): MissingOverrideAttributes {
    const e = new MissingOverrideAttributes(`Overrides for undefined attributes ${attributes.join(",")}`);
    e.affectedHostname = component.root.host.name;
    e.componentBreadcrumbs = component.breadcrumbs;
    e.attributes = attributes;
    e.valid = valid;
    return e;
  }

  override get sortKey(): SortKey {
    return [3, this.affectedHostname, this.componentBreadcrumbs];
  }

  override report(w: ReportWriter): void {
    w.error("Overrides for undefined attributes");
    w.tabular("Component", this.componentBreadcrumbs, { red: true });
    if (this.place) w.tabular("Place", this.place, { red: true });
    w.tabular("Attributes", this.attributes.map((a) => withGuess(a, this.valid)).join(", "), { red: true });
  }
}

/** Options passed to a component that it does not define, or that name its methods. */
export class UnknownComponentOptions extends ConfigurationError {
  override name = "UnknownComponentOptions";
  componentBreadcrumbs = "";
  options: string[] = [];
  /** The options the component accepts. */
  valid: string[] = [];
  /** Those of {@linkcode options} that name methods. */
  methods: string[] = [];
  /** Where the component was created (`file:line`, project-relative), or "". */
  place = "";

  /** Builds the error for `component` and the unacceptable `options`. */
  static of(
    component: ComponentLike,
    options: string[],
    details: { valid?: string[]; methods?: string[]; place?: string } = {},
  ): UnknownComponentOptions {
    const e = new UnknownComponentOptions(
      "The following arguments are unacceptable for this component because they are either undefined or " +
        `would override methods: ${options.join(", ")}`,
    );
    e.affectedHostname = component.root.host.name;
    e.componentBreadcrumbs = component.breadcrumbs;
    e.options = options;
    e.valid = details.valid ?? [];
    e.methods = details.methods ?? [];
    e.place = details.place && !details.place.startsWith("<") ? details.place : "";
    return e;
  }

  override get sortKey(): SortKey {
    return [3, this.affectedHostname, this.componentBreadcrumbs];
  }

  override report(w: ReportWriter): void {
    w.error("Unknown options for component");
    w.tabular("Component", this.componentBreadcrumbs, { red: true });
    if (this.place) w.tabular("Place", this.place, { red: true });
    const described = this.options.map((o) => {
      if (this.methods.includes(o)) return `${o} (a method, not an option)`;
      return withGuess(o, this.valid);
    });
    w.tabular("Options", described.join(", "), { red: true });
    if (this.valid.length) w.tabular("Valid options", this.valid.join(", "), { red: true });
    else w.line("The options are either undefined or would override methods.", { red: true });
  }
}

/** Two component classes share one (lower-cased) name. */
export class DuplicateComponent extends ConfigurationError {
  override name = "DuplicateComponent";
  aName = "";
  aFilename = "";
  bFilename = "";

  /** Builds the error for component `name` defined in two files. */
  static of(name: string, a: string, b: string): DuplicateComponent {
    const e = new DuplicateComponent(`Duplicate component: ${name}`);
    e.aName = name;
    e.aFilename = a;
    e.bFilename = b;
    return e;
  }

  override get sortKey(): SortKey {
    return [2, this.aName];
  }

  override report(w: ReportWriter): void {
    w.error(`Duplicate component "${this.aName}"`);
    w.tabular("Occurrence", this.aFilename);
    w.tabular("Occurrence", this.bFilename);
  }
}

/** An unexpected exception while configuring a root component. */
export class UnknownComponentConfigurationError extends ConfigurationError {
  override name = "UnknownComponentConfigurationError";
  rootName = "";
  rootHostName = "";
  exceptionRepr = "";
  traceback = "";
  /** The exception's full stack, shown only with `--debug`. */
  fullTraceback = "";

  /** Builds the error for `root` (a root component) and the exception. */
  static of(
    root: { name: string; host: { name: string } },
    error: unknown,
    projectDir?: string,
  ): UnknownComponentConfigurationError {
    const e = new UnknownComponentConfigurationError();
    e.rootName = root.name;
    e.rootHostName = root.host.name;
    e.affectedHostname = root.host.name;
    e.exceptionRepr = describeError(error);
    e.traceback = simplifiedTraceback(error, projectDir);
    e.fullTraceback = error instanceof Error ? normalizeStack(error.stack ?? "") : "";
    e.message = e.exceptionRepr;
    return e;
  }

  override get sortKey(): SortKey {
    return [4, this.rootHostName, 2];
  }

  /** The same error apart from the host; the full stack (paths, internal lines) does not count. */
  override sameAs(other: ReportingError): boolean {
    const key = (e: ReportingError) => JSON.stringify({ ...e.fields(), fullTraceback: undefined });
    return other.constructor === this.constructor && key(other) === key(this);
  }

  override report(w: ReportWriter): void {
    w.error(this.exceptionRepr);
    w.annotate("This /might/ be a batou bug. Please consider reporting it.\n", { red: true });
    w.tabular("Host", this.rootHostName, { red: true });
    w.tabular("Component", this.rootName + "\n", { red: true });
    w.annotate("Traceback (simplified, most recent call last):", { red: true });
    w.annotate(this.traceback, { red: true });
    const full = this.fullTraceback.split("\n").filter((l) => l.trim().startsWith("at "));
    for (const l of full) w.line("\t" + l.trim(), { red: true, debug: true });
  }
}

/** Resources provided but never required. */
export class UnusedResources extends ConfigurationError {
  override name = "UnusedResources";
  unused: [string, string, string][] = [];

  /** Builds the error from `[key, provider root name, value text]` triples. */
  static of(unused: [string, string, string][]): UnusedResources {
    const e = new UnusedResources("Unused provided resources");
    e.unused = unused;
    return e;
  }

  override get sortKey(): SortKey {
    return [5, "unused"];
  }

  override report(w: ReportWriter): void {
    w.error("Unused provided resources");
    for (const [key, component, value] of this.unused) {
      w.line(`    Resource "${key}" provided by ${component} with value ${value}`, { red: true });
    }
  }
}

/** Resources required (strictly) but never provided. */
export class UnsatisfiedResources extends ConfigurationError {
  override name = "UnsatisfiedResources";
  unsatisfied: [string, string | null, string[]][] = [];

  /** Builds the error from `[key, host or null, requiring root names]`. */
  static of(unsatisfied: [string, string | null, string[]][]): UnsatisfiedResources {
    const e = new UnsatisfiedResources("Unsatisfied resource requirements");
    e.unsatisfied = unsatisfied;
    return e;
  }

  override get sortKey(): SortKey {
    return [6, "unsatisfied"];
  }

  override report(w: ReportWriter): void {
    w.error("Unsatisfied resource requirements");
    for (const [key, host, roots] of this.unsatisfied) {
      const on = host === null ? "" : ` on "${host}"`;
      w.line(`    Resource "${key}"${on} required by ${roots.join(",")}`, { red: true });
    }
  }
}

/** The dependency graph between root components has a cycle. */
export class CycleErrorDetected extends ConfigurationError {
  override name = "CycleErrorDetected";
  errorStr = "";

  /** Builds the error from the cycle's text. */
  static of(text: string): CycleErrorDetected {
    const e = new CycleErrorDetected(`Found dependency cycle: ${text}`);
    e.errorStr = text;
    return e;
  }

  override get sortKey(): SortKey {
    return [99];
  }

  override report(w: ReportWriter): void {
    w.error("Found dependency cycle");
    w.annotate(this.errorStr, { red: true });
  }
}

/** The configure loop did not converge. */
export class NonConvergingWorkingSet extends ConfigurationError {
  override name = "NonConvergingWorkingSet";
  rootsLen = 0;
  rootNames = "";

  /** Builds the error from the names of the roots left unconfigured. */
  static of(names: string[]): NonConvergingWorkingSet {
    const e = new NonConvergingWorkingSet("There are unconfigured components remaining.");
    // A root of the same name on several hosts is one name here.
    const unique = [...new Set(names)].sort();
    e.rootsLen = unique.length;
    e.rootNames = unique.join(", ");
    return e;
  }

  override get sortKey(): SortKey {
    return [100];
  }

  override report(w: ReportWriter): void {
    w.error(`${this.rootsLen} remaining unconfigured component(s): ${this.rootNames}`);
  }
}

/** A deployment step failed; the details were reported before. */
export class DeploymentError extends ReportingError {
  override name = "DeploymentError";

  override get sortKey(): SortKey {
    return [100];
  }

  override report(w: ReportWriter): void {
    if (this.message) w.error(this.message);
  }
}

/**
 * The deployment was asked to stop (Ctrl-C or SIGTERM on the controller, or the controller went away): raised at the
 * next component boundary, before `breadcrumbs` is verified. Not a failure of the component.
 */
export class DeploymentStopped extends ReportingError {
  override name = "DeploymentStopped";
  /** The component that was not deployed. */
  breadcrumbs = "";

  static before(breadcrumbs: string, reason: string): DeploymentStopped {
    const e = new DeploymentStopped(`Stopped (${reason}) before ${breadcrumbs}`);
    e.breadcrumbs = breadcrumbs;
    return e;
  }

  override get sortKey(): SortKey {
    return [100];
  }
}

/** A shell command failed. */
export class CmdExecutionError extends DeploymentError {
  override name = "CmdExecutionError";
  cmd = "";
  returncode = 0;
  stdout = "";
  stderr = "";

  /** Builds the error from the command, its exit code and output. */
  static of(cmd: string, returncode: number, stdout: string, stderr: string): CmdExecutionError {
    const e = new CmdExecutionError(
      `Command ${cmd} failed with return code ${returncode}\n\nSTDOUT:\n${stdout}\n\nSTDERR:\n${stderr}`,
    );
    e.cmd = cmd;
    e.returncode = returncode;
    e.stdout = stdout;
    e.stderr = stderr;
    return e;
  }

  override report(w: ReportWriter): void {
    w.error(this.cmd);
    w.tabular("Return code", String(this.returncode), { red: true });
    w.tabular("STDOUT", "", { red: true, separator: "" });
    w.line(this.stdout.replace(/\n$/, ""));
    w.tabular("STDERR", "", { red: true, separator: "" });
    w.line(this.stderr.replace(/\n$/, ""));
  }
}

/** A lock file is held by somebody else. */
export class FileLockedError extends ReportingError {
  override name = "FileLockedError";
  filename = "";

  /** Builds the error for `filename`. */
  static of(filename: string, holder?: string): FileLockedError {
    const e = new FileLockedError(`File already locked: ${filename}${holder ? ` (held by ${holder})` : ""}`);
    e.filename = filename;
    return e;
  }
}

/**
 * Writes `e`'s report followed, for an error at deploy time, by the host and the component (with its place in the
 * project) it happened in, unless the report names them itself.
 */
export function reportWithPlace(e: ReportingError, w: ReportWriter): void {
  e.report(w);
  if (!e.component || (e instanceof UnexpectedError && e.hostName)) return;
  if (e.affectedHostname && e.affectedHostname !== "<HOSTNAME>") w.tabular("Host", e.affectedHostname, { red: true });
  const place = e.componentPlace && !e.componentPlace.startsWith("<") ? ` (${e.componentPlace})` : "";
  w.tabular("Component", e.component + place, { red: true });
}

/** An error from another process (e.g. the agent) that has no report of its own. */
export class UnexpectedError extends ReportingError {
  override name = "UnexpectedError";
  errorType = "Error";
  /** The full stack; shown only with `--debug`. */
  traceback = "";
  /** Where it happened, when known: the host, the root component and the place in the project (file:line). */
  hostName = "";
  rootName = "";
  place = "";

  /** Wraps any thrown value. */
  static wrap(error: unknown, debug = false): UnexpectedError {
    const e = new UnexpectedError(error instanceof Error ? error.message : String(error));
    e.errorType = error instanceof Error ? (error.name === "Error" ? error.constructor.name : error.name) : "Error";
    e.traceback = debug && error instanceof Error ? normalizeStack(error.stack ?? "") : "";
    return e;
  }

  override report(w: ReportWriter): void {
    w.error(`${this.errorType}: ${this.message}`);
    if (this.hostName) w.tabular("Host", this.hostName, { red: true });
    if (this.rootName) w.tabular("Component", this.rootName, { red: true });
    if (this.place && !this.traceback && !this.place.startsWith("<")) {
      w.annotate("Traceback (simplified, most recent call last):", { red: true });
      w.annotate(this.place, { red: true });
    }
    if (this.traceback) {
      for (const l of this.traceback.split("\n")) w.line("\t" + l.trim(), { red: true });
    }
  }
}

/**
 * Registers an error class for transport between agent and controller under `tag`, an explicit name that survives
 * minification (a bundler may rename classes, so `constructor.name` is never used). Subclasses that are not
 * registered travel as their nearest registered ancestor. A tag names one class only.
 */
export function registerErrorClass(tag: string, cls: new () => ReportingError): void {
  const known = registry.get(tag);
  if (known && known !== cls) throw new Error(`error tag ${tag} is registered for another class`);
  registry.set(tag, cls);
  tags.set(cls, tag);
}

// The keys are the tags: property names stay as written when a bundler renames the classes.
const BATOU_ERRORS: Record<string, new () => ReportingError> = {
  ConfigurationError,
  ComponentUsageError,
  ConfigFileError,
  MissingEnvironment,
  ComponentLoadingError,
  MissingComponent,
  SuperfluousSection,
  SuperfluousComponentSection,
  SuperfluousSecretsSection,
  UnknownHostSecretsSection,
  DuplicateOverride,
  DuplicateHostError,
  InvalidIPAddressError,
  TemplatingError,
  AttributeExpansionError,
  ConversionError,
  MissingOverrideAttributes,
  UnknownComponentOptions,
  DuplicateComponent,
  UnknownComponentConfigurationError,
  UnusedResources,
  UnsatisfiedResources,
  CycleErrorDetected,
  NonConvergingWorkingSet,
  DeploymentError,
  DeploymentStopped,
  CmdExecutionError,
  FileLockedError,
  UnexpectedError,
};
for (const [tag, cls] of Object.entries(BATOU_ERRORS)) registerErrorClass(tag, cls);

/** Sorts errors by their sort keys, as batou does before reporting. */
export function sortErrors<T extends { sortKey?: SortKey }>(errors: T[]): T[] {
  return [...errors].sort((a, b) => compareSortKeys(a.sortKey ?? [-99], b.sortKey ?? [-99]));
}
