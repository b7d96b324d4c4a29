/**
 * `Download`: fetch a file over http(s) (or `file:`) and check it against a
 * checksum. An existing file with the right checksum is left alone, so a second
 * deploy downloads nothing.
 *
 * - `checksum` is required: `"sha256:<hex>"`, `"sha512:<hex>"`, `"md5:<hex>"` (any
 *   algorithm that node:crypto knows).
 * - Redirects are followed. A password in the URL is sent as HTTP basic auth and
 *   shown as `*****` in breadcrumbs and messages.
 * - The file is written to a temporary file beside the target and renamed over
 *   it only when the checksum matches: a bad download never replaces a good file.
 *
 * @example
 * ```ts
 * import { Component, Download, Extract } from "batou";
 * export class Tool extends Component {
 *   override configure() {
 *     const dl = this.add(new Download("https://example.com/tool-1.0.tar.gz", {
 *       checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 *     }));
 *     this.add(new Extract(dl.target, { strip: 1 }));
 *   }
 * }
 * ```
 * @module
 */
import { toBase64 } from "../core/formats/base64.ts";
import { basename, dirname, join } from "../core/runtime/path.ts";
import { Component, statTime } from "../core/model/component.ts";
import { ConfigurationError, UpdateNeeded } from "../core/model/errors.ts";
import { isNotFound } from "../core/runtime/fsops.ts";

/** Options of {@linkcode Download}. */
export interface DownloadOptions {
  /** Where to store the file (relative to the work directory); default: the URL's last path segment. */
  target?: string;
  /** `"<algorithm>:<hex digest>"`, e.g. `"sha256:..."`. Required. */
  checksum?: string;
  /** Extra HTTP request headers. */
  headers?: Record<string, string>;
}

/** Replaces the password of a URL with `*****` (for display). */
export function maskPassword(uri: string): string {
  try {
    const url = new URL(uri);
    if (!url.password) return uri;
    url.password = "*****";
    return url.toString();
  } catch {
    return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, "$1*****@");
  }
}

/**
 * The hash algorithms `node:crypto` knows, for checking a checksum's algorithm while configuring (synchronous):
 * `node:crypto` is loaded then, not when the library is (see core/runtime/sha256.ts on its cost).
 */
function knownHashes(): string[] {
  const { process } = globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } };
  return (process.getBuiltinModule("node:crypto") as typeof import("node:crypto")).getHashes();
}

/** The hex digest of a file with `algorithm`. */
export async function hashFile(path: string, algorithm: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const hash = createHash(algorithm);
  const file = await Deno.open(path, { read: true });
  // The stream closes the file when it ends.
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

function randomSuffix(): string {
  return [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Downloads `uri` to `target` and checks its checksum. */
export class Download extends Component {
  static override namevar = "uri";
  uri = "";
  target = "";
  /**
   * The expected digest (hex, lower case) after configure; before it the `checksum` option
   * (`algo:hex`). Not called `checksum`: that is a method of every component.
   */
  expectedChecksum = "";
  headers: Record<string, string> = {};
  /** The checksum's algorithm (after configure). */
  checksumFunction = "";

  constructor(uri: string, options: DownloadOptions = {}) {
    const { checksum, ...rest } = options;
    super(
      uri,
      { ...rest, ...(checksum === undefined ? {} : { expectedChecksum: checksum }) } as Record<string, unknown>,
    );
  }

  override configure(): void {
    if (!this.target) {
      let path = "";
      try {
        path = new URL(this.uri).pathname;
      } catch {
        path = this.uri.split(/[?#]/)[0];
      }
      this.target = decodeURIComponent(path.split("/").pop() ?? "");
    }
    if (!this.target) {
      throw ConfigurationError.create(
        `No target is given and the URI does not allow deriving a filename (${maskPassword(this.uri)}).`,
        this,
      );
    }
    if (!this.expectedChecksum) throw ConfigurationError.create("No checksum given.", this);
    const sep = this.expectedChecksum.indexOf(":");
    if (sep < 1) {
      throw ConfigurationError.create(
        `Checksum must look like "<algorithm>:<hex digest>" (e.g. "sha256:..."), got ${
          JSON.stringify(this.expectedChecksum)
        }.`,
        this,
      );
    }
    this.checksumFunction = this.expectedChecksum.slice(0, sep).toLowerCase();
    this.expectedChecksum = this.expectedChecksum.slice(sep + 1).trim().toLowerCase();
    if (!knownHashes().includes(this.checksumFunction)) {
      throw ConfigurationError.create(
        `Unknown checksum algorithm \`${this.checksumFunction}\` (use sha256, sha512, md5, ...).`,
        this,
      );
    }
    this.target = this.map(this.target);
  }

  override async verify(): Promise<void> {
    let digest: string;
    try {
      digest = await hashFile(this.target, this.checksumFunction);
    } catch (e) {
      if (isNotFound(e)) throw new UpdateNeeded(`${this.target} does not exist`);
      throw e;
    }
    if (digest !== this.expectedChecksum) throw new UpdateNeeded(`${this.target} has checksum ${digest}`);
  }

  override async update(): Promise<void> {
    const tmp = join(dirname(this.target), `.${basename(this.target)}.batou-tmp-${randomSuffix()}`);
    try {
      const { createHash } = await import("node:crypto");
      const hash = createHash(this.checksumFunction);
      const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
      try {
        for await (const chunk of await this.#open()) {
          hash.update(chunk);
          let offset = 0;
          while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
        }
        await file.sync();
      } finally {
        file.close();
      }
      const got = hash.digest("hex");
      if (got !== this.expectedChecksum) {
        const { AssertionError } = await import("node:assert");
        throw new AssertionError({ message: `Checksum mismatch!\nexpected: ${this.expectedChecksum}\ngot: ${got}` });
      }
      await Deno.rename(tmp, this.target);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  }

  /** The bytes of the URI as a stream. */
  async #open(): Promise<ReadableStream<Uint8Array>> {
    const shown = maskPassword(this.uri);
    let url: URL;
    try {
      url = new URL(this.uri);
    } catch {
      // Not a URL: a local path.
      return (await Deno.open(this.map(this.uri), { read: true })).readable;
    }
    if (url.protocol === "file:") {
      const { fileURLToPath } = await import("node:url");
      return (await Deno.open(fileURLToPath(url), { read: true })).readable;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`Cannot download ${shown}: unsupported scheme ${url.protocol}`);
    }
    const headers = new Headers(this.headers);
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      const bytes = new TextEncoder().encode(`${user}:${password}`);
      headers.set("Authorization", `Basic ${toBase64(bytes)}`);
      url.username = "";
      url.password = "";
    }
    let response: Response;
    try {
      response = await fetch(url, { headers, redirect: "follow" });
    } catch (e) {
      throw new Error(`Cannot download ${shown}: ${e instanceof Error ? e.message : e}`);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new Error(`Cannot download ${shown}: HTTP ${response.status} ${response.statusText}`.trimEnd());
    }
    return response.body;
  }

  /** The URI with its password masked. */
  override get breadcrumb(): string {
    return `Download('${maskPassword(this.uri)}')`;
  }

  override lastUpdated(key = "mtime"): Promise<number | null> {
    return statTime(this.target, key);
  }
}
