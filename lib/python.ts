/**
 * Python environments.
 *
 * `AppEnv(pythonVersion)` (batou's `batou.lib.appenv`, the recommended way) installs the
 * exact packages of `requirements.lock` (next to the component) into a virtualenv in
 * `.appenv/<hash>`, where the hash covers the lock file, the Python version and the
 * pip settings. A changed lock file builds a new env beside the old one and switches the
 * symlink `.appenv/current` (and `bin`, `lib`, `pyvenv.cfg` in the work directory) when it
 * is ready; the previous env is kept for rollback, older ones are removed. pip runs with
 * `--no-deps` (the lock file lists everything) and `pip check`; its output is shown when
 * it fails. pip is not upgraded unless `pipVersion` is given (so offline installs work).
 *
 * `VirtualEnv(version)` + `Package(name, { version })` (batou's `batou.lib.python`): a
 * venv in the work directory (or `path`) with individually pinned packages.
 *
 * `installOptions` are passed to every `pip install`, e.g.
 * `["--no-index", "--find-links", "/srv/wheels"]` for installs from local wheels.
 *
 * @example
 * ```ts
 * import { AppEnv, Component, Package, VirtualEnv } from "batou";
 * export class App extends Component {
 *   override configure() {
 *     this.add(new AppEnv("3.11"));          // components/app/requirements.lock
 *   }
 * }
 * export class Tools extends Component {
 *   override configure() {
 *     const venv = this.add(new VirtualEnv("3", { path: "tools" }));
 *     venv.add(new Package("httpie", { version: "3.2.2" }));
 *   }
 * }
 * ```
 * @module
 */
import { sha256Hex } from "../core/runtime/sha256.ts";
import { basename, join } from "../core/runtime/path.ts";
import { Component } from "../core/model/component.ts";
import { joinCommand } from "../core/model/cmd.ts";
import { ConfigurationError, UpdateNeeded } from "../core/model/errors.ts";
import { File, Symlink } from "./file.ts";
import { ensurePathNonexistent, lstatOrNull } from "../core/runtime/fsops.ts";

/** Changes whenever the way AppEnv builds environments changes (part of the env hash). */
export const APPENV_VERSION = "batou-ts-appenv-1";

/** Environment for pip: no prompts, no version check (which would reach out to the network). */
const PIP_ENV = { PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1", PYTHONDONTWRITEBYTECODE: "1" };

/** Whether the version `actual` ("3.11.2") starts with the dotted parts of `wanted` ("3", "3.11"). */
export function versionMatches(actual: string, wanted: string): boolean {
  const a = actual.trim().split(".");
  return wanted.split(".").every((part, i) => a[i] === part);
}

// ------------------------------------------------------------------------------------------------ VirtualEnv

/** Options of {@linkcode VirtualEnv}. */
export interface VirtualEnvOptions {
  /** The Python to create the venv with (default `python<version>`). */
  executable?: string | null;
  /** Where the venv lives (default the work directory). */
  path?: string;
}

/** A Python virtualenv (`<python> -m venv`); add {@linkcode Package}s to it. */
export class VirtualEnv extends Component {
  static override namevar = "version";
  version = "";
  executable: string | null = null;
  path = ".";

  constructor(version: string, options: VirtualEnvOptions = {}) {
    super(version, options as Record<string, unknown>);
  }

  override configure(): void {
    this.version = String(this.version);
    if (!this.executable) this.executable = `python${this.version}`;
    this.path = this.map(this.path);
    // The venv is made by a sub-component, so that it exists before the packages added later deploy.
    this.add(new VirtualEnvPy());
  }

  /** The venv's python. */
  get python(): string {
    return join(this.path, "bin", "python");
  }
}

/** Creates the parent {@linkcode VirtualEnv}'s venv; deploys before the packages added to it. */
export class VirtualEnvPy extends Component {
  get venv(): VirtualEnv {
    if (!(this.parent instanceof VirtualEnv)) throw new Error("VirtualEnvPy must be added to a VirtualEnv");
    return this.parent;
  }

  override async verify(): Promise<void> {
    const venv = this.venv;
    const result = await this.cmd(
      joinCommand([venv.python, "-c", "import sys, pip; print('%d.%d.%d' % sys.version_info[:3])"]),
      { ignoreReturnCode: true, silent: true, expand: false },
    );
    if (result.code !== 0) throw new UpdateNeeded(`no working virtualenv at ${venv.path}`);
    if (!versionMatches(result.stdout, venv.version)) {
      throw new UpdateNeeded(`the virtualenv has Python ${result.stdout.trim()}, not ${venv.version}`);
    }
  }

  override async update(): Promise<void> {
    const venv = this.venv;
    for (const name of ["bin", "lib", "lib64", "include", "pyvenv.cfg", ".Python"]) {
      await ensurePathNonexistent(join(venv.path, name));
    }
    await Deno.mkdir(venv.path, { recursive: true });
    await this.cmd(joinCommand([venv.executable!, "-m", "venv", venv.path]), { expand: false });
  }
}

/** Options of {@linkcode Package}. */
export interface PackageOptions {
  /** The version to install (`name==version`); without it any installed version will do. */
  version?: string | null;
  /** Install dependencies too (default true; false adds `--no-deps`). */
  dependencies?: boolean;
  /** Further `pip install` arguments. */
  installOptions?: string[];
  /** Environment variables for pip. */
  env?: Record<string, string>;
  /** pip's network timeout in seconds (default: the environment's timeout). */
  timeout?: number | null;
}

/** A Python package installed with pip into the parent {@linkcode VirtualEnv}. */
export class Package extends Component {
  static override namevar = "package";
  package = "";
  version: string | null = null;
  dependencies = true;
  installOptions: string[] = [];
  env: Record<string, string> = {};
  timeout: number | null = null;

  constructor(name: string, options: PackageOptions = {}) {
    super(name, options as Record<string, unknown>);
  }

  override configure(): void {
    if (!(this.parent instanceof VirtualEnv)) {
      throw ConfigurationError.create("Package() must be added to a virtual environment", this);
    }
    if (this.timeout === null || this.timeout === undefined) {
      this.timeout = this.environment.timeout > 0 ? this.environment.timeout : 60;
    }
  }

  get venv(): VirtualEnv {
    return this.parent as VirtualEnv;
  }

  /** The installed version, or null. */
  async installedVersion(): Promise<string | null> {
    const script = "import sys, importlib.metadata as m\ntry:\n print(m.version(sys.argv[1]))\n" +
      "except m.PackageNotFoundError:\n sys.exit(1)";
    const result = await this.cmd(joinCommand([this.venv.python, "-c", script, this.package]), {
      ignoreReturnCode: true,
      silent: true,
      expand: false,
    });
    return result.code === 0 ? result.stdout.trim() : null;
  }

  override async verify(): Promise<void> {
    const installed = await this.installedVersion();
    if (installed === null) throw new UpdateNeeded(`${this.package} is not installed`);
    if (this.version && installed !== this.version) {
      throw new UpdateNeeded(`${this.package} ${installed} is installed, not ${this.version}`);
    }
  }

  override async update(): Promise<void> {
    const spec = this.version ? `${this.package}==${this.version}` : this.package;
    const args = [this.venv.python, "-m", "pip", `--timeout=${this.timeout}`, "install"];
    if (!this.dependencies) args.push("--no-deps");
    args.push(...this.installOptions, spec);
    await this.cmd(joinCommand(args), { expand: false, env: { ...PIP_ENV, ...this.env } });
  }

  override get breadcrumb(): string {
    return `Package('${this.version ? `${this.package}==${this.version}` : this.package}')`;
  }
}

// ------------------------------------------------------------------------------------------------ AppEnv

/** Options of {@linkcode AppEnv}. */
export interface AppEnvOptions {
  /** Install this pip version into the env first (default: keep the one venv brings). */
  pipVersion?: string | null;
  /** The lock file, relative to the component's directory (default `requirements.lock`). */
  lockfile?: string;
  /** Further `pip install` arguments, e.g. `["--no-index", "--find-links", dir]`. */
  installOptions?: string[];
  /** The Python to create envs with (default `python<pythonVersion>`). */
  executable?: string | null;
}

/** An application environment built from a lock file in hashed directories. */
export class AppEnv extends Component {
  static override namevar = "pythonVersion";
  pythonVersion = "";
  pipVersion: string | null = null;
  lockfile = "requirements.lock";
  installOptions: string[] = [];
  executable: string | null = null;
  /** Set in configure. */
  envHash = "";
  envDir = "";
  envReady = "";
  lastEnvHash: string | null = null;
  lockContent = "";

  constructor(pythonVersion: string, options: AppEnvOptions = {}) {
    super(pythonVersion, options as Record<string, unknown>);
  }

  override configure(): void {
    this.pythonVersion = String(this.pythonVersion);
    if (!this.executable) this.executable = `python${this.pythonVersion}`;
    const lockPath = join(this.defdir, this.lockfile);
    try {
      this.lockContent = Deno.readTextFileSync(lockPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw ConfigurationError.create(`AppEnv needs a lock file: ${lockPath} does not exist.`, this);
      }
      throw e;
    }
    const hashed = [
      this.lockContent,
      this.pythonVersion,
      APPENV_VERSION,
      this.pipVersion ?? "",
      ...this.installOptions,
    ];
    this.envHash = sha256Hex(hashed.join("\0")).slice(0, 8);
    this.envDir = this.map(join(".appenv", this.envHash));
    this.envReady = join(this.envDir, "appenv.ready");

    this.add(new AppEnvVirtualEnv());
    this.add(new File(join(this.envDir, "requirements.lock"), { content: this.lockContent, isTemplate: false }));
    this.add(new LockedRequirements());
    this.add(new File(this.envReady, { content: "Ready or not, here I come, you can't hide\n", isTemplate: false }));

    this.lastEnvHash = null;
    try {
      this.lastEnvHash = basename(Deno.readLinkSync(this.map(".appenv/current")));
    } catch { /* no current env */ }

    this.add(new Symlink(".appenv/current", { source: this.envDir }));
    for (const name of ["bin", "lib", "pyvenv.cfg"]) this.add(new Symlink(name, { source: `.appenv/current/${name}` }));
    this.add(new CleanupUnused());
  }

  /** The env's python (in its hashed directory). */
  get python(): string {
    return join(this.envDir, "bin", "python");
  }

  override get breadcrumb(): string {
    return `AppEnv('${this.envHash}')`;
  }
}

/** The parent {@linkcode AppEnv}. */
function appEnvOf(c: Component): AppEnv {
  if (!(c.parent instanceof AppEnv)) throw new Error(`${c.constructor.name} must be added to an AppEnv`);
  return c.parent;
}

/** Creates the AppEnv's virtualenv (until it is ready). */
export class AppEnvVirtualEnv extends Component {
  override async verify(): Promise<void> {
    if (!(await lstatOrNull(appEnvOf(this).envReady))) throw new UpdateNeeded("the env is not ready");
  }

  override async update(): Promise<void> {
    const env = appEnvOf(this);
    await ensurePathNonexistent(env.envDir);
    await Deno.mkdir(join(env.envDir, ".."), { recursive: true });
    await this.cmd(joinCommand([env.executable!, "-m", "venv", env.envDir]), { expand: false });
    if (env.pipVersion) {
      await this.cmd(
        joinCommand([env.python, "-m", "pip", "install", ...env.installOptions, `pip==${env.pipVersion}`]),
        { expand: false, env: PIP_ENV },
      );
    }
  }
}

/** Installs the lock file with `pip install --no-deps -r` and checks it with `pip check`. */
export class LockedRequirements extends Component {
  override async verify(): Promise<void> {
    if (!(await lstatOrNull(appEnvOf(this).envReady))) throw new UpdateNeeded("the env is not ready");
  }

  override async update(): Promise<void> {
    const env = appEnvOf(this);
    const lock = join(env.envDir, "requirements.lock");
    await this.cmd(
      joinCommand([env.python, "-m", "pip", "install", "--no-deps", ...env.installOptions, "-r", lock]),
      { expand: false, env: PIP_ENV },
    );
    await this.cmd(joinCommand([env.python, "-m", "pip", "check"]), { expand: false, env: PIP_ENV });
  }
}

/** Removes env directories other than the current and the previous one. */
export class CleanupUnused extends Component {
  #cleanup: string[] = [];

  override async verify(): Promise<void> {
    const env = appEnvOf(this);
    const dir = this.map(".appenv");
    if (!(await lstatOrNull(dir))) return;
    const protectedNames = new Set([env.envHash, env.lastEnvHash, "current"]);
    this.#cleanup = [];
    for await (const entry of Deno.readDir(dir)) {
      if (!protectedNames.has(entry.name)) this.#cleanup.push(entry.name);
    }
    if (this.#cleanup.length) throw new UpdateNeeded(`unused envs: ${this.#cleanup.sort().join(", ")}`);
  }

  override async update(): Promise<void> {
    for (const name of this.#cleanup) await ensurePathNonexistent(join(this.map(".appenv"), name));
  }
}
