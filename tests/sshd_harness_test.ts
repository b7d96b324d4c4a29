/** Checks the private-sshd test harness against the real OpenSSH client. */
import assert from "node:assert/strict";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { runCommand } from "./support/tools.ts";

async function ssh(fixture: SshdFixture, args: string[]) {
  return await runCommand("ssh", ["-F", fixture.sshConfig, ...args], { check: false });
}

/** Whether process `pid` is gone or a zombie (the init process may reap orphans late), polling for a while. */
async function endsSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return true;
    } catch {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

Deno.test("requireTools names the missing tool and its package", async () => {
  await assert.rejects(
    requireTools("ssh", "batou-no-such-tool"),
    /missing prerequisite: batou-no-such-tool \(install it with apt-get install -y batou-no-such-tool, see \.ci\/run\)/,
  );
  await requireTools("ssh", "sshd");
});

Deno.test("private sshd serves one account per host with a pinned host key", async () => {
  const fixture = await startSshd({ hosts: ["host1", "host2"] });
  const masters: string[] = [];
  try {
    assert.deepEqual(fixture.hosts.map((h) => [h.name, h.user]), [
      ["host1", "batoutest-host1"],
      ["host2", "batoutest-host2"],
    ]);

    // Each host name reaches its own account, with StrictHostKeyChecking yes and BatchMode yes from the config.
    for (const host of fixture.hosts) {
      const result = await ssh(fixture, [host.name, "whoami; echo $HOME"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${host.user}\n${host.home}\n`);
    }

    // Multiplexing: start a master, then run sessions through it. The sessions name a closed port, so they can
    // only succeed by going through the control socket.
    const controlPath = `${fixture.dir}/cm-host1`;
    masters.push(controlPath);
    const master = await ssh(fixture, [
      "-o",
      "ControlMaster=yes",
      "-o",
      `ControlPath=${controlPath}`,
      "-o",
      "ControlPersist=60",
      "-f",
      "-N",
      "host1",
    ]);
    assert.equal(master.code, 0, master.stderr);
    const check = await ssh(fixture, ["-o", `ControlPath=${controlPath}`, "-O", "check", "host1"]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /Master running/);
    const viaMaster = ["-o", "ControlMaster=no", "-o", `ControlPath=${controlPath}`, "-o", "Port=1", "host1"];
    const sessions = await Promise.all(
      [0, 1, 2, 3, 4].map((i) => ssh(fixture, [...viaMaster, `echo session-${i}; whoami`])),
    );
    sessions.forEach((result, i) => {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `session-${i}\nbatoutest-host1\n`);
    });
    // Without the master the same closed port fails: the sessions above really were multiplexed.
    const direct = await ssh(fixture, ["-o", "ControlPath=none", "-o", "Port=1", "host1", "true"]);
    assert.notEqual(direct.code, 0);
    const exit = await ssh(fixture, ["-o", `ControlPath=${controlPath}`, "-O", "exit", "host1"]);
    assert.equal(exit.code, 0, exit.stderr);
    masters.pop();

    // A known_hosts with another key for the host is rejected.
    const otherKey = `${fixture.dir}/other_host_key`;
    await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const otherPub = (await Deno.readTextFile(`${otherKey}.pub`)).trim();
    const wrongKnownHosts = `${fixture.dir}/wrong_known_hosts`;
    await Deno.writeTextFile(wrongKnownHosts, `host1 ${otherPub}\n[127.0.0.1]:${fixture.port} ${otherPub}\n`);
    const mismatch = await ssh(fixture, ["-o", `UserKnownHostsFile=${wrongKnownHosts}`, "host1", "true"]);
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.stderr, /Host key verification failed/);

    // An empty known_hosts (unknown host) is rejected as well: no trust on first use.
    const emptyKnownHosts = `${fixture.dir}/empty_known_hosts`;
    await Deno.writeTextFile(emptyKnownHosts, "");
    const unknown = await ssh(fixture, ["-o", `UserKnownHostsFile=${emptyKnownHosts}`, "host2", "true"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /Host key verification failed/);
    assert.equal(await Deno.readTextFile(emptyKnownHosts), "");

    // A key that is not the fixture's client key is refused.
    const strangerKey = `${fixture.dir}/stranger_key`;
    await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", strangerKey]);
    // IdentityFile adds up across config sources, so the stranger gets a config of its own.
    const strangerConfig = `${fixture.dir}/stranger_ssh_config`;
    const config = await Deno.readTextFile(fixture.sshConfig);
    assert.ok(config.includes(fixture.clientKey));
    await Deno.writeTextFile(strangerConfig, config.replaceAll(fixture.clientKey, strangerKey));
    const stranger = await runCommand("ssh", ["-F", strangerConfig, "host1", "true"], { check: false });
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /Permission denied/);
  } finally {
    for (const controlPath of masters) {
      await ssh(fixture, ["-o", `ControlPath=${controlPath}`, "-O", "exit", "host1"]);
    }
    await fixture.stop();
  }

  // stop() ends sshd and removes the fixture directory.
  await assert.rejects(Deno.stat(fixture.dir), Deno.errors.NotFound);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: fixture.port }));
  assert.ok(await endsSoon(fixture.pid), "sshd still runs after stop()");
});

Deno.test("sudoers lines let one test account run commands as another", async () => {
  const fixture = await startSshd({
    hosts: ["host1"],
    extraUsers: ["batoutest-svc"],
    sudoers: ["batoutest-host1 ALL=(batoutest-svc) NOPASSWD: ALL"],
  });
  try {
    const result = await ssh(fixture, ["host1", "sudo -n -u batoutest-svc whoami"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "batoutest-svc\n");
    const denied = await ssh(fixture, ["host1", "sudo -n -u root whoami"]);
    assert.notEqual(denied.code, 0);
  } finally {
    await fixture.stop();
  }
  await assert.rejects(startSshd({ hosts: ["host1"], sudoers: ["this is not sudoers syntax ((("] }), /invalid sudoers/);
});

Deno.test("stop() ends the commands of sessions that are still open", async () => {
  const fixture = await startSshd({ hosts: ["host1"] });
  let client: Deno.ChildProcess | undefined;
  let remotePid = 0;
  try {
    client = new Deno.Command("ssh", {
      args: ["-F", fixture.sshConfig, "host1", "echo $$; exec sleep 300"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    remotePid = Number(text.trim());
    assert.ok(remotePid > 0, `no pid from the remote command: ${JSON.stringify(text)}`);
    // `echo` runs before `exec sleep` replaces the shell: wait (bounded) until it has.
    let status = "";
    for (let i = 0; i < 100; i++) {
      status = Deno.readTextFileSync(`/proc/${remotePid}/status`);
      if (/^Name:\s+sleep$/m.test(status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(status, /^Name:\s+sleep$/m);
    await fixture.stop();
    // The remote command is gone, and the client sees its connection close.
    assert.ok(await endsSoon(remotePid), `remote command ${remotePid} still runs after stop()`);
    await client.status;
    await reader.cancel();
    client = undefined;
  } finally {
    if (client !== undefined) {
      client.kill("SIGKILL");
      await client.status;
      await client.stdout.cancel().catch(() => {});
    }
    await fixture.stop();
  }
});
