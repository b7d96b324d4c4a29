/**
 * Small run-time checks of JSON values, each also a TypeScript type: a {@linkcode Check} says what is wrong with a
 * value (`errors[0].fields must be an object, not null`) or returns null, and {@linkcode Infer} gives the type it
 * accepts, so a message shape is declared once (remote/contract/methods.ts).
 *
 * @example
 * ```ts
 * const point = object({ x: num, y: num, label: optional(str) });
 * type Point = Infer<typeof point>; // { x: number; y: number; label?: string }
 * point({ x: 1, y: "2" }, ""); // "y must be a number, not a string"
 * ```
 * @module
 */
import { type ErrorJSON, errorJSONProblem, jsonTypeOf } from "../../core/model/errors.ts";

/** Checks a value at `path` (a field path such as `errors[0].fields`; "" for the value itself): null when valid. */
export type Check<T> = ((value: unknown, path: string) => string | null) & { readonly __type?: T };

/** A {@linkcode Check} of a field that may be absent. */
export type OptionalCheck<T> = Check<T | undefined> & { readonly optional: true };

/** The type a {@linkcode Check} accepts. */
export type Infer<C> = C extends Check<infer T> ? T : never;

/** `path` in a message: the field path, or "the result" for the value itself (a reply's result). */
function place(path: string): string {
  return path || "the result";
}

function simple<T>(test: (v: unknown) => boolean, expected: string): Check<T> {
  return (v, path) => test(v) ? null : `${place(path)} must be ${expected}, not ${jsonTypeOf(v)}`;
}

/** A string. */
export const str: Check<string> = simple((v) => typeof v === "string", "a string");
/** A finite number. */
export const num: Check<number> = simple((v) => typeof v === "number" && Number.isFinite(v), "a number");
/** true or false. */
export const bool: Check<boolean> = simple((v) => typeof v === "boolean", "a boolean");
/** Any JSON value (the contract does not look into it). */
export const unknownValue: Check<unknown> = () => null;

/** Exactly one of `values`. */
export function oneOf<T extends string | number | boolean>(...values: T[]): Check<T> {
  const expected = values.map((v) => JSON.stringify(v)).join(" or ");
  return (v, path) =>
    values.includes(v as T)
      ? null
      : `${place(path)} must be ${expected}, not ${typeof v === "string" ? JSON.stringify(v) : jsonTypeOf(v)}`;
}

/** `check`, or null. */
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, path) => v === null ? null : check(v, path);
}

/** A field that may be absent (only inside {@linkcode object}). */
export function optional<T>(check: Check<T>): OptionalCheck<T> {
  const c: Check<T | undefined> = (v, path) => v === undefined ? null : check(v, path);
  return Object.assign(c, { optional: true as const });
}

/** A list whose every element passes `check`. */
export function list<T>(check: Check<T>): Check<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) return `${place(path)} must be a list, not ${jsonTypeOf(v)}`;
    for (let i = 0; i < v.length; i++) {
      const problem = check(v[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return null;
  };
}

/** A list of exactly these elements. */
export function tuple<A, B>(a: Check<A>, b: Check<B>): Check<[A, B]> {
  return (v, path) => {
    if (!Array.isArray(v) || v.length !== 2) {
      return `${place(path)} must be a list of 2, not ${Array.isArray(v) ? `a list of ${v.length}` : jsonTypeOf(v)}`;
    }
    return a(v[0], `${path}[0]`) ?? b(v[1], `${path}[1]`);
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** An object whose every value passes `check`. */
export function record<T>(check: Check<T>): Check<Record<string, T>> {
  return (v, path) => {
    if (!isPlainObject(v)) return `${place(path)} must be an object, not ${jsonTypeOf(v)}`;
    for (const [k, value] of Object.entries(v)) {
      const problem = check(value, path ? `${path}.${k}` : k);
      if (problem) return problem;
    }
    return null;
  };
}

type Shape = Record<string, Check<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : never }[keyof S];
type ObjectOf<S extends Shape> =
  & { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> }
  & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> };

/** An object with these fields (other fields are allowed and not looked at). */
export function object<S extends Shape>(shape: S): Check<{ [K in keyof ObjectOf<S>]: ObjectOf<S>[K] }> {
  return (v, path) => {
    if (!isPlainObject(v)) return `${place(path)} must be an object, not ${jsonTypeOf(v)}`;
    for (const [k, check] of Object.entries(shape)) {
      const value = Object.hasOwn(v, k) ? v[k] : undefined;
      const problem = check(value, path ? `${path}.${k}` : k);
      if (problem) return problem;
    }
    return null;
  };
}

/** A batou error as {@linkcode ReportingError.toJSON} serializes it (see core/model/errors.ts errorJSONProblem). */
export const errorJSON: Check<ErrorJSON> = (v, path) => {
  const problem = errorJSONProblem(v);
  if (!problem) return null;
  return problem.startsWith("must ") ? `${place(path)} ${problem}` : `${path ? `${path}.` : ""}${problem}`;
};
