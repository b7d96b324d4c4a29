/**
 * The file component family (batou's `batou.lib.file`): `File` and its parts
 * `Presence`, `Directory`, `Symlink`, `Mode`, `Owner`, `Group`, the managed
 * content components `Content`, `JSONContent`, `YAMLContent`, plus
 * `SyncDirectory`, `Purge` and `ensurePathNonexistent`.
 *
 * Managed content is compared byte for byte; an unchanged file is never
 * touched. A changed file is shown as a unified diff under the component's
 * 🚀 line (masked when it contains secrets) and replaced atomically: the new
 * bytes go to a temporary file beside the target, which is renamed over it.
 *
 * @example
 * ```ts
 * import { Component } from "../core/model/component.ts";
 * import { File, Directory, Symlink } from "./file.ts";
 * export class Hello extends Component {
 *   override configure() {
 *     this.add(new Directory("htdocs"));
 *     this.add(new File("htdocs/index.html", { content: "Hello {{ host.fqdn }}\n" }));
 *     this.add(new File("hello.conf", { source: "hello.conf.j2", mode: 0o600 }));
 *     this.add(new Symlink("current", { source: "htdocs" }));
 *   }
 * }
 * ```
 * @module
 */
import { basename, dirname, isAbsolute, join, normalize, relative, resolve } from "../core/runtime/path.ts";
import { Component, statTime } from "../core/model/component.ts";
import {
  ComponentUsageError,
  ConfigurationError,
  ConversionError,
  registerErrorClass,
  UpdateNeeded,
} from "../core/model/errors.ts";
import { output } from "../core/model/output.ts";
import { expand as expandTemplate } from "../core/model/template.ts";
import { yaml } from "../core/runtime/lazy.ts";
import { containsSecret, formatDiff, unifiedDiffLines } from "../core/formats/diff.ts";
import { runCmd } from "../core/model/cmd.ts";
import { pruneDiffFiles } from "./diff_files.ts";
import {
  chmodNoFollow,
  chownNoFollow,
  ensurePathNonexistent,
  fileInfoSync,
  glob,
  isNotFound,
  lstatOrNull,
  lstatOrNullSync,
  statOrNull,
  writeFileAtomic,
} from "../core/runtime/fsops.ts";
import { applySync, planSync } from "./dirsync.ts";
import { readSourceText } from "./source_cache.ts";
import { type ContentMemo, contentMemoFor } from "../core/runtime/content_memo.ts";
import {
  canonicalEncoding,
  decodeText,
  EncodeError,
  encodeText,
  isSupportedEncoding,
} from "../core/formats/textcodec.ts";
import { dictMerge, pythonJsonDumps } from "../core/formats/pyjson.ts";
import { pyRepr } from "../core/formats/pyrepr.ts";

export { ensurePathNonexistent, writeFileAtomic } from "../core/runtime/fsops.ts";
export { dictMerge, pythonJsonDumps } from "../core/formats/pyjson.ts";

// ---------------------------------------------------------------------------------------------- helpers

function crumb(component: Component, shown: string): string {
  return shown ? `${component.constructor.name}(${pyRepr(shown)})` : component.constructor.name;
}

/** `path` relative to the project's base directory, or absolute when outside of it (batou's breadcrumb path). */
function projectPath(component: Component, path: string): string {
  if (!path || !isAbsolute(path)) return path;
  let base: string;
  try {
    base = component.environment.baseDir;
  } catch {
    return path;
  }
  if (lastProjectPath.base === base && lastProjectPath.path === path) return lastProjectPath.shown;
  const rel = relative(base, path);
  let shown = rel;
  if (rel === "") shown = ".";
  else if (rel === ".." || rel.startsWith("../") || isAbsolute(rel)) shown = normalize(path);
  lastProjectPath = { base, path, shown };
  return shown;
}

/** The last answer of {@linkcode projectPath}: every file rendered from one template asks for the same source. */
let lastProjectPath = { base: "", path: "", shown: "" };

/** The breadcrumb path of a part of a `File`: its basename below a `File`, else {@linkcode projectPath}. */
function partPath(component: Component, path: string): string {
  return component.parent instanceof File && path ? basename(path) : projectPath(component, path);
}

/**
 * What is at `component.path`: the file or directory a symlink points to when the component follows links, else the
 * link itself; null when nothing is there. Synchronous (see `lstatOrNullSync`). With `scope` (the component's parent)
 * the parts of one `File` share one system call (see {@linkcode fileInfoSync}).
 */
function pathInfo(component: { path: string; follow: boolean }, scope: object | null = null): Deno.FileInfo | null {
  return fileInfoSync(component.path, component.follow, scope);
}

/** The chunk {@linkcode packedUtf8} encodes into, and how much of it is used. */
let pack = new Uint8Array(0);
let packUsed = 0;
const PACK_CHUNK = 256 * 1024;
const PACK_MAX_TEXT = 16 * 1024;

/**
 * `text` as utf-8 bytes. A small text is encoded into a shared chunk (the bytes are a view of it) instead of a buffer
 * of its own: a content component keeps its rendered bytes until the deploy ends, and thousands of separately
 * allocated buffers cost more than encoding them (issue 17, 8,000 files). The views are never transferred.
 */
function packedUtf8(text: string): Uint8Array {
  if (text.length > PACK_MAX_TEXT) return UTF8.encode(text);
  // At most three bytes per UTF-16 code unit.
  if (pack.length - packUsed < text.length * 3) {
    pack = new Uint8Array(PACK_CHUNK);
    packUsed = 0;
  }
  const { written } = UTF8.encodeInto(text, pack.subarray(packUsed));
  const bytes = pack.subarray(packUsed, packUsed + written);
  packUsed += written;
  return bytes;
}

/** Asynchronous {@linkcode pathInfo} (no shared answer). */
function pathInfoAsync(component: { path: string; follow: boolean }): Promise<Deno.FileInfo | null> {
  return component.follow ? statOrNull(component.path) : lstatOrNull(component.path);
}

/** The last answer of {@linkcode diffDirOf}. */
let lastDiffDir = { base: "", dir: "" };

/** `<workdirBase>/.batou-diffs`, one string for all the content components of an environment (issue 17). */
function diffDirOf(workdirBase: string): string {
  if (lastDiffDir.base !== workdirBase) lastDiffDir = { base: workdirBase, dir: join(workdirBase, ".batou-diffs") };
  return lastDiffDir.dir;
}

/** The last answer of {@linkcode joinOnce}. */
let lastJoin = { dir: "", name: "", path: "" };

/** `join(dir, name)`, the same string again for the same arguments: thousands of files share one source. */
function joinOnce(dir: string, name: string): string {
  if (lastJoin.dir !== dir || lastJoin.name !== name) lastJoin = { dir, name, path: join(dir, name) };
  return lastJoin.path;
}

/** The utf-8 encoder of this module. */
const UTF8 = new TextEncoder();

/** The buffer {@linkcode fileHolds} reads into (grown as needed, up to {@linkcode SCRATCH_MAX}). */
let scratch = new Uint8Array(16 * 1024);
const SCRATCH_MAX = 1024 * 1024;

/**
 * Whether the file at `path`, which `stat` found to be `bytes.length` long, holds exactly `bytes`, read into one
 * reused buffer: a no-op of 8,000 files otherwise allocates a buffer per file, and fresh memory costs more than the
 * reading (issue 17). It reads `bytes.length` bytes and trusts the size for the rest (a file changed meanwhile is as
 * if changed a moment after the read). False also when the file cannot be read or `bytes` is too big for the buffer:
 * the caller then reads the file as usual (and reports errors). When it holds them, `memo` notes it (with the open
 * file's `fstat`), so that the next deploy need not read the file again while it is unchanged.
 */
function fileHolds(path: string, bytes: Uint8Array, memo: ContentMemo): boolean {
  if (bytes.length > SCRATCH_MAX) return false;
  if (scratch.length < bytes.length) scratch = new Uint8Array(Math.min(SCRATCH_MAX, 2 * bytes.length));
  const buf = scratch.subarray(0, bytes.length);
  const started = Date.now();
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch {
    return false;
  }
  try {
    let size = 0;
    while (size < buf.length) {
      const n = file.readSync(size ? buf.subarray(size) : buf);
      if (n === null || n === 0) return false;
      size += n;
    }
    if (!bytesEqual(buf, bytes)) return false;
    memo.remember(path, file.statSync(), bytes, started);
    return true;
  } catch {
    return false;
  } finally {
    file.close();
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Renders `text` with `component` as the template's `component` (it may be any
 * object), the host and environment of `self`, and `extra` variables.
 */
function renderTemplate(
  self: Component,
  text: string,
  contextComponent: unknown,
  extra: Record<string, unknown>,
  identifier: string,
): string {
  const isComponent = contextComponent instanceof Component;
  const context = self.templateVars(isComponent ? contextComponent : self, extra);
  if (!isComponent) context.component = contextComponent;
  return expandTemplate(text, context, identifier);
}

/** Python's `UnicodeEncodeError` at configure time: the content cannot be written in the chosen encoding. */
export class UnicodeEncodeError extends ConfigurationError {
  override name = "UnicodeEncodeError";
}
registerErrorClass("UnicodeEncodeError", UnicodeEncodeError);

async function lookupId(kind: "passwd" | "group", name: string): Promise<number | null> {
  const result = await runCmd(["getent", kind, name], { ignoreReturnCode: true });
  if (result.code === 0) {
    const id = Number(result.stdout.split("\n")[0].split(":")[2]);
    if (Number.isInteger(id)) return id;
  }
  if (result.code === 127 || result.code === 126) {
    // No getent (e.g. macOS): ask id(1).
    const fallback = await runCmd(["id", kind === "passwd" ? "-u" : "-g", name], { ignoreReturnCode: true });
    const id = Number(fallback.stdout.trim());
    if (fallback.code === 0 && fallback.stdout.trim() !== "" && Number.isInteger(id)) return id;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------- File

/** The `ensure` values of {@linkcode File}. */
export type Ensure = "file" | "directory" | "symlink";

/** Where a template's `component` variable comes from: a component or any object. */
export type TemplateContext = Component | Record<string, unknown>;

/** Options of {@linkcode File} (batou's keyword arguments, camelCased). */
export interface FileOptions {
  /** `"file"` (default), `"directory"` or `"symlink"`. */
  ensure?: Ensure;
  /** The content; a template unless `isTemplate: false`. `""` creates an empty file but never empties one. */
  content?: string | Uint8Array | null;
  /** A file in the component's directory (or absolute); for `ensure: "directory"` a directory to copy. */
  source?: string;
  /** Render the content as a template (Jinja2, see docs/templates.md; default true). */
  isTemplate?: boolean;
  /** The template's `component` (default: the File's parent). */
  templateContext?: TemplateContext | null;
  /** Exposed to the template as `args`. */
  templateArgs?: Record<string, unknown> | null;
  /** Text encoding of the content (default utf-8); `null` means binary. */
  encoding?: string | null;
  /** User name or uid. */
  owner?: string | number | null;
  /** Group name or gid. */
  group?: string | number | null;
  /** A number (`0o640`), an octal string (`"640"`, `"0o640"`) or an ls string (`"rw-r-----"`). */
  mode?: number | string | null;
  /** The link's target for `ensure: "symlink"`. */
  linkTo?: string;
  /** Create missing parent directories. */
  leading?: boolean;
  /** `true`: never show a diff; `false`: always; `null` (default): hide it when it contains a secret. */
  sensitiveData?: boolean | null;
  /**
   * What to do with a symlink found at `path` (Ansible's `follow`). `false` (the default for `ensure: "file"` and
   * `"symlink"`, as Ansible's copy and template): the link is replaced by what `ensure` asks for (a regular file,
   * atomically, or a directory); content, mode, owner and group apply to that, and the link's target is neither
   * read nor written. `true` (the default for `ensure: "directory"`, as batou's `Directory` and Ansible's file
   * module): the link is kept and everything applies to the file or directory it points to.
   */
  follow?: boolean | null;
}

/** A file, directory or symlink with optional content, mode, owner and group. */
export class File extends Component {
  /** Neither verify nor update changes the working directory (issue 17: no chdir per file). */
  static override keepsWorkdir = true;
  static override namevar = "path";
  /** The path; mapped to an absolute path in configure. */
  path = "";
  ensure: string = "file";
  /** The content; after configure the rendered bytes (when there is content). */
  content: string | Uint8Array | null = null;
  source = "";
  isTemplate = true;
  templateArgs: Record<string, unknown> | null = null;
  encoding: string | null = "utf-8";
  owner: string | number | null = null;
  group: string | number | null = null;
  mode: number | string | null = null;
  linkTo = "";
  leading = false;
  sensitiveData: boolean | null = null;
  /** Whether a symlink at `path` is followed; null: the default of the `ensure` (see {@linkcode FileOptions.follow}). */
  follow: boolean | null = null;
  #unmappedPath = "";
  templateContext: TemplateContext | null = null;

  constructor(path: string, options: FileOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.#unmappedPath = this.path;
    this.path = this.map(this.path);
    const follow = this.follow ?? this.ensure === "directory";
    if (this.ensure === "file") this.add(new Presence(this.path, { leading: this.leading, follow }));
    else if (this.ensure === "directory") {
      this.add(new Directory(this.path, { leading: this.leading, source: this.source || null, follow }));
    } else if (this.ensure === "symlink") this.add(new Symlink(this.path, { source: this.linkTo }));
    else {
      throw ConfigurationError.create(`Ensure must be one of: file, directory, symlink not ${this.ensure}`, this);
    }
    // The mode comes early, to get out of accidental "permission denied" situations.
    if (this.mode !== null && this.mode !== undefined) this.add(new Mode(this.path, { mode: this.mode, follow }));

    if (this.ensure === "file" && this.content === null && !this.source) {
      const guess = `${this.defdir}/${basename(this.path)}`;
      let found = false;
      try {
        found = Deno.statSync(guess).isFile;
      } catch { /* missing */ }
      if (!found) {
        throw ConfigurationError.create(
          `Missing implicit template file ${relative(this.environment.baseDir, guess)}. ` +
            `Or did you want to create an empty file? Then use new File("${this.#unmappedPath}", { content: "" }).`,
          this,
        );
      }
      this.source = guess;
    }
    if (this.ensure === "file" && ((this.content !== null && this.content.length > 0) || this.source)) {
      const content = this.add(
        new Content(this.path, {
          source: this.source,
          isTemplate: this.isTemplate,
          templateContext: this.templateContext ?? (this.parent instanceof Component ? this.parent : null),
          templateArgs: this.templateArgs ?? {},
          encoding: this.encoding,
          content: this.content,
          sensitiveData: this.sensitiveData,
          follow,
        }),
      );
      this.content = content.content;
    }
    claimFile(this);
    if (this.owner !== null && this.owner !== undefined) this.add(new Owner(this.path, { owner: this.owner, follow }));
    if (this.group !== null && this.group !== undefined) this.add(new Group(this.path, { group: this.group, follow }));
  }

  override get breadcrumb(): string {
    return crumb(this, projectPath(this, this.path));
  }

  /** The file's time for `key` (`mtime`, `ctime`, `atime`) in ms, or null when it does not exist. */
  override lastUpdated(key = "mtime"): Promise<number | null> {
    return statTime(this.path, key);
  }
}

/** A {@linkcode File} without templating and with binary content (`encoding: null`). */
export class BinaryFile extends File {
  /** Neither verify nor update changes the working directory (issue 17: no chdir per file). */
  static override keepsWorkdir = true;
  override isTemplate = false;
  override encoding: string | null = null;
}

// ---------------------------------------------------------------------------------------------- Presence, Directory

/** Options of {@linkcode Presence}. */
export interface PresenceOptions {
  /** Create missing parent directories. */
  leading?: boolean;
  /** Accept a symlink to a regular file (default false: the link is replaced by an empty file, atomically). */
  follow?: boolean;
}

/**
 * A regular file exists at `path` (created empty; existing content is never touched). A symlink there is replaced
 * by an empty regular file in one rename (its target is left alone), unless `follow` accepts a link to a file.
 */
export class Presence extends Component {
  /** Neither verify nor update changes the working directory (issue 17: no chdir per file). */
  static override keepsWorkdir = true;
  static override namevar = "path";
  path = "";
  leading = false;
  follow = false;

  constructor(path: string, options: PresenceOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.path = this.map(this.path);
    if (this.leading) this.add(new Directory(dirname(this.path), { leading: true }));
  }

  // deno-lint-ignore require-await -- still a Promise, as subclasses may chain on it
  override async verify(): Promise<void> {
    const info = pathInfo(this, this.parent);
    if (info?.isSymlink) throw new UpdateNeeded(`${this.path} is a symlink`);
    if (!info?.isFile) throw new UpdateNeeded(`${this.path} is not a file`);
  }

  override async update(): Promise<void> {
    if (lstatOrNullSync(this.path)?.isSymlink) {
      // Replaced in one rename: the path is never missing, and nothing is written through the link.
      await writeFileAtomic(this.path, new Uint8Array());
      return;
    }
    await ensurePathNonexistent(this.path);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path, { write: true, create: true });
    } catch (e) {
      if (isNotFound(e)) {
        throw new Deno.errors.NotFound(
          `Cannot create ${this.path}: directory ${dirname(this.path)} does not exist (use leading: true to create it)`,
        );
      }
      throw e;
    }
    file.close();
  }

  override get breadcrumb(): string {
    return crumb(this, partPath(this, this.path));
  }

  override lastUpdated(key = "mtime"): Promise<number | null> {
    return statTime(this.path, key);
  }
}

/** Options of {@linkcode Directory}. */
export interface DirectoryOptions {
  /** Create missing parent directories. */
  leading?: boolean;
  /** A directory (relative to the component's directory, or absolute) whose content is copied in. */
  source?: string | null;
  /** Names or paths not to copy (rsync-style patterns, see {@linkcode SyncDirectory}). */
  exclude?: string[];
  /** With `source`: remove files the source does not have (rsync `--delete`; excluded files are kept). */
  delete?: boolean;
  /**
   * Accept a symlink to a directory at `path` (default true, as batou and Ansible's file module: `var/log` may link
   * to another disk on purpose); `false` replaces the link by a directory (what it points to is left alone).
   */
  follow?: boolean;
}

/**
 * A directory exists at `path`; with `source`, the files of that directory are copied into it. A symlink to a
 * directory there is accepted, or with `follow: false` replaced by a directory (what it points to is left alone).
 */
export class Directory extends Component {
  /** Neither verify nor update changes the working directory (issue 17: no chdir per file). */
  static override keepsWorkdir = true;
  static override namevar = "path";
  path = "";
  leading = false;
  source: string | null = null;
  exclude: string[] = [];
  delete = false;
  follow = true;

  constructor(path: string, options: DirectoryOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.path = this.map(this.path);
    if (this.source) {
      this.add(
        new SyncDirectory(this.path, {
          source: this.source,
          exclude: this.exclude,
          leading: this.leading,
          delete: this.delete,
          follow: this.follow,
        }),
      );
    }
  }

  // deno-lint-ignore require-await -- still a Promise, as subclasses may chain on it
  override async verify(): Promise<void> {
    const info = pathInfo(this, this.parent);
    if (info?.isSymlink) throw new UpdateNeeded(`${this.path} is a symlink`);
    if (!info?.isDirectory) throw new UpdateNeeded(`${this.path} is not a directory`);
  }

  override async update(): Promise<void> {
    await ensurePathNonexistent(this.path);
    try {
      await Deno.mkdir(this.path, { recursive: this.leading });
    } catch (e) {
      if (isNotFound(e)) {
        throw new Deno.errors.NotFound(
          `Cannot create directory ${this.path}: directory ${dirname(this.path)} does not exist ` +
            `(use leading: true to create it)`,
        );
      }
      throw e;
    }
  }

  override get breadcrumb(): string {
    return crumb(this, partPath(this, this.path));
  }

  /** The newest modification time (ms) of the files below the directory; 0 when empty, null when missing. */
  override async lastUpdated(key = "mtime"): Promise<number | null> {
    if (!(await statOrNull(this.path))?.isDirectory) return null;
    let newest = 0;
    const walk = async (dir: string): Promise<void> => {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.isDirectory) await walk(path);
        else {
          const t = await statTime(path, key);
          if (t !== null && t > newest) newest = t;
        }
      }
    };
    await walk(this.path);
    return newest;
  }
}

/** Options of {@linkcode SyncDirectory}. */
export interface SyncDirectoryOptions {
  /** The directory to copy from: relative to the component's directory, or absolute. Required. */
  source?: string | null;
  /** rsync-style exclude patterns: `name`, `dir/name`, `/top-level`, `dir/` (directories only), `*.pyc`. */
  exclude?: string[];
  /** Create missing parent directories of the target. */
  leading?: boolean;
  /** Remove entries of the target that the source does not have (rsync `--delete`); excluded ones are kept. */
  delete?: boolean;
  /** Sync into the directory a symlink at `path` points to (default true; false replaces the link by a directory). */
  follow?: boolean;
}

/**
 * Copies the content of `source` into the directory `path` (no rsync needed):
 * missing directories are created, files whose content or mode differ are
 * replaced, symlinks recreated. Extra files in the target are kept, or removed with `delete: true`.
 */
export class SyncDirectory extends Component {
  static override namevar = "path";
  path = "";
  source: string | null = null;
  exclude: string[] = [];
  leading = false;
  delete = false;
  follow = true;

  constructor(path: string, options: SyncDirectoryOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.path = this.map(this.path);
    if (this.source === null || this.source === undefined || this.source === "") {
      throw ComponentUsageError.usage("SyncDirectory requires a source to sync from.", this.environment.baseDir);
    }
    this.source = normalize(resolve(this.defdir, this.source));
  }

  override async verify(): Promise<void> {
    const info = await pathInfoAsync(this);
    if (info?.isSymlink) throw new UpdateNeeded(`${this.path} is a symlink`);
    if (!info?.isDirectory) throw new UpdateNeeded(`${this.path} does not exist`);
    const actions = await planSync(this.source!, this.path, this.exclude, { delete: this.delete });
    if (actions.length) {
      output.debug(`sync ${this.source} -> ${this.path}:`);
      for (const a of actions) output.debug(`  ${a.kind} ${a.path} (${a.reason})`);
      throw new UpdateNeeded(`${actions.length} entries differ`);
    }
  }

  override async update(): Promise<void> {
    let target = this.path;
    if (this.follow && (await statOrNull(target))?.isDirectory) target = await Deno.realPath(target);
    await applySync(this.source!, target, this.exclude, { leading: this.leading, delete: this.delete });
  }

  override get breadcrumb(): string {
    const shown = this.parent instanceof Directory && this.path ? basename(this.path) : projectPath(this, this.path);
    return crumb(this, shown);
  }
}

// ---------------------------------------------------------------------------------------------- content

/** The base of the components that work on one path (batou's `FileComponent`). */
export class FileComponent extends Component {
  static override namevar = "path";
  /** The mapped (absolute) path after configure. */
  path = "";
  /** The path as given. */
  originalPath = "";
  leading = false;
  /**
   * Whether a symlink at `path` is followed: `false` (default) works on the link itself (content replaces it with a
   * regular file; mode, owner and group never touch its target), `true` works on what it points to.
   */
  follow = false;

  constructor(path: string, options: Record<string, unknown> = {}) {
    super(path, options);
  }

  override configure(): void | Promise<void> {
    this.originalPath = this.path;
    this.path = this.map(this.originalPath);
  }

  override get breadcrumb(): string {
    return crumb(this, partPath(this, this.path));
  }
}

/**
 * `lines` with every secret replaced by `*****`: the values registered with the output (`Output.setSecrets`) and
 * the environment's secret words and lines (at least 3 characters, as the output's). Used for what is written to
 * disk besides the managed files (diff files), which must never hold a secret.
 */
function maskSecrets(lines: string[], secretWords: Set<string>): string[] {
  const words = [...secretWords].filter((w) => w.trim().length >= 3).sort((a, b) => b.length - a.length);
  return lines.map((line) => {
    let masked = output.mask(line);
    for (const w of words) if (masked.includes(w)) masked = masked.split(w).join("*****");
    return masked;
  });
}

/**
 * Whether a file's text (old or new) bears a secret: batou's rule (a word or a whole line is a secret,
 * {@linkcode containsSecret}) or any secret value inside a word, wherever the masking would replace one
 * (`token=tok-2-...`). Such a file's diff shows no line content: its removed lines may hold a rotated secret that
 * is no longer among the known ones, so nothing in them can be masked reliably.
 */
function bearsSecret(texts: string[], secretWords: Set<string>): boolean {
  if (containsSecret(texts, secretWords)) return true;
  const masked = maskSecrets(texts, secretWords);
  return masked.some((text, i) => text !== texts[i]);
}

/** Options shared by {@linkcode Content}, {@linkcode JSONContent} and {@linkcode YAMLContent}. */
export interface ManagedContentOptions {
  /** The file to read the content/data from: relative to the component's directory, or absolute. */
  source?: string;
  /** Text encoding (default utf-8); `null` means binary. */
  encoding?: string | null;
  /** `true`: never show a diff; `false`: always; `null` (default): hide it when it contains a secret. */
  sensitiveData?: boolean | null;
  /** Write through a symlink at the path (default false: the link is replaced by a regular file, atomically). */
  follow?: boolean;
  /** Show diffs of at most this many lines (+1) in full (default 200). */
  maxDiff?: number;
  /** Lines shown at each end of a longer diff (default 50). */
  maxDiffLead?: number;
  /** Lines of a new file's content shown (default 10); the rest is counted, the full diff is in the diff file. */
  maxNewDiff?: number;
}

/**
 * The content of a file, compared byte for byte and replaced atomically.
 * Subclasses produce the text in {@linkcode render}. Not for direct use.
 */
export class ManagedContentBase extends FileComponent {
  /** The option that competes with `source`: `content` or `data`. */
  static contentAttribute = "content";
  /** The content; after configure the rendered bytes (null while the source is missing). */
  content: string | Uint8Array | null = null;
  source = "";
  sensitiveData: boolean | null = null;
  encoding: string | null = "utf-8";
  maxDiff = 200;
  maxDiffLead = 50;
  maxNewDiff = 10;
  #delayed = false;
  #diffDir = "";

  /** Where full diffs are written: `<workdirBase>/.batou-diffs` (the newest 5 per name kept). */
  get diffDir(): string {
    return this.#diffDir;
  }

  /** Whether the content attribute (`content` or `data`) was given. */
  protected contentGiven(): boolean {
    const attr = (this.constructor as typeof ManagedContentBase).contentAttribute;
    const value = (this as unknown as Record<string, unknown>)[attr];
    return value !== null && value !== undefined;
  }

  override configure(): void {
    super.configure();
    this.#diffDir = diffDirOf(this.environment.workdirBase);
    if (this.encoding !== null && !isSupportedEncoding(this.encoding)) {
      throw ConfigurationError.create(
        `Unsupported encoding \`${this.encoding}\` (use utf-8, ascii, latin-1, utf-16le, or null for binary)`,
        this,
      );
    }
    const attr = (this.constructor as typeof ManagedContentBase).contentAttribute;
    const given = this.contentGiven();
    if (this.source && given) {
      throw ConfigurationError.create(`Only one of either "${attr}" or "source" are allowed.`, this);
    }
    if (!given) {
      if (!this.source) this.source = this.originalPath;
      if (!isAbsolute(this.source)) this.source = joinOnce(this.defdir, this.source);
    }
    this.#render();
  }

  /** Reads the source (if any), calls {@linkcode render} on the text and encodes the result. */
  #render(): void {
    if (this.source) {
      try {
        // Text sources through the cache: one template for thousands of files is read and decoded once. Not a
        // source that was missing at configure: another component creates it during the deployment.
        this.content = this.encoding && !this.#delayed
          ? readSourceText(this.source, this.encoding)
          : this.encoding
          ? decodeText(Deno.readFileSync(this.source), this.encoding)
          : Deno.readFileSync(this.source);
      } catch (e) {
        if (!isNotFound(e)) throw e;
        if (this.#delayed) throw new Deno.errors.NotFound(`Could not find source file ${this.source}`);
        // Another component may create the source during the deployment: try again in verify.
        this.#delayed = true;
        return;
      }
    }
    if (this.content instanceof Uint8Array && this.encoding && this.content.length) {
      this.content = decodeText(this.content, this.encoding);
    }
    this.render();
    if (this.encoding) {
      const text = this.content instanceof Uint8Array ? decodeText(this.content, this.encoding) : this.content ?? "";
      try {
        this.content = canonicalEncoding(this.encoding) === "utf-8"
          ? packedUtf8(text)
          : encodeText(text, this.encoding);
      } catch (e) {
        if (e instanceof EncodeError) throw UnicodeEncodeError.create(e.message, this);
        throw e;
      }
    } else if (typeof this.content === "string") {
      this.content = UTF8.encode(this.content);
    } else if (this.content === null) {
      this.content = new Uint8Array();
    }
  }

  /** Turns the source text in {@linkcode content} into the final text. The default keeps it. */
  render(): void {}

  /** The rendered bytes (empty before rendering). */
  get bytes(): Uint8Array {
    return this.content instanceof Uint8Array ? this.content : UTF8.encode(this.content ?? "");
  }

  override async verify(predicting = false): Promise<void> {
    if (this.#delayed) {
      try {
        this.#render();
        this.#delayed = false;
      } catch (e) {
        // While predicting, the source may be created by an earlier component that did not run.
        if (predicting && isNotFound(e)) throw new UpdateNeeded(`source ${this.source} not found yet`);
        throw e;
      }
    }
    const wanted = this.bytes;
    let current: Uint8Array;
    try {
      const info = pathInfo(this, this.parent);
      if (info?.isSymlink) {
        // Never read through a link that is going to be replaced: its target is none of the deployment's business.
        output.annotate(`${this.path} is a symlink: it is replaced by a regular file.`, { yellow: true });
        current = new Uint8Array();
      } else if (info && !info.isFile) {
        output.annotate("Unknown content - can't predict diff.");
        throw new UpdateNeeded(`${this.path} is not a regular file`);
      } else {
        if (info?.size === wanted.length) {
          const memo = contentMemoFor(this.environment.workdirBase);
          if (memo.holds(this.path, info, wanted) || fileHolds(this.path, wanted, memo)) return;
        }
        current = Deno.readFileSync(this.path);
        if (bytesEqual(current, wanted)) return;
      }
    } catch (e) {
      if (e instanceof UpdateNeeded) throw e;
      if (isNotFound(e)) current = new Uint8Array();
      else {
        output.annotate("Unknown content - can't predict diff.");
        throw new UpdateNeeded(`cannot read ${this.path}`);
      }
    }
    await this.#showDiff(current, wanted);
    throw new UpdateNeeded(`${this.path} has different content`);
  }

  /**
   * Shows the diff from `current` to `wanted` (the full diff goes to a diff file). New content (the file is missing
   * or empty, as Presence leaves it) shows at most {@linkcode maxNewDiff} lines and counts the rest: a first
   * deploy of thousands of files would otherwise print all of them (issue 17).
   */
  async #showDiff(current: Uint8Array, wanted: Uint8Array): Promise<void> {
    if (!this.encoding) {
      output.annotate("Not showing diff for binary data.", { yellow: true });
      return;
    }
    if (this.sensitiveData === true) {
      output.annotate("Not showing diff as it contains sensitive data.", { red: true });
      return;
    }
    const currentText = decodeText(current, this.encoding, false);
    const wantedText = decodeText(wanted, this.encoding, false);
    const secret = this.sensitiveData === null && bearsSecret([currentText, wantedText], this.environment.secretData);
    const lines = unifiedDiffLines(currentText, wantedText);
    if (lines.length === 0) return;
    const masked = maskSecrets(lines, this.environment.secretData);
    // A removed line of a file with secrets may hold a secret that was replaced (a rotated password): batou no
    // longer knows it as a secret, so the diff file shows no removed content at all.
    const diffFile = await this.#writeDiffFile(
      secret ? masked.map((l, i) => i >= 2 && l.startsWith("-") ? "-*****" : l) : masked,
    );
    if (secret) {
      output.annotate("Not showing diff as it contains sensitive data,", { yellow: true });
      output.line(`see ${diffFile} for the diff.`, { yellow: true });
      return;
    }
    const name = basename(this.path);
    // The header: "---", "+++" and the one hunk of a new file.
    const newShown = 3 + Math.max(0, this.maxNewDiff);
    const left = current.length === 0 && lines.length > newShown ? lines.length - newShown : 0;
    const shown = left ? lines.slice(0, newShown) : lines;
    for (const line of formatDiff(name, shown, { max: this.maxDiff, lead: this.maxDiffLead, fullDiffPath: diffFile })) {
      output.annotate(line.text, line.color ? { [line.color]: true } : {});
    }
    if (left) {
      output.annotate(`  ${name} ... ${left} more line${left === 1 ? "" : "s"} of the new file not shown,`, {
        yellow: true,
      });
      output.line(`see ${diffFile} for the full diff.`, { yellow: true });
    }
  }

  /**
   * Writes the full diff (its lines already masked) to `<diffDir>/<timestamp>-<name>.diff` (mode 0600) and returns
   * its path; only the newest 5 diff files per name are kept (`DIFF_FILES_KEPT`, lib/diff_files.ts). A file name that contains a secret is replaced by `sensitive`: nothing but the managed files may hold
   * a secret on the target.
   */
  async #writeDiffFile(lines: string[]): Promise<string> {
    await Deno.mkdir(this.#diffDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[-:]/g, "");
    const data = new TextEncoder().encode(lines.map((l) => l + "\n").join(""));
    const name = basename(this.path);
    const shownName = maskSecrets([name], this.environment.secretData)[0] === name ? name : "sensitive";
    for (let n = 1;; n++) {
      const path = join(this.#diffDir, `${stamp}${n > 1 ? `-${n}` : ""}-${shownName}.diff`);
      try {
        const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
        try {
          let offset = 0;
          while (offset < data.length) offset += await file.write(data.subarray(offset));
        } finally {
          file.close();
        }
        await pruneDiffFiles(this.#diffDir, basename(path));
        return path;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
  }

  override async update(): Promise<void> {
    await writeFileAtomic(this.path, this.bytes, { follow: this.follow });
  }
}

/** The files of each configured top component (a root's configure builds a fresh one): path -> File. */
const claimedFiles = new WeakMap<object, Map<string, File>>();

function sameContent(a: string | Uint8Array | null, b: string | Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  const enc = UTF8;
  const x = typeof a === "string" ? enc.encode(a) : a, y = typeof b === "string" ? enc.encode(b) : b;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Records `file` as the manager of its path in its root; a second File of the same path with other content is a
 * configuration error (it would rewrite the file twice on every deploy), naming both components and their places.
 */
function claimFile(file: File): void {
  const top = file.root.component;
  if (top === null) return;
  let byPath = claimedFiles.get(top);
  if (!byPath) claimedFiles.set(top, byPath = new Map());
  const other = byPath.get(file.path);
  if (other === undefined || other === file) {
    byPath.set(file.path, file);
    return;
  }
  if (other.ensure === file.ensure && sameContent(other.content, file.content)) return;
  throw ConfigurationError.create(
    `${projectPath(file, file.path)} is managed twice with different content: ` +
      `${other.breadcrumbs} (${other.initLocation}) and ${file.breadcrumbs} (${file.initLocation}).`,
    file,
  );
}

/** Options of {@linkcode Content}. */
export interface ContentOptions extends ManagedContentOptions {
  /** The content (a template unless `isTemplate: false`). Exclusive with `source`. */
  content?: string | Uint8Array | null;
  /** Render as a template (Jinja2, see docs/templates.md; default true; never for binary content). */
  isTemplate?: boolean;
  /** The template's `component` (default: the parent component). */
  templateContext?: TemplateContext | null;
  /** Exposed to the template as `args`. */
  templateArgs?: Record<string, unknown> | null;
}

/** The content of a file, from `content` or a `source` file, rendered as a template by default. */
export class Content extends ManagedContentBase {
  /** Neither verify nor update changes the working directory (issue 17: no chdir per file). */
  static override keepsWorkdir = true;
  isTemplate = true;
  templateArgs: Record<string, unknown> | null = null;
  templateContext: TemplateContext | null = null;

  constructor(path: string, options: ContentOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override render(): void {
    if (!this.isTemplate || !this.encoding || typeof this.content !== "string") return;
    const context = this.templateContext ?? (this.parent instanceof Component ? this.parent : this);
    const identifier = this.source ? projectPath(this, this.source) : this.breadcrumbs;
    this.content = renderTemplate(this, this.content, context, { args: this.templateArgs ?? {} }, identifier);
  }
}

/** Options of {@linkcode JSONContent}. */
export interface JSONContentOptions extends ManagedContentOptions {
  /** The data to write. Exclusive with `source` (a JSON file). */
  data?: unknown;
  /** Merged into the data (objects recursively, lists concatenated). */
  override?: unknown;
  /** Indented output (default); `false` gives the compact form. */
  humanReadable?: boolean;
}

/** A JSON file, written as Python's `json.dumps(data, sort_keys=True, indent=4)` (no trailing newline). */
export class JSONContent extends ManagedContentBase {
  static override contentAttribute = "data";
  data: unknown = null;
  override: unknown = null;
  humanReadable = true;
  /** The compact form (`separators=(",", ":")`) after rendering. */
  contentCompact: string | null = null;
  /** The indented form after rendering. */
  contentReadable: string | null = null;

  constructor(path: string, options: JSONContentOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override render(): void {
    if (typeof this.content === "string" && this.content !== "") this.data = JSON.parse(this.content);
    if (this.override !== null && this.override !== undefined) this.data = dictMerge(this.data, this.override);
    this.contentCompact = pythonJsonDumps(this.data, { separators: [",", ":"] });
    this.contentReadable = pythonJsonDumps(this.data, { indent: 4 });
    this.content = this.humanReadable ? this.contentReadable : this.contentCompact;
  }
}

/** Options of {@linkcode YAMLContent}. */
export interface YAMLContentOptions extends ManagedContentOptions {
  /** The data to write. Exclusive with `source` (a YAML file). */
  data?: unknown;
  /** Merged into the data (objects recursively, lists concatenated). */
  override?: unknown;
}

/** Serializes like PyYAML's `safe_dump`: sorted keys, block style, sequences not indented under keys. */
export function yamlDump(data: unknown): string {
  return yaml().stringify(data ?? null, {
    sortMapEntries: true,
    indentSeq: false,
    version: "1.1",
    singleQuote: true,
    lineWidth: 80,
  });
}

/** A YAML file, written like `yaml.safe_dump(data)`. */
export class YAMLContent extends ManagedContentBase {
  static override contentAttribute = "data";
  data: unknown = null;
  override: unknown = null;

  constructor(path: string, options: YAMLContentOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override render(): void {
    if (typeof this.content === "string" && this.content !== "") {
      this.data = yaml().parse(this.content, { version: "1.1" });
    }
    if (this.override !== null && this.override !== undefined) this.data = dictMerge(this.data, this.override);
    this.content = yamlDump(this.data);
  }
}

// ---------------------------------------------------------------------------------------------- owner, group, mode

/**
 * `chown SPEC path` (`uid` or `:gid`). Without `follow` a symlink's target is never changed, also when a link
 * appears between the check and the change: a file is changed through a descriptor opened with `O_NOFOLLOW`, a
 * link itself with `chown -h` (Deno has no lchown).
 */
async function chownPath(path: string, spec: string, follow: boolean): Promise<void> {
  const [uid, gid] = spec.startsWith(":") ? [null, Number(spec.slice(1))] : [Number(spec), null];
  if (follow) {
    await Deno.chown(path, uid, gid);
    return;
  }
  if (await chownNoFollow(path, uid, gid)) return;
  const r = await runCmd(["chown", "-h", spec, path], { ignoreReturnCode: true });
  if (r.code !== 0) throw new Error(`Cannot change the owner of ${path}: ${(r.stderr || r.stdout).trim()}`);
}

/**
 * The uid of `path` is `owner` (a user name, resolved when verifying, or a uid). A symlink's own owner, unless
 * `follow` asks for its target's.
 */
export class Owner extends FileComponent {
  owner: string | number | null = null;
  #uid: number | null = null;

  constructor(path: string, options: { owner?: string | number | null; follow?: boolean } = {}) {
    super(path, options);
  }

  override configure(): void {
    super.configure();
    if (this.owner === null || this.owner === undefined || this.owner === "") {
      throw ConfigurationError.create("`owner` is required.", this);
    }
  }

  async #resolve(): Promise<number> {
    if (this.#uid !== null) return this.#uid;
    if (typeof this.owner === "number") return this.#uid = this.owner;
    const uid = await lookupId("passwd", String(this.owner));
    if (uid === null) throw new Error(`Unknown user \`${this.owner}\` (owner of ${this.path})`);
    return this.#uid = uid;
  }

  override async verify(): Promise<void> {
    const info = pathInfo(this);
    if (!info) throw new UpdateNeeded(`${this.path} does not exist`);
    if (info.uid !== (await this.#resolve())) throw new UpdateNeeded(`${this.path} has owner ${info.uid}`);
  }

  override async update(): Promise<void> {
    await chownPath(this.path, String(await this.#resolve()), this.follow);
  }
}

/** The gid of `path` is `group` (a group name, resolved when verifying, or a gid); symlinks as {@linkcode Owner}. */
export class Group extends FileComponent {
  group: string | number | null = null;
  #gid: number | null = null;

  constructor(path: string, options: { group?: string | number | null; follow?: boolean } = {}) {
    super(path, options);
  }

  override configure(): void {
    super.configure();
    if (this.group === null || this.group === undefined || this.group === "") {
      throw ConfigurationError.create("`group` is required.", this);
    }
  }

  async #resolve(): Promise<number> {
    if (this.#gid !== null) return this.#gid;
    if (typeof this.group === "number") return this.#gid = this.group;
    const gid = await lookupId("group", String(this.group));
    if (gid === null) throw new Error(`Unknown group \`${this.group}\` (group of ${this.path})`);
    return this.#gid = gid;
  }

  override async verify(): Promise<void> {
    const info = pathInfo(this);
    if (!info) throw new UpdateNeeded(`${this.path} does not exist`);
    if (info.gid !== (await this.#resolve())) throw new UpdateNeeded(`${this.path} has group ${info.gid}`);
  }

  override async update(): Promise<void> {
    await chownPath(this.path, `:${await this.#resolve()}`, this.follow);
  }
}

/** batou's `convert_mode`: an ls string like `rwxr-x---` as a number; anything else is a `SyntaxError`. */
export function convertMode(text: string): number {
  const m = /^([r-])([w-])([x-])([r-])([w-])([x-])([r-])([w-])([x-])$/.exec(text);
  if (!m) throw new SyntaxError("Mode-string should be between `---------` and `rwxrwxrwx`.");
  let mode = 0;
  for (let i = 1; i <= 9; i++) if (m[i] !== "-") mode |= 1 << (9 - i);
  return mode;
}

/**
 * Parses a mode: a number, an octal string (`"755"`, `"0755"`, `"0o755"`) or
 * an ls string (`"rwxr-x---"`). Throws for anything else.
 */
export function parseMode(value: number | string): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < 0 || value > 0o7777) {
      throw new RangeError(`Mode must be a whole number between 0 and 0o7777, got ${value}`);
    }
    return value;
  }
  const text = value.trim();
  const octal = /^(?:0o)?([0-7]+)$/i.exec(text);
  if (octal) {
    const mode = parseInt(octal[1], 8);
    if (mode > 0o7777) throw new RangeError(`Mode must be between 0 and 0o7777, got ${value}`);
    return mode;
  }
  return convertMode(text);
}

/**
 * The permission bits of `path` are `mode`. A symlink itself has no mode on Linux (no lchmod): without `follow`
 * a link is left as it is (its target is never changed), with `follow` its target gets the mode.
 */
export class Mode extends FileComponent {
  /** Neither verify nor update changes the working directory (issue 17: no chdir per file). */
  static override keepsWorkdir = true;
  mode: number | string | null = null;

  constructor(path: string, options: { mode?: number | string | null; follow?: boolean } = {}) {
    super(path, options);
  }

  override configure(): void {
    super.configure();
    if (typeof this.mode === "string" || typeof this.mode === "number") {
      try {
        this.mode = parseMode(this.mode);
      } catch (e) {
        throw ConversionError.of(this, "mode", this.mode, "convert_mode", e);
      }
    } else {
      throw ConfigurationError.create("`mode` is required and `None` is not a valid value.", this);
    }
  }

  // deno-lint-ignore require-await -- still a Promise, as subclasses may chain on it
  override async verify(): Promise<void> {
    const info = pathInfo(this, this.parent);
    if (!info) throw new UpdateNeeded(`${this.path} does not exist`);
    if (info.isSymlink) return;
    const current = (info.mode ?? 0) & 0o7777;
    if (current !== this.mode) throw new UpdateNeeded(`${this.path} has mode ${current.toString(8)}`);
  }

  override async update(): Promise<void> {
    if (this.follow) await Deno.chmod(this.path, this.mode as number);
    else await chmodNoFollow(this.path, this.mode as number);
  }
}

// ---------------------------------------------------------------------------------------------- Symlink, Purge

/** Options of {@linkcode Symlink}. */
export interface SymlinkOptions {
  /** What the link points to; relative paths resolve against the work directory. Required. */
  source?: string | null;
}

/** A symlink at `target` pointing to `source` (both mapped, so a relative source becomes absolute). */
export class Symlink extends Component {
  static override namevar = "target";
  target = "";
  source: string | null = null;

  constructor(target: string, options: SymlinkOptions = {}) {
    super(target, options as Record<string, unknown>);
  }

  override configure(): void {
    this.target = this.map(this.target);
    if (!this.source) {
      throw ComponentUsageError.usage(
        "Symlink requires a source (the path the link points to).",
        this.environment.baseDir,
      );
    }
    this.source = this.map(this.source);
  }

  // deno-lint-ignore require-await -- still a Promise, as subclasses may chain on it
  override async verify(): Promise<void> {
    const info = lstatOrNullSync(this.target);
    if (!info?.isSymlink) throw new UpdateNeeded(`${this.target} is not a symlink`);
    if (Deno.readLinkSync(this.target) !== this.source) throw new UpdateNeeded(`${this.target} points elsewhere`);
  }

  override async update(): Promise<void> {
    await ensurePathNonexistent(this.target);
    await Deno.symlink(this.source!, this.target);
  }

  override get breadcrumb(): string {
    return crumb(this, partPath(this, this.target));
  }
}

/** Nothing matches the glob `pattern` (relative to the work directory): matches are deleted. */
export class Purge extends Component {
  static override namevar = "pattern";
  pattern = "";

  constructor(pattern: string, options: Record<string, never> = {}) {
    super(pattern, options);
  }

  override configure(): void {
    this.pattern = this.map(this.pattern);
  }

  override async verify(): Promise<void> {
    const matches = await glob(this.pattern);
    if (matches.length) throw new UpdateNeeded(`${matches.length} paths match ${this.pattern}`);
  }

  override async update(): Promise<void> {
    for (const path of await glob(this.pattern)) {
      const info = await lstatOrNull(path);
      if (!info) continue;
      // A symlink to a directory is removed as a link; the directory stays.
      await Deno.remove(path, { recursive: info.isDirectory && !info.isSymlink });
    }
  }

  override get breadcrumb(): string {
    return crumb(this, projectPath(this, this.pattern));
  }
}
