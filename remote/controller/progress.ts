/**
 * The compact per-host progress shown on a terminal while a deployment runs:
 * `web1: deploying 2/5 · web2: syncing · web3: done` (`predicting 2/5` with `-P`) in one status line below
 * the output. Plain (non-terminal) output gets no status line at all.
 *
 * @module
 */
import { compareStrings } from "../../core/runtime/compare.ts";
import { output } from "../../core/model/output.ts";

/** What a host is doing. */
export type HostPhase =
  | "connecting"
  | "syncing"
  | "configuring"
  | "configured"
  | "deploying"
  | "predicting"
  | "done"
  | "failed"
  | "interrupted";

/** Tracks each host's phase and redraws the status line. */
export class Progress {
  #hosts = new Map<string, { phase: HostPhase; done: number; total: number }>();

  /** Sets the phase of `host`. */
  set(host: string, phase: HostPhase): void {
    const h = this.#hosts.get(host) ?? { phase, done: 0, total: 0 };
    h.phase = phase;
    this.#hosts.set(host, h);
    this.#draw();
  }

  /** Sets how many roots `host` deploys in total. */
  total(host: string, total: number): void {
    const h = this.#hosts.get(host) ?? { phase: "configured" as HostPhase, done: 0, total };
    h.total = total;
    this.#hosts.set(host, h);
  }

  /** Counts one finished root of `host`. */
  rootDone(host: string): void {
    const h = this.#hosts.get(host);
    if (!h) return;
    h.done++;
    if (h.total && h.done >= h.total) h.phase = "done";
    this.#draw();
  }

  /** The status text. */
  render(): string {
    return [...this.#hosts].sort(([a], [b]) => compareStrings(a, b)).map(([name, h]) => {
      const detail = (h.phase === "deploying" || h.phase === "predicting") && h.total ? ` ${h.done}/${h.total}` : "";
      return `${name}: ${h.phase}${detail}`;
    }).join(" · ");
  }

  /** Removes the status line. */
  clear(): void {
    output.status("");
  }

  #draw(): void {
    output.status(this.render());
  }
}
