/**
 * Ctrl-C and SIGTERM during `batou deploy`. Before the deploy step (loading, connecting, uploading the agent,
 * configuring) the first signal stops at once: nothing has changed on any host, so every ssh process and agent is ended
 * and the run says that nothing was deployed (if it cannot end within a few seconds, the process exits with 130
 * anyway). During the deploy step the first signal asks the run to stop cleanly: no new root starts, every agent stops
 * at its next component boundary, connections are closed, the run says what was done and what was not, writes its
 * report and exits with 130. A second signal stops at once: every ssh process and local agent is killed and their
 * control directories removed ({@linkcode abortConnections}), then the run ends the same way, and if it cannot within a
 * few seconds the process exits with 130 anyway.
 *
 * ```ts
 * const interrupt = new Interrupt();
 * interrupt.install();
 * try {
 *   // ... interrupt.requested, await interrupt.signalled
 * } finally {
 *   interrupt.uninstall();
 * }
 * ```
 *
 * @module
 */
import { output } from "../../core/model/output.ts";
import { abortConnections } from "../transport/children.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** How long a run may take to end once it is to stop at once (see {@linkcode Interrupt}) before the process exits. */
const HARD_STOP_GRACE_MS = 5000;

/**
 * What a run is doing when a signal comes: `preparing` (loading, connecting, configuring: nothing has changed on
 * any host yet, so the first signal stops at once) or `deploying` (the first signal stops at the next component
 * boundary).
 */
export type InterruptStage = "preparing" | "deploying";

/** The signals of one run. */
export class Interrupt {
  /** The first signal's name, once one came. */
  requested: Deno.Signal | null = null;
  /** What the run is doing (set by the deployment when its deploy step starts). */
  stage: InterruptStage = "preparing";
  /** Resolves with the first signal. */
  readonly signalled: Promise<Deno.Signal>;
  #resolve!: (s: Deno.Signal) => void;
  #listeners: [Deno.Signal, () => void][] = [];
  #onFirst: (() => void)[] = [];

  readonly #graceMs: number;

  /** `graceMs`: how long a run may take to end, once it is to stop at once, before the process exits regardless. */
  constructor(graceMs: number = HARD_STOP_GRACE_MS) {
    this.#graceMs = graceMs;
    this.signalled = new Promise((resolve) => this.#resolve = resolve);
  }

  /** Calls `fn` when the first signal comes (at once if it already came). */
  onFirst(fn: () => void): void {
    if (this.requested) fn();
    else this.#onFirst.push(fn);
  }

  /** Starts listening (SIGINT and SIGTERM); a second call does nothing. */
  install(): void {
    if (this.#listeners.length) return;
    for (const signal of SIGNALS) {
      const listener = () => this.#received(signal);
      Deno.addSignalListener(signal, listener);
      this.#listeners.push([signal, listener]);
    }
  }

  /** Stops listening: the signals have their default effect again. */
  uninstall(): void {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
    this.#listeners = [];
  }

  #received(signal: Deno.Signal): void {
    if (this.requested === null) {
      this.requested = signal;
      output.line("");
      const what = signal === "SIGINT" ? "Interrupted" : `Received ${signal}`;
      output.error(
        this.stage === "preparing"
          ? `${what}: nothing has been deployed yet; stopping now (connections and agents are closed).`
          : `${what}: no new component starts; the hosts stop after the component they are deploying ` +
            "(press Ctrl-C again to stop at once).",
      );
      // Before the deployment, nothing is left half done on a host: stop connecting, uploading and configuring.
      if (this.stage === "preparing") this.#stopNow();
      this.#resolve(signal);
      for (const fn of this.#onFirst.splice(0)) fn();
      return;
    }
    output.error(`Stopping at once (${signal}).`);
    this.#stopNow();
  }

  /** Ends every connection and agent; if the run has not ended within the grace time, the process exits with 130. */
  #stopNow(): void {
    abortConnections();
    setTimeout(() => Deno.exit(130), this.#graceMs);
  }
}
