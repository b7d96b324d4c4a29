/**
 * Finding and running the system tools that the end-to-end tests need (OpenSSH, sudo, useradd, ...).
 *
 * Missing tools are reported as errors, never as skipped tests: `.ci/run` installs all of them.
 */

/** Debian package that provides each tool the tests may ask for. */
const PACKAGE_OF: Record<string, string> = {
  sshd: "openssh-server",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  sudo: "sudo",
  visudo: "sudo",
  useradd: "passwd",
  usermod: "passwd",
  userdel: "passwd",
  groupadd: "passwd",
  groupdel: "passwd",
  "dpkg-query": "dpkg",
  "systemd-analyze": "systemd",
  logrotate: "logrotate",
  zsh: "zsh",
  fish: "fish",
  getent: "libc-bin",
  timeout: "coreutils",
  cat: "coreutils",
  sh: "dash",
  age: "age",
  "age-keygen": "age",
  gpg: "gnupg",
  git: "git",
  rsync: "rsync",
  crontab: "cron",
  supervisord: "supervisor",
  supervisorctl: "supervisor",
  python3: "python3",
  gzip: "gzip",
  pgrep: "procps",
  ps: "procps",
  tmux: "tmux",
};

/** Directories searched in addition to PATH: root's tools (sshd, useradd, visudo) live in sbin. */
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Returns the absolute path of an executable named `name`, or undefined when there is none. */
export function findTool(name: string): string | undefined {
  const pathDirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...pathDirs, ...EXTRA_DIRS]) {
    const candidate = `${dir}/${name}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Like {@link findTool}, but throws the prerequisite error when the tool is missing. */
export function toolPath(name: string): string {
  const path = findTool(name);
  if (path === undefined) throw new Error(missingMessage([name]));
  return path;
}

function missingMessage(names: string[]): string {
  return names.map((name) => {
    const pkg = PACKAGE_OF[name] ?? name;
    return `missing prerequisite: ${name} (install it with apt-get install -y ${pkg}, see .ci/run)`;
  }).join("\n");
}

/**
 * Throws an Error naming every tool in `names` that cannot be found, with the Debian package to install.
 * Tests call this instead of skipping: a machine without the tools must fail the suite.
 */
export function requireTools(...names: string[]): Promise<void> {
  const missing = names.filter((name) => findTool(name) === undefined);
  if (missing.length > 0) return Promise.reject(new Error(missingMessage(missing)));
  return Promise.resolve();
}

/** Outcome of {@link runCommand}. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCommand}. */
export interface RunOptions {
  /** Text written to the command's stdin; without it stdin is /dev/null. */
  stdin?: string;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
  env?: Record<string, string>;
}

/** Runs `cmd` with `args` (no shell), collecting its output as text. */
export async function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  const command = new Deno.Command(cmd, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  });
  const child = command.spawn();
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(opts.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  const result: CommandResult = {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
  if ((opts.check ?? true) && result.code !== 0) {
    throw new Error(
      `command failed (exit ${result.code}): ${[cmd, ...args].join(" ")}\n${result.stderr}${result.stdout}`,
    );
  }
  return result;
}

/** The processes `pgrep -a args` finds (pid and command line, one per line); "" for none. */
export async function pgrep(args: string[]): Promise<string> {
  const out = await new Deno.Command("pgrep", { args: ["-a", ...args], stdout: "piped", stderr: "piped" }).output();
  if (out.code > 1) throw new Error(`pgrep failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}
