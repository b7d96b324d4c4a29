/**
 * Fault injection on the atomic file write (`writeFileAtomic`, used by every managed file): a writer process killed
 * in the middle of a large write leaves the old file whole, and its temporary file is removed by the next write of
 * that file — but never the temporary file of a writer that is still alive (it holds a lock on it).
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { writeFileAtomic } from "../../core/runtime/fsops.ts";
import { REPO, sha256, watchForName } from "./harness.ts";

const WRITER = `
import { writeFileAtomic } from ${JSON.stringify(join(REPO, "core/runtime/fsops.ts"))};
const [path, size] = Deno.args;
await writeFileAtomic(path, new Uint8Array(Number(size)).fill(66));
`;

const HOLDER = `
const file = await Deno.open(Deno.args[0], { read: true });
await file.lock(true);
console.log("locked");
for await (const _ of Deno.stdin.readable) { /* until EOF */ }
`;

Deno.test("a writer killed during a large write: the file stays whole, the next write removes its temporary file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-fault-atomic-" });
  try {
    const target = join(dir, "data");
    const old = new Uint8Array(1000).fill(65);
    await Deno.writeFile(target, old);
    const size = 512 * 1024 * 1024;
    const writer = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", WRITER, target, String(size)],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const done = writer.output();
    try {
      await watchForName(dir, ".data.batou-tmp-", { running: done, deadlineMs: 60_000 });
    } finally {
      try {
        writer.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await done;
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assertEquals(names.length, 2, `expected the file and a temp file: ${names}`);
    assertEquals(sha256(await Deno.readFile(target)), sha256(old), "the file changed although its writer died");

    await writeFileAtomic(target, new TextEncoder().encode("new\n"));
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["data"]);
    assertEquals(await Deno.readTextFile(target), "new\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the next write removes only temporary files of its own file whose writer is gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-fault-atomic-" });
  let holder: Deno.ChildProcess | undefined;
  try {
    const stale = join(dir, ".conf.batou-tmp-0123456789ab");
    const busy = join(dir, ".conf.batou-tmp-ba9876543210");
    const other = join(dir, ".other.batou-tmp-0123456789ab");
    const notOurs = join(dir, ".conf.batou-tmp-backup");
    for (const f of [stale, busy, other, notOurs]) await Deno.writeTextFile(f, "partial");
    holder = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", HOLDER, busy],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = holder.stdout.getReader();
    const first = await reader.read();
    assertEquals(new TextDecoder().decode(first.value).trim(), "locked");
    reader.releaseLock();

    await writeFileAtomic(join(dir, "conf"), new TextEncoder().encode("x\n"));
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assertEquals(names, [
      ".conf.batou-tmp-ba9876543210",
      ".conf.batou-tmp-backup",
      ".other.batou-tmp-0123456789ab",
      "conf",
    ]);
    assert(!names.includes(".conf.batou-tmp-0123456789ab"));
  } finally {
    if (holder) {
      await holder.stdin.close().catch(() => {});
      await holder.stdout.cancel().catch(() => {});
      const timer = setTimeout(() => holder?.kill("SIGKILL"), 10_000);
      await holder.status;
      clearTimeout(timer);
    }
    await Deno.remove(dir, { recursive: true });
  }
});
