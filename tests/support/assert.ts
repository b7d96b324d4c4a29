/**
 * Small assertion helpers in the style of Deno's std/assert (which is not reachable here), built on node:assert.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Fails unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Deep, strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** `text` matches `re`. */
export function assertMatch(text: string, re: RegExp, message?: string): void {
  nodeAssert.match(text, re, message ?? `expected ${re} to match:\n${text}`);
}

/** `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, message?: string): void {
  nodeAssert.ok(text.includes(part), message ?? `expected to contain ${JSON.stringify(part)}:\n${text}`);
}
