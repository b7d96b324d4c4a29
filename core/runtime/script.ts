/**
 * Evaluating a script under a file name, synchronously and in the global scope (what `node:vm`'s
 * `runInThisContext(code, { filename })` does), without Deno's Node compatibility layer: importing `node:vm` makes
 * Deno initialise it, ~11 ms of CPU in every process that loads component files (every agent).
 *
 * The script runs through an indirect `eval` with a `//# sourceURL=<filename>` comment, so V8 names the file in
 * stack traces. Deno writes such a frame as `at f (<filename>, <anonymous>:3:7)`, and `at eval (...)` for an
 * anonymous function; {@linkcode normalizeStack} turns the frames of scripts evaluated here into what
 * `runInThisContext` gives (`at f (<filename>:3:7)`, `at <filename>:3:7`), so stack traces read as before. V8
 * ignores a `sourceURL` with white space or quotes in it: such file names still go through `node:vm`.
 *
 * @example
 * ```ts
 * import { normalizeStack, runScript } from "./script.ts";
 * const f = runScript("(function () { return new Error('x').stack; })", "/p/components/a/component.ts");
 * normalizeStack((f as () => string)()); // "Error: x\n    at /p/components/a/component.ts:1:22\n    at ..."
 * ```
 * @module
 */

/** File names of the scripts evaluated through `eval` (see the module documentation). */
const evaluated = new Set<string>();

/** `code`'s completion value, evaluated in the global scope with `filename` in its stack frames. */
export function runScript(code: string, filename: string): unknown {
  if (filename === "" || /[\s'"]/.test(filename)) {
    const { process } = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
    const vm = process.getBuiltinModule("node:vm") as typeof import("node:vm");
    return vm.runInThisContext(code, { filename });
  }
  evaluated.add(filename);
  return (0, eval)(`${code}\n//# sourceURL=${filename}`);
}

const EVAL_LOCATION = ", <anonymous>:";

/** One stack line with a frame of an evaluated script written as `runInThisContext` writes it, else unchanged. */
function normalizeLine(line: string): string {
  const at = line.lastIndexOf(EVAL_LOCATION);
  if (at < 0 || !line.endsWith(")")) return line;
  const head = line.slice(0, at);
  const position = line.slice(at + EVAL_LOCATION.length, -1);
  if (!/^\d+:\d+$/.test(position)) return line;
  for (const file of evaluated) {
    if (!head.endsWith(` (${file}`)) continue;
    const prefix = /^\s*at /.exec(head)?.[0];
    if (prefix === undefined) return line;
    const fn = head.slice(prefix.length, head.length - file.length - 2);
    const place = `${file}:${position}`;
    // V8 names an anonymous function in eval'd code "eval"; runInThisContext leaves it unnamed.
    if (fn === "eval" || fn === "async eval") return `${prefix}${fn === "eval" ? "" : "async "}${place}`;
    if (fn === "new eval") return `${prefix}new <anonymous> (${place})`;
    const method = /^(.*)\.eval \[as ([^\]]+)\]$/.exec(fn);
    if (method) return `${prefix}${method[1]}.${method[2]} (${place})`;
    if (fn.endsWith(".eval")) return `${prefix}${fn.slice(0, -4)}<anonymous> (${place})`;
    return `${prefix}${fn} (${place})`;
  }
  return line;
}

/**
 * `stack` with the frames of scripts evaluated by {@linkcode runScript} written as `node:vm`'s `runInThisContext`
 * writes them; other frames unchanged.
 */
export function normalizeStack(stack: string): string {
  if (!stack.includes(EVAL_LOCATION) || evaluated.size === 0) return stack;
  return stack.split("\n").map(normalizeLine).join("\n");
}
