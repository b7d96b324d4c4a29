import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { dirname, join } from "node:path";
import { RpcError, RpcPeer } from "../remote/contract/protocol.ts";
import { sha256Bytes } from "../remote/contract/sync_manifest.ts";
import { buildManifest, type SyncOptions, syncProject, type SyncStats } from "../remote/transport/sync.ts";
import { createSyncHandlers } from "../remote/agent/sync_agent.ts";
import { exists } from "./support/fs.ts";

/** A controller and an agent peer connected through in-memory streams; `cutAfter` breaks the link after N bytes. */
function connect(base: string, cutAfter = Infinity) {
  const c2a = new TransformStream<Uint8Array, Uint8Array>();
  const a2c = new TransformStream<Uint8Array, Uint8Array>();
  const toAgent = c2a.writable.getWriter();
  let sent = 0;
  let cut = false;
  const wire = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (cut) throw new Error("link cut");
      if (sent + chunk.length > cutAfter) {
        cut = true;
        await toAgent.write(chunk.slice(0, cutAfter - sent));
        await toAgent.close();
        throw new Error("link cut");
      }
      sent += chunk.length;
      await toAgent.write(chunk);
    },
    async close() {
      if (!cut) await toAgent.close();
    },
  });
  const agent = new RpcPeer(c2a.readable, a2c.writable, createSyncHandlers(() => base));
  const controller = new RpcPeer(a2c.readable, wire);
  const putPaths: string[] = [];
  const putLines: number[] = [];
  controller.trace = (direction, line) => {
    if (direction !== "send" || !line.includes('"method":"syncPut"')) return;
    putLines.push(line.length);
    for (const e of JSON.parse(line).params.entries) if (e.op !== "dir" && e.op !== "mode") putPaths.push(e.path);
  };
  return {
    controller,
    putPaths,
    putLines,
    /** Ends both directions and waits for both read loops. */
    async close() {
      await controller.close();
      await agent.closed;
      await agent.close();
      await controller.closed;
    },
  };
}

interface Dirs {
  local: string;
  target: string;
  outside: string;
}

async function withDirs(fn: (d: Dirs) => Promise<void>): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "batou-sync-test-" }));
  const d = { local: join(root, "local"), target: join(root, "target"), outside: join(root, "outside") };
  for (const dir of Object.values(d)) await Deno.mkdir(dir);
  try {
    await fn(d);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function write(root: string, rel: string, content: string | Uint8Array, mode?: number): Promise<void> {
  const path = join(root, rel);
  await Deno.mkdir(dirname(path), { recursive: true });
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  if (mode !== undefined) await Deno.chmod(path, mode);
}

/** Every path under `root`, hidden and excluded ones included. */
async function allPaths(root: string, dir = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(root, dir))) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    out.push(rel);
    if (e.isDirectory) out.push(...await allPaths(root, rel));
  }
  return out.sort();
}

/** Compares big contents by hash: assert's diff of large byte arrays would take ages. */
async function assertContent(path: string, expected: Uint8Array): Promise<void> {
  strictEqual(sha256Bytes(await Deno.readFile(path)), sha256Bytes(expected), path);
}

function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(size, i + 65536)));
  return out;
}

async function sync(d: Dirs, opts: SyncOptions = {}): Promise<SyncStats & { putPaths: string[] }> {
  const link = connect(d.target);
  try {
    const stats = await syncProject(link.controller, d.local, opts);
    return { ...stats, putPaths: link.putPaths.sort() };
  } finally {
    await link.close();
  }
}

/** The target holds exactly the local project (paths, types, modes, hashes, symlink targets). */
async function assertMirrored(d: Dirs, opts: SyncOptions = {}): Promise<void> {
  deepStrictEqual(await buildManifest(d.target, opts), await buildManifest(d.local, opts));
}

async function sampleProject(local: string): Promise<void> {
  await write(local, "components/hello/component.ts", "export class Hello {}\n");
  await write(local, "components/hello/hello.conf.j2", "port = {{ component.port }}\n".repeat(100));
  await write(local, "bin/run", "#!/bin/sh\necho hi\n", 0o755);
  await write(local, "private.txt", "only me\n", 0o600);
  await write(local, "empty", "");
  await write(local, "environments/prod/environment.cfg", "[environment]\nconnect_method = local\n");
  await Deno.mkdir(join(local, "restricted"), { mode: 0o750 });
  await Deno.chmod(join(local, "restricted"), 0o750);
  await write(local, "restricted/inner.txt", "inner\n");
  await Deno.symlink("components/hello", join(local, "current"));
  await Deno.symlink("/nonexistent/absolute", join(local, "dangling"));
}

Deno.test("first sync copies files, modes, directories and symlinks", async () => {
  await withDirs(async (d) => {
    await sampleProject(d.local);
    const stats = await sync(d);
    await assertMirrored(d);
    strictEqual(stats.files, 9);
    strictEqual(stats.sent, 9);
    strictEqual(stats.unchanged, 0);
    strictEqual(stats.deleted, 0);
    ok(stats.bytesSent > 0);
    strictEqual((await Deno.stat(join(d.target, "bin/run"))).mode! & 0o777, 0o755);
    strictEqual((await Deno.stat(join(d.target, "private.txt"))).mode! & 0o777, 0o600);
    strictEqual((await Deno.stat(join(d.target, "restricted"))).mode! & 0o777, 0o750);
    strictEqual(await Deno.readLink(join(d.target, "current")), "components/hello");
    strictEqual(await Deno.readLink(join(d.target, "dangling")), "/nonexistent/absolute");
    strictEqual(
      await Deno.readTextFile(join(d.target, "components/hello/hello.conf.j2")),
      "port = {{ component.port }}\n".repeat(100),
    );
  });
});

Deno.test("a second sync sends nothing; a changed file is the only one sent", async () => {
  await withDirs(async (d) => {
    await sampleProject(d.local);
    await sync(d);
    const again = await sync(d);
    deepStrictEqual(again.putPaths, []);
    strictEqual(again.sent, 0);
    strictEqual(again.bytesSent, 0);
    strictEqual(again.unchanged, 9);

    // Same size, different content: found by hash, not by size.
    await write(d.local, "components/hello/component.ts", "export class Hallo {}\n");
    const changed = await sync(d);
    deepStrictEqual(changed.putPaths, ["components/hello/component.ts"]);
    strictEqual(changed.sent, 1);
    strictEqual(changed.unchanged, 8);
    await assertMirrored(d);

    // A mode change alone is fixed without sending content.
    await Deno.chmod(join(d.local, "private.txt"), 0o640);
    await Deno.chmod(join(d.local, "restricted"), 0o755);
    const modes = await sync(d);
    deepStrictEqual(modes.putPaths, []);
    strictEqual(modes.bytesSent, 0);
    await assertMirrored(d);
  });
});

Deno.test("what is gone locally is deleted on the target, type changes replace entries", async () => {
  await withDirs(async (d) => {
    await sampleProject(d.local);
    await write(d.local, "old/deep/file.txt", "x");
    await write(d.local, "becomes-dir", "file first");
    await sync(d);
    await Deno.remove(join(d.local, "private.txt"));
    await Deno.remove(join(d.local, "old"), { recursive: true });
    await Deno.remove(join(d.local, "becomes-dir"));
    await write(d.local, "becomes-dir/now.txt", "inside");
    await Deno.remove(join(d.local, "components"), { recursive: true });
    await Deno.symlink("bin", join(d.local, "components"));
    const stats = await sync(d);
    await assertMirrored(d);
    ok(!(await exists(join(d.target, "private.txt"))));
    ok(!(await exists(join(d.target, "old"))));
    strictEqual(await Deno.readLink(join(d.target, "components")), "bin");
    // private.txt, old, old/deep, old/deep/file.txt, becomes-dir (file), components + 3 entries below it.
    strictEqual(stats.deleted, 9);
  });
});

Deno.test("excluded paths and secrets are never sent and never deleted on the target", async () => {
  await withDirs(async (d) => {
    await write(d.local, "environments/prod/environment.cfg", "[environment]\n");
    await write(d.local, "environments/prod/age_keys.txt", "# public keys\n");
    const localOnly = [
      ".git/config",
      ".hg/hgrc",
      "work/hello/state",
      "components/x/work/y",
      ".batou.json",
      ".batou-lock",
      ".batou-cache/agent-abc",
      ".appenv/bin/python",
      ".vagrant/machine",
      ".kitchen/state",
      "environments/prod/secrets.cfg.age",
      "environments/prod/secrets.cfg.gpg",
      "environments/prod/secrets.cfg",
      "environments/prod/secret-sshkey.age",
      "secrets/prod.cfg",
      "local-only/notes.txt",
    ];
    for (const rel of localOnly) await write(d.local, rel, "LOCAL");
    const targetOnly = [
      "work/hello/data",
      ".git/HEAD",
      ".batou-agent.lock",
      "environments/prod/secrets.cfg.age",
      "components/x/work/keep",
      "local-only/keep",
      "gone/work/keep",
    ];
    for (const rel of targetOnly) await write(d.target, rel, "TARGET");
    await write(d.target, "gone/other.txt", "remove me");

    const exclude = (rel: string) => rel === "local-only";
    const stats = await sync(d, { exclude });
    deepStrictEqual(stats.putPaths, ["environments/prod/age_keys.txt", "environments/prod/environment.cfg"]);
    for (const rel of targetOnly) strictEqual(await Deno.readTextFile(join(d.target, rel)), "TARGET", rel);
    for (const rel of localOnly) {
      if (!targetOnly.includes(rel)) ok(!(await exists(join(d.target, rel))), `${rel} must not be sent`);
    }
    // `gone` holds an excluded `work` folder: its other content goes, the folder stays.
    ok(!(await exists(join(d.target, "gone/other.txt"))));
    strictEqual(await Deno.readTextFile(join(d.target, "environments/prod/age_keys.txt")), "# public keys\n");
    await assertMirrored(d, { exclude: (rel) => exclude(rel) || rel === "gone" });
  });
});

Deno.test("paths that leave the deployment directory or name excluded entries are rejected", async () => {
  await withDirs(async (d) => {
    await write(d.outside, "victim", "precious");
    await Deno.symlink(d.outside, join(d.target, "link"));
    const link = connect(d.target);
    try {
      const file = (path: string) => ({ path, type: "file", mode: 0o644, size: 1, sha256: "0".repeat(64) });
      for (const bad of ["../escape", "/etc/passwd", "a/../../escape", "a//b", "./a", "work/x", ".git/config"]) {
        await rejects(link.controller.call("syncManifest", { entries: [file(bad)] }), (e: RpcError) => {
          ok(e instanceof RpcError);
          ok(e.message.startsWith(`Refusing to sync path ${JSON.stringify(bad)}`), e.message);
          return true;
        });
      }
      const data = btoa("evil");
      const put = (path: string) => ({ op: "file", path, mode: 0o644, sha256: "0".repeat(64), data, gzip: false });
      await rejects(link.controller.call("syncPut", { entries: [put("../escape")] }), /must be relative/);
      await rejects(link.controller.call("syncPut", { entries: [put("link/evil")] }), /is not a directory/);
      await rejects(
        link.controller.call("syncPut", { entries: [{ op: "symlink", path: "link/evil", target: "/" }] }),
        /is not a directory/,
      );
      await rejects(link.controller.call("syncDelete", { paths: ["link/victim"] }), /is not a directory/);
      await rejects(link.controller.call("syncDelete", { paths: ["../outside/victim"] }), /must be relative/);
      // A wrong hash is refused and leaves nothing behind.
      await rejects(link.controller.call("syncPut", { entries: [put("x")] }), /changed during sync/);
    } finally {
      await link.close();
    }
    deepStrictEqual(await allPaths(d.outside), ["victim"]);
    strictEqual(await Deno.readTextFile(join(d.outside, "victim")), "precious");
    deepStrictEqual(await allPaths(d.target), ["link"]);
  });
});

async function tamperKeepingSizeAndMtime(path: string, content: string): Promise<void> {
  const before = await Deno.lstat(path);
  await Deno.writeTextFile(path, content);
  await Deno.utime(path, before.atime!, before.mtime!);
  const after = await Deno.lstat(path);
  strictEqual(after.size, before.size);
  strictEqual(after.mtime!.getTime(), before.mtime!.getTime());
  strictEqual(after.ino, before.ino);
}

Deno.test("the agent's hash cache never serves stale content (ctime catches same size and mtime)", async () => {
  await withDirs(async (d) => {
    await write(d.local, "a.txt", "aaaa");
    await write(d.local, "b.txt", "bbbb");
    await sync(d);
    // Files must be older than the racy margin (2 s by default) before their hashes may be cached.
    await new Promise((r) => setTimeout(r, 2500));
    strictEqual((await sync(d)).hashed, 2);
    ok(await exists(join(d.target, ".batou-sync-cache.json")));
    const cached = await sync(d);
    strictEqual(cached.hashed, 0, "the cache vouches for both files");
    strictEqual(cached.sent, 0);

    await tamperKeepingSizeAndMtime(join(d.target, "a.txt"), "XXXX");
    const fixed = await sync(d);
    deepStrictEqual(fixed.putPaths, ["a.txt"]);
    strictEqual(fixed.hashed, 1);
    strictEqual(await Deno.readTextFile(join(d.target, "a.txt")), "aaaa");

    // A broken cache file is ignored.
    await Deno.writeTextFile(join(d.target, ".batou-sync-cache.json"), "{not json");
    await tamperKeepingSizeAndMtime(join(d.target, "b.txt"), "YYYY");
    deepStrictEqual((await sync(d)).putPaths, ["b.txt"]);
    await assertMirrored(d);
  });
});

Deno.test("a change right after a sync (same ctime second) is still found: recent files are never cached", async () => {
  await withDirs(async (d) => {
    await write(d.local, "a.txt", "aaaa");
    await sync(d);
    const second = await sync(d);
    strictEqual(second.hashed, 1);
    await tamperKeepingSizeAndMtime(join(d.target, "a.txt"), "XXXX");
    deepStrictEqual((await sync(d)).putPaths, ["a.txt"]);
    strictEqual(await Deno.readTextFile(join(d.target, "a.txt")), "aaaa");
  });
});

Deno.test("big files go in chunks and every message stays within 4 MiB", async () => {
  await withDirs(async (d) => {
    const big = random(9 * 1024 * 1024 + 123);
    await write(d.local, "big.bin", big);
    await write(d.local, "text.txt", "compressible line\n".repeat(100_000));
    const link = connect(d.target);
    try {
      const stats = await syncProject(link.controller, d.local);
      strictEqual(stats.sent, 2);
      ok(stats.bytesSent < big.length + 100_000, "text.txt went compressed");
      ok(link.putLines.length >= 3);
      for (const n of link.putLines) ok(n <= 4 * 1024 * 1024, `message of ${n} bytes`);
    } finally {
      await link.close();
    }
    await assertContent(join(d.target, "big.bin"), big);
    await assertMirrored(d);
  });
});

Deno.test("an interrupted sync leaves no partial file and a re-run converges", async () => {
  await withDirs(async (d) => {
    const opts = { maxMessageBytes: 64 * 1024 };
    const oldBig = random(400 * 1024);
    await write(d.local, "big.bin", oldBig);
    await write(d.local, "small.txt", "old");
    await sync(d, opts);

    const newBig = random(400 * 1024);
    await write(d.local, "big.bin", newBig);
    await write(d.local, "small.txt", "new");
    await write(d.local, "zz-new.txt", "added");
    const link = connect(d.target, 200 * 1024);
    try {
      await rejects(syncProject(link.controller, d.local, opts));
    } finally {
      await link.close();
    }
    // The cut came in the middle of big.bin: the target still has the complete old file.
    await assertContent(join(d.target, "big.bin"), oldBig);
    ok(!(await exists(join(d.target, "zz-new.txt"))));
    ok((await allPaths(d.target)).some((p) => p.startsWith(".batou-sync-tmp-")), "a chunk was in progress");

    const rerun = await sync(d, opts);
    deepStrictEqual(rerun.putPaths.filter((p, i, all) => all.indexOf(p) === i), ["big.bin", "small.txt", "zz-new.txt"]);
    await assertMirrored(d);
    deepStrictEqual((await allPaths(d.target)).filter((p) => !p.startsWith(".batou-sync-cache")), [
      "big.bin",
      "small.txt",
      "zz-new.txt",
    ]);
  });
});

Deno.test("gzip-compressed syncPut data (whole files and chunks) is written as sent", async () => {
  const { gzipSync } = await import("node:zlib");
  await withDirs(async (d) => {
    const link = connect(d.target);
    try {
      const text = "line of a config file\n".repeat(400);
      const bytes = new TextEncoder().encode(text);
      const packed = (b: Uint8Array) => new Uint8Array(gzipSync(b)).toBase64();
      const sha256 = sha256Bytes(bytes);
      await link.controller.call("syncPut", {
        entries: [{ op: "file", path: "whole", mode: 0o640, sha256, data: packed(bytes), gzip: true }],
      });
      const half = 4000;
      const chunk = (offset: number, part: Uint8Array, last: boolean) => ({
        op: "chunk",
        path: "chunked",
        mode: 0o644,
        sha256,
        offset,
        last,
        data: packed(part),
        gzip: true,
      });
      await link.controller.call("syncPut", {
        entries: [chunk(0, bytes.subarray(0, half), false), chunk(half, bytes.subarray(half), true)],
      });
      strictEqual(await Deno.readTextFile(join(d.target, "whole")), text);
      strictEqual((await Deno.stat(join(d.target, "whole"))).mode! & 0o777, 0o640);
      strictEqual(await Deno.readTextFile(join(d.target, "chunked")), text);
      // Damaged compressed data is refused and leaves nothing behind.
      await rejects(
        link.controller.call("syncPut", {
          entries: [{ op: "file", path: "bad", mode: 0o644, sha256, data: btoa("not gzip at all"), gzip: true }],
        }),
      );
      ok(!(await exists(join(d.target, "bad"))));
    } finally {
      await link.close();
    }
  });
});
