/**
 * The `"batou"` module for component authors (types and runtime).
 *
 * @module
 */
export * from "./lib/mod.ts";
