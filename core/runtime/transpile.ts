/**
 * Component files transpiled with sucrase (types stripped, imports turned into `require` calls), through a
 * {@linkcode DiskCache} (`~/.cache/batou/transpiled`). An agent loads the same unchanged component files on every
 * deployment; with the cache it neither transpiles them again nor (in the agent bundle) evaluates sucrase at all.
 *
 * The key covers everything that determines the output: the source text, the file's path, the transforms and
 * sucrase's version. Sources that sucrase rejects are not cached.
 *
 * @example
 * ```ts
 * import { transpile } from "./transpile.ts";
 * transpile('import { Component } from "batou";\nexport class A extends Component {}\n', "/p/components/a/component.ts");
 * ```
 * @module
 */
import { cacheDir, type CacheKey, cacheKey, DiskCache } from "./disk_cache.ts";
import { sucrase } from "./lazy.ts";

/** The sucrase version the cache keys name (tests check that it is the sucrase in use). */
export const SUCRASE_VERSION = "3.35.1";

/** Bumped whenever the transpile options change. */
const FORMAT = "transpile-1";

/** The cache used when none is given: `$BATOU_CACHE_DIR/transpiled`, else `~/.cache/batou/transpiled`. */
export function defaultTranspileCache(): DiskCache {
  return new DiskCache(cacheDir("transpiled"));
}

/** The sucrase transforms for a file: TypeScript files lose their types; all get `require` for imports. */
export function transformsFor(filePath: string): ("typescript" | "imports")[] {
  return filePath.endsWith(".ts") ? ["typescript", "imports"] : ["imports"];
}

/** The cache key of transpiling `source` found at `filePath`. */
export function transpileKey(source: string, filePath: string): CacheKey {
  return cacheKey([FORMAT, SUCRASE_VERSION, transformsFor(filePath), filePath, source]);
}

/**
 * The JavaScript of the component file `filePath` with content `source`: from `cache` when it has it, else
 * transpiled by sucrase (and stored). Throws sucrase's error for a source it cannot parse.
 */
export function transpile(source: string, filePath: string, cache: DiskCache = defaultTranspileCache()): string {
  const key = transpileKey(source, filePath);
  const cached = cache.get(key);
  if (cached !== null) return cached;
  const code = sucrase().transform(source, {
    transforms: transformsFor(filePath),
    disableESTransforms: true,
    filePath,
  }).code;
  cache.set(key, code);
  return code;
}
