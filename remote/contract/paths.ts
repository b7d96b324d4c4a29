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

/**
 * The path of a `file:` URL (percent-decoded), as `node:url`'s `fileURLToPath` gives it on POSIX systems, without
 * loading `node:url`. Throws for other URLs and for an encoded `/` in the path.
 */
export function fromFileUrl(url: string | URL): string {
  const u = typeof url === "string" ? new URL(url) : url;
  if (u.protocol !== "file:") throw new TypeError(`not a file: URL: ${u.href}`);
  if (u.hostname !== "" && u.hostname !== "localhost") throw new TypeError(`file: URL with a host: ${u.href}`);
  if (/%2f/i.test(u.pathname)) throw new TypeError(`file: URL with an encoded /: ${u.href}`);
  return decodeURIComponent(u.pathname);
}
