/**
 * `batou init [DIR]`: a new deployment project (placeholder; completed with the init issue).
 *
 * @module
 */

/** Creates a project in DIR (relative to `cwd`). */
export function initProject(_args: string[], _cwd: string): Promise<number> {
  return Promise.resolve(0);
}
