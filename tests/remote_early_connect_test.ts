/**
 * Early starts (remote/controller/early_connect.ts): the hosts read from environment.cfg alone, and their ssh connections and
 * cached agents started before the deployment connects, taken by it when they match and closed when nobody takes
 * them.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { join } from "node:path";
import { requireTools, startSshd } from "./support/sshd.ts";
import { pgrep } from "./support/tools.ts";
import {
  closeEarlyConnections,
  earlyTargets,
  startEarlyConnections,
  takeEarlyStart,
} from "../remote/controller/early_connect.ts";
import type { RemoteAgentTarget } from "../remote/transport/remote_target.ts";
import { Host } from "../core/model/host.ts";

async function project(cfg: string, sshConfig?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "batou-early-" });
  await Deno.mkdir(join(dir, "environments", "prod"), { recursive: true });
  await Deno.writeTextFile(join(dir, "environments", "prod", "environment.cfg"), cfg);
  if (sshConfig !== undefined) await Deno.writeTextFile(join(dir, "ssh_config_prod"), sshConfig);
  return dir;
}

/** The ssh processes still running with `configFile`. */
async function sshProcesses(configFile: string): Promise<number> {
  return (await pgrep(["-f", `ssh -F ${configFile}`])).split("\n").filter((l) => l.trim()).length;
}

Deno.test("early targets: the hosts environment.cfg connects by ssh, as the deployment would name them", async () => {
  const dir = await project(
    "[environment]\nhost_domain = example.com\ntimeout = 7\nservice_user = app\n\n[hosts]\nweb1 = a\n!web2 = a\n\n" +
      "[host:db1]\ncomponents = b\nrequire_sudo = true\n\n[host:db2]\ncomponents = b\nignore = true\n",
    "",
  );
  try {
    const configFile = join(dir, "ssh_config_prod");
    const targets = earlyTargets(dir, "prod", null)!;
    assertEquals(targets.map((t) => t.ssh), [
      { destination: "web1.example.com", label: "web1", configFile, timeout: 7 },
      { destination: "db1.example.com", label: "db1", configFile, timeout: 7 },
    ]);
    assertEquals(targets.map((t) => [t.host.name, t.host.fqdn]), [["web1", "web1.example.com"], [
      "db1",
      "db1.example.com",
    ]]);
    assertEquals(targets.map((t) => [t.serviceUser, t.requireSudo, t.targetDirectory]), [
      ["app", null, "~/deployment"],
      ["app", true, "~/deployment"],
    ]);
    // The command line's --timeout wins, as in the environment.
    assertEquals(earlyTargets(dir, "prod", 3)?.map((t) => t.ssh.timeout), [3, 3]);
    assertEquals(earlyTargets(dir, "nope", null), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (
    const cfg of [
      "[environment]\nconnect_method = local\n[hosts]\nweb1 = a\n",
      "[environment]\ntimeout = x\n[hosts]\nweb1 = a\n",
      "[environment]\nrequire_sudo = maybe\n[hosts]\nweb1 = a\n",
    ]
  ) {
    const other = await project(cfg);
    try {
      assertEquals(earlyTargets(other, "prod", null), null, cfg);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  }
});

Deno.test("early starts: taken once for the same target, the agent only when cached, closed when not taken", async () => {
  await requireTools("ssh", "sshd", "pgrep");
  const fixture = await startSshd({ hosts: ["host1"], userPrefix: "batouearly" });
  const dir = await project("[hosts]\nhost1 = a\n", await Deno.readTextFile(fixture.sshConfig));
  const configFile = join(dir, "ssh_config_prod");
  const target: RemoteAgentTarget = {
    ssh: { destination: "host1", label: "host1", configFile, timeout: null },
    host: new Host("host1", "host1"),
    serviceUser: null,
    requireSudo: null,
    targetDirectory: "~/deployment",
  };
  try {
    // 1. A fresh target: the early start connects but uploads nothing; the deployment starts the agent over it.
    await Deno.remove(join(fixture.hosts[0].home, ".cache"), { recursive: true }).catch(() => {});
    startEarlyConnections(dir, "prod", null);
    assertEquals(await sshProcesses(configFile), 1, "one ssh process was started");
    // Another target (another timeout): not this one.
    assertEquals(takeEarlyStart({ ...target, ssh: { ...target.ssh, timeout: 5 } }), null);
    const first = takeEarlyStart(target);
    assert(first !== null, "the early start was not offered");
    assertEquals(takeEarlyStart(target), null);
    const { start, agent } = await first;
    assertEquals(agent, null);
    assertEquals(start.ssh.bytesSent, 0, "an early start uploaded");
    assertEquals(await sshProcesses(configFile), 1, "the waiting start script keeps its connection");
    // The deployment goes on over the same connection: uploads, then the waiting script starts the agent.
    const started = (await start.connect())!;
    assert(started.uploadedBytes > 0);
    assertEquals(started.uploadedBytes, start.ssh.bytesSent);
    await started.close();
    assertEquals(await sshProcesses(configFile), 0, "the connection outlived its agent");

    // 2. Now cached: the early start has the agent running, without any upload.
    startEarlyConnections(dir, "prod", null);
    const second = await takeEarlyStart(target)!;
    assert(second.agent !== null, "the cached agent was not started early");
    assertEquals(second.agent.uploadedBytes, 0);
    assertEquals(second.agent.hello.user, fixture.hosts[0].user);
    await second.agent.close();
    await closeEarlyConnections(); // nothing left to close

    // 3. Started, never taken: closed at the end, no ssh process left behind.
    startEarlyConnections(dir, "prod", null);
    await closeEarlyConnections();
    assertEquals(await sshProcesses(configFile), 0, "an untaken early start was left running");
  } finally {
    await closeEarlyConnections();
    await fixture.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
