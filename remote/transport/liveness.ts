/**
 * The controller's liveness check of one agent. A long `update()` is legitimate, a dead agent is not: while a call
 * runs that executes the project's code (configure, deploy, ...), the controller pings an agent it has heard nothing
 * from for {@linkcode pingInterval} (the agent answers `ping` while it works, remote/agent/agent.ts). When nothing at
 * all came for `timeout` seconds, every waiting call fails with `host2: the agent stopped responding`.
 *
 * A configure that does not finish is named: the agent announces each root before it configures it (a
 * `configuring` notification, written before the root's code runs), so when a configure call has gone on for
 * `timeout` seconds since the last announcement (or since it began), it fails with
 * `host2: configure of component slow did not finish within 3 s`, also when an endless synchronous loop keeps the
 * agent from answering anything. Sync calls are not watched: their length depends on the data and the link.
 *
 * ```ts
 * const watch = watchAgent(conn.peer, "host2", 30, (e) => stopTheOthers(e));
 * // ... calls ...
 * watch.stop();
 * ```
 *
 * @module
 */
import { AgentUnresponsive, type RpcPeer } from "../contract/protocol.ts";
import { callAgent } from "../contract/methods.ts";

/** The liveness timeout (seconds) when neither `-t` nor `[environment] timeout` gives one. */
export const DEFAULT_LIVENESS_TIMEOUT = 30;

/** Calls whose length is the data's and the link's, not the project code's: not watched. */
const UNWATCHED = new Set(["ping", "syncManifest", "syncPut", "syncDelete", "hello"]);

/** How long (ms) the agent may be silent before it is pinged: a few pings per timeout, at most every 5 s. */
export function pingInterval(timeoutSeconds: number): number {
  return Math.max(250, Math.min(5000, (timeoutSeconds * 1000) / 3));
}

/** A running watch; {@linkcode stop} ends it. */
export interface AgentWatch {
  stop(): void;
}

/**
 * Watches `peer` (the connection to `host`'s agent): see the module documentation. `onFailure` is called once with
 * the error every waiting call then fails with.
 */
export function watchAgent(
  peer: RpcPeer,
  host: string,
  timeoutSeconds: number,
  onFailure: (error: AgentUnresponsive) => void = () => {},
): AgentWatch {
  const timeoutMs = timeoutSeconds * 1000;
  const interval = pingInterval(timeoutSeconds);
  let pinging = false;
  /** Since when a watched call has been waiting (null: none is); an agent idle between calls owes no message. */
  let busySince: number | null = null;
  /** The root being configured (as announced) and since when; reset when no configure call is waiting. */
  let configuring: { host: string; root: string } | null = null;
  let configureSince: number | null = null;
  const listener = (method: string, params: Record<string, unknown>) => {
    if (method !== "configuring") return;
    configuring = { host: String(params.host), root: String(params.root) };
    configureSince = performance.now();
  };
  peer.notificationListeners.add(listener);
  const fail = (message: string) => {
    stop();
    const error = new AgentUnresponsive(`${host}: ${message}`);
    peer.fail(error);
    onFailure(error);
  };
  const tick = () => {
    const pending = peer.pendingMethods().filter((m) => !UNWATCHED.has(m));
    const now = performance.now();
    if (pending.includes("configure")) {
      configureSince ??= now;
      if (now - configureSince >= timeoutMs) {
        const what = configuring
          ? `configure of component ${configuring.root}${
            configuring.host === host ? "" : ` of host ${configuring.host}`
          }`
          : "configure";
        return fail(`${what} did not finish within ${timeoutSeconds} s`);
      }
    } else {
      configuring = null;
      configureSince = null;
    }
    if (!pending.length) {
      busySince = null;
      return;
    }
    busySince ??= now;
    const quiet = now - Math.max(peer.lastReceivedAt, busySince);
    if (quiet >= timeoutMs) return fail("the agent stopped responding");
    if (quiet >= interval && !pinging) {
      pinging = true;
      callAgent(peer, "ping", {}).catch(() => {}).finally(() => pinging = false);
    }
  };
  const timer = setInterval(tick, Math.min(interval, 1000));
  Deno.unrefTimer(timer);
  const stop = () => {
    clearInterval(timer);
    peer.notificationListeners.delete(listener);
  };
  return { stop };
}
