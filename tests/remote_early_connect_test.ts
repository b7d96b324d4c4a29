/**
 * Early ssh connections (remote/early_connect.ts): the hosts read from environment.cfg alone, and masters started
 * before the deployment connects, taken by it when they match and closed when nobody takes them.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { join } from "node:path";
import { requireTools, startSshd } from "./support/sshd.ts";
import {
  closeEarlyConnections,
  earlySshTargets,
  startEarlyConnections,
  takeEarlyConnection,
} from "../remote/early_connect.ts";

async function project(cfg: string, sshConfig?: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "batou-early-" });
  await Deno.mkdir(join(dir, "environments", "prod"), { recursive: true });
  await Deno.writeTextFile(join(dir, "environments", "prod", "environment.cfg"), cfg);
  if (sshConfig !== undefined) await Deno.writeTextFile(join(dir, "ssh_config_prod"), sshConfig);
  return dir;
}

/** The ssh processes still running with `configFile`. */
async function sshProcesses(configFile: string): Promise<number> {
  const out = await new Deno.Command("pgrep", { args: ["-f", `ssh -F ${configFile}`], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

Deno.test("early targets: the hosts environment.cfg connects by ssh, as the deployment would name them", async () => {
  const dir = await project(
    "[environment]\nhost_domain = example.com\ntimeout = 7\n\n[hosts]\nweb1 = a\n!web2 = a\n\n" +
      "[host:db1]\ncomponents = b\n\n[host:db2]\ncomponents = b\nignore = true\n",
    "",
  );
  try {
    const configFile = join(dir, "ssh_config_prod");
    assertEquals(earlySshTargets(dir, "prod", null), [
      { destination: "web1.example.com", label: "web1", configFile, timeout: 7 },
      { destination: "db1.example.com", label: "db1", configFile, timeout: 7 },
    ]);
    // The command line's --timeout wins, as in the environment.
    assertEquals(earlySshTargets(dir, "prod", 3)?.map((t) => t.timeout), [3, 3]);
    assertEquals(earlySshTargets(dir, "nope", null), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  for (const cfg of ["[environment]\nconnect_method = local\n[hosts]\nweb1 = a\n", "[environment]\ntimeout = x\n"]) {
    const other = await project(cfg);
    try {
      assertEquals(earlySshTargets(other, "prod", null), null, cfg);
    } finally {
      await Deno.remove(other, { recursive: true });
    }
  }
});

Deno.test("early connections are taken once by the same options and closed when nobody takes them", async () => {
  await requireTools("ssh", "sshd", "pgrep");
  const fixture = await startSshd({ hosts: ["host1"], userPrefix: "batouearly" });
  const dir = await project("[hosts]\nhost1 = a\n", await Deno.readTextFile(fixture.sshConfig));
  const configFile = join(dir, "ssh_config_prod");
  try {
    startEarlyConnections(dir, "prod", null);
    assertEquals(await sshProcesses(configFile), 1, "one master was started");
    // Other options (another timeout): not this connection.
    assertEquals(takeEarlyConnection({ destination: "host1", label: "host1", configFile, timeout: 5 }), null);
    const early = takeEarlyConnection({ destination: "host1", label: "host1", configFile, timeout: null });
    assert(early !== null, "the early connection was not offered");
    assertEquals(takeEarlyConnection({ destination: "host1", label: "host1", configFile, timeout: null }), null);
    const conn = await early;
    try {
      const who = await conn.run("id -un", []);
      assertEquals(who.stdout.trim(), fixture.hosts[0].user);
    } finally {
      await conn.close();
    }
    await closeEarlyConnections(); // nothing left to close

    // Started, never taken: closed at the end, no ssh process left behind.
    startEarlyConnections(dir, "prod", null);
    await closeEarlyConnections();
    assertEquals(await sshProcesses(configFile), 0, "an untaken early master was left running");
  } finally {
    await closeEarlyConnections();
    await fixture.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
