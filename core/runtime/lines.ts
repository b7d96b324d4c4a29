/**
 * Reading a process's output line by line while it runs (shell commands of components, `batou run` on the agent).
 *
 * @module
 */

/**
 * Reads `stream` (UTF-8) to its end and passes each line to `onLine` without its `\n`, with `ended` true; a last
 * line without a newline comes with `ended` false. With `maxLineChars`, a longer line is passed in pieces of that
 * size (`ended` false) before the rest: a command that writes no newlines still streams, in bounded memory.
 * Joining every line with `\n` after each ended one gives the text back exactly.
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string, ended: boolean) => void,
  maxLineChars: number = Infinity,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  const flush = (final: boolean) => {
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl), true);
      pending = pending.slice(nl + 1);
    }
    while (pending.length > maxLineChars) {
      onLine(pending.slice(0, maxLineChars), false);
      pending = pending.slice(maxLineChars);
    }
    if (final && pending !== "") {
      onLine(pending, false);
      pending = "";
    }
  };
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    flush(false);
  }
  pending += decoder.decode();
  flush(true);
}
