/**
 * The processes the transports spawn (ssh clients, local agents), so that a second Ctrl-C can end them all at once
 * and leave nothing behind ({@linkcode abortConnections}). They are spawned in a session of their own
 * ({@linkcode spawnInOwnSession}), so a Ctrl-C on the terminal reaches the controller alone, which then stops them
 * in order.
 *
 * @module
 */

interface Tracked {
  child: Deno.ChildProcess;
  /** Synchronous clean-up after the kill, e.g. removing an ssh control directory. */
  cleanup?: () => void;
}

const tracked = new Set<Tracked>();
/** Whether {@linkcode abortConnections} ran: this process is ending, nothing it spawns may stay. */
let aborted = false;

/** Whether `setsid` was not found on PATH (then Deno's `detached` is used). */
let noSetsid = Deno.build.os !== "linux";

/**
 * Spawns `command` in a new session, as `detached: true` does. Deno implements `detached` with a full `fork()` of
 * the controller (a `setsid()` runs before the exec), which copies its page tables and makes every page it writes
 * afterwards fault; on Linux the child is instead spawned as `setsid COMMAND ...` (util-linux, essential on
 * Debian), which Deno starts with `posix_spawn` (vfork), and `setsid` makes the new session and execs the command in
 * the same process. Without `setsid` on PATH, `detached` is used.
 */
export function spawnInOwnSession(
  command: string,
  options: Omit<Deno.CommandOptions, "detached"> = {},
): Deno.ChildProcess {
  if (!noSetsid) {
    try {
      return new Deno.Command("setsid", { ...options, args: [command, ...(options.args ?? [])] }).spawn();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      noSetsid = true;
    }
  }
  return new Deno.Command(command, { ...options, detached: true }).spawn();
}

/**
 * Tracks `child` until it exits; `cleanup` runs if {@linkcode abortConnections} kills it. Returns `child`. After
 * an abort `child` is killed at once: a step that goes on in the background (an upload session, which would
 * connect on its own once its master is gone) leaves nothing running.
 */
export function trackChild(child: Deno.ChildProcess, cleanup?: () => void): Deno.ChildProcess {
  const entry: Tracked = { child, cleanup };
  tracked.add(entry);
  child.status.finally(() => tracked.delete(entry));
  if (aborted) kill(entry);
  return child;
}

/** How many tracked processes are still running (for tests). */
export function runningChildren(): number {
  return tracked.size;
}

/** Kills every tracked process (SIGKILL: at once) and runs its clean-up; so also every one tracked later. */
export function abortConnections(): void {
  aborted = true;
  for (const entry of [...tracked]) kill(entry);
}

function kill(entry: Tracked): void {
  tracked.delete(entry);
  try {
    entry.child.kill("SIGKILL");
  } catch { /* already gone */ }
  try {
    entry.cleanup?.();
  } catch { /* best effort */ }
}
