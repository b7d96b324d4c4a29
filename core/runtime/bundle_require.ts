/**
 * The `require` that the CommonJS packages of a minified batou bundle (yaml and sucrase, when used) call for Node's
 * built-in modules, without Deno's Node compatibility layer: evaluating any `node:` module makes Deno initialise it,
 * ~15 ms of CPU at every agent start.
 *
 * - `node:path` is {@linkcode "./path.ts"} (members it lacks, e.g. `parse`, come from the real module);
 * - `node:fs`, `node:process`, `node:buffer` and `node:domain` are stand-ins that load the real module on first
 *   use (yaml reads `process.env` when it parses);
 * - anything else is the real module; a name that is no built-in throws "Cannot find module".
 *
 * The bundle's prelude (remote/transport/payload.ts `MINIFIED_REQUIRE_PRELUDE`) defines the bundle's `require`; it hands
 * every call to the function that {@linkcode registerBundleRequire} stores on it (core/runtime/lazy.ts calls that before any
 * package can be evaluated) and, before that, loads the real built-in.
 *
 * @module
 */
import * as posixPath from "./path.ts";

/** The bundle prelude's `require` (undefined outside a bundle), where {@linkcode registerBundleRequire} hooks in. */
declare const require: (((id: string) => unknown) & { builtin?: (id: string) => unknown }) | undefined;

/** Deno's `process`, reached only when a real built-in is needed (touching it initialises the compatibility layer). */
function realBuiltin(name: string): unknown {
  const { process } = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
  return process.getBuiltinModule(`node:${name}`);
}

/** An object that stands for the built-in `name` and loads it on first use; every operation goes to the real one. */
function loadOnFirstUse(name: string): object {
  let real: object | undefined;
  const load = (): object => real ??= realBuiltin(name) as object;
  return new Proxy({}, {
    get: (_, key) => Reflect.get(load(), key),
    set: (_, key, value) => Reflect.set(load(), key, value),
    has: (_, key) => Reflect.has(load(), key),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      // A proxy may not report a property its (empty) target lacks as non-configurable.
      return d && { ...d, configurable: true };
    },
    defineProperty: (_, key, d) => Reflect.defineProperty(load(), key, d),
    deleteProperty: (_, key) => Reflect.deleteProperty(load(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
  });
}

/** Built-ins that the bundled packages require when they are loaded but use only later (or never). */
const LOADED_ON_FIRST_USE = new Set(["fs", "process", "buffer", "domain"]);

const pathFunctions: Record<string | symbol, unknown> = { ...posixPath };
/** `node:path` as core/runtime/path.ts, with the members it does not have taken from the real module. */
const pathModule = new Proxy(pathFunctions, {
  get: (target, key) => key in target ? target[key] : Reflect.get(realBuiltin("path") as object, key),
});
pathFunctions.posix = pathModule;

const modules = new Map<string, unknown>();

/** `require(id)` for a built-in module (`node:fs` or `fs`), as described in the module documentation. */
export function requireBuiltin(id: string): unknown {
  const name = id.startsWith("node:") ? id.slice(5) : id;
  let module = modules.get(name);
  if (module !== undefined) return module;
  if (name === "path" || name === "path/posix") module = pathModule;
  else if (LOADED_ON_FIRST_USE.has(name)) module = loadOnFirstUse(name);
  else module = realBuiltin(name);
  if (module === undefined) {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: "MODULE_NOT_FOUND" });
  }
  modules.set(name, module);
  return module;
}

/**
 * Inside a minified bundle: makes the prelude's `require` serve built-ins with {@linkcode requireBuiltin}. Returns
 * whether there was such a `require` (false when running from source or compiled).
 */
export function registerBundleRequire(): boolean {
  if (typeof require !== "function") return false;
  require.builtin = requireBuiltin;
  return true;
}
