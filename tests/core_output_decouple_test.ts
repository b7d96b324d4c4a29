/**
 * TerminalBackend.decouple (issue 17): once decoupled, writing a line does not wait for the terminal; the lines
 * reach it later, in order, and drain() resolves when they have.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { Output, TerminalBackend } from "../core/model/output.ts";

/** A writer that takes at most 7 bytes per write and holds each write until `release` is called. */
class SlowWriter {
  chunks: string[] = [];
  syncWrites = 0;
  #waiting: (() => void)[] = [];
  writeSync(p: Uint8Array): number {
    this.syncWrites++;
    this.chunks.push(new TextDecoder().decode(p));
    return p.length;
  }
  write(p: Uint8Array): Promise<number> {
    const n = Math.min(7, p.length);
    return new Promise((resolve) => {
      this.#waiting.push(() => {
        this.chunks.push(new TextDecoder().decode(p.subarray(0, n)));
        resolve(n);
      });
    });
  }
  release(): boolean {
    const next = this.#waiting.shift();
    next?.();
    return next !== undefined;
  }
  get text(): string {
    return this.chunks.join("");
  }
}

Deno.test("output: a decoupled terminal backend queues lines and writes them in order", async () => {
  const writer = new SlowWriter();
  const backend = new TerminalBackend(writer);
  const out = new Output(backend);
  out.line("before");
  strictEqual(writer.text, "before\n", "not decoupled: written at once");
  backend.decouple();
  for (let i = 0; i < 50; i++) out.line(`line ${i}`);
  // Nothing waited: all 50 lines were accepted while the writer has not finished a single write.
  strictEqual(writer.text, "before\n");
  let drained = false;
  const done = out.drain().then(() => drained = true);
  while (!drained) {
    writer.release();
    await new Promise((r) => setTimeout(r, 0));
  }
  await done;
  strictEqual(writer.text, "before\n" + Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(""));
  strictEqual(writer.syncWrites, 1);
  out.line("after");
  while (writer.release() || writer.text.endsWith("after\n") === false) await new Promise((r) => setTimeout(r, 0));
  await out.drain();
  deepStrictEqual(writer.text.split("\n").slice(-2), ["after", ""]);
});
