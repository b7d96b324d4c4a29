/**
 * Fault injection: targets that cannot be deployed to. Each must fail fast with a clear message naming the host and
 * the cause — no stack trace, no hang, no prompt:
 * - a target directory that cannot be created, and one that is not writable;
 * - a missing service user; sudo asking for a password;
 * - a host key that changed;
 * - a host that accepts TCP but never speaks SSH (timeout = 3 in the environment: one try, ConnectTimeout 3 s);
 * - a host name that does not resolve (the reserved `.invalid` TLD).
 * Wall-clock times are printed for the report, never asserted; the number of connection attempts is.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { runCommand } from "../support/tools.ts";
import { assertNoStackTrace, faultProject, withSshd } from "./harness.ts";

const PREFIX = "bferr";
const SVC = `${PREFIX}-svc`;
const PWSVC = `${PREFIX}-pwsvc`;

const HELLO = {
  "components/hello/component.ts": `import { Component, File } from "batou";
export class Hello extends Component {
  override configure() {
    this.add(new File("hello", { content: "hello\\n" }));
  }
}
`,
};

function errorLines(output: string): string[] {
  return output.split("\n").filter((l) => /^ERROR|^\s+(\S+:|Host:)|FAILED/.test(l));
}

Deno.test("a target directory that cannot be created or is not writable: clear error naming host and directory", async () => {
  await withSshd({ hosts: ["host1"], prefix: PREFIX }, async (fixture) => {
    const outer = await Deno.makeTempDir({ prefix: "batou-fault-rootdir-" });
    await Deno.chmod(outer, 0o755);
    const p = await faultProject(fixture, {
      files: HELLO,
      cfg: "[hosts]\nhost1 = hello\n",
      targetDirectory: join(outer, "sub/deployment"),
    });
    const q = await faultProject(fixture, { files: HELLO, cfg: "[hosts]\nhost1 = hello\n", targetDirectory: outer });
    try {
      const r = await p.deploy();
      console.log(`[faults] uncreatable target directory (${Math.round(r.ms)} ms): ${errorLines(r.output)}`);
      assertEquals(r.code, 1, r.output);
      assertNoStackTrace(r.output);
      assertStringIncludes(
        r.output,
        `ERROR: PermissionDenied: Cannot create the target directory ${join(outer, "sub/deployment")} as ` +
          `${PREFIX}-host1: Permission denied`,
      );
      assertMatch(r.output, /\n\s+Host: host1\n/);
      assertMatch(r.output, /DEPLOYMENT FAILED \(during connect\)/);

      // The directory exists but belongs to root.
      const s = await q.deploy();
      console.log(`[faults] unwritable target directory (${Math.round(s.ms)} ms): ${errorLines(s.output)}`);
      assertEquals(s.code, 1, s.output);
      assertNoStackTrace(s.output);
      assertStringIncludes(
        s.output,
        `ERROR: PermissionDenied: Cannot take the deployment lock in the target directory ${outer} as ` +
          `${PREFIX}-host1: Permission denied`,
      );
      assertMatch(s.output, /\n\s+Host: host1\n/);
      assertEquals((await Array.fromAsync(Deno.readDir(outer))).map((e) => e.name), [], "something was written");
    } finally {
      await p.cleanup();
      await q.cleanup();
      await Deno.remove(outer, { recursive: true });
    }
  });
});

Deno.test("a missing service user and sudo asking for a password: clear errors, no prompt", async () => {
  await withSshd({
    hosts: ["host2", "host3"],
    prefix: PREFIX,
    extraUsers: [SVC, PWSVC],
    // host3 may become PWSVC, but only with its password.
    sudoers: [`${PREFIX}-host3 ALL=(${PWSVC}) ALL`, `${PREFIX}-host2 ALL=(${SVC}) NOPASSWD: ALL`],
  }, async (fixture) => {
    const p = await faultProject(fixture, {
      files: HELLO,
      cfg: `[host:host2]\ncomponents = hello\nservice_user = ${PREFIX}-nosuchuser\n` +
        `[host:host3]\ncomponents = hello\nservice_user = ${PWSVC}\n`,
    });
    try {
      const r = await p.deploy();
      console.log(`[faults] service user errors (${Math.round(r.ms)} ms): ${errorLines(r.output)}`);
      assertEquals(r.code, 1, r.output);
      assertNoStackTrace(r.output);
      assertStringIncludes(r.output, `ERROR: host2: the service user \`${PREFIX}-nosuchuser\` does not exist`);
      assertStringIncludes(r.output, `ERROR: host3: sudo needs a password to run the agent as \`${PWSVC}\``);
      assertMatch(r.output, /DEPLOYMENT FAILED \(during connect\)/);
    } finally {
      await p.cleanup();
    }
  });
});

Deno.test("a changed host key, a silent server and an unresolvable name: clear errors naming the host, no retries", async () => {
  await withSshd({ hosts: ["host4"], prefix: PREFIX }, async (fixture) => {
    // The server "was reinstalled": known_hosts still has an old key for it.
    const oldKey = join(fixture.dir, "old_host_key");
    await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", oldKey]);
    const oldKnown = join(fixture.dir, "old_known_hosts");
    await Deno.writeTextFile(oldKnown, `changed ${(await Deno.readTextFile(`${oldKey}.pub`)).trim()}\n`);

    // Accepts TCP connections and never says anything.
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })().catch(() => {});
    const block = (name: string, lines: string[]) =>
      `\nHost ${name}\n  HostName 127.0.0.1\n  User ${PREFIX}-host4\n  BatchMode yes\n  HostKeyAlias ${name}\n` +
      `  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n` +
      `  IdentityFile ${fixture.clientKey}\n` + lines.map((l) => `  ${l}\n`).join("");
    const extraSsh = block("changed", [`Port ${fixture.port}`, `UserKnownHostsFile ${oldKnown}`]) +
      block("silent", [`Port ${(silent.addr as Deno.NetAddr).port}`, `UserKnownHostsFile ${fixture.knownHosts}`]);
    const p = await faultProject(fixture, {
      files: HELLO,
      cfg: "timeout = 3\n[hosts]\nchanged = hello\nsilent = hello\nnosuchhost.invalid = hello\n",
      extraSsh,
    });
    try {
      const r = await p.deploy();
      console.log(
        `[faults] changed key + silent server + DNS failure (${Math.round(r.ms)} ms): ${errorLines(r.output)}`,
      );
      assert(!r.killed, "the deployment hung");
      assertEquals(r.code, 1, r.output);
      assertNoStackTrace(r.output);
      assertStringIncludes(r.output, "ERROR: changed: could not connect via ssh: host key mismatch");
      assertStringIncludes(
        r.output,
        "ERROR: silent: could not connect via ssh: connection timed out (ConnectTimeout 3s",
      );
      assertStringIncludes(
        r.output,
        "ERROR: nosuchhost.invalid: could not connect via ssh: unknown host: the host name could not be resolved",
      );
      assertMatch(r.output, /DEPLOYMENT FAILED \(during connect\)/);
      // The configured timeout is the user's patience: a silent host is tried once, not three times.
      assertEquals(held.length, 1, `the silent server was tried ${held.length} times`);

      // Alone, the DNS failure is reported fast (its time is printed for the report).
      await p.setConfig("[hosts]\nnosuchhost.invalid = hello\n");
      const dns = await p.deploy();
      console.log(`[faults] DNS failure alone: ${Math.round(dns.ms)} ms (whole batou run)`);
      assertEquals(dns.code, 1, dns.output);
      assertStringIncludes(dns.output, "ERROR: nosuchhost.invalid: could not connect via ssh: unknown host");
    } finally {
      silent.close();
      for (const c of held) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
      await p.cleanup();
    }
  });
});
