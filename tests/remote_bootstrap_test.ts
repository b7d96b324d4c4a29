/**
 * The agent bootstrap's shell scripts, run for real by /bin/sh on this machine through a local {@link RemoteShell}
 * (a temporary HOME and a chosen PATH stand in for a target), and the quoting that gets them through any login
 * shell (sh, bash, zsh, fish).
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { join } from "node:path";
import { requireTools } from "./support/tools.ts";
import { type AgentPayload, agentPayload, sha256File, unamePlatform } from "../remote/transport/payload.ts";
import { parseStatus } from "../remote/transport/start_scripts.ts";
import { type RemoteAgentConnection, startAgent } from "../remote/transport/bootstrap.ts";
import { classifySshFailure, shellCommand } from "../remote/transport/ssh.ts";
import { Host } from "../core/model/host.ts";
import { withRecordedOutput } from "./core_test_helpers.ts";
import { BASE_TOOLS, LocalShell, toolDir } from "./support/local_shell.ts";

async function withTarget(
  tools: string[],
  body: (shell: LocalShell, home: string, payload: AgentPayload) => Promise<void>,
): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "batou-bootstrap-home-" });
  const bin = await toolDir(tools);
  try {
    await body(new LocalShell({ HOME: home, PATH: bin }), home, await agentPayload());
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(bin, { recursive: true });
  }
}

async function start(shell: LocalShell, payload: AgentPayload): Promise<RemoteAgentConnection> {
  return await startAgent(shell, { host: new Host("target", "target"), payload });
}

/** The names in `path`, without the verification stamps (`.<name>.ok`). */
async function listDir(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(path)) if (!e.name.endsWith(".ok")) names.push(e.name);
  return names.sort();
}

/** Waits until the wall clock is in a later second than `path`'s ctime (a stamp is never written in that second). */
async function pastCtimeSecond(path: string): Promise<void> {
  const ctime = (await Deno.stat(path)).ctime!.getTime();
  const wait = Math.floor(ctime / 1000) * 1000 + 1000 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait + 20));
}

Deno.test("the agent is uploaded once (compressed), verified, and started from the cache afterwards", async () => {
  await withTarget([...BASE_TOOLS, "sha256sum", "gzip"], async (shell, home, payload) => {
    // Leftovers of older versions: unused for 40 days (removed by the upload) and recently used (kept).
    const cache = join(home, ".cache/batou/agents");
    await Deno.mkdir(cache, { recursive: true });
    const old = new Date(Date.now() - 40 * 86400_000);
    for (const name of ["deno-1.0.0-old", "batou-0.0.1-old.js", "batou-0.0.2-recent.js", "deno-0.9.0-inuse"]) {
      await Deno.writeTextFile(join(cache, name), "old");
      if (!name.includes("-recent")) await Deno.utime(join(cache, name), old, old);
    }
    // Old but started recently (its stamp is fresh): kept. An old stamp of a file that is still there but unused:
    // both go. A stamp without its file: goes.
    await Deno.writeTextFile(join(cache, ".deno-0.9.0-inuse.ok"), "x");
    await Deno.writeTextFile(join(cache, ".deno-1.0.0-old.ok"), "x");
    await Deno.utime(join(cache, ".deno-1.0.0-old.ok"), old, old);
    await Deno.writeTextFile(join(cache, ".batou-gone.js.ok"), "x");
    const { result: first, lines } = await withRecordedOutput(() => start(shell, payload));
    try {
      assert(first.uploadedBytes > 0);
      // One line per uploaded file (what a piped run shows; a terminal also gets bytes sent of total).
      for (const a of payload.artifacts) {
        assert(
          lines.some((l) =>
            new RegExp(`^📤 \\S+: uploading ${a.name.replace(/[.+]/g, "\\$&")} \\(\\d+\\.\\d MB\\)$`).test(l)
          ),
          lines.join("\n"),
        );
      }
      // gzip on the target: less than the raw size went over the wire.
      const raw = payload.artifacts.reduce((n, a) => n + a.size, 0);
      assert(first.uploadedBytes < raw, `${first.uploadedBytes} >= ${raw}`);
      assertEquals(first.hello.home, home);
      assertEquals(first.hello.protocol, 1);
    } finally {
      await first.close();
    }
    assertEquals((await Deno.stat(cache)).mode! & 0o777, 0o700);
    assertEquals(
      await listDir(cache),
      [...payload.artifacts.map((a) => a.name), "batou-0.0.2-recent.js", "deno-0.9.0-inuse"].sort(),
    );
    const stamps: string[] = [];
    const current = payload.artifacts.map((a) => `.${a.name}.ok`);
    for await (const e of Deno.readDir(cache)) {
      if (e.name.endsWith(".ok") && !current.includes(e.name)) stamps.push(e.name);
    }
    assertEquals(stamps, [".deno-0.9.0-inuse.ok"]);
    // DENO_DIR is inside the cache: nothing else in HOME.
    assertEquals(await listDir(home), [".cache"]);
    assertEquals(await listDir(join(home, ".cache/batou")), ["agents", "deno"]);

    const second = await start(shell, payload);
    try {
      assertEquals(second.uploadedBytes, 0);
      assertEquals(second.sentBytes(), second.peer.stats.bytesSent);
    } finally {
      await second.close();
    }
  });
});

Deno.test("a tampered cached file is never executed: the start notices the hash and replaces the file", async () => {
  await withTarget([...BASE_TOOLS, "openssl"], async (shell, home, payload) => {
    await (await start(shell, payload)).close();
    const bundle = payload.artifacts[payload.artifacts.length - 1];
    const path = join(home, ".cache/batou/agents", bundle.name);
    // A "bundle" that would leave a mark if it ever ran.
    const marker = join(home, "tampered-ran");
    await Deno.writeTextFile(path, `Deno.writeTextFileSync(${JSON.stringify(marker)}, "x");\n`);
    const conn = await start(shell, payload);
    try {
      assert(conn.uploadedBytes > 0);
      assertEquals(conn.hello.protocol, 1);
    } finally {
      await conn.close();
    }
    await Deno.stat(marker).then(() => assert(false, "the tampered file ran"), () => {});
    const bytes = await Deno.readFile(path);
    assertEquals(bytes.length, bundle.size);
  });
});

Deno.test("a verified cached file is not hashed again until it changes; any change is noticed", async () => {
  await withTarget([...BASE_TOOLS, "sha256sum"], async (shell, home, payload) => {
    const cache = join(home, ".cache/batou/agents");
    await (await start(shell, payload)).close();
    for (const a of payload.artifacts) await pastCtimeSecond(join(cache, a.name));
    // This start hashes the files (the upload's own second is over) and leaves a stamp for each.
    await (await start(shell, payload)).close();
    for (const a of payload.artifacts) {
      const stamp = (await Deno.readTextFile(join(cache, `.${a.name}.ok`))).trim();
      assertMatch(stamp, new RegExp(`^${a.sha256} \\d+ ${a.size} \\d+ \\d+$`));
    }
    // Without any hash tool the stamps alone let the agent start from the cache.
    const bin = shell.env.PATH;
    await Deno.remove(join(bin, "sha256sum"));
    const stamped = await start(shell, payload);
    await stamped.close();
    assertEquals(stamped.uploadedBytes, 0);

    // A start from the cache forks neither uname (Linux has /proc/sys/kernel/{ostype,arch}) nor touch: the agent
    // touches the stamps itself (unused agents expire 30 days after their stamps' mtime).
    for (const tool of ["uname", "touch"]) await Deno.remove(join(bin, tool)).catch(() => {});
    const old = new Date(Date.now() - 10 * 86400_000);
    for (const a of payload.artifacts) await Deno.utime(join(cache, `.${a.name}.ok`), old, old);
    const untouched = await start(shell, payload);
    await untouched.close();
    assertEquals(untouched.uploadedBytes, 0);
    for (const a of payload.artifacts) {
      const mtime = (await Deno.stat(join(cache, `.${a.name}.ok`))).mtime!.getTime();
      assert(Date.now() - mtime < 60_000, `.${a.name}.ok was not touched`);
    }
    await Deno.symlink("/usr/bin/uname", join(bin, "uname"));

    // Same size, same mtime, new content: only the ctime tells, and it is enough.
    const bundle = payload.artifacts[payload.artifacts.length - 1];
    const path = join(cache, bundle.name);
    const before = await Deno.stat(path);
    const marker = join(home, "tampered-ran");
    const evil = `Deno.writeTextFileSync(${JSON.stringify(marker)}, "x");`;
    await Deno.writeTextFile(path, evil + " ".repeat(bundle.size - evil.length));
    await Deno.utime(path, before.atime!, before.mtime!);
    assertEquals((await Deno.stat(path)).size, before.size);
    await Deno.symlink("/usr/bin/sha256sum", join(bin, "sha256sum"));
    const conn = await start(shell, payload);
    try {
      assert(conn.uploadedBytes > 0, "the changed file was not replaced");
    } finally {
      await conn.close();
    }
    await Deno.stat(marker).then(() => assert(false, "the tampered file ran"), () => {});
    assertEquals(await sha256File(path), bundle.sha256);
  });
});

Deno.test("a truncated or byte-flipped cached agent is hashed again and uploaded afresh despite its stamp", async () => {
  await withTarget([...BASE_TOOLS, "openssl"], async (shell, home, payload) => {
    const cache = join(home, ".cache/batou/agents");
    const deno = payload.artifacts[0];
    const path = join(cache, deno.name);
    const stampAgain = async () => {
      await pastCtimeSecond(path);
      const conn = await start(shell, payload);
      await conn.close();
      assertEquals(conn.uploadedBytes, 0);
      const stamp = (await Deno.readTextFile(join(cache, `.${deno.name}.ok`))).trim();
      assertMatch(stamp, new RegExp(`^${deno.sha256} \\d+ ${deno.size} \\d+ \\d+$`));
    };
    const startsAfresh = async (what: string) => {
      const conn = await start(shell, payload);
      try {
        assert(conn.uploadedBytes >= deno.size / 4, `${what}: the damaged file was not uploaded again`);
        assertEquals(conn.hello.protocol, 1);
      } finally {
        await conn.close();
      }
      assertEquals(await sha256File(path), deno.sha256, what);
    };
    await (await start(shell, payload)).close();
    await stampAgain();

    // A partial write (an interrupted copy, a full disk): the file is cut to half its size, its mtime kept.
    const before = await Deno.stat(path);
    await Deno.truncate(path, Math.floor(deno.size / 2));
    await Deno.utime(path, before.atime!, before.mtime!);
    await startsAfresh("truncated");
    await stampAgain();

    // One flipped byte in the middle, same size and mtime: the stamp's ctime no longer matches.
    const again = await Deno.stat(path);
    const file = await Deno.open(path, { read: true, write: true });
    try {
      const byte = new Uint8Array(1);
      await file.seek(Math.floor(deno.size / 2), Deno.SeekMode.Start);
      await file.read(byte);
      byte[0] ^= 0x01;
      await file.seek(Math.floor(deno.size / 2), Deno.SeekMode.Start);
      await file.write(byte);
    } finally {
      file.close();
    }
    await Deno.utime(path, again.atime!, again.mtime!);
    assertEquals((await Deno.stat(path)).size, deno.size);
    await startsAfresh("flipped byte");
  });
});

Deno.test("a hash tool that does not compute SHA-256 correctly is not used", async () => {
  await withTarget([...BASE_TOOLS, "sha256sum"], async (shell, _home, payload) => {
    // An "openssl" that answers every question with the same made-up hash comes first in the search order.
    const bin = shell.env.PATH;
    await Deno.writeTextFile(join(bin, "openssl"), `#!/bin/sh\necho "${"0".repeat(64)} *stdin"\n`, { mode: 0o755 });
    const first = await start(shell, payload);
    await first.close();
    const second = await start(shell, payload);
    await second.close();
    assert(first.uploadedBytes > 0);
    assertEquals(second.uploadedBytes, 0);
  });
});

Deno.test("without any SHA-256 tool the agent is shipped afresh for each run and removed afterwards", async () => {
  await withTarget([...BASE_TOOLS], async (shell, home, payload) => {
    const raw = payload.artifacts.reduce((n, a) => n + a.size, 0);
    for (let i = 0; i < 2; i++) {
      const before = shell.bytesSent;
      const conn = await start(shell, payload);
      try {
        assertEquals(conn.uploadedBytes, raw); // no gzip either: sent as it is
        const runDirs = (await listDir(join(home, ".cache/batou/agents"))).filter((n) => n.startsWith("run-"));
        assertEquals(runDirs.length, 1);
      } finally {
        await conn.close();
      }
      assertEquals(shell.bytesSent - before, raw);
      assertEquals(await listDir(join(home, ".cache/batou/agents")), []);
    }
  });
});

Deno.test("compiled mode ships one executable and starts it as `<binary> agent`", async () => {
  await withTarget([...BASE_TOOLS, "sha256sum"], async (shell, home, payload) => {
    // Stands in for a `deno compile` binary (which needs a download to build): runs this checkout's main.ts.
    const bin = join(home, "..", `batou-compiled-${crypto.randomUUID().slice(0, 8)}`);
    const main = new URL("../main.ts", import.meta.url).pathname;
    const denoDir = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME")!, ".cache/deno");
    await Deno.writeTextFile(
      bin,
      `#!/bin/sh\nDENO_DIR=${denoDir} exec ${Deno.execPath()} run -A --quiet ${main} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    try {
      const sha256 = await sha256File(bin);
      const size = (await Deno.stat(bin)).size;
      const compiled: AgentPayload = {
        mode: "compiled",
        artifacts: [{ name: `batou-0.0.0-${sha256.slice(0, 16)}`, path: bin, sha256, size }],
        platform: payload.platform,
      };
      const conn = await start(shell, compiled);
      try {
        assertEquals(conn.uploadedBytes, size);
        assertEquals(conn.hello.protocol, 1);
      } finally {
        await conn.close();
      }
      assertEquals(await listDir(join(home, ".cache/batou/agents")), [compiled.artifacts[0].name]);
    } finally {
      await Deno.remove(bin);
    }
  });
});

Deno.test("a target of another platform gets a clear error and no upload", async () => {
  await withTarget([...BASE_TOOLS, "sha256sum"], async (shell, _home, payload) => {
    const foreign = { ...payload, platform: "Plan9 mips" };
    let error: Error | null = null;
    await start(shell, foreign).catch((e) => error = e);
    assert(error);
    assertMatch(
      String((error as Error).message),
      new RegExp(`the target runs ${unamePlatform()}, but this batou runs on Plan9 mips`),
    );
    assertEquals(shell.bytesSent, 0);
  });
});

Deno.test("bootstrap status lines are parsed; the last keys take the rest of the line", () => {
  assertEquals(parseStatus("batou-bootstrap: status=missing gzip=yes missing= a b"), {
    status: "missing",
    fields: { status: "missing", gzip: "yes", missing: "a b" },
    missing: ["a", "b"],
  });
  assertEquals(parseStatus("batou-bootstrap: status=platform platform=Darwin arm64")?.fields.platform, "Darwin arm64");
  assertEquals(parseStatus('{"jsonrpc":"2.0"}'), null);
});

Deno.test("ssh failures are classified from ssh's own messages", () => {
  const cases: [string, string][] = [
    ["ssh: Could not resolve hostname nosuch.invalid: Name or service not known", "dns"],
    ["ssh: connect to host 127.0.0.1 port 1: Connection refused", "refused"],
    ["ssh: connect to host 10.0.0.1 port 22: Connection timed out", "timeout"],
    ["Connection timed out during banner exchange", "timeout"],
    ["ssh: connect to host 10.0.0.1 port 22: No route to host", "unreachable"],
    ["batoutest-host1@127.0.0.1: Permission denied (publickey).", "auth"],
    [
      "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n...\nHost key verification failed.",
      "hostkey-changed",
    ],
    [
      "No ED25519 host key is known for host1 and you have requested strict checking.\nHost key verification failed.",
      "hostkey-unknown",
    ],
    ["kex_exchange_identification: Connection closed by remote host", "closed"],
    ["kex_exchange_identification: read: Connection reset by peer", "closed"],
    ["something else entirely", "other"],
  ];
  for (const [stderr, kind] of cases) assertEquals(classifySshFailure(stderr), kind, stderr);
});

Deno.test("remote commands survive sh, bash, zsh and fish as login shell unchanged", async () => {
  await requireTools("sh", "bash", "zsh", "fish");
  const script = `# a comment with 'quotes', "double quotes", a \\backslash, $dollar and \`ticks\`
printf '%s\\n' "$@"
printf '[%s]\\n' "it's \\\\ ok"`;
  const args = [
    "plain",
    "with space",
    "it's",
    "back\\slash",
    "a\\'b",
    '"dq"',
    "$HOME",
    "`id`",
    "!bang",
    "*",
    "",
    "ünï",
    "two\nlines",
    "--",
    "-e",
  ];
  const expected = [...args, "[it's \\ ok]"].join("\n") + "\n";
  for (const shell of ["sh", "bash", "zsh", "fish"]) {
    const out = await new Deno.Command(shell, {
      args: ["-c", shellCommand(script, args)],
      stdout: "piped",
      stderr: "piped",
      env: { HOME: "/nonexistent-home" },
    }).output();
    const dec = new TextDecoder();
    assertEquals(out.code, 0, `${shell}: ${dec.decode(out.stderr)}`);
    assertEquals(dec.decode(out.stdout), expected, shell);
  }
});
