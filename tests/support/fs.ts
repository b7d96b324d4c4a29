/**
 * File-system helpers shared by the tests: whether a path exists, and waiting for a file that a running
 * deployment writes.
 *
 * @module
 */

/** True when `path` exists; a symlink counts as existing even when its target does not (`Deno.lstat`). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@link waitForFile}. */
export interface WaitForFileOptions {
  /** How long to wait before giving up (default 60 s). */
  timeoutMs?: number;
  /** Pause between two looks at the file (default 50 ms). */
  intervalMs?: number;
}

/**
 * Waits until `path` exists with non-empty content and returns that content. Fails when `running` (a deployment)
 * ends first, with the deployment's `output` in the message when its result has one, or after `timeoutMs`.
 */
export async function waitForFile(
  path: string,
  running: Promise<unknown>,
  opts: WaitForFileOptions = {},
): Promise<string> {
  let ended = false;
  running.then(() => ended = true, () => ended = true);
  const read = async (): Promise<string | undefined> => {
    try {
      return (await Deno.readTextFile(path)) || undefined;
    } catch {
      return undefined;
    }
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    const text = await read();
    if (text !== undefined) return text;
    if (ended) {
      // The file may have been written just before the deployment ended.
      const last = await read();
      if (last !== undefined) return last;
      throw new Error(`the deployment ended before ${path} appeared${await outputOf(running)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 50));
  }
  throw new Error(`${path} did not appear`);
}

/** `":\n<output>"` when `running` resolved to a result with a string `output`, else "". */
async function outputOf(running: Promise<unknown>): Promise<string> {
  const result = await running.catch(() => undefined);
  if (typeof result === "object" && result !== null && "output" in result && typeof result.output === "string") {
    return `:\n${result.output}`;
  }
  return "";
}
