/**
 * `attribute()`: component fields that can be overridden from the environment,
 * with conversion of the configured strings and lazy defaults.
 *
 * @example
 * ```ts
 * import { attribute } from "./attribute.ts";
 * class Hello {
 *   port = attribute(Number, 8080);
 *   peers = attribute("list", [] as string[]);
 * }
 * ```
 * @module
 */
import { parseLiteral } from "../formats/literal.ts";

/** A conversion: a built-in name, a constructor, or a function of the configured string. */
export type Conversion =
  | StringConstructor
  | NumberConstructor
  | BooleanConstructor
  | "list"
  | "literal"
  | (new (value: string) => unknown)
  | ((value: string) => unknown);

/** Options of {@linkcode attribute}. */
export interface AttributeOptions {
  /** Expand configured strings as templates first (default true). */
  expand?: boolean;
  /** Map configured strings as paths (relative to the work dir) after expanding (default false). */
  map?: boolean;
}

/** The marker that `attribute()` puts into a field until the component is prepared. */
export class AttributeSpec {
  constructor(
    readonly conversion: Conversion,
    readonly defaultValue: unknown,
    readonly hasDefault: boolean,
    readonly options: Required<AttributeOptions>,
  ) {}

  /** The conversion's name for reports, e.g. `Number` or `list`. */
  get conversionName(): string {
    return typeof this.conversion === "string" ? this.conversion : this.conversion.name || "conversion";
  }

  /** Converts a configured string (after expansion and mapping). */
  convert(value: string): unknown {
    return convertValue(this.conversion, value);
  }
}

/** Parses a boolean the way configuration files write them. */
export function parseBoolean(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (["true", "yes", "on", "1"].includes(v)) return true;
  if (["false", "no", "off", "0", ""].includes(v)) return false;
  throw new Error(`Cannot convert ${JSON.stringify(value)} to a boolean (use true or false)`);
}

/** Parses a number; empty or non-numeric text is an error. */
export function parseNumber(value: string): number {
  const n = value.trim() === "" ? NaN : Number(value.trim());
  if (Number.isNaN(n)) throw new Error(`could not convert string to number: ${JSON.stringify(value)}`);
  return n;
}

/** batou's `list` conversion: split on commas, strip, drop empty items. */
export function parseList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function isClass(fn: unknown): boolean {
  return typeof fn === "function" && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/** Applies a conversion to a string. */
export function convertValue(conversion: Conversion, value: string): unknown {
  if (conversion === String) return value;
  if (conversion === Number) return parseNumber(value);
  if (conversion === Boolean) return parseBoolean(value);
  if (conversion === "list") return parseList(value);
  if (conversion === "literal") return parseLiteral(value);
  if (isClass(conversion)) return new (conversion as new (v: string) => unknown)(value);
  return (conversion as (v: string) => unknown)(value);
}

/** Declares an overridable attribute. The field's type is the conversion's result type. */
export function attribute(conversion: StringConstructor, defaultValue?: string, opts?: AttributeOptions): string;
export function attribute(
  conversion: NumberConstructor,
  defaultValue?: number | string,
  opts?: AttributeOptions,
): number;
export function attribute(
  conversion: BooleanConstructor,
  defaultValue?: boolean | string,
  opts?: AttributeOptions,
): boolean;
export function attribute(conversion: "list", defaultValue?: string[] | string, opts?: AttributeOptions): string[];
// deno-lint-ignore no-explicit-any
export function attribute(conversion: "literal", defaultValue?: unknown, opts?: AttributeOptions): any;
export function attribute<T>(
  conversion: (new (value: string) => T) | ((value: string) => T),
  defaultValue?: T | string | null,
  opts?: AttributeOptions,
): T;
export function attribute(conversion: Conversion, ...rest: unknown[]): unknown {
  const hasDefault = rest.length > 0 && rest[0] !== undefined;
  const opts = (rest[1] ?? {}) as AttributeOptions;
  return new AttributeSpec(conversion, rest[0], hasDefault, { expand: opts.expand ?? true, map: opts.map ?? false });
}
