/**
 * Unpacking archives: `Extract(archive)` picks `Unzip` (`.zip`) or `Untar`
 * (`.tar`, `.tar.gz`, `.tgz`, `.tar.bz2`, `.tar.xz`, `.txz`) by the suffix.
 *
 * - Zip archives are read in TypeScript (see `zip.ts`): the target host needs no `unzip`.
 * - Tar archives are unpacked with the system's `tar` (GNU tar or bsdtar; present on every
 *   Unix), which also handles the compression (`bzip2`/`xz` must be installed for those).
 * - `strip: N` drops the first N path segments of every member (tar's `--strip-components`).
 * - By default the target is the archive's path without its suffix, created with its parents.
 *
 * Idempotence: after extracting, a marker file `.batou-extract-<archive name>.json` in the target
 * records the archive's SHA-256, `strip` and the extracted files. The archive is extracted again
 * exactly when its content (or `strip`) changed or an extracted file is missing. Files that were
 * edited in place are not noticed (batou compared ctimes instead, which re-extracts whenever the
 * archive is touched and misses nothing else either).
 *
 * @example
 * ```ts
 * import { Component, Download, Extract } from "batou";
 * export class Tool extends Component {
 *   override configure() {
 *     this.add(new Download("https://example.com/tool-1.0.tar.gz", { checksum: "sha256:..." }));
 *     const ex = this.add(new Extract("tool-1.0.tar.gz", { target: "tool", strip: 1 }));
 *     // ex.target is the absolute target directory
 *   }
 * }
 * ```
 * @module
 */
import { basename, dirname, isAbsolute, join } from "../core/runtime/path.ts";
import { sha256FileHex } from "../core/runtime/sha256.ts";
import { Component } from "../core/model/component.ts";
import { runCmd } from "../core/model/cmd.ts";
import { ConfigurationError, UpdateNeeded } from "../core/model/errors.ts";
import { Directory } from "./file.ts";
import { ensurePathNonexistent, isNotFound, lstatOrNull, writeFileAtomic } from "../core/runtime/fsops.ts";
import { ZipArchive } from "../core/formats/zip.ts";

/** Options of {@linkcode Extract}, {@linkcode Untar} and {@linkcode Unzip}. */
export interface ExtractOptions {
  /** The directory to extract into (relative to the work directory). */
  target?: string | null;
  /** Create the target (default true); without it the target defaults to the work directory. */
  createTargetDir?: boolean;
  /** Leading path segments to drop from every member (default 0). */
  strip?: number;
}

/** Options of {@linkcode Untar}. */
export interface UntarOptions extends ExtractOptions {
  /** Member patterns not to extract (default `["._*"]`, macOS resource forks). */
  exclude?: string[];
}

/** The content of the marker file an extractor leaves in its target. */
interface ExtractMarker {
  archiveSha256: string;
  strip: number;
  files: string[];
}

/** `name` without its first `strip` segments, or null when nothing is left. Rejects unsafe names. */
export function stripPath(name: string, strip: number): string | null {
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw new Error(`Refusing to extract ${JSON.stringify(name)}: it contains '..'`);
  const rest = segments.slice(strip);
  return rest.length ? rest.join("/") : null;
}

/** The base of the archive extractors (batou's `Extractor`). */
export class Extractor extends Component {
  static override namevar = "archive";
  /** The suffixes this extractor handles. */
  static suffixes: string[] = [];
  /** Whether `strip` is supported. */
  static supportsStrip = true;
  archive = "";
  target: string | null = null;
  createTargetDir = true;
  strip = 0;

  constructor(archive: string, options: ExtractOptions = {}) {
    super(archive, options as Record<string, unknown>);
  }

  /** The archive path without the suffix this class handles, or null when it handles none. */
  static baseName(archive: string): string | null {
    for (const suffix of this.suffixes) {
      if (archive.endsWith(suffix)) return archive.slice(0, -suffix.length);
    }
    return null;
  }

  override configure(): void {
    const cls = this.constructor as typeof Extractor;
    if (this.strip && !cls.supportsStrip) {
      throw ConfigurationError.create(`Strip is not supported by ${cls.name}`, this);
    }
    if (!Number.isInteger(this.strip) || this.strip < 0) {
      throw ConfigurationError.create(`strip must be a whole number >= 0, got ${this.strip}`, this);
    }
    this.archive = this.map(this.archive);
    if (this.createTargetDir) {
      if (this.target === null || this.target === undefined) this.target = cls.baseName(this.archive);
      if (!this.target) {
        throw ConfigurationError.create(
          `Target not given and not derivable from archive name (${this.archive}).`,
          this,
        );
      }
      const dir = this.add(new Directory(this.target, { leading: true }));
      this.target = dir.path;
    } else {
      this.target = this.map(this.target ?? ".");
    }
  }

  /** Where the marker of this archive lives. */
  get markerPath(): string {
    return join(this.target!, `.batou-extract-${basename(this.archive)}.json`);
  }

  override async verify(): Promise<void> {
    if (!(await lstatOrNull(this.archive))) throw new UpdateNeeded(`${this.archive} does not exist (yet)`);
    let marker: ExtractMarker;
    try {
      marker = JSON.parse(await Deno.readTextFile(this.markerPath));
    } catch (e) {
      if (isNotFound(e) || e instanceof SyntaxError) throw new UpdateNeeded(`${this.archive} was not extracted yet`);
      throw e;
    }
    if (marker.strip !== this.strip) throw new UpdateNeeded("strip changed");
    if (marker.archiveSha256 !== (await sha256FileHex(this.archive))) throw new UpdateNeeded("the archive changed");
    for (const file of marker.files ?? []) {
      if (!(await lstatOrNull(join(this.target!, file)))) throw new UpdateNeeded(`${file} is missing`);
    }
  }

  override async update(): Promise<void> {
    await Deno.mkdir(this.target!, { recursive: true });
    const digest = await sha256FileHex(this.archive);
    const files = await this.extract();
    const marker: ExtractMarker = { archiveSha256: digest, strip: this.strip, files: files.sort() };
    await writeFileAtomic(this.markerPath, new TextEncoder().encode(JSON.stringify(marker, null, 1) + "\n"));
  }

  /** Extracts the archive into the target; returns the extracted non-directory paths (relative, stripped). */
  extract(): Promise<string[]> {
    throw new Error(`${this.constructor.name}.extract() is not implemented`);
  }

  /** The member names of the archive (as stored, before stripping). */
  names(): Promise<string[]> {
    throw new Error(`${this.constructor.name}.names() is not implemented`);
  }

  override get breadcrumb(): string {
    return `${this.constructor.name}('${basename(this.archive)}')`;
  }
}

/** Unpacks tar archives (plain, gzip, bzip2, xz) with the system's `tar`. */
export class Untar extends Extractor {
  static override suffixes = [".tar.gz", ".tar", ".tar.bz2", ".tgz", ".tar.xz", ".txz"];
  exclude: string[] = ["._*"];

  constructor(archive: string, options: UntarOptions = {}) {
    super(archive, options);
  }

  #excludeArgs(): string[] {
    return this.exclude.map((pattern) => `--exclude=${pattern}`);
  }

  override async names(): Promise<string[]> {
    const result = await runCmd(["tar", "-tf", this.archive, ...this.#excludeArgs()]);
    return result.stdout.split("\n").filter((l) => l !== "");
  }

  override async extract(): Promise<string[]> {
    const names = await this.names();
    for (const name of names) stripPath(name, 0);
    const args = ["tar", "-xf", this.archive, "-C", this.target!, ...this.#excludeArgs()];
    if (this.strip) args.push(`--strip-components=${this.strip}`);
    // As root, GNU tar would restore the archive's owners; deployed files belong to the deploying user.
    if (Deno.uid() === 0) args.push("--no-same-owner");
    await runCmd(args);
    const files: string[] = [];
    for (const name of names) {
      if (name.endsWith("/")) continue;
      const rel = stripPath(name, this.strip);
      if (rel === null) continue;
      const info = await lstatOrNull(join(this.target!, rel));
      if (info && !info.isDirectory) files.push(rel);
    }
    return [...new Set(files)];
  }
}

/** Unpacks zip archives (read in TypeScript; existing files are overwritten). */
export class Unzip extends Extractor {
  static override suffixes = [".zip"];

  override async names(): Promise<string[]> {
    return (await ZipArchive.open(this.archive)).entries.map((e) => e.name);
  }

  override async extract(): Promise<string[]> {
    const zip = await ZipArchive.open(this.archive);
    const target = this.target!;
    const files: string[] = [];
    for (const entry of zip.entries) {
      if (isAbsolute(entry.name)) throw new Error(`Refusing to extract absolute path ${JSON.stringify(entry.name)}`);
      const rel = stripPath(entry.name, this.strip);
      if (rel === null) continue;
      const path = join(target, rel);
      await assertNoLinkedParents(target, rel);
      if (entry.isDirectory) {
        const info = await lstatOrNull(path);
        if (info && !info.isDirectory) await ensurePathNonexistent(path);
        await Deno.mkdir(path, { recursive: true });
        if (entry.mode !== null) await Deno.chmod(path, entry.mode);
        continue;
      }
      await Deno.mkdir(dirname(path), { recursive: true });
      const data = zip.read(entry);
      const info = await lstatOrNull(path);
      if (entry.isSymlink) {
        await ensurePathNonexistent(path);
        await Deno.symlink(new TextDecoder().decode(data), path);
      } else {
        if (info && (info.isSymlink || info.isDirectory)) await ensurePathNonexistent(path);
        await writeFileAtomic(path, data, entry.mode !== null ? { mode: entry.mode & 0o7777 } : {});
      }
      files.push(rel);
    }
    return [...new Set(files)];
  }
}

/** Throws when a directory between `target` and `target/rel` is a symlink (no writing through links). */
async function assertNoLinkedParents(target: string, rel: string): Promise<void> {
  const segments = rel.split("/");
  let path = target;
  for (const segment of segments.slice(0, -1)) {
    path = join(path, segment);
    if ((await lstatOrNull(path))?.isSymlink) {
      throw new Error(`Refusing to extract ${rel}: ${path} is a symbolic link`);
    }
  }
}

/** The extractors {@linkcode Extract} chooses from, in order. */
export const EXTRACTORS: (typeof Extractor)[] = [Unzip, Untar];

/** Extracts `archive` with the extractor that handles its suffix. */
export class Extract extends Component {
  static override namevar = "archive";
  archive = "";
  target: string | null = null;
  createTargetDir = true;
  strip = 0;
  /** The extractor chosen in configure. */
  extractor: Extractor | null = null;

  constructor(archive: string, options: ExtractOptions = {}) {
    super(archive, options as Record<string, unknown>);
  }

  override configure(): void {
    this.archive = this.map(this.archive);
    const cls = EXTRACTORS.find((c) => c.baseName(this.archive) !== null);
    if (!cls) throw ConfigurationError.create(`No handler found for archive '${this.archive}'.`, this);
    this.extractor = this.add(
      new cls(this.archive, { target: this.target, createTargetDir: this.createTargetDir, strip: this.strip }),
    );
    this.target = this.extractor.target;
  }

  override get breadcrumb(): string {
    return `Extract('${basename(this.archive)}')`;
  }
}
