/**
 * Packages that most runs never need, loaded synchronously on first use: sucrase (only when a component file is not
 * in the transpile cache) and yaml (only for YAML content). A deployment's controller
 * needs neither when the project's components are in the transpile cache; evaluating them cost it ~50 ms of
 * CPU at every start. Their callers are synchronous (`add()`, attribute defaults and component loading happen in
 * synchronous code), so an `await import()` at the point of use is not possible.
 *
 * How: each package sits behind a small module (`lazy_*.ts`) that is loaded in one of three ways ({@linkcode LOADING}).
 *
 * - In a bundle (`deno bundle`, what the agent runs) `require` exists, and the bundler turns
 *   `require("../lazy_x.ts")` into a synchronous call that evaluates that module (and the package) the first time it
 *   runs. The same module instance serves the dynamic `import()` below, so the package is in the bundle only once.
 *   The packages' own `require` calls for Node built-ins go to core/runtime/bundle_require.ts, registered here before any
 *   package can be evaluated.
 * - From source (`deno run main.ts`) Node's `createRequire` loads the module (an ES module: Deno's `require` takes
 *   those) on first use; `node:module` itself is loaded only then (through `process.getBuiltinModule`).
 * - A `deno compile` binary keeps its modules inside the executable, where `require` cannot read them: there the
 *   modules are imported while this module is evaluated (top-level await), as a static import would.
 *
 * @example
 * ```ts
 * import { yaml } from "./lazy.ts";
 * yaml().parse("a: 1"); // { a: 1 }
 * ```
 * @module
 */
import { registerBundleRequire } from "./bundle_require.ts";
import { isCompiled } from "./program.ts";

/** The bundler's synchronous `require` (only defined inside a bundle). */
declare const require: ((id: string) => unknown) | undefined;

/** The sucrase functions batou uses. */
export type SucraseModule = typeof import("./lazy_sucrase.ts");
/** The yaml functions batou uses. */
export type YamlModule = typeof import("./lazy_yaml.ts");

/** How the packages are loaded here (see the module documentation). */
export const LOADING: "bundle" | "source" | "compiled" = typeof require === "function"
  ? "bundle"
  : isCompiled()
  ? "compiled"
  : "source";

/** Whether the packages below are evaluated on first use (bundle and source), not with this module. */
export const LOADS_ON_FIRST_USE: boolean = LOADING !== "compiled";

if (LOADING === "bundle") registerBundleRequire();

/** Node's `require` for this module (source mode only), made on first use. */
let sourceRequireFn: ((id: string) => unknown) | null = null;

function sourceRequire(id: string): unknown {
  if (!sourceRequireFn) {
    const { process } = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
    const { createRequire } = process.getBuiltinModule("node:module") as typeof import("node:module");
    sourceRequireFn = createRequire(import.meta.url);
  }
  return sourceRequireFn(id);
}

/** Loads `../lazy_x.ts` synchronously: through Node's `require` from source, through the bundler's in a bundle. */
function load(module: string, bundled: () => unknown): unknown {
  return LOADING === "source" ? sourceRequire(module) : bundled();
}

let sucraseModule: SucraseModule | null = LOADS_ON_FIRST_USE ? null : await import("./lazy_sucrase.ts");
let yamlModule: YamlModule | null = LOADS_ON_FIRST_USE ? null : await import("./lazy_yaml.ts");

// Each call names its module literally: the bundler rewrites exactly `require("../lazy_x.ts")`.

/** sucrase (`transform`, `getFormattedTokens`, `getVersion`), evaluated on the first call. */
export function sucrase(): SucraseModule {
  return sucraseModule ??= load("./lazy_sucrase.ts", () => require!("./lazy_sucrase.ts")) as SucraseModule;
}

/** yaml (`parse`, `stringify`), evaluated on the first call. */
export function yaml(): YamlModule {
  return yamlModule ??= load("./lazy_yaml.ts", () => require!("./lazy_yaml.ts")) as YamlModule;
}

/** Which of the packages above have been loaded in this process (for tests and diagnostics). */
export function loadedPackages(): string[] {
  return [
    ...(sucraseModule ? ["sucrase"] : []),
    ...(yamlModule ? ["yaml"] : []),
  ];
}
