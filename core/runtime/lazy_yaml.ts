/**
 * The yaml functions batou uses; imported through {@linkcode "./lazy.ts"} only, so that a bundle evaluates yaml on
 * first use.
 *
 * @module
 */
export { parse, stringify } from "yaml";
