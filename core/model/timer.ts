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

/** Accumulates durations per step (`verify`, `update`, `sub`, `total`). */
export class Timer {
  readonly durations = new Map<string, number>();

  constructor(readonly tag: string) {}

  /** Adds `ms` to `step`. */
  add(step: string, ms: number): void {
    this.durations.set(step, (this.durations.get(step) ?? 0) + ms);
  }

  /** Whether any step exceeded its threshold (ms). */
  aboveThreshold(thresholds: Record<string, number>): boolean {
    for (const k in thresholds) if ((this.durations.get(k) ?? 0) > thresholds[k]) return true;
    return false;
  }

  /** `total=2.50s, verify=2.00s, update=∅` for the given steps. */
  humanize(...steps: string[]): string {
    return steps.map((s) => `${s}=${formatDuration(this.durations.get(s))}`).join(", ");
  }
}
