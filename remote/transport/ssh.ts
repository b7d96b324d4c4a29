/**
 * The ssh transport: the system's OpenSSH client (`ssh`), never a JavaScript SSH implementation, so that the
 * user's ssh configuration, keys, agent, `ProxyJump`, `Include`, known_hosts and agent forwarding work exactly as
 * they do for `ssh` on the command line.
 *
 * - Configuration: without a project config ssh reads `~/.ssh/config` and `/etc/ssh/ssh_config` as usual; when the
 *   project has `ssh_config_<env>` or `ssh_config` (the first that exists) it is passed with `-F`, which, as with
 *   batou, replaces the user's config (put `Include ~/.ssh/config` into it to keep the user's settings).
 * - One connection per host, made by its first session: the ssh process that runs the agent's start script is the
 *   master (`ControlMaster=yes`, `ControlPath` in a private 0700 temporary directory, no `ControlPersist`), and
 *   the few later sessions (the agent upload of a first deploy) go through its control socket. A no-op deploy
 *   therefore runs one ssh process per host, as `ssh host command` does, and the connection ends with its last
 *   session (no `ssh -O exit`).
 * - `BatchMode=yes` (never a password or host key prompt) and `ConnectTimeout` = the environment's `timeout` when
 *   it is configured (`timeout = 3` in environment.cfg, or `-t 3`), else {@linkcode DEFAULT_CONNECT_TIMEOUT}
 *   seconds (batou's built-in `timeout` default of 3 s is meant for components and is too short for ssh over slow
 *   links). OpenSSH applies it to the TCP connect and to the server's greeting, so a host that accepts the
 *   connection but never speaks SSH fails after that time.
 * - Every remote command runs as `/bin/sh -c '<script>' sh <args...>`, quoted so that any POSIX shell, zsh or
 *   fish as login shell passes it on unchanged.
 * - Connecting is tried up to 3 times with a randomized backoff when the failure looks transient (sshd's
 *   `MaxStartups` drops connections); permanent failures (unknown host name, connection refused, authentication,
 *   host key) fail at once with a clear message naming the host. A timeout is not tried again: the configured
 *   timeout is how long the user waits for a host, so a silent host fails within it.
 * - At most {@linkcode MAX_PARALLEL_SETUPS} connections are set up at once; everything after the setup runs for all
 *   hosts in parallel.
 *
 * @module
 */
import { spawnInOwnSession, trackChild } from "./children.ts";
import { ReportingError, type ReportWriter, type SortKey } from "../../core/model/errors.ts";
import { output } from "../../core/model/output.ts";
import { sleep } from "../../core/runtime/sleep.ts";

/** The `ConnectTimeout` (seconds) given to ssh when the environment configures no `timeout`. */
export const DEFAULT_CONNECT_TIMEOUT = 10;
/** Tries to connect before giving up. */
export const CONNECT_ATTEMPTS = 3;
/**
 * Connections being set up (connecting and authenticating) at once, over all hosts of this process. sshd starts
 * dropping new connections beyond 10 unauthenticated ones (its default `MaxStartups 10:30:100`); once a connection's
 * first session runs, its host goes on (agent start, sync, configure) without holding a slot.
 */
export const MAX_PARALLEL_SETUPS = 10;

let setupsRunning = 0;
const setupWaiting: (() => void)[] = [];

/** Takes one of the {@linkcode MAX_PARALLEL_SETUPS} slots if one is free (synchronously). */
function takeSetupSlotNow(): boolean {
  if (setupsRunning >= MAX_PARALLEL_SETUPS) return false;
  setupsRunning++;
  return true;
}

/** Waits until a slot is handed over. */
function waitForSetupSlot(): Promise<void> {
  if (takeSetupSlotNow()) return Promise.resolve();
  return new Promise<void>((resolve) => setupWaiting.push(resolve));
}

/** Hands the slot on to the next waiting setup, or gives it back. */
function releaseSetupSlot(): void {
  const next = setupWaiting.shift();
  if (next) next();
  else setupsRunning--;
}

/** Runs `fn` holding one of the {@linkcode MAX_PARALLEL_SETUPS} slots (waits for a free one). */
export async function inSetupSlot<T>(fn: () => Promise<T>): Promise<T> {
  await waitForSetupSlot();
  try {
    return await fn();
  } finally {
    releaseSetupSlot();
  }
}

/** Why an ssh connection failed, from ssh's messages. */
export type SshFailureKind =
  | "dns"
  | "refused"
  | "timeout"
  | "unreachable"
  | "auth"
  | "hostkey-changed"
  | "hostkey-unknown"
  | "closed"
  | "other";

const FAILURE_TEXT: Record<SshFailureKind, string> = {
  dns: "unknown host: the host name could not be resolved",
  refused: "connection refused (is sshd running, and is the port right?)",
  timeout: "connection timed out",
  unreachable: "host or network unreachable",
  auth: "authentication failed (batou runs ssh with BatchMode=yes: is the key in your ssh-agent or ssh config?)",
  "hostkey-changed":
    "host key mismatch: the host key differs from the one in known_hosts (REMOTE HOST IDENTIFICATION HAS CHANGED)",
  "hostkey-unknown":
    "unknown host key: the host is not in known_hosts and ssh runs with BatchMode=yes (connect once with ssh to add it)",
  closed: "the server closed the connection during setup (sshd MaxStartups or a network problem)",
  other: "ssh failed",
};

/** Failures worth another try: the server or network may be busy. (A timeout has used up the user's patience.) */
const TRANSIENT: ReadonlySet<SshFailureKind> = new Set(["closed", "other"]);

/** Classifies ssh's stderr of a failed connection. */
export function classifySshFailure(stderr: string): SshFailureKind {
  const s = stderr;
  if (
    /Could not resolve hostname|Name or service not known|nodename nor servname|Temporary failure in name resolution|No address associated with hostname/i
      .test(s)
  ) {
    return "dns";
  }
  if (
    /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed|differs from the key for the IP address/i.test(
      s,
    )
  ) {
    return "hostkey-changed";
  }
  if (/No [A-Z0-9-]+ host key is known for|Host key verification failed|host key is not known/i.test(s)) {
    return "hostkey-unknown";
  }
  if (/Permission denied \(|Too many authentication failures|Authentication failed/i.test(s)) return "auth";
  if (/Connection refused/i.test(s)) return "refused";
  if (/timed out|Connection timeout/i.test(s)) return "timeout";
  if (/No route to host|Network is unreachable|Host is unreachable/i.test(s)) return "unreachable";
  if (
    /kex_exchange_identification|Connection closed by|Connection reset by|banner exchange|closed by remote host/i.test(
      s,
    )
  ) {
    return "closed";
  }
  return "other";
}

// deno-lint-ignore no-control-regex
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** A host could not be reached or the agent could not be started there: reported as `ERROR: <host>: ...`. */
export class RemoteConnectError extends ReportingError {
  override name = "RemoteConnectError";
  host = "";
  kind = "other";
  detail = "";

  /** Builds the error for `host`; `detail` is what ssh (or the remote shell) said. */
  static of(host: string, kind: string, message: string, detail = ""): RemoteConnectError {
    const e = new RemoteConnectError(message);
    e.host = host;
    e.kind = kind;
    // deno colours its error output even when stderr is not a terminal.
    e.detail = detail.replace(ANSI_COLOUR, "").trim();
    return e;
  }

  override get sortKey(): SortKey {
    return [0, this.host];
  }

  override report(w: ReportWriter): void {
    w.error(`${this.host}: ${this.message}`);
    for (const line of this.detail.split("\n").filter((l) => l.trim()).slice(-10)) {
      w.line(`    ${line}`, { red: true });
    }
  }
}

/**
 * Quotes one word for the remote login shell, whatever it is (sh, bash, zsh, fish): single quotes, with `'` and
 * `\` (special inside single quotes for fish) put into double quotes.
 */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return "'" + word.replace(/['\\]/g, (c) => c === "'" ? `'"'"'` : `'"\\\\"'`) + "'";
}

/** The command line sent to the remote login shell: `/bin/sh -c '<script>' sh <args...>`. */
export function shellCommand(script: string, args: string[] = []): string {
  return ["/bin/sh", "-c", shellQuote(script), "sh", ...args.map(shellQuote)].join(" ");
}

/** What a finished remote command returned. */
export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs shell scripts on a target as the login user: implemented by {@linkcode SshConnection}; the bootstrap only
 * talks to this interface.
 */
export interface RemoteShell {
  /** The host name used in messages. */
  readonly label: string;
  /** Runs `/bin/sh -c script sh args...`; `stdin` is streamed to it (counted in {@linkcode bytesSent}). */
  run(script: string, args: string[], stdin?: ReadableStream<Uint8Array>): Promise<ShellResult>;
  /** Starts `/bin/sh -c script sh args...` with piped stdin, stdout and stderr. */
  spawn(script: string, args: string[]): Deno.ChildProcess;
  /** Payload bytes streamed to the target by {@linkcode run} (uploads). */
  bytesSent: number;
  /**
   * Starts the first session of a connection (see {@linkcode SshConnection.openPrimary}); shells without
   * connections spawn it as any other session.
   */
  openPrimary?(script: string, args: string[]): Promise<Deno.ChildProcess>;
  /** The first session's script wrote its first line: the connection is up. */
  primaryStarted?(): void;
  /** Why a first session that ended before writing anything failed to connect (see {@linkcode ConnectFailure}). */
  connectFailure?(code: number, stderr: string, attempt: number): ConnectFailure | null;
}

/**
 * {@linkcode RemoteShell.run} for any shell: runs the script with `shell.spawn` to its end, streaming `stdin` (if any)
 * to it and counting those bytes in `shell.bytesSent`.
 */
export async function runSpawned(
  shell: RemoteShell,
  script: string,
  args: string[],
  stdin?: ReadableStream<Uint8Array>,
): Promise<ShellResult> {
  const child = shell.spawn(script, args);
  const out = readAll(child.stdout);
  const err = readAll(child.stderr);
  const feed = (async () => {
    if (!stdin) {
      await child.stdin.close().catch(() => {});
      return;
    }
    const counted = stdin.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, ctl) => {
          shell.bytesSent += chunk.length;
          ctl.enqueue(chunk);
        },
      }),
    );
    await counted.pipeTo(child.stdin).catch(() => {});
  })();
  const [status, stdout, stderr] = await Promise.all([child.status, out, err, feed]);
  return { code: status.code, stdout, stderr };
}

/** Options of {@linkcode SshConnection.open}. */
export interface SshOptions {
  /** The ssh destination (host.fqdn, or a `Host` alias of the ssh config). */
  destination: string;
  /** The name used in messages (host.name); defaults to the destination. */
  label?: string;
  /** `-F` file (project `ssh_config_<env>`/`ssh_config`, or one generated for vagrant). */
  configFile?: string | null;
  /** The configured timeout in seconds (ssh's ConnectTimeout); null: {@linkcode DEFAULT_CONNECT_TIMEOUT}. */
  timeout?: number | null;
  /** Tries to connect (default {@linkcode CONNECT_ATTEMPTS}). */
  attempts?: number;
  /** Waits before another try; default: a random time between 0.25 s and 2^try s. */
  backoff?: (attempt: number) => number;
  /** Further `-o` options, e.g. `["Port=2222"]`. */
  options?: string[];
}

function defaultBackoff(attempt: number): number {
  return 250 + Math.random() * (2 ** attempt * 1000 - 250);
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** Finds the project's ssh config for `environment`: `ssh_config_<env>` or `ssh_config`, the first that exists. */
export function projectSshConfig(baseDir: string, environment: string): string | null {
  for (const name of [`ssh_config_${environment}`, "ssh_config"]) {
    const path = `${baseDir}/${name}`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* next */ }
  }
  return null;
}

/** What a primary session that ended before its script wrote anything tells about the connection. */
export interface ConnectFailure {
  /** The error to report (naming the host and the cause). */
  error: RemoteConnectError;
  /** Milliseconds to wait before trying again, or null: give up with `error`. */
  retryAfterMs: number | null;
}

/**
 * One ssh connection to a host and the sessions multiplexed over it. The connection is made by its first
 * session ({@linkcode openPrimary}): that ssh process is the master (`ControlMaster=yes`, no `ControlPersist`)
 * and runs the session itself, exactly as `ssh host command` would, so the common case (start the agent from the
 * target's cache) costs one ssh process and one session. Later sessions ({@linkcode spawn}, {@linkcode run}: the
 * agent upload) go through the master's control socket while it runs; the master ends with its last session, so
 * closing needs no `ssh -O exit`.
 */
export class SshConnection implements RemoteShell {
  readonly label: string;
  bytesSent = 0;
  #closed = false;
  #master: Deno.ChildProcess | null = null;
  #masterEnded: Promise<unknown> = Promise.resolve();
  #holdsSlot = false;
  /** The waiting first session of {@linkcode open}. */
  #keepAlive: Deno.ChildProcess | null = null;

  private constructor(
    readonly opts: SshOptions,
    readonly controlDir: string,
    readonly controlPath: string,
  ) {
    this.label = opts.label ?? opts.destination;
  }

  /** The ConnectTimeout given to ssh: the configured timeout (whole seconds, at least 1), else the default. */
  static connectTimeout(timeout: number | null | undefined): number {
    if (timeout === null || timeout === undefined || !(timeout > 0)) return DEFAULT_CONNECT_TIMEOUT;
    return Math.max(1, Math.ceil(timeout));
  }

  /**
   * A connection to `opts.destination`, not yet connected: only its private control directory is made
   * (synchronously, so that an early start's ssh process starts before anything else loads). Throws
   * {@linkcode RemoteConnectError} for a destination ssh would take as an option.
   */
  static create(opts: SshOptions): SshConnection {
    const label = opts.label ?? opts.destination;
    if (!opts.destination || opts.destination.startsWith("-") || /\s/.test(opts.destination)) {
      throw RemoteConnectError.of(label, "other", `invalid ssh destination \`${opts.destination}\``);
    }
    const controlDir = Deno.makeTempDirSync({ prefix: "batou-ssh-" });
    Deno.chmodSync(controlDir, 0o700);
    return new SshConnection(opts, controlDir, `${controlDir}/master`);
  }

  /**
   * Connects (up to `attempts` tries for transient failures) with a first session that prints one line and waits
   * until {@linkcode close}: for callers that want the connection up before any real session (deployments do not:
   * their agent start is the first session). Throws {@linkcode RemoteConnectError} naming the host and the cause.
   */
  static async open(opts: SshOptions): Promise<SshConnection> {
    const conn = SshConnection.create(opts);
    try {
      for (let attempt = 1;; attempt++) {
        const child = await conn.openPrimary("echo up; exec cat >/dev/null", []);
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        const first = await reader.read();
        reader.releaseLock();
        if (!first.done && first.value.startsWith("up")) {
          conn.primaryStarted();
          child.stdout.cancel().catch(() => {});
          conn.#keepAlive = child;
          return conn;
        }
        const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
        const failure = conn.connectFailure(status.code, stderr, attempt);
        if (!failure) throw RemoteConnectError.of(conn.label, "other", "could not connect via ssh", stderr);
        if (failure.retryAfterMs === null) throw failure.error;
        await sleep(failure.retryAfterMs);
      }
    } catch (e) {
      await conn.close();
      throw e;
    }
  }

  /** ssh options common to the master and every session. */
  #commonArgs(): string[] {
    const args: string[] = [];
    if (this.opts.configFile) args.push("-F", this.opts.configFile);
    args.push(
      "-o",
      "BatchMode=yes",
      "-o",
      `ConnectTimeout=${SshConnection.connectTimeout(this.opts.timeout)}`,
      "-o",
      `ControlPath=${this.controlPath}`,
    );
    for (const o of this.opts.options ?? []) args.push("-o", o);
    return args;
  }

  #sessionArgs(master: boolean, script: string, args: string[]): string[] {
    return [
      ...this.#commonArgs(),
      "-o",
      master ? "ControlMaster=yes" : "ControlMaster=no",
      ...(master ? ["-o", "ControlPersist=no"] : []),
      "-T",
      "-e",
      "none",
      "--",
      this.opts.destination,
      shellCommand(script, args),
    ];
  }

  #start(master: boolean, script: string, args: string[]): Deno.ChildProcess {
    if (this.#closed) throw new Error(`${this.label}: ssh connection is closed`);
    const args_ = this.#sessionArgs(master, script, args);
    if (master) output.debug(`${this.label}: ssh ${args_.slice(0, -1).join(" ")} <script>`);
    const child = spawnInOwnSession("ssh", { args: args_, stdin: "piped", stdout: "piped", stderr: "piped" });
    return trackChild(child, () => Deno.removeSync(this.controlDir, { recursive: true }));
  }

  /**
   * Starts the connection with its first session running the script (stdin, stdout and stderr piped). The ssh
   * process starts before this returns when one of the {@linkcode MAX_PARALLEL_SETUPS} setup slots is free, else
   * once one is; the slot is held until {@linkcode primaryStarted} or the session's end. When the session ends
   * without having written anything, {@linkcode connectFailure} tells why and whether to try again (by calling
   * this once more). When the connection is already up, the session goes through it.
   */
  openPrimary(script: string, args: string[]): Promise<Deno.ChildProcess> {
    if (this.#master) return Promise.resolve(this.spawn(script, args)); // already up: a session over it
    const spawn = () => {
      this.#holdsSlot = true;
      let child: Deno.ChildProcess;
      try {
        child = this.#start(true, script, args);
      } catch (e) {
        this.#releaseSlot();
        throw e;
      }
      this.#master = child;
      this.#masterEnded = child.status.then(() => {
        if (this.#master === child) this.#master = null;
        this.#releaseSlot();
      });
      return child;
    };
    if (takeSetupSlotNow()) {
      try {
        return Promise.resolve(spawn());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return waitForSetupSlot().then(spawn);
  }

  /** The primary session's script runs (it wrote its first line): the connection is up, its setup slot is freed. */
  primaryStarted(): void {
    this.#releaseSlot();
  }

  #releaseSlot(): void {
    if (!this.#holdsSlot) return;
    this.#holdsSlot = false;
    releaseSetupSlot();
  }

  /**
   * Why a primary session that ended with `code` before its script wrote anything failed: ssh's own exit code 255
   * with its message classified ({@linkcode classifySshFailure}); transient failures (the server dropped the
   * connection) are tried up to `attempts` times with a backoff, a timeout or a permanent failure is not. Null when
   * the code is not ssh's (the remote command itself failed).
   */
  connectFailure(code: number, stderr: string, attempt: number): ConnectFailure | null {
    if (code !== 255) return null;
    const kind = classifySshFailure(stderr);
    let message = `could not connect via ssh: ${FAILURE_TEXT[kind]}`;
    if (kind === "timeout") message += ` (ConnectTimeout ${SshConnection.connectTimeout(this.opts.timeout)}s)`;
    const attempts = Math.max(1, this.opts.attempts ?? CONNECT_ATTEMPTS);
    let retryAfterMs: number | null = null;
    if (TRANSIENT.has(kind) && attempt < attempts) {
      retryAfterMs = (this.opts.backoff ?? defaultBackoff)(attempt);
      output.debug(`${this.label}: ssh ${FAILURE_TEXT[kind]}; trying again in ${(retryAfterMs / 1000).toFixed(1)}s`);
    }
    return { error: RemoteConnectError.of(this.label, `ssh-${kind}`, message, stderr), retryAfterMs };
  }

  /**
   * Starts a session running the script; stdin, stdout and stderr are piped. While the primary session runs, this
   * goes through its master; otherwise (none yet, or it ended) this session is a connection of its own.
   */
  spawn(script: string, args: string[]): Deno.ChildProcess {
    return this.#start(false, script, args);
  }

  /** Runs the script to its end; `stdin` (if any) is streamed to it and counted in {@linkcode bytesSent}. */
  run(script: string, args: string[], stdin?: ReadableStream<Uint8Array>): Promise<ShellResult> {
    return runSpawned(this, script, args, stdin);
  }

  /**
   * Ends the connection: the master ends with its last session (the caller ends the primary session, e.g. by
   * closing its stdin); one still running after 5 s is killed. Removes the control directory.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepAlive) await this.#keepAlive.stdin.close().catch(() => {});
    const master = this.#master;
    if (master) {
      const timer = setTimeout(() => {
        try {
          master.kill("SIGTERM");
        } catch { /* gone */ }
      }, 5000);
      await this.#masterEnded;
      clearTimeout(timer);
    }
    this.#releaseSlot();
    await Deno.remove(this.controlDir, { recursive: true }).catch(() => {});
  }
}

/**
 * Writes an ssh config for a vagrant machine from `vagrant ssh-config <name>` into `dir` and returns its path.
 * The generated `Host` is the machine name, so it is also the ssh destination.
 */
export async function vagrantSshConfig(baseDir: string, name: string, dir: string): Promise<string> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command("vagrant", {
      args: ["ssh-config", name],
      cwd: baseDir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw RemoteConnectError.of(name, "vagrant", `cannot run vagrant: ${(e as Error).message}`);
  }
  const text = new TextDecoder().decode(result.stdout);
  if (!result.success || !/^\s*Host\s/m.test(text)) {
    throw RemoteConnectError.of(
      name,
      "vagrant",
      "`vagrant ssh-config` gave no ssh configuration (is the machine up?)",
      new TextDecoder().decode(result.stderr),
    );
  }
  const path = `${dir}/vagrant-ssh-config-${name}`;
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  return path;
}
