/**
 * The cached agent's stamps (`~/.cache/batou/agents/.NAME.ok`, written by the start script after a full hash check):
 * a start that used the cached files touches them, and the upload script removes agent files whose stamp has not
 * been touched for 30 days. The start script leaves this to the agent (one process less per start): it names the
 * stamps in `BATOU_AGENT_STAMPS`, one path per line.
 *
 * @module
 */

/** Touches the stamps named in `BATOU_AGENT_STAMPS` (missing ones are left missing) and removes the variable. */
export function touchAgentStamps(): void {
  const stamps = Deno.env.get("BATOU_AGENT_STAMPS");
  if (stamps === undefined) return;
  Deno.env.delete("BATOU_AGENT_STAMPS"); // not for the commands the deployment runs
  const now = new Date();
  for (const path of stamps.split("\n")) {
    if (!path) continue;
    try {
      Deno.utimeSync(path, now, now);
    } catch { /* gone, or not ours: as `touch -c` */ }
  }
}
