/**
 * Issue 17: the agent's files travel xz-compressed when the target has `xz` (remote/transport/codec.ts), else
 * gzip, else as they are; a broken compressed copy in the controller's cache is noticed on the target and the
 * file is sent again uncompressed. The scripts run for real with /bin/sh through a local shell (a temporary HOME
 * and a chosen PATH stand in for a target); the payload is the real agent bundle with a small start wrapper in
 * place of the 96 MB deno executable (so no test compresses deno itself).
 */
import { assert, assertEquals } from "./support/assert.ts";
import { join } from "node:path";
import { type AgentPayload, agentPayload, type Artifact, sha256File } from "../remote/transport/payload.ts";
import { startAgent } from "../remote/transport/bootstrap.ts";
import { chooseUpload, makeXzCopy, xzPath } from "../remote/transport/codec.ts";
import { Host } from "../core/model/host.ts";
import { withRecordedOutput } from "./core_test_helpers.ts";
import { BASE_TOOLS, LocalShell, toolDir } from "./support/local_shell.ts";

/** The real agent bundle, started by a small wrapper that stands in for the deno executable. */
async function smallPayload(dir: string): Promise<AgentPayload> {
  const real = await agentPayload();
  const bundle = real.artifacts.find((a) => a.name.endsWith(".js"))!;
  const wrapper = join(dir, "deno-wrapper");
  // Compressible padding, so that every codec has something to save.
  const padding = Array.from({ length: 2000 }, (_, i) => `# padding line ${i} of the test wrapper`).join("\n");
  await Deno.writeTextFile(wrapper, `#!/bin/sh\nexec ${Deno.execPath()} "$@"\n${padding}\n`);
  await Deno.chmod(wrapper, 0o755);
  const sha256 = await sha256File(wrapper);
  const size = (await Deno.stat(wrapper)).size;
  const deno: Artifact = { name: `deno-test-${sha256.slice(0, 16)}`, path: wrapper, sha256, size };
  return { mode: "source", artifacts: [deno, bundle], platform: real.platform };
}

/** A target with `tools`, a controller cache of its own and the codec setting `codec`; runs `body`. */
async function withTarget(
  tools: string[],
  codec: string,
  body: (shell: LocalShell, home: string, payload: AgentPayload) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-codec-" });
  const saved = { cache: Deno.env.get("BATOU_CACHE_DIR"), codec: Deno.env.get("BATOU_UPLOAD_CODEC") };
  try {
    const payload = await smallPayload(dir); // the bundle from the usual cache, before it is redirected
    Deno.env.set("BATOU_CACHE_DIR", join(dir, "controller-cache"));
    Deno.env.set("BATOU_UPLOAD_CODEC", codec);
    const home = join(dir, "home");
    await Deno.mkdir(home);
    const bin = await toolDir([...BASE_TOOLS, "sha256sum", ...tools], join(dir, "bin"));
    await body(new LocalShell({ HOME: home, PATH: bin }), home, payload);
  } finally {
    for (const [key, value] of [["BATOU_CACHE_DIR", saved.cache], ["BATOU_UPLOAD_CODEC", saved.codec]] as const) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts the agent on the target once (uploading what is missing) and returns the bytes uploaded. */
async function startOnce(shell: LocalShell, payload: AgentPayload): Promise<number> {
  const { result: conn } = await withRecordedOutput(() =>
    startAgent(shell, { host: new Host("target", "target"), payload })
  );
  try {
    assertEquals(conn.hello.protocol, 1);
    return conn.uploadedBytes;
  } finally {
    await conn.close();
  }
}

/** The target's cached files are byte for byte the payload's. */
async function assertCached(home: string, payload: AgentPayload): Promise<void> {
  for (const a of payload.artifacts) {
    const got = await Deno.readFile(join(home, ".cache/batou/agents", a.name));
    const want = await Deno.readFile(a.path);
    assert(got.length === want.length && got.every((b, i) => b === want[i]), `${a.name} differs`);
  }
}

async function size(path: string): Promise<number> {
  return (await Deno.stat(path)).size;
}

Deno.test("codec: a target with xz gets the xz copies, which arrive intact and start the agent", async () => {
  await withTarget(["gzip", "xz"], "xz", async (shell, home, payload) => {
    const sent = await startOnce(shell, payload);
    let xzBytes = 0;
    for (const a of payload.artifacts) xzBytes += await size(xzPath(a));
    assertEquals(sent, xzBytes);
    const raw = payload.artifacts.reduce((n, a) => n + a.size, 0);
    assert(xzBytes < raw, `${xzBytes} >= ${raw}`);
    await assertCached(home, payload);
  });
});

Deno.test("codec: a target without xz gets gzip, one without either the files as they are", async () => {
  await withTarget(["gzip"], "auto", async (shell, home, payload) => {
    for (const a of payload.artifacts) assert(await makeXzCopy(a)); // ready, but the target cannot decode it
    const sent = await startOnce(shell, payload);
    const choices = await Promise.all(payload.artifacts.map((a) => chooseUpload(a, { gzip: true, xz: false })));
    assertEquals(choices.map((c) => c.codec), ["gzip", "gzip"]);
    let gzBytes = 0;
    for (const c of choices) gzBytes += await size(c.path);
    assertEquals(sent, gzBytes);
    await assertCached(home, payload);
  });
  await withTarget([], "auto", async (shell, home, payload) => {
    assertEquals(await startOnce(shell, payload), payload.artifacts.reduce((n, a) => n + a.size, 0));
    await assertCached(home, payload);
  });
});

Deno.test("codec: auto sends gzip while the xz copy is made in the background, xz once it is there", async () => {
  await withTarget(["gzip", "xz"], "auto", async (shell, home, payload) => {
    const [deno] = payload.artifacts;
    const first = await chooseUpload(deno, { gzip: true, xz: true });
    assertEquals(first.codec, "gzip");
    // The detached xz process renames its result into place when it is complete.
    for (let i = 0; i < 600; i++) {
      if (await Deno.stat(xzPath(deno)).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assertEquals((await Deno.stat(xzPath(deno))).mode! & 0o777, 0o600); // private, as the rest of the cache
    const second = await chooseUpload(deno, { gzip: true, xz: true });
    assertEquals(second, { codec: "xz", path: xzPath(deno) });
    assertEquals((await chooseUpload(deno, { gzip: true, xz: true }, "gzip")).codec, "gzip");
    assertEquals((await chooseUpload(deno, { gzip: true, xz: true }, "none")).codec, "none");
    await startOnce(shell, payload);
    await assertCached(home, payload);
  });
});

Deno.test("codec: a broken xz copy in the controller's cache is detected on the target and sent raw", async () => {
  await withTarget(["gzip", "xz"], "xz", async (shell, home, payload) => {
    const [deno, bundle] = payload.artifacts;
    assert(await makeXzCopy(deno));
    assert(await makeXzCopy(bundle));
    // A valid xz stream of other bytes (hash mismatch), and a truncated one (xz fails, size differs).
    const other = new TextEncoder().encode("not the wrapper\n".repeat(100));
    const xz = new Deno.Command("xz", { args: ["-c"], stdin: "piped", stdout: "piped" }).spawn();
    const writer = xz.stdin.getWriter();
    await writer.write(other);
    await writer.close();
    await Deno.writeFile(xzPath(deno), (await xz.output()).stdout);
    const truncated = await Deno.readFile(xzPath(bundle));
    await Deno.writeFile(xzPath(bundle), truncated.slice(0, Math.floor(truncated.length / 2)));
    const sent = await startOnce(shell, payload);
    // The broken copies went over the wire, then the files as they are.
    assert(sent >= deno.size + bundle.size, `${sent}`);
    await assertCached(home, payload);
    for (const a of payload.artifacts) {
      assertEquals(await Deno.stat(xzPath(a)).then(() => "kept", () => "dropped"), "dropped");
    }
  });
});
