/**
 * Step timings of a component's deploy, and batou's duration format.
 *
 * @module
 */

/** Formats milliseconds as batou does: `∅` for none, `1.23s` under a minute, else `1m5s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "∅";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(2)}s`;
  return `${Math.floor(s / 60)}m${Math.floor(s % 60)}s`;
}

/** The steps of a deploy, in the order {@linkcode Timer.durations} lists them. */
const STEPS = ["verify", "update", "sub", "total"] as const;

/**
 * Accumulates durations per step (`verify`, `update`, `sub`, `total`). The four steps of a deploy are fields (no map
 * or array per component: issue 17, thousands of components alive at once); any other step goes to a map made when
 * needed.
 */
export class Timer {
  #verify: number | undefined = undefined;
  #update: number | undefined = undefined;
  #sub: number | undefined = undefined;
  #total: number | undefined = undefined;
  #other: Map<string, number> | null = null;

  constructor(readonly tag: string) {}

  /** The durations (ms) recorded so far, by step. */
  get durations(): ReadonlyMap<string, number> {
    const all = new Map<string, number>();
    for (const step of STEPS) {
      const ms = this.#get(step);
      if (ms !== undefined) all.set(step, ms);
    }
    for (const [step, ms] of this.#other ?? []) all.set(step, ms);
    return all;
  }

  #get(step: string): number | undefined {
    switch (step) {
      case "verify":
        return this.#verify;
      case "update":
        return this.#update;
      case "sub":
        return this.#sub;
      case "total":
        return this.#total;
    }
    return this.#other?.get(step);
  }

  /** Adds `ms` to `step`. */
  add(step: string, ms: number): void {
    switch (step) {
      case "verify":
        this.#verify = (this.#verify ?? 0) + ms;
        return;
      case "update":
        this.#update = (this.#update ?? 0) + ms;
        return;
      case "sub":
        this.#sub = (this.#sub ?? 0) + ms;
        return;
      case "total":
        this.#total = (this.#total ?? 0) + ms;
        return;
    }
    (this.#other ??= new Map()).set(step, (this.#other.get(step) ?? 0) + ms);
  }

  /** Whether any step exceeded its threshold (ms). */
  aboveThreshold(thresholds: Record<string, number>): boolean {
    for (const k in thresholds) if ((this.#get(k) ?? 0) > thresholds[k]) return true;
    return false;
  }

  /** `total=2.50s, verify=2.00s, update=∅` for the given steps. */
  humanize(...steps: string[]): string {
    return steps.map((s) => `${s}=${formatDuration(this.#get(s))}`).join(", ");
  }
}
