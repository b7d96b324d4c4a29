/**
 * The program's version and build information (rewritten by `deno task compile`).
 *
 * @module
 */

/** The batou version. */
export const VERSION = "0.1.0";

/** Build information embedded at compile time (empty in source mode). */
export const BUILD: { commit: string; date: string } = { commit: "", date: "" };
