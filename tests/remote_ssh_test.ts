/**
 * The ssh transport against the real OpenSSH client and a private sshd, reached through a TCP relay on 127.0.0.1
 * that counts connections and can drop the first ones the way sshd does when `MaxStartups` is exceeded.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { join } from "node:path";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { RemoteConnectError, SshConnection } from "../remote/transport/ssh.ts";
import { agentPayload } from "../remote/transport/payload.ts";
import { startAgent } from "../remote/transport/bootstrap.ts";
import { Host } from "../core/model/host.ts";

/** Relays 127.0.0.1:<port> to the fixture's sshd; the first `drop` connections are closed right away. */
function relay(target: number, drop: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const open = new Set<Deno.Conn>();
  const done = (async () => {
    for await (const conn of listener) {
      accepted++;
      if (accepted <= drop) {
        conn.close();
        continue;
      }
      open.add(conn);
      (async () => {
        let upstream: Deno.Conn | undefined;
        try {
          upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
          open.add(upstream);
          await Promise.all([
            conn.readable.pipeTo(upstream.writable).catch(() => {}),
            upstream.readable.pipeTo(conn.writable).catch(() => {}),
          ]);
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await done;
    },
  };
}

async function withFixture(body: (fixture: SshdFixture, config: (port: number) => Promise<string>) => Promise<void>) {
  await requireTools("ssh", "sshd");
  const fixture = await startSshd({ hosts: ["host1"], userPrefix: "batoussh" });
  try {
    const base = await Deno.readTextFile(fixture.sshConfig);
    let n = 0;
    // The fixture's config with another port (the relay's).
    const config = async (port: number) => {
      const path = join(fixture.dir, `ssh_config_${n++}`);
      await Deno.writeTextFile(path, base.replace(/Port \d+/, `Port ${port}`));
      return path;
    };
    await body(fixture, config);
  } finally {
    await fixture.stop();
  }
}

Deno.test("connection setup is retried when the server drops the connection, then everything uses one master", async () => {
  await withFixture(async (fixture, config) => {
    const r = relay(fixture.port, 2);
    const waits: number[] = [];
    let conn: SshConnection | undefined;
    try {
      conn = await SshConnection.open({
        destination: "host1",
        configFile: await config(r.port),
        backoff: (attempt) => {
          waits.push(attempt);
          return 10;
        },
      });
      assertEquals(waits, [1, 2]);
      assertEquals(r.accepted, 3);
      // Sessions, with stdin, and a spawned one: all through the master, no new TCP connection.
      const who = await conn.run('id -un; echo "$0:$#:$1"', ["a b"]);
      assertEquals(who, { code: 0, stdout: `${fixture.hosts[0].user}\nsh:1:a b\n`, stderr: "" });
      const data = new TextEncoder().encode("x".repeat(100_000));
      const counted = await conn.run("wc -c", [], new Blob([data]).stream());
      assertEquals(counted.stdout.trim(), "100000");
      assertEquals(conn.bytesSent, 100_000);
      const child = conn.spawn('read line; echo "got $line"; exit 3', []);
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("hello\n"));
      await writer.close();
      const out = await child.output();
      assertEquals(new TextDecoder().decode(out.stdout), "got hello\n");
      assertEquals(out.code, 3);
      assertEquals(r.accepted, 3);
      const controlDir = conn.controlDir;
      assertEquals((await Deno.stat(controlDir)).mode! & 0o777, 0o700);
      await conn.close();
      await Deno.stat(controlDir).then(() => assert(false, "control dir left behind"), () => {});
    } finally {
      await conn?.close();
      await r.close();
    }
  });
});

Deno.test("connection setup gives up after three tries with a clear error naming the host", async () => {
  await withFixture(async (fixture, config) => {
    const r = relay(fixture.port, 100);
    try {
      let error: unknown;
      await SshConnection.open({
        destination: "host1",
        label: "web1",
        configFile: await config(r.port),
        backoff: () => 10,
      })
        .catch((e) => error = e);
      assert(error instanceof RemoteConnectError, String(error));
      assertEquals(r.accepted, 3);
      assertMatch(
        (error as RemoteConnectError).message,
        /^could not connect via ssh: the server closed the connection/,
      );
      assertEquals((error as RemoteConnectError).host, "web1");
    } finally {
      await r.close();
    }
  });
});

Deno.test("permanent failures are not retried", async () => {
  await withFixture(async (fixture, config) => {
    const r = relay(fixture.port, 0);
    try {
      const path = await config(r.port);
      // Another client key: authentication fails, once.
      const stranger = join(fixture.dir, "stranger");
      await new Deno.Command("ssh-keygen", { args: ["-q", "-t", "ed25519", "-N", "", "-f", stranger] }).output();
      await Deno.writeTextFile(path, (await Deno.readTextFile(path)).replaceAll(fixture.clientKey, stranger));
      let error: unknown;
      await SshConnection.open({ destination: "host1", configFile: path, backoff: () => 10 }).catch((e) => error = e);
      assert(error instanceof RemoteConnectError, String(error));
      assertEquals((error as RemoteConnectError).kind, "ssh-auth");
      assertEquals(r.accepted, 1);
    } finally {
      await r.close();
    }
  });
});

Deno.test("an agent start is one connection: retried when dropped, its upload sessions go through it", async () => {
  await withFixture(async (fixture, config) => {
    const r = relay(fixture.port, 2);
    const configFile = await config(r.port);
    const waits: number[] = [];
    try {
      await Deno.remove(join(fixture.hosts[0].home, ".cache"), { recursive: true }).catch(() => {});
      const payload = await agentPayload();
      const ssh = SshConnection.create({
        destination: "host1",
        configFile,
        backoff: (attempt) => {
          waits.push(attempt);
          return 10;
        },
      });
      const conn = await startAgent(ssh, { host: new Host("host1", "host1"), payload, onClose: () => ssh.close() });
      try {
        assertEquals(waits, [1, 2]);
        assert(conn.uploadedBytes > 0, "nothing was uploaded");
        assertEquals(conn.hello.user, fixture.hosts[0].user);
        // Two dropped, one connection for the start script, its uploads and the agent.
        assertEquals(r.accepted, 3);
      } finally {
        await conn.close();
      }
      await Deno.stat(ssh.controlDir).then(() => assert(false, "control dir left behind"), () => {});
      // Cached now: again one connection, nothing uploaded.
      const again = SshConnection.create({ destination: "host1", configFile });
      const second = await startAgent(again, {
        host: new Host("host1", "host1"),
        payload,
        onClose: () => again.close(),
      });
      assertEquals(second.uploadedBytes, 0);
      assertEquals(r.accepted, 4);
      await second.close();
    } finally {
      await r.close();
    }
  });
});

Deno.test("an agent start that cannot connect fails with ssh's cause, naming the host", async () => {
  await withFixture(async (fixture, config) => {
    const r = relay(fixture.port, 100);
    try {
      const ssh = SshConnection.create({
        destination: "host1",
        label: "web1",
        configFile: await config(r.port),
        backoff: () => 10,
      });
      let error: unknown;
      await startAgent(ssh, { host: new Host("web1", "host1"), payload: agentPayload(), onClose: () => ssh.close() })
        .catch((e) => error = e);
      assert(error instanceof RemoteConnectError, String(error));
      assertEquals((error as RemoteConnectError).kind, "ssh-closed");
      assertMatch(
        (error as RemoteConnectError).message,
        /^could not connect via ssh: the server closed the connection/,
      );
      assertEquals((error as RemoteConnectError).host, "web1");
      assertEquals(r.accepted, 3);
      await Deno.stat(ssh.controlDir).then(() => assert(false, "control dir left behind"), () => {});
    } finally {
      await r.close();
    }
  });
});
