/**
 * A private OpenSSH server on 127.0.0.1 for end-to-end tests. Needs root.
 *
 * Each test "host" is a separate local Unix account (`<prefix>-<host>`, reused across runs) reached through one
 * sshd with its own config, host key and port. The fixture writes an ssh_config with one `Host <name>` block per
 * host and a known_hosts that pins the fixture's host key, so `ssh -F fixture.sshConfig host1 cmd` works with
 * `StrictHostKeyChecking yes` and `BatchMode yes`.
 *
 * The client key is given to sshd through `AuthorizedKeysCommand` reading a file in the fixture's own directory
 * instead of the users' `~/.ssh/authorized_keys`: test files run in parallel and share the accounts, and each
 * fixture has its own key, so a shared authorized_keys file would be overwritten under a running test.
 *
 * sshd never outlives the test process for long: it runs under `timeout 1800`, it is stopped when the test
 * process closes the pipe to its wrapper (which also happens when the process dies), and an `unload` listener
 * kills it if a test forgets `stop()`.
 */
import { type CommandResult, requireTools, runCommand, toolPath } from "./tools.ts";
import { ensureUser, installSudoers } from "./test_users.ts";

export { requireTools };

/** One test host: an ssh_config `Host` name mapped to a local account. */
export interface TestHost {
  /** The `Host` name in the fixture's ssh_config, e.g. "host1". */
  name: string;
  /** The local account that logging in to this host reaches, e.g. "batoutest-host1". */
  user: string;
  /** That account's home directory. */
  home: string;
}

/** A running private sshd and the client files to reach it. */
export interface SshdFixture {
  /** TCP port on 127.0.0.1. */
  port: number;
  hosts: TestHost[];
  /** Path of an ssh_config with one `Host <name>` block per test host (use with `ssh -F`). */
  sshConfig: string;
  /** Path of the client's private ed25519 key. */
  clientKey: string;
  /** Path of the known_hosts file that the ssh_config points to. */
  knownHosts: string;
  /** The fixture's private temporary directory (removed by stop()). */
  dir: string;
  /** Process id of the sshd listener. */
  pid: number;
  /** Kills sshd, its connections and the commands they run, and removes `dir`. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /** Host names, e.g. ["host1", "host2"]; each becomes the account `<userPrefix>-<name>`. */
  hosts: string[];
  /** Prefix of the account names (default "batoutest"). */
  userPrefix?: string;
  /** Lines installed in a file under /etc/sudoers.d (checked with `visudo -cf`). */
  sudoers?: string[];
  /** Further accounts to create (full names, e.g. "batoutest-svc") that are not ssh hosts, e.g. sudo targets. */
  extraUsers?: string[];
}

const HOST_NAME = /^[a-z][a-z0-9-]*$/;
const WATCHDOG_SECONDS = 1800;
const START_ATTEMPTS = 5;
const READY_DEADLINE_MS = 20_000;
/** File in the fixture directory that tells the wrapper to remove the directory when the test process goes away. */
const REMOVE_MARKER = "remove-when-done";

/**
 * Wrapper around sshd: sshd runs in the background under `timeout`; a second background job waits for EOF on the
 * pipe from the test process (fd 3, a copy of stdin) and then terminates sshd, and removes the fixture directory
 * once the fixture has marked it as started (so a killed test process leaves nothing behind). The wrapper exits
 * when sshd does.
 */
const WRAPPER = `
timeout_bin="$1"; seconds="$2"; sshd_bin="$3"; config="$4"; log="$5"; dir="$6"
exec 3<&0
"$timeout_bin" "$seconds" "$sshd_bin" -D -e -f "$config" </dev/null >>"$log" 2>&1 3<&- &
pid=$!
(
  cat <&3 >/dev/null
  kill -TERM "$pid" 2>/dev/null
  if [ -e "$dir/${REMOVE_MARKER}" ]; then rm -rf "$dir"; fi
) &
exec 3<&-
wait "$pid"
`;

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function quote(path: string): string {
  if (/["\s]/.test(path)) throw new Error(`path not usable in an ssh config: ${JSON.stringify(path)}`);
  return `"${path}"`;
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

async function keygen(path: string, comment: string): Promise<string> {
  await runCommand(toolPath("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return (await Deno.readTextFile(`${path}.pub`)).trim();
}

/** Parent pid of every process, read from /proc. */
function parentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // Fields after the command name (which is in parentheses and may contain spaces): state ppid ...
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry.name), Number(rest[1]));
    } catch {
      // the process is gone
    }
  }
  return parents;
}

/**
 * All descendants of `pid`: sshd's per-connection processes and the commands they run. Commands of a session do
 * not end when its connection is cut (no tty, no SIGHUP), so stop() ends them too.
 */
function descendantsOf(pid: number): number[] {
  const parents = parentPids();
  const found: number[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [child, parent] of parents) {
      if (frontier.includes(parent)) next.push(child);
    }
    found.push(...next);
    frontier = next;
  }
  return found;
}

function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function sshdConfig(dir: string, port: number, users: string[], catPath: string): string {
  return [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${dir}/ssh_host_ed25519_key`,
    `PidFile ${dir}/sshd.pid`,
    "UsePAM no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "PermitRootLogin no",
    "AuthorizedKeysFile none",
    `AuthorizedKeysCommand ${catPath} ${dir}/authorized_keys`,
    "AuthorizedKeysCommandUser root",
    "MaxStartups 100",
    "MaxSessions 100",
    `AllowUsers ${users.join(" ")}`,
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    "StreamLocalBindUnlink yes",
    "Subsystem sftp internal-sftp",
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

function clientConfig(dir: string, port: number, hosts: TestHost[]): string {
  return hosts.map((host) =>
    [
      `Host ${host.name}`,
      "  HostName 127.0.0.1",
      `  Port ${port}`,
      `  User ${host.user}`,
      `  IdentityFile ${quote(`${dir}/client_key`)}`,
      "  IdentitiesOnly yes",
      `  UserKnownHostsFile ${quote(`${dir}/known_hosts`)}`,
      "  GlobalKnownHostsFile /dev/null",
      "  StrictHostKeyChecking yes",
      `  HostKeyAlias ${host.name}`,
      "  CheckHostIP no",
      "  UpdateHostKeys no",
      "  BatchMode yes",
      "  LogLevel ERROR",
      "",
    ].join("\n")
  ).join("\n");
}

/**
 * Starts a private sshd on 127.0.0.1 serving one local account per entry of `opts.hosts`, and writes the client
 * side (key, known_hosts, ssh_config) into a fresh temporary directory. Throws (never skips) when a tool is missing
 * or the process is not root. Call `stop()` in a `finally`.
 */
export async function startSshd(opts: SshdOptions): Promise<SshdFixture> {
  await requireTools("sshd", "ssh", "ssh-keygen", "timeout", "useradd", "usermod", "getent", "cat", "sh");
  if (opts.sudoers !== undefined && opts.sudoers.length > 0) await requireTools("visudo", "sudo");
  if (Deno.uid() !== 0) throw new Error("startSshd needs root (it creates users and runs sshd)");
  if (opts.hosts.length === 0) throw new Error("startSshd needs at least one host");
  const prefix = opts.userPrefix ?? "batoutest";
  for (const name of opts.hosts) {
    if (!HOST_NAME.test(name)) throw new Error(`invalid test host name: ${JSON.stringify(name)}`);
  }

  const hosts: TestHost[] = [];
  for (const name of opts.hosts) {
    const account = await ensureUser(`${prefix}-${name}`);
    hosts.push({ name, user: account.user, home: account.home });
  }
  for (const user of opts.extraUsers ?? []) await ensureUser(user);
  if (opts.sudoers !== undefined && opts.sudoers.length > 0) await installSudoers(opts.sudoers, prefix);

  // sshd's privilege separation directory.
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });

  const dir = await Deno.makeTempDir({ prefix: "batou-sshd-" });
  let started: Started | undefined;
  try {
    const hostKey = await keygen(`${dir}/ssh_host_ed25519_key`, "batou-test-host");
    const clientKey = await keygen(`${dir}/client_key`, "batou-test-client");
    await Deno.writeTextFile(`${dir}/authorized_keys`, clientKey + "\n", { mode: 0o600 });
    started = await launch(dir, hosts.map((h) => h.user));
    const port = started.port;
    const knownHosts = [`[127.0.0.1]:${port} ${hostKey}`, ...hosts.map((h) => `${h.name} ${hostKey}`)];
    await Deno.writeTextFile(`${dir}/known_hosts`, knownHosts.join("\n") + "\n");
    await Deno.writeTextFile(`${dir}/ssh_config`, clientConfig(dir, port, hosts));
    await Deno.writeTextFile(`${dir}/${REMOVE_MARKER}`, "");
  } catch (error) {
    if (started !== undefined) await started.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }

  const running = started;
  let stopped = false;
  const onUnload = () => {
    // Last resort when a test did not call stop(): synchronous only.
    for (const child of descendantsOf(running.pid)) killQuietly(child, "SIGTERM");
    killQuietly(running.pid, "SIGTERM");
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  };
  globalThis.addEventListener("unload", onUnload);

  return {
    port: running.port,
    hosts,
    sshConfig: `${dir}/ssh_config`,
    clientKey: `${dir}/client_key`,
    knownHosts: `${dir}/known_hosts`,
    dir,
    pid: running.pid,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      globalThis.removeEventListener("unload", onUnload);
      // stop() removes the directory itself, after sshd is gone.
      await Deno.remove(`${dir}/${REMOVE_MARKER}`).catch(() => {});
      try {
        await running.stop();
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

interface Started {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts sshd on a free port, retrying with another port when a concurrent process took the one we picked. */
async function launch(dir: string, users: string[]): Promise<Started> {
  const sshd = toolPath("sshd");
  const log = `${dir}/sshd.log`;
  let lastLog = "";
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = freePort();
    await Deno.writeTextFile(`${dir}/sshd_config`, sshdConfig(dir, port, users, toolPath("cat")));
    await Deno.writeTextFile(log, "");
    await Deno.remove(`${dir}/sshd.pid`).catch(() => {});
    // Check the configuration first so that a mistake shows up as a clear error.
    const test: CommandResult = await runCommand(sshd, ["-t", "-f", `${dir}/sshd_config`], { check: false });
    if (test.code !== 0) throw new Error(`sshd rejected its configuration: ${test.stderr}${test.stdout}`);

    const child = new Deno.Command(toolPath("sh"), {
      args: ["-c", WRAPPER, "sh", toolPath("timeout"), String(WATCHDOG_SECONDS), sshd, `${dir}/sshd_config`, log, dir],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const stopChild = async (): Promise<void> => {
      const pid = Number((await readText(`${dir}/sshd.pid`)).trim());
      const connections = pid > 0 ? descendantsOf(pid) : [];
      await child.stdin.close().catch(() => {});
      for (const conn of connections) killQuietly(conn, "SIGTERM");
      const timer = setTimeout(() => {
        if (pid > 0) killQuietly(pid, "SIGKILL");
        killQuietly(child.pid, "SIGKILL");
      }, 10_000);
      try {
        await status;
      } finally {
        clearTimeout(timer);
      }
      for (const conn of connections) {
        if (isAlive(conn)) killQuietly(conn, "SIGKILL");
      }
    };

    const deadline = Date.now() + READY_DEADLINE_MS;
    let pid = 0;
    while (!exited && Date.now() < deadline) {
      // sshd writes its pid file only after it has bound the listening socket.
      pid = Number((await readText(`${dir}/sshd.pid`)).trim());
      if (pid > 0 && await canConnect(port)) break;
      pid = 0;
      await sleep(25);
    }
    if (pid > 0 && !exited) return { port, pid, stop: stopChild };

    await stopChild();
    lastLog = await readText(log);
    if (!/Bind to port|Cannot bind any address|Address already in use/.test(lastLog)) break;
  }
  throw new Error(`sshd did not start:\n${lastLog}`);
}
