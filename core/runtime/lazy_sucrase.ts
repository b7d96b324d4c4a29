/**
 * The sucrase functions batou uses; imported through {@linkcode "./lazy.ts"} only, so that a bundle evaluates
 * sucrase on first use.
 *
 * @module
 */
export { getFormattedTokens, getVersion, transform } from "sucrase";
