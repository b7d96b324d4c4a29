/**
 * configure, make, make install (batou's `batou.lib.cmmi`):
 *
 * - `Configure(path, { args, prefix, buildEnvironment })` runs `./configure --prefix=<prefix> <args>` in `path`
 *   (prefix: the work directory by default) when `config.status` is missing or older than `configure`;
 * - `Make(path, { buildEnvironment })` runs `make install` when its marker is older than the `Makefile`;
 * - `Build(uri, { checksum, configureArgs, prefix, buildEnvironment })` downloads a source tarball, extracts it
 *   (first path component stripped) and runs both.
 *
 * As in batou, changing `args` alone does not re-run configure (touch the `configure` script or remove
 * `config.status`). Both show the build's output while it runs (`cmd(..., { communicate: false })`).
 *
 * @example
 * ```ts
 * import { Component, cmmi } from "batou";
 * export class Nginx extends Component {
 *   override configure() {
 *     this.add(new cmmi.Build("https://nginx.org/download/nginx-1.26.2.tar.gz", {
 *       checksum: "sha256:627fe086209bba80a2853a0add9d958d7ebbdffa1a8467a5784c9a6b4f03d738",
 *       configureArgs: "--without-http_rewrite_module",
 *     }));
 *   }
 * }
 * ```
 * @module
 */
import { basename, join } from "../core/runtime/path.ts";
import { Component } from "../core/model/component.ts";
import { shellQuote } from "../core/model/cmd.ts";
import { Download } from "./download.ts";
import { Extract } from "./archive.ts";

/** Options of {@linkcode Configure}. */
export interface ConfigureOptions {
  /** Further arguments of `./configure` (shell syntax, a template). */
  args?: string;
  /** `--prefix` (default: the work directory). */
  prefix?: string | null;
  /** Environment variables for the build (e.g. `CFLAGS`). */
  buildEnvironment?: Record<string, string> | null;
}

/** `./configure --prefix=... args` in `path` (a source tree). */
export class Configure extends Component {
  static override namevar = "path";
  path = "";
  args = "";
  prefix: string | null = null;
  buildEnvironment: Record<string, string> | null = null;

  constructor(path: string, options: ConfigureOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.path = this.map(this.path);
    if (this.prefix === null || this.prefix === undefined) this.prefix = this.workdir;
  }

  override async verify(): Promise<void> {
    await this.assertFileIsCurrent(join(this.path, "config.status"));
    await this.assertFileIsCurrent(join(this.path, ".batou.config.success"), [join(this.path, "configure")]);
  }

  override async update(): Promise<void> {
    await this.cmd(`./configure --prefix=${shellQuote(this.prefix!)} ${this.args}`, {
      cwd: this.path,
      env: this.buildEnvironment ?? undefined,
      communicate: false,
    });
    await this.touch(join(this.path, ".batou.config.success"));
  }
}

/** Options of {@linkcode Make}. */
export interface MakeOptions {
  /** Environment variables for the build. */
  buildEnvironment?: Record<string, string> | null;
}

/** `make install` in `path`. */
export class Make extends Component {
  static override namevar = "path";
  path = "";
  buildEnvironment: Record<string, string> | null = null;

  constructor(path: string, options: MakeOptions = {}) {
    super(path, options as Record<string, unknown>);
  }

  override configure(): void {
    this.path = this.map(this.path);
  }

  override async verify(): Promise<void> {
    await this.assertFileIsCurrent(join(this.path, ".batou.make.success"), [join(this.path, "Makefile")]);
  }

  override async update(): Promise<void> {
    await this.cmd("make install", { cwd: this.path, env: this.buildEnvironment ?? undefined, communicate: false });
    await this.touch(join(this.path, ".batou.make.success"));
  }
}

/** Options of {@linkcode Build}. */
export interface BuildOptions {
  /** The source tarball's checksum (`sha256:...`), required. */
  checksum?: string;
  /** Further arguments of `./configure`. */
  configureArgs?: string;
  /** `--prefix` (default: the work directory). */
  prefix?: string | null;
  /** Environment variables for configure and make. */
  buildEnvironment?: Record<string, string> | null;
}

/** Download, extract, configure, make install. */
export class Build extends Component {
  static override namevar = "uri";
  uri = "";
  configureArgs = "";
  prefix: string | null = null;
  buildEnvironment: Record<string, string> | null = null;
  sourceChecksum = "";

  constructor(uri: string, options: BuildOptions = {}) {
    const { checksum, ...rest } = options;
    super(uri, { ...rest, ...(checksum === undefined ? {} : { sourceChecksum: checksum }) } as Record<string, unknown>);
  }

  override configure(): void {
    const download = this.add(new Download(this.uri, { checksum: this.sourceChecksum }));
    const extract = this.add(new Extract(download.target, { strip: 1 }));
    const opts = { prefix: this.prefix, buildEnvironment: this.buildEnvironment };
    this.add(new Configure(extract.target!, { ...opts, args: this.configureArgs }));
    this.add(new Make(extract.target!, { buildEnvironment: this.buildEnvironment }));
  }

  override get breadcrumb(): string {
    return `Build('${basename(this.uri)}')`;
  }
}

/** The cmmi family as a namespace: `cmmi.Build`, `cmmi.Configure`, `cmmi.Make`. */
export const cmmi: { Build: typeof Build; Configure: typeof Configure; Make: typeof Make } = {
  Build,
  Configure,
  Make,
};
