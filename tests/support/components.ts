/**
 * Source snippets for the component files that end-to-end tests write into their projects.
 *
 * @module
 */

/**
 * The body of an `update()` that holds the deployment: it writes the agent's pid to `marker` (a JavaScript
 * expression, e.g. `this.dir + "/pid-" + this.host.name`), then waits until `<this.dir>/release` exists, polling every
 * 50 ms, and fails after `tries` polls.
 */
export function holdUntilReleased(marker: string, tries = 1200): string {
  return `    await Deno.writeTextFile(${marker}, String(Deno.pid));
    for (let i = 0; i < ${tries}; i++) {
      try {
        await Deno.stat(this.dir + "/release");
        return;
      } catch { /* not yet */ }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("never released");`;
}
