/**
 * Getting batou onto a target and starting it there as `batou agent`, with nothing installed on the target.
 *
 * What is shipped (the only difference between the two modes):
 * - compiled mode ({@linkcode isCompiled}): the batou binary itself (`Deno.execPath()`), started as `<bin> agent`;
 * - source mode (`deno run main.ts`): the deno executable plus one bundle of the agent
 *   (`deno bundle --platform deno --keep-names --minify remote/agent/agent_main.ts`: the model, the library and the
 *   agent, without the controller's commands; built once per program version and source hash and cached locally;
 *   minified and agent-only, the target's deno starts it with less than half the CPU time and memory),
 *   started as `deno run --v8-flags=<AGENT_V8_FLAGS> -A --no-config --no-lock --quiet --no-prompt <bundle> agent`. A bundle has no imports
 *   but `node:` built-ins, so it needs neither the repository's deno.json nor any download.
 *
 * Target side, per user (the login user, or the service user when the agent runs through sudo):
 * - the files live in `~/.cache/batou/agents` (mode 0700), named by version and content hash
 *   (`deno-2.9.6-<sha>`, `batou-0.1.0-<sha>.js`); `DENO_DIR` is `~/.cache/batou/deno` and the agent's own caches
 *   (transpiled components, compiled templates) go to `~/.cache/batou` too (`BATOU_CACHE_DIR`), so nothing else is
 *   written to the target's home. When the home cannot take them (a read-only home with `target_directory`
 *   elsewhere), `<target_directory>/.batou-cache` is used instead;
 * - every start first checks the platform (`uname -sm`, read from `/proc/sys/kernel` where Linux has it) and that
 *   every file it will execute has the expected SHA-256, computed with the target's own `sha256sum` (or
 *   `shasum -a 256`, `openssl dgst -sha256`, `sha256`), then `exec`s it.
 *   A file is hashed in full once; a stamp beside it (`.<name>.ok`) then holds the hash with the file's inode, size,
 *   mtime and ctime, and later starts that find the same signature skip the hash (see `STAMP_FUNCTIONS`: any
 *   change to the file changes its ctime, so a changed file is hashed again). A missing or wrong file (also a
 *   symlink or a directory in its place) is reported back (a status line), and the start script waits while the
 *   controller uploads it over another session of the same ssh connection, then checks again (`START_SCRIPT`);
 * - files unused for 30 days (the agent of every start touches the stamps of the files it runs: remote/agent/stamps.ts)
 *   are removed whenever something new is uploaded, so old versions do not pile up;
 * - an upload goes to a temporary name, is decompressed (`xz -dc` or `gzip -dc`, see codec.ts; the controller
 *   compresses each file once and caches the result in `~/.cache/batou/gz` or `xz`), checked for size and SHA-256,
 *   fsynced (`sync FILE`, so a power loss cannot leave a stamped name over unwritten data) and only then renamed
 *   into place. What the stamp does not protect against (a user who can write the cache) is in README.md, "Caches";
 * - a target without any SHA-256 tool cannot check a cached file, and a cached deno must never vouch for itself
 *   (a tampered binary would report whatever hash it is asked for). There the files are uploaded afresh on every
 *   run into a new private directory `~/.cache/batou/agents/run-<random>` (size checked; the bytes come straight
 *   from this controller over the authenticated ssh channel), executed from there and removed when the agent ends.
 *
 * Service users (`service_user`, `require_sudo`): every script runs through one wrapper that, when the login user
 * is not the service user (or `require_sudo = true`), re-executes it as `sudo -n -u <user> -H /bin/sh -c ...`. So
 * the service user's cache is in the service user's home, and uploads for it are streamed through sudo straight
 * into that cache and verified there by the service user: nothing is staged in /tmp or in the login user's home.
 *
 * The parts: remote/transport/payload.ts (what is shipped, built and cached on the controller),
 * remote/transport/start_scripts.ts (the scripts that run on the target), this module (the start of one agent:
 * {@linkcode AgentStart}, uploads) and remote/transport/remote_target.ts (which target a host is; the
 * `connectRemote` hook).
 *
 * @module
 */
import { neutralizeControls } from "../../core/formats/terminal_text.ts";
import type { Host } from "../../core/model/host.ts";
import { output } from "../../core/model/output.ts";
import { type AgentConnection, collectStderr, replayOutput } from "./connect.ts";
import { InvalidMessage, PROTOCOL_VERSION, RpcError, RpcPeer } from "../contract/protocol.ts";
import { callAgent, enforceAgentContract, type HelloInfo } from "../contract/methods.ts";
import { classifySshFailure, RemoteConnectError, type RemoteShell } from "./ssh.ts";
import { sleep } from "../../core/runtime/sleep.ts";
import type { AgentPayload, Artifact } from "./payload.ts";
import { chooseUpload, type TargetDecoders } from "./codec.ts";
import {
  type BootstrapStatus,
  KILL_SCRIPT,
  parseStatus,
  PUT_SCRIPT,
  START_SCRIPT,
  WRAP_SCRIPT,
} from "./start_scripts.ts";

// ---------------------------------------------------------------------------------------------------------------
// Starting the agent.

/** Options of {@linkcode startAgent}. */
export interface StartOptions {
  host: Host;
  /** What to ship and start (may still be in the making: the session starts meanwhile). */
  payload: AgentPayload | Promise<AgentPayload>;
  serviceUser?: string | null;
  requireSudo?: boolean | null;
  /** Called once when the start is over: the agent connection closed, or the start failed or was closed (e.g. to end the ssh connection). */
  onClose?: () => Promise<void>;
  /**
   * The configured `target_directory`: the agent cache goes to `<target_directory>/.batou-cache` when the home
   * directory cannot take `~/.cache/batou` (a read-only home).
   */
  targetDirectory?: string | null;
  /**
   * Upload missing or outdated agent files (default true). When false, a target without the current files fails
   * with a {@linkcode RemoteConnectError} of kind `not-cached` and gets nothing (an early start: the deployment
   * uploads later, once the project has loaded without errors).
   */
  uploadMissing?: boolean;
}

/** A started remote agent: the connection plus what it took. */
export interface RemoteAgentConnection extends AgentConnection {
  /** Agent bytes uploaded for this connection (0 when the target's cache was current). */
  uploadedBytes: number;
  /** Bytes sent in total: uploads plus JSON-RPC traffic. */
  sentBytes(): number;
}

/** How long killing a stuck agent on its target may take before only the connection is killed. */
const ABORT_KILL_TIMEOUT_MS = 10_000;

function sudoMode(requireSudo: boolean | null | undefined): string {
  return requireSudo === true ? "yes" : requireSudo === false ? "no" : "auto";
}

/** The error for an agent that did not start; `stderr` is what the remote side printed. */
function startFailure(host: string, code: number, stderr: string, opts: StartOptions): RemoteConnectError {
  const user = opts.serviceUser ?? "";
  if (/sudo: .*password is required|sudo: no password|a terminal is required to read the password/i.test(stderr)) {
    return RemoteConnectError.of(
      host,
      "sudo-password",
      `sudo needs a password to run the agent as \`${user}\` (batou uses \`sudo -n\`: allow it without password)`,
      stderr,
    );
  }
  if (/not in the sudoers file|is not allowed to execute|may not run sudo|not allowed to run sudo/i.test(stderr)) {
    return RemoteConnectError.of(host, "sudo-denied", `the login user may not run commands as \`${user}\``, stderr);
  }
  if (/sudo: .*must have a tty/i.test(stderr)) {
    return RemoteConnectError.of(host, "sudo-tty", "sudo requires a tty (`Defaults requiretty`)", stderr);
  }
  if (code === 255) {
    const kind = classifySshFailure(stderr);
    return RemoteConnectError.of(host, `ssh-${kind}`, "the ssh connection failed while starting the agent", stderr);
  }
  return RemoteConnectError.of(host, "agent", `could not start the batou agent (exit code ${code})`, stderr);
}

/** The error for a bootstrap status line; `detail` is what the script's commands said on stderr. */
function statusError(
  host: string,
  st: BootstrapStatus,
  opts: StartOptions & { payload: AgentPayload },
  detail = "",
): RemoteConnectError {
  switch (st.status) {
    case "platform":
      return RemoteConnectError.of(
        host,
        "platform",
        `the target runs ${st.fields.platform}, but this batou runs on ${opts.payload.platform} and can only ship ` +
          `itself`,
      );
    case "nouser":
      return RemoteConnectError.of(host, "nouser", `the service user \`${st.fields.user}\` does not exist`);
    case "nosudo":
      return RemoteConnectError.of(
        host,
        "nosudo",
        `sudo is needed to run as \`${opts.serviceUser}\` but not installed`,
      );
    case "nodir":
      return RemoteConnectError.of(host, "agent", `cannot create the agent cache ${st.fields.dir}`);
    case "badhash":
      return RemoteConnectError.of(host, "agent", "the uploaded agent has a wrong SHA-256; the transfer was corrupted");
    case "short": {
      const full = /No space left on device|Disk quota exceeded/i.test(detail);
      return RemoteConnectError.of(
        host,
        full ? "nospace" : "agent",
        `the agent upload is incomplete (${st.fields.got} of ${st.fields.size ?? "?"} bytes written)` +
          (full ? ": the target's disk is full" : ""),
        detail,
      );
    }
    default:
      return RemoteConnectError.of(host, "agent", `unexpected bootstrap status ${st.status}`);
  }
}

/** How long the agent may take to answer the handshake (including the hash checks) before it is given up. */
export const HELLO_TIMEOUT_MS = 120_000;

/** What the start script said (a status line), or that its session ended. */
type StartEvent = { status: BootstrapStatus } | { ended: Deno.CommandStatus };

/**
 * The agent's start on one target: the start script's session (for ssh the connection's first session, see
 * {@linkcode SshConnection.openPrimary}), from its parameters to the agent's handshake. {@linkcode AgentStart.begin}
 * starts the session at once (the ssh process runs before it returns when a setup slot is free);
 * {@linkcode AgentStart.connect} sends the parameters, uploads what the target lacks over further sessions while the
 * script waits, and shakes hands with the agent once the script says it starts it. `opts.onClose` runs once when
 * the start is over: when the agent connection closes, or when the start failed or was closed without an agent.
 */
export class AgentStart {
  #child!: Deno.ChildProcess;
  #peer!: RpcPeer;
  #stderr!: (() => string) & { ended: Promise<void> };
  #events: StartEvent[] = [];
  #wake: (() => void) | null = null;
  #wrote = false;
  #attempt = 0;
  #rounds = 0;
  #uploaded = 0;
  #finished = false;
  #timedOut = false;
  #spawned: Promise<void>;

  private constructor(readonly shell: RemoteShell, readonly opts: StartOptions) {
    this.#spawned = this.#spawn();
    this.#spawned.catch(() => {});
  }

  /** Starts the script's session on `shell` (see the class documentation). */
  static begin(shell: RemoteShell, opts: StartOptions): AgentStart {
    return new AgentStart(shell, opts);
  }

  #spawn(): Promise<void> {
    this.#attempt++;
    this.#events = [];
    this.#wrote = false;
    const args = [START_SCRIPT, this.opts.serviceUser ?? "", sudoMode(this.opts.requireSudo)];
    const shell = this.shell;
    const started = shell.openPrimary
      ? shell.openPrimary(WRAP_SCRIPT, args)
      : new Promise<Deno.ChildProcess>((resolve) => resolve(shell.spawn(WRAP_SCRIPT, args)));
    return started.then((child) => this.#attach(child));
  }

  #attach(child: Deno.ChildProcess): void {
    const { host } = this.opts;
    this.#child = child;
    this.#stderr = collectStderr(child.stderr);
    const wrote = () => {
      if (this.#wrote) return;
      this.#wrote = true;
      this.shell.primaryStarted?.();
    };
    const peer = new RpcPeer(child.stdout, child.stdin, {}, (method, params) => {
      wrote();
      // A remote host's lines always carry its name, even with one host: they must not pass for the controller's.
      if (method === "output") replayOutput(host, params, true);
      else if (method === "garbage") {
        const line = String(params.line ?? "");
        const st = parseStatus(line);
        if (st) this.#push({ status: st });
        else output.line(`${host.name}: ${neutralizeControls(output.mask(line))}`);
      }
    });
    enforceAgentContract(peer, host.name);
    this.#peer = peer;
    // The end comes after every line the script wrote.
    Promise.all([child.status, peer.closed, this.#stderr.ended]).then(([st]) => this.#push({ ended: st }));
    const payload = this.opts.payload;
    Promise.resolve(payload).then((p) => {
      const [a1, a2] = p.artifacts;
      const params = [p.mode, p.platform, a1.name, a1.sha256, a2?.name ?? "", a2?.sha256 ?? ""];
      return peer.sendLine([...params, this.opts.targetDirectory ?? ""].join("\n"));
    }).catch(() => {}); // a payload that cannot be built fails connect(); a lost session ends it
  }

  #push(e: StartEvent): void {
    this.#events.push(e);
    this.#wake?.();
  }

  /** The next status line or the end of the session; the session is killed after {@linkcode HELLO_TIMEOUT_MS}. */
  async #next(): Promise<StartEvent> {
    const timer = setTimeout(() => {
      this.#timedOut = true;
      this.#kill();
    }, HELLO_TIMEOUT_MS);
    try {
      while (!this.#events.length) await new Promise<void>((resolve) => this.#wake = resolve);
      return this.#events.shift()!;
    } finally {
      this.#wake = null;
      clearTimeout(timer);
    }
  }

  #kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
  }

  /**
   * Goes on until the agent answers the handshake. With `uploadMissing` false, a target that lacks the current files
   * gets nothing and null is returned: the script keeps waiting, and a later `connect()` uploads and goes on.
   * Throws {@linkcode RemoteConnectError} naming the host (the start is then over).
   */
  async connect(uploadMissing = true): Promise<RemoteAgentConnection | null> {
    try {
      const opts = { ...this.opts, payload: await this.opts.payload };
      await this.#spawned;
      for (;;) {
        const event = await this.#next();
        if ("ended" in event) {
          await this.#ended(event.ended);
          continue;
        }
        const st = event.status;
        if (st.status === "start") return await this.#handshake();
        if (st.status !== "missing" && st.status !== "nohash") {
          this.#kill();
          throw statusError(opts.host.name, st, opts);
        }
        if (!uploadMissing) {
          this.#events.unshift(event); // for the next connect()
          return null;
        }
        await this.#upload(st, opts);
      }
    } catch (e) {
      await this.#finish();
      throw e;
    }
  }

  /** The session ended before the agent ran: try to connect again, or throw why it failed. */
  async #ended(st: Deno.CommandStatus): Promise<void> {
    const stderr = this.#stderr();
    if (this.#timedOut) {
      // A target that never answers (a hanging login script, a stuck file system) must not hang the deployment.
      throw RemoteConnectError.of(
        this.opts.host.name,
        "agent",
        `the target did not answer within ${HELLO_TIMEOUT_MS / 1000}s`,
        stderr,
      );
    }
    if (!this.#wrote) {
      const failure = this.shell.connectFailure?.(st.code, stderr, this.#attempt);
      if (failure?.retryAfterMs != null) {
        await sleep(failure.retryAfterMs);
        await this.#spawn();
        return;
      }
      if (failure) throw failure.error;
    }
    throw startFailure(this.opts.host.name, st.code, stderr, this.opts);
  }

  async #upload(st: BootstrapStatus, opts: StartOptions & { payload: AgentPayload }): Promise<void> {
    const host = opts.host.name;
    if (++this.#rounds > 2) {
      this.#kill();
      const what = st.status === "nohash"
        ? "the agent could not be started afresh"
        : "the agent files are still missing after the upload";
      throw RemoteConnectError.of(host, "agent", what);
    }
    const before = this.shell.bytesSent;
    if (st.status === "missing") {
      for (const name of st.missing) {
        const a = opts.payload.artifacts.find((x) => x.name === name);
        if (!a) throw RemoteConnectError.of(host, "agent", `the target asked for an unknown file ${name}`);
        await upload(this.shell, opts, a, "", { gzip: st.fields.gzip === "yes", xz: st.fields.xz === "yes" });
      }
      await this.#peer.sendLine("again");
    } else {
      output.debug(`${host}: no SHA-256 tool on the target; shipping the agent afresh for this run`);
      const fresh = `run-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
      for (const a of opts.payload.artifacts) await upload(this.shell, opts, a, fresh, NO_DECODERS);
      await this.#peer.sendLine(`again ${fresh}`);
    }
    this.#uploaded += this.shell.bytesSent - before;
  }

  async #handshake(): Promise<RemoteAgentConnection> {
    const { host } = this.opts;
    const peer = this.#peer;
    const status = this.#child.status;
    let hello: HelloInfo;
    // A target that never answers (a hanging file system) must not hang the deployment.
    let timedOut = false;
    const helloTimer = setTimeout(() => {
      timedOut = true;
      this.#kill();
    }, HELLO_TIMEOUT_MS);
    try {
      hello = await callAgent(peer, "hello", { protocol: PROTOCOL_VERSION });
    } catch (e) {
      if (e instanceof InvalidMessage) {
        this.#kill();
        await status;
        throw RemoteConnectError.of(host.name, "agent", e.message.slice(host.name.length + 2));
      }
      if (e instanceof RpcError) {
        this.#kill();
        await status;
        throw RemoteConnectError.of(host.name, "agent", `the agent did not answer the handshake: ${e.message}`);
      }
      const timer = setTimeout(() => this.#kill(), 10_000);
      const st = await status;
      clearTimeout(timer);
      await this.#stderr.ended;
      if (timedOut) {
        throw RemoteConnectError.of(
          host.name,
          "agent",
          `the agent did not answer within ${HELLO_TIMEOUT_MS / 1000}s`,
          this.#stderr(),
        );
      }
      throw startFailure(host.name, st.code, this.#stderr(), this.opts);
    } finally {
      clearTimeout(helloTimer);
    }
    if (hello.protocol !== PROTOCOL_VERSION) {
      this.#kill();
      await status;
      throw RemoteConnectError.of(
        host.name,
        "agent",
        `the agent speaks protocol ${hello.protocol}, this batou speaks ${PROTOCOL_VERSION} (agent ${hello.version})`,
      );
    }
    const uploaded = this.#uploaded;
    return {
      host,
      peer,
      hello,
      via: "ssh",
      stderr: this.#stderr,
      uploadedBytes: uploaded,
      sentBytes: () => uploaded + peer.stats.bytesSent,
      abort: async () => {
        // Over another session of the same connection, as the agent's user; bounded: the link may be dead.
        const args = [KILL_SCRIPT, this.opts.serviceUser ?? "", sudoMode(this.opts.requireSudo), String(hello.pid)];
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          this.shell.run(WRAP_SCRIPT, args).catch(() => {}),
          new Promise((resolve) => timer = setTimeout(resolve, ABORT_KILL_TIMEOUT_MS)),
        ]);
        clearTimeout(timer);
        this.#kill();
      },
      close: async () => {
        await peer.close();
        const timer = setTimeout(() => this.#kill(), 5000);
        await status;
        clearTimeout(timer);
        await this.#finish();
      },
    };
  }

  /** Ends a start that has no agent (the script stops waiting), or does nothing once the start is over. */
  async close(): Promise<void> {
    await this.#spawned.catch(() => {});
    if (this.#finished) return;
    if (this.#peer) {
      await this.#peer.close();
      const timer = setTimeout(() => this.#kill(), 5000);
      await this.#child.status;
      clearTimeout(timer);
    }
    await this.#finish();
  }

  async #finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    if (this.opts.onClose) await this.opts.onClose();
  }
}

/** A target that reported no decoder (or whose upload must not be compressed). */
const NO_DECODERS: TargetDecoders = { gzip: false, xz: false };

/**
 * Sends one agent file to the target's cache (remote/transport/codec.ts chooses gzip, xz or none from what the
 * target has). A compressed upload that arrives wrong (hash or size, e.g. a broken copy in the controller's cache)
 * is sent again as it is, and the compressed copy is dropped.
 */
export async function upload(
  shell: RemoteShell,
  opts: StartOptions & { payload: AgentPayload },
  a: Artifact,
  fresh: string,
  decoders: TargetDecoders,
): Promise<void> {
  const host = opts.host.name;
  const { codec, path: source } = await chooseUpload(a, decoders);
  output.debug(`${host}: uploading ${a.name} (${codec}, ${(await Deno.stat(source)).size} bytes)`);
  const file = await Deno.open(source);
  const total = (await file.stat()).size;
  const result = await shell.run(WRAP_SCRIPT, [
    PUT_SCRIPT,
    opts.serviceUser ?? "",
    sudoMode(opts.requireSudo),
    fresh,
    a.name,
    a.sha256,
    String(a.size),
    codec,
    opts.targetDirectory ?? "",
  ], file.readable.pipeThrough(uploadProgress(host, a.name, total)));
  if (result.code === 0) return;
  const st = result.stdout.split("\n").map(parseStatus).find((s) => s !== null);
  if (st) {
    if ((st.status === "badhash" || st.status === "short") && codec !== "none") {
      // A broken compressed copy in the local cache: drop it and send the file as it is.
      output.debug(`${host}: the ${codec} upload of ${a.name} arrived wrong (${st.status}); sending it uncompressed`);
      await Deno.remove(source).catch(() => {});
      return await upload(shell, opts, a, fresh, NO_DECODERS);
    }
    throw statusError(host, st, opts, result.stderr);
  }
  throw startFailure(host, result.code, result.stderr, opts);
}

/** Bytes sent of the total of every upload under way, by `host: file` (for the status line). */
const uploadsUnderWay = new Map<string, { sent: number; total: number }>();

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** Shows the uploads under way in the status line (terminals only): `h1 12.0/41.2 MB · h2 3.5/41.2 MB`. */
function showUploads(): void {
  const parts = [...uploadsUnderWay].map(([k, u]) =>
    `${k.split(": ")[0]} ${megabytes(u.sent)}/${megabytes(u.total)} MB`
  );
  output.status(parts.length ? `uploading the agent: ${parts.join(" · ")}` : "");
}

/**
 * Passes an upload's bytes through and reports its progress: one line per host and file when it starts (what a
 * piped run shows) and, on a terminal, the bytes sent of the total in the status line, at most every 200 ms.
 */
function uploadProgress(host: string, name: string, total: number): TransformStream<Uint8Array, Uint8Array> {
  const key = `${host}: ${name}`;
  let last = 0;
  const done = () => {
    uploadsUnderWay.delete(key);
    showUploads();
  };
  return new TransformStream({
    start() {
      output.annotate(`${host}: uploading ${name} (${megabytes(total)} MB)`, { icon: "📤" });
      uploadsUnderWay.set(key, { sent: 0, total });
    },
    transform(chunk, controller) {
      const u = uploadsUnderWay.get(key);
      if (u) u.sent += chunk.length;
      const now = performance.now();
      if (now - last >= 200) {
        last = now;
        showUploads();
      }
      controller.enqueue(chunk);
    },
    flush: done,
    cancel: done,
  });
}

/**
 * Starts the agent over `shell`: runs the cached files; uploads what is missing or wrong and checks again. A target
 * whose cache is current gets no agent bytes at all. With `uploadMissing` false, a target without the current files
 * fails with a {@linkcode RemoteConnectError} of kind `not-cached`.
 */
export async function startAgent(shell: RemoteShell, opts: StartOptions): Promise<RemoteAgentConnection> {
  const start = AgentStart.begin(shell, opts);
  const conn = await start.connect(opts.uploadMissing !== false);
  if (conn) return conn;
  await start.close();
  throw RemoteConnectError.of(opts.host.name, "not-cached", "the agent is not in the target's cache");
}
