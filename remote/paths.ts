/**
 * Path helpers shared by the agent and the transports.
 *
 * @module
 */

/** Expands a leading `~` to the current user's home directory. */
export function expandHome(path: string): string {
  if (path === "~" || path.startsWith("~/")) {
    const home = Deno.env.get("HOME");
    if (!home) throw new Error(`Cannot expand ${path}: HOME is not set`);
    return home + path.slice(1);
  }
  return path;
}
