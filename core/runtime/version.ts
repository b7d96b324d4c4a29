/**
 * The program's version and build information.
 *
 * `VERSION` is the source of truth (deno.json's `version` must match; `deno task compile` checks). A compiled
 * binary carries its build information in an embedded JSON file, `dist/build/build-info.json`, that
 * `deno task compile` generates and embeds with `--include`; in source mode there is none and {@linkcode BUILD}
 * is empty.
 *
 * @module
 */
import { isCompiled } from "./program.ts";

/** The batou version. */
export const VERSION = "0.1.0";

/** What a batou version looks like: `1.2.3` or `1.2.3-rc.1`. */
export const VERSION_RE = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

/** What `deno task compile` records about a build. */
export interface BuildInfo {
  /** Must equal {@linkcode VERSION} (checked when read). */
  version: string;
  /** `git rev-parse --short=12 HEAD`, with `-dirty` when the tree had uncommitted changes. */
  commit: string;
  /** ISO 8601 UTC build time (or `SOURCE_DATE_EPOCH`). */
  date: string;
  /** The `deno compile --target` of this binary. */
  target?: string;
}

/** Path of the build-info file relative to the repository root (generated, embedded, never committed). */
export const BUILD_INFO_PATH = "dist/build/build-info.json";

/** Reads the embedded build information; empty outside a compiled binary or when it is missing or foreign. */
export function readBuildInfo(url: URL = new URL(`../../${BUILD_INFO_PATH}`, import.meta.url)): BuildInfo | null {
  try {
    const info = JSON.parse(Deno.readTextFileSync(url)) as Partial<BuildInfo>;
    if (info.version !== VERSION || typeof info.commit !== "string" || typeof info.date !== "string") return null;
    return { version: info.version, commit: info.commit, date: info.date, target: info.target };
  } catch {
    return null;
  }
}

function embeddedBuild(): { commit: string; date: string } {
  // Only a `deno compile` binary has its build info embedded; in a checkout dist/ may hold a stale one.
  if (!isCompiled()) return { commit: "", date: "" };
  const info = readBuildInfo();
  return info ? { commit: info.commit, date: info.date } : { commit: "", date: "" };
}

/** Build information embedded at compile time (empty in source mode). */
export const BUILD: { commit: string; date: string } = embeddedBuild();

/** The `batou --version` line: `batou 0.1.0 (abc123, built 2025-01-01T00:00:00Z)` or `batou 0.1.0 (source)`. */
export function versionLine(): string {
  return `batou ${VERSION}${BUILD.commit ? ` (${BUILD.commit}, built ${BUILD.date})` : " (source)"}`;
}
