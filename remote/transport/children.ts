/**
 * The processes the transports spawn (ssh clients, local agents), so that a second Ctrl-C can end them all at once
 * and leave nothing behind ({@linkcode abortConnections}). They are spawned in a session of their own
 * (`detached`), so a Ctrl-C on the terminal reaches the controller alone, which then stops them in order.
 *
 * @module
 */

interface Tracked {
  child: Deno.ChildProcess;
  /** Synchronous clean-up after the kill, e.g. removing an ssh control directory. */
  cleanup?: () => void;
}

const tracked = new Set<Tracked>();

/** Tracks `child` until it exits; `cleanup` runs if {@linkcode abortConnections} kills it. Returns `child`. */
export function trackChild(child: Deno.ChildProcess, cleanup?: () => void): Deno.ChildProcess {
  const entry: Tracked = { child, cleanup };
  tracked.add(entry);
  child.status.finally(() => tracked.delete(entry));
  return child;
}

/** How many tracked processes are still running (for tests). */
export function runningChildren(): number {
  return tracked.size;
}

/** Kills every tracked process (SIGKILL: at once) and runs its clean-up. */
export function abortConnections(): void {
  for (const entry of [...tracked]) {
    tracked.delete(entry);
    try {
      entry.child.kill("SIGKILL");
    } catch { /* already gone */ }
    try {
      entry.cleanup?.();
    } catch { /* best effort */ }
  }
}
