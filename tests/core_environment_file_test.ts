/** One reader of environment.cfg for the early connect and the Environment: read once, read again when it changes. */
import { assert, assertEquals } from "./support/assert.ts";
import { readEnvironmentConfig } from "../core/model/environment_file.ts";
import { ConfigParseError } from "../core/formats/configparser.ts";
import { Environment } from "../core/model/environment.ts";
import { earlyTargets } from "../remote/controller/early_connect.ts";

Deno.test("readEnvironmentConfig: one parse while the file is unchanged, a new one when it changes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/environments/e`, { recursive: true });
    const cfg = `${dir}/environments/e/environment.cfg`;
    await Deno.writeTextFile(cfg, "[environment]\nhost_domain = example.com\n\n[hosts]\nweb1 = app\n");
    const first = readEnvironmentConfig(dir, "e")!;
    assertEquals(first.path, "environments/e/environment.cfg");
    assert(readEnvironmentConfig(dir, "e")!.config === first.config, "the same document while unchanged");
    // what the early connect reads is what the environment reads
    assertEquals(earlyTargets(dir, "e", null)!.map((t) => t.ssh.destination), ["web1.example.com"]);
    assert(readEnvironmentConfig(dir, "e")!.config === first.config);

    await Deno.writeTextFile(cfg, "[environment]\nhost_domain = example.org\n\n[hosts]\nweb2 = app\n");
    const second = readEnvironmentConfig(dir, "e")!;
    assert(second.config !== first.config, "re-read after a change");
    assertEquals(second.config.entries("hosts").map((e) => e.key), ["web2"]);

    await Deno.writeTextFile(cfg, "[environment\n");
    let thrown: unknown = null;
    try {
      readEnvironmentConfig(dir, "e");
    } catch (e) {
      thrown = e;
    }
    assert(thrown instanceof ConfigParseError);
    assertEquals(readEnvironmentConfig(dir, "nosuch"), null);
    assertEquals(Environment.configPath(dir, "nosuch"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
