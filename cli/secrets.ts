/**
 * `batou secrets ...` (placeholder until the secrets commands land).
 *
 * @module
 */

/** Runs `batou secrets <args>`; returns the exit code. */
export function secretsCommand(_args: string[], _baseDir: string, _debug: boolean): Promise<number> {
  console.error("batou secrets: not available yet");
  return Promise.resolve(1);
}
