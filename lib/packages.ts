/**
 * System packages and accounts (Debian-style hosts, deploying as root).
 *
 * - `Apt(name)` (alias `DPKG`): a Debian package is installed. verify asks
 *   `dpkg-query`; update runs `apt-get install -y` (once more after `apt-get update`
 *   when the package is unknown). An installed package verifies fine as any user;
 *   installing needs root.
 * - `User(name, { ... })`: a Unix account exists (`getent passwd`), created with
 *   `useradd`; a differing shell or home is corrected with `usermod`.
 * - `GroupAccount(name, { ... })`: a Unix group exists (`getent group`), created with
 *   `groupadd`. (`Group` is the file component that sets a file's group.)
 *
 * @example
 * ```ts
 * import { Apt, Component, GroupAccount, User } from "batou";
 * export class Base extends Component {
 *   override configure() {
 *     this.add(new Apt("nginx"));
 *     this.add(new GroupAccount("app"));
 *     this.add(new User("app", { group: "app", shell: "/bin/bash", system: true }));
 *   }
 * }
 * ```
 * @module
 */
import { Component } from "../core/model/component.ts";
import { joinCommand } from "../core/model/cmd.ts";
import { UpdateNeeded } from "../core/model/errors.ts";
import { sleep } from "../core/runtime/sleep.ts";

function requireRoot(what: string): void {
  if (Deno.uid() !== 0) throw new Error(`${what} needs root: deploy as root (service_user) or do it by hand.`);
}

/** Options of {@linkcode Apt}. */
export interface AptOptions {
  /** Install exactly this version (`name=version`). */
  version?: string | null;
}

/** A Debian package is installed (`dpkg-query`, `apt-get install -y`). */
export class Apt extends Component {
  static override namevar = "package";
  package = "";
  version: string | null = null;

  constructor(name: string, options: AptOptions = {}) {
    super(name, options as Record<string, unknown>);
  }

  /** The installed version, or null when the package is not installed. */
  async installedVersion(): Promise<string | null> {
    const result = await this.cmd(
      joinCommand(["dpkg-query", "-W", "-f=${Status}\\t${Version}", this.package]),
      { ignoreReturnCode: true, silent: true, expand: false },
    );
    if (result.code !== 0) return null;
    const [status, version] = result.stdout.split("\t");
    return status.trim() === "install ok installed" ? (version ?? "").trim() : null;
  }

  override async verify(): Promise<void> {
    const installed = await this.installedVersion();
    if (installed === null) throw new UpdateNeeded(`${this.package} is not installed`);
    if (this.version && installed !== this.version) {
      throw new UpdateNeeded(`${this.package} ${installed} is installed, not ${this.version}`);
    }
  }

  override async update(): Promise<void> {
    requireRoot(`Installing ${this.package}`);
    const spec = this.version ? `${this.package}=${this.version}` : this.package;
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    const install = joinCommand(["apt-get", "install", "-y", "-q", "--no-install-recommends", spec]);
    const result = await this.cmd(install, { expand: false, env, ignoreReturnCode: true });
    if (result.code === 0) return;
    // An outdated package list does not know the package (version) yet.
    await this.cmd("apt-get update -q", { expand: false, env });
    await this.cmd(install, { expand: false, env });
  }

  override get breadcrumb(): string {
    return `${this.constructor.name}('${this.package}')`;
  }
}

/** batou's name for {@linkcode Apt}. */
export class DPKG extends Apt {}

/** Runs an account command (useradd, groupadd, ...), retrying while another process holds /etc/passwd's lock. */
async function accountCommand(component: Component, args: string[]): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const result = await component.cmd(joinCommand(args), { expand: false, ignoreReturnCode: true });
    if (result.code === 0) return;
    if (attempt < 10 && /lock/i.test(result.stderr)) {
      await sleep(100 * attempt);
      continue;
    }
    await component.cmd(joinCommand(args), { expand: false });
    return;
  }
}

async function getent(component: Component, db: "passwd" | "group", name: string): Promise<string[] | null> {
  const result = await component.cmd(joinCommand(["getent", db, name]), {
    expand: false,
    silent: true,
    ignoreReturnCode: true,
  });
  return result.code === 0 ? result.stdout.trim().split("\n")[0].split(":") : null;
}

/** Options of {@linkcode User}. */
export interface UserOptions {
  /** A fixed uid. */
  uid?: number | null;
  /** The primary group (name or gid); default: a new group named like the user. */
  group?: string | number | null;
  /** Supplementary groups. */
  groups?: string[];
  /** The home directory (default `/home/<name>`). */
  home?: string | null;
  /** The login shell (default: useradd's). */
  shell?: string | null;
  /** A system account (`useradd --system`). */
  system?: boolean;
  /** Create the home directory (default true). */
  createHome?: boolean;
  /** The GECOS comment. */
  comment?: string | null;
}

/** A Unix user account exists. */
export class User extends Component {
  static override namevar = "name";
  name = "";
  uid: number | null = null;
  group: string | number | null = null;
  groups: string[] = [];
  home: string | null = null;
  shell: string | null = null;
  system = false;
  createHome = true;
  comment: string | null = null;
  #exists = false;

  constructor(name: string, options: UserOptions = {}) {
    super(name, options as Record<string, unknown>);
  }

  override async verify(): Promise<void> {
    const entry = await getent(this, "passwd", this.name);
    this.#exists = entry !== null;
    if (!entry) throw new UpdateNeeded(`user ${this.name} does not exist`);
    if (this.shell && entry[6] !== this.shell) throw new UpdateNeeded(`${this.name} has shell ${entry[6]}`);
    if (this.home && entry[5] !== this.home) throw new UpdateNeeded(`${this.name} has home ${entry[5]}`);
  }

  override async update(): Promise<void> {
    requireRoot(`Creating user ${this.name}`);
    if (this.#exists) {
      const args = ["usermod"];
      if (this.shell) args.push("--shell", this.shell);
      if (this.home) args.push("--home", this.home, ...(this.createHome ? ["--move-home"] : []));
      await accountCommand(this, [...args, this.name]);
      return;
    }
    const args = ["useradd"];
    if (this.system) args.push("--system");
    if (this.uid !== null && this.uid !== undefined) args.push("--uid", String(this.uid));
    if (this.group !== null && this.group !== undefined) args.push("--gid", String(this.group));
    if (this.groups.length) args.push("--groups", this.groups.join(","));
    if (this.home) args.push("--home-dir", this.home);
    if (this.shell) args.push("--shell", this.shell);
    if (this.comment) args.push("--comment", this.comment);
    args.push(this.createHome ? "--create-home" : "--no-create-home");
    await accountCommand(this, [...args, this.name]);
  }

  override get breadcrumb(): string {
    return `User('${this.name}')`;
  }
}

/** Options of {@linkcode GroupAccount}. */
export interface GroupAccountOptions {
  /** A fixed gid. */
  gid?: number | null;
  /** A system group (`groupadd --system`). */
  system?: boolean;
}

/** A Unix group exists. */
export class GroupAccount extends Component {
  static override namevar = "name";
  name = "";
  gid: number | null = null;
  system = false;

  constructor(name: string, options: GroupAccountOptions = {}) {
    super(name, options as Record<string, unknown>);
  }

  override async verify(): Promise<void> {
    if (!(await getent(this, "group", this.name))) throw new UpdateNeeded(`group ${this.name} does not exist`);
  }

  override async update(): Promise<void> {
    requireRoot(`Creating group ${this.name}`);
    const args = ["groupadd"];
    if (this.system) args.push("--system");
    if (this.gid !== null && this.gid !== undefined) args.push("--gid", String(this.gid));
    await accountCommand(this, [...args, this.name]);
  }

  override get breadcrumb(): string {
    return `GroupAccount('${this.name}')`;
  }
}
