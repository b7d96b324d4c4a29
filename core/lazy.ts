/**
 * Packages that most runs never need, loaded synchronously on first use in the agent bundle: sucrase (only when a
 * component file is not in the transpile cache), yaml (only for YAML content) and nunjucks (only for templates).
 * Their callers are synchronous (`add()`, attribute defaults and component loading happen in synchronous code), so
 * an `await import()` at the point of use is not possible.
 *
 * How: each package sits behind a small module (`lazy_*.ts`) that is imported in one of two ways.
 *
 * - In the bundle (`deno bundle`, what the agent runs) `require` exists, and the bundler turns
 *   `require("./lazy_x.ts")` into a synchronous call that evaluates that module (and the package) the first time it
 *   runs. The same module instance serves the dynamic `import()` below, so the package is in the bundle only once.
 * - From source and in a `deno compile` binary there is no `require`: the modules are imported while this module is
 *   evaluated (top-level await), as a static import would, so nothing changes there.
 *
 * @example
 * ```ts
 * import { yaml } from "./lazy.ts";
 * yaml().parse("a: 1"); // { a: 1 }
 * ```
 * @module
 */

/** The bundler's synchronous `require` (only defined inside a bundle). */
declare const require: ((id: string) => unknown) | undefined;

/** The sucrase functions batou uses. */
export type SucraseModule = typeof import("./lazy_sucrase.ts");
/** The yaml functions batou uses. */
export type YamlModule = typeof import("./lazy_yaml.ts");
/** The nunjucks classes batou uses. */
export type NunjucksModule = typeof import("./lazy_nunjucks.ts");

/** Whether this code runs from a bundle, where the packages below are evaluated on first use. */
export const LOADS_ON_FIRST_USE: boolean = typeof require === "function";

let sucraseModule: SucraseModule | null = LOADS_ON_FIRST_USE ? null : await import("./lazy_sucrase.ts");
let yamlModule: YamlModule | null = LOADS_ON_FIRST_USE ? null : await import("./lazy_yaml.ts");
let nunjucksModule: NunjucksModule | null = LOADS_ON_FIRST_USE ? null : await import("./lazy_nunjucks.ts");

/** sucrase (`transform`, `getFormattedTokens`, `getVersion`), evaluated on the first call in a bundle. */
export function sucrase(): SucraseModule {
  return sucraseModule ??= require!("./lazy_sucrase.ts") as SucraseModule;
}

/** yaml (`parse`, `stringify`), evaluated on the first call in a bundle. */
export function yaml(): YamlModule {
  return yamlModule ??= require!("./lazy_yaml.ts") as YamlModule;
}

/** nunjucks (`Environment`, `Template`), evaluated on the first call in a bundle. */
export function nunjucks(): NunjucksModule {
  return nunjucksModule ??= require!("./lazy_nunjucks.ts") as NunjucksModule;
}

/** Which of the packages above have been loaded in this process (for tests and diagnostics). */
export function loadedPackages(): string[] {
  return [
    ...(sucraseModule ? ["sucrase"] : []),
    ...(yamlModule ? ["yaml"] : []),
    ...(nunjucksModule ? ["nunjucks"] : []),
  ];
}
