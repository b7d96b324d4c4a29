/**
 * `batou deploy ENV --hosts ...` end to end over real OpenSSH (tests/support/sshd.ts): only the selected hosts are
 * connected and deployed, resources from unselected hosts are still resolved, globs work with -P and -c, and an
 * unknown name is a clear error.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { batou, type CliResult, writeFiles } from "./support/cli.ts";
import { exists } from "./support/fs.ts";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { hostPatterns, matchHostPattern, selectHosts } from "../core/model/host_selection.ts";

const PREFIX = "bt20";

const FILES: Record<string, string> = {
  "components/provider/component.ts": `import { Component, File } from "batou";
export class Provider extends Component {
  override configure() {
    this.provide("token", "token-of-" + this.host.name);
    this.add(new File("provided", { content: "yes\\n" }));
  }
}
`,
  "components/consumer/component.ts": `import { Component, File } from "batou";
export class Consumer extends Component {
  token = "";
  override configure() {
    this.token = this.requireOne("token");
    this.add(new File("token", { content: "{{ component.token }}\\n" }));
  }
}
`,
  "components/hello/component.ts": `import { Component, File } from "batou";
export class Hello extends Component {
  override configure() {
    this.add(new File("hello", { content: "hello from {{ host.name }}\\n" }));
  }
}
`,
};

Deno.test("host patterns: names, globs and fully qualified names; unmatched patterns are reported", () => {
  assertEquals(hostPatterns(["web1, db*", "", "cache"]), ["web1", "db*", "cache"]);
  assert(matchHostPattern("web*", "web12"));
  assert(matchHostPattern("db[12]", "db2") && !matchHostPattern("db[12]", "db3"));
  assert(matchHostPattern("db[!12]", "db3") && !matchHostPattern("db[!12]", "db1"));
  assert(matchHostPattern("w?b1", "web1") && !matchHostPattern("web", "web1"));
  assert(!matchHostPattern("web.1", "webx1"), "a dot is literal");
  const hosts = [{ name: "web1", fqdn: "web1.example.com" }, { name: "db1", fqdn: "db1.example.com" }];
  const s = selectHosts(hosts, ["*.example.com", "nosuch"]);
  assertEquals([...s.selected].sort(), ["db1", "web1"]);
  assertEquals(s.unmatched, ["nosuch"]);
});

async function withProject(body: (dir: string, fixture: SshdFixture, target: string) => Promise<void>): Promise<void> {
  await requireTools("ssh", "sshd", "sudo");
  const fixture = await startSshd({ hosts: ["host1", "host2", "host3"], userPrefix: PREFIX });
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-hosts-" });
  const target = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await writeFiles(dir, {
      ...FILES,
      "ssh_config": await Deno.readTextFile(fixture.sshConfig),
      "environments/prod/environment.cfg":
        `[environment]\ntarget_directory = ~/${target}\n\n[hosts]\nhost1 = provider\nhost2 = consumer\nhost3 = hello\n`,
    });
    await body(dir, fixture, target);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    for (const h of fixture.hosts) await Deno.remove(join(h.home, target), { recursive: true }).catch(() => {});
    await fixture.stop();
  }
}

function deploy(dir: string, args: string[]): Promise<CliResult> {
  return batou(dir, ["deploy", ...args, "prod"]);
}

Deno.test("--hosts over ssh: only selected hosts are deployed; resources of the others still resolve", async () => {
  await withProject(async (dir, fixture, target) => {
    const base = (name: string) => join(fixture.hosts.find((h) => h.name === name)!.home, target);

    // Unknown names fail before anything is connected, naming the pattern and the known hosts.
    const unknown = await deploy(dir, ["--hosts", "host2,nosuch*"]);
    assertEquals(unknown.code, 1, unknown.output);
    assertStringIncludes(
      unknown.output,
      "--hosts: no host matches `nosuch*` in environment `prod` (hosts: host1, host2, host3)",
    );
    assert(!unknown.output.includes("Connecting via"), unknown.output);

    // -c with a glob: only host1 and host3 are connected.
    const check = await deploy(dir, ["-c", "--hosts", "host[13]"]);
    assertEquals(check.code, 0, check.output);
    assertStringIncludes(check.output, "host1: Connecting via ssh");
    assertStringIncludes(check.output, "host3: Connecting via ssh");
    assert(!check.output.includes("host2: Connecting"), check.output);

    // -P: predicted for the selected host only, nothing written.
    const predict = await deploy(dir, ["-P", "--hosts", "host2"]);
    assertEquals(predict.code, 0, predict.output);
    assert(!(await exists(join(base("host2"), "work/consumer/token"))), predict.output);

    // A real run of host2 alone: its consumer gets host1's token, host1 and host3 are not touched.
    const r = await deploy(dir, ["--hosts", "host2"]);
    assertEquals(r.code, 0, r.output);
    assertEquals(await Deno.readTextFile(join(base("host2"), "work/consumer/token")), "token-of-host1\n");
    assertStringIncludes(r.output, "host1: Skipping component provider ... (Host not selected)");
    assertStringIncludes(r.output, "host3: Skipping component hello ... (Host not selected)");
    assert(!(await exists(join(base("host1"), "work/provider/provided"))), r.output);
    assert(!(await exists(join(base("host3"), "work/hello/hello"))), r.output);

    // Repeating the option adds hosts.
    const two = await deploy(dir, ["--hosts", "host1", "--hosts", "host3"]);
    assertEquals(two.code, 0, two.output);
    assert(await exists(join(base("host1"), "work/provider/provided")), two.output);
    assertEquals(await Deno.readTextFile(join(base("host3"), "work/hello/hello")), "hello from host3\n");
  });
});
