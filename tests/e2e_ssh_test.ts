/**
 * End-to-end over real OpenSSH: `batou deploy` driven through the command line as a user would, against a private
 * sshd on 127.0.0.1 whose "hosts" are separate local Unix accounts (tests/support/sshd.ts). The project gets the
 * fixture's client config as its `ssh_config`. Needs root, sshd, ssh and sudo: a missing tool fails the tests.
 */
import { holdUntilReleased } from "./support/components.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { batou, changeLines, type CliResult, copyTree, fileIdentity, REPO, writeFiles } from "./support/cli.ts";
import { waitForFile } from "./support/fs.ts";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { pgrep, runCommand } from "./support/tools.ts";

const PREFIX = "batoue2e";
const SVC = `${PREFIX}-svc`;

/** Components used by the tests. */
const COMPONENTS: Record<string, string> = {
  "components/hello/component.ts": `import { attribute, Component, File } from "batou";
export class Hello extends Component {
  greeting = attribute(String, "Hello");
  override configure() {
    this.add(new File("hello", { content: "{{ component.greeting }} from {{ host.name }}\\n" }));
  }
}
`,
  "components/provider/component.ts": `import { Component, File, UpdateNeeded } from "batou";
export class Provider extends Component {
  override configure() {
    this.provide("token", "token-of-" + this.host.name);
  }
  override verify() {
    throw new UpdateNeeded();
  }
  override async update() {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    this.log("provider done");
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
  "components/hold/component.ts": `import { attribute, Component, UpdateNeeded } from "batou";
export class Hold extends Component {
  dir = attribute(String, "/tmp");
  override verify() {
    throw new UpdateNeeded();
  }
  override async update() {
${holdUntilReleased('this.dir + "/pid-" + this.host.name')}
  }
}
`,
};

interface Project {
  dir: string;
  target: string;
  fixture: SshdFixture;
  /** Home directory of a host's account. */
  home(host: string): string;
  /** `<home>/<target>` of a host (or of an account). */
  base(host: string): string;
  cleanup(): Promise<void>;
}

/** A project with the fixture's ssh_config and an environment `prod` made of `cfg` (its [environment] is added). */
async function project(fixture: SshdFixture, cfg: string, extraSsh = ""): Promise<Project> {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-ssh-" });
  const target = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  await writeFiles(dir, {
    ...COMPONENTS,
    "ssh_config": (await Deno.readTextFile(fixture.sshConfig)) + extraSsh,
    "environments/prod/environment.cfg": `[environment]\ntarget_directory = ~/${target}\n${cfg}`,
  });
  const homes = new Map(fixture.hosts.map((h) => [h.name, h.home]));
  const home = (host: string) => homes.get(host) ?? `/home/${host}`;
  return {
    dir,
    target,
    fixture,
    home,
    base: (host) => join(home(host), target),
    async cleanup() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      for (const h of [...homes.values(), `/home/${SVC}`]) {
        await Deno.remove(join(h, target), { recursive: true }).catch(() => {});
      }
    },
  };
}

async function withSshd(hosts: number, body: (fixture: SshdFixture) => Promise<void>): Promise<void> {
  await requireTools("ssh", "sshd", "sudo");
  const fixture = await startSshd({
    hosts: Array.from({ length: hosts }, (_, i) => `host${i + 1}`),
    userPrefix: PREFIX,
    extraUsers: [SVC],
    sudoers: [`${PREFIX}-host1 ALL=(${SVC}) NOPASSWD: ALL`],
  });
  try {
    await body(fixture);
  } finally {
    await fixture.stop();
  }
}

/** Per-host figures of the `📊 host: stats: ...` (kind "stats") or `📊 host: sync: ...` (kind "sync") lines. */
function stats(output: string, kind: "stats" | "sync"): Map<string, Record<string, number>> {
  const found = new Map<string, Record<string, number>>();
  for (const m of output.matchAll(/📊 (\S+): (stats|sync): (.*)/g)) {
    if (m[2] !== kind) continue;
    const entry: Record<string, number> = {};
    for (const kv of m[3].matchAll(/([\w-]+)=(\d+)/g)) entry[kv[1]] = Number(kv[2]);
    found.set(m[1], entry);
  }
  return found;
}

function deploy(p: Project, args: string[] = []): Promise<CliResult> {
  return batou(p.dir, ["deploy", ...args, "prod"], { BATOU_STATS: "1" });
}

/** Starts `batou deploy` in the background. */
function spawnDeploy(p: Project, args: string[] = []): { child: Deno.ChildProcess; result: Promise<CliResult> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO, "main.ts"), "deploy", ...args, "prod"],
    cwd: p.dir,
    env: { NO_COLOR: "1", INIT_CWD: p.dir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = child.output().then((out) => {
    const stdout = new TextDecoder().decode(out.stdout), stderr = new TextDecoder().decode(out.stderr);
    return { code: out.code, stdout, stderr, output: stdout + stderr };
  });
  return { child, result };
}

/** A directory every test account may write to. */
async function sharedDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-shared-" });
  await Deno.chmod(dir, 0o1777);
  return dir;
}

Deno.test("first deploy to four hosts ships the agent; a re-deploy sends no agent bytes, no files, no changes", async () => {
  await withSshd(4, async (fixture) => {
    // Start from targets that have never seen batou.
    for (const h of fixture.hosts) await Deno.remove(join(h.home, ".cache/batou"), { recursive: true }).catch(() => {});
    const p = await project(fixture, "[hosts]\nhost1 = hello\nhost2 = hello\nhost3 = hello\nhost4 = hello\n");
    try {
      const first = await deploy(p);
      assertEquals(first.code, 0, first.output);
      for (const h of fixture.hosts) {
        assertEquals(await Deno.readTextFile(join(p.base(h.name), "work/hello/hello")), `Hello from ${h.name}\n`);
        assertEquals((await Deno.stat(join(h.home, ".cache/batou/agents"))).mode! & 0o777, 0o700);
        // Nothing but the agent cache and the deployment lands in the target's home.
        const entries = [];
        for await (const e of Deno.readDir(h.home)) {
          if (!/^\.(bashrc|profile|bash_logout)$/.test(e.name)) entries.push(e.name);
        }
        assertEquals(entries.sort(), [".cache", p.target].sort());
      }
      const s1 = stats(first.output, "stats");
      for (const h of fixture.hosts) assert(s1.get(h.name)!["agent-upload"] > 0, first.output);
      for (const h of fixture.hosts) assertEquals(stats(first.output, "sync").get(h.name)!.sent, 6, first.output);
      assertEquals(changeLines(first.stdout).length, 8, first.output);
      // Every line of the deployment section names its host.
      const section = first.stdout.split("=== Deploying ===")[1].split("=== Summary ===")[0];
      for (const line of section.split("\n").slice(1, -1)) assertMatch(line, /^(\S+ )?host\d: /, line);

      const files = fixture.hosts.map((h) => join(p.base(h.name), "work/hello/hello"));
      const before = await Promise.all(files.map(fileIdentity));
      const again = await deploy(p);
      assertEquals(again.code, 0, again.output);
      assertEquals(changeLines(again.stdout), []);
      const s2 = stats(again.output, "stats"), sync2 = stats(again.output, "sync");
      for (const h of fixture.hosts) {
        assertEquals(s2.get(h.name)!["agent-upload"], 0, again.output);
        assertEquals(sync2.get(h.name)!.sent, 0, again.output);
        assertEquals(sync2.get(h.name)!.deleted, 0, again.output);
      }
      assertEquals(await Promise.all(files.map(fileIdentity)), before);
    } finally {
      await p.cleanup();
    }
  });
});

Deno.test("a deployment that fails to load leaves no ssh connection or agent behind (early starts are closed)", async () => {
  await requireTools("pgrep");
  await withSshd(2, async (fixture) => {
    const p = await project(fixture, "[hosts]\nhost1 = hello\nhost2 = hello\n");
    try {
      // A first deploy caches the agent, so the next run's early starts do start agents.
      const first = await deploy(p);
      assertEquals(first.code, 0, first.output);
      await Deno.writeTextFile(join(p.dir, "components/hello/component.ts"), "export class Hello extends {\n");
      const broken = await deploy(p);
      assertEquals(broken.code, 1, broken.output);
      assertMatch(broken.output, /DEPLOYMENT FAILED \(during load\)/);
      // The early agents were never taken: no traffic line for them.
      assertEquals(stats(broken.output, "stats").size, 0, broken.output);
      assertEquals(await pgrep(["-f", `ssh -F ${join(p.dir, "ssh_config")}`]), "", "ssh processes left behind");
      for (const h of fixture.hosts) {
        assertEquals(await pgrep(["-u", h.user, "-f", "agent"]), "", `an agent of ${h.name} is still running`);
      }
    } finally {
      await p.cleanup();
    }
  });
});

Deno.test("cross-host ordering: host2's root waits for the root on host1 that provides what it requires", async () => {
  await withSshd(2, async (fixture) => {
    const p = await project(fixture, "[hosts]\nhost1 = provider\nhost2 = consumer\n");
    try {
      const r = await deploy(p);
      assertEquals(r.code, 0, r.output);
      const lines = r.stdout.split("\n");
      const done = lines.findIndex((l) => l.includes("host1: provider done"));
      const scheduled = lines.findIndex((l) => l.includes("host2: Scheduling component consumer"));
      assert(done >= 0 && scheduled > done, r.output);
      assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/consumer/token")), "token-of-host1\n");
    } finally {
      await p.cleanup();
    }
  });
});

Deno.test("service_user: the agent runs as that user through sudo, with its own agent cache", async () => {
  await withSshd(3, async (fixture) => {
    const p = await project(
      fixture,
      `[host:host1]\ncomponents = hello\nservice_user = ${SVC}\n` +
        `[host:host3]\ncomponents = hello\nservice_user = ${PREFIX}-host3\n`,
    );
    try {
      const r = await deploy(p);
      assertEquals(r.code, 0, r.output);
      // The transcript says as whom the agent runs, where the host's connection is reported.
      assertMatch(r.output, new RegExp(`host1: Connecting via ssh \\(1/2\\), agent runs as service_user ${SVC}\n`));
      assertMatch(
        r.output,
        new RegExp(`host3: Connecting via ssh \\(2/2\\), agent runs as service_user ${PREFIX}-host3\n`),
      );
      const svcHome = (await runCommand("getent", ["passwd", SVC])).stdout.split(":")[5];
      const file = join(svcHome, p.target, "work/hello/hello");
      assertEquals(await Deno.readTextFile(file), "Hello from host1\n");
      const owner = (await Deno.stat(file)).uid;
      assertEquals(owner, Number((await runCommand("id", ["-u", SVC])).stdout.trim()));
      assert((await Deno.stat(join(svcHome, ".cache/batou/agents"))).isDirectory);
      // The login user of host1 got no deployment.
      await Deno.stat(p.base("host1")).then(() => assert(false, "deployed as the login user"), () => {});
      // host3's login user is its service user: no sudo needed (it has no sudo rule).
      assertEquals(await Deno.readTextFile(join(p.base("host3"), "work/hello/hello")), "Hello from host3\n");

      // host2 may not sudo; a service user that does not exist.
      const bad = await project(
        fixture,
        `[host:host1]\ncomponents = hello\nservice_user = ${PREFIX}-nosuchuser\n` +
          `[host:host2]\ncomponents = hello\nservice_user = ${SVC}\n`,
      );
      try {
        const f = await deploy(bad);
        assertEquals(f.code, 1, f.output);
        assertStringIncludes(f.output, `ERROR: host1: the service user \`${PREFIX}-nosuchuser\` does not exist`);
        assertStringIncludes(f.output, `ERROR: host2: sudo needs a password to run the agent as \`${SVC}\``);
        assertMatch(f.output, /DEPLOYMENT FAILED \(during connect\)/);
      } finally {
        await bad.cleanup();
      }
    } finally {
      await p.cleanup();
    }
  });
});

Deno.test("the deployment lock: a second deployment to the same target fails at once naming the holder", async () => {
  await withSshd(1, async (fixture) => {
    const shared = await sharedDir();
    const p = await project(fixture, `[hosts]\nhost1 = hold\n[component:hold]\ndir = ${shared}\n`);
    const copy = await Deno.makeTempDir({ prefix: "batou-e2e-ssh-copy-" });
    try {
      await copyTree(p.dir, copy);
      const first = spawnDeploy(p);
      await waitForFile(join(shared, "pid-host1"), first.result);
      const second = await batou(copy, ["deploy", "prod"]);
      assertEquals(second.code, 1, second.output);
      assertStringIncludes(second.output, `File already locked: ${join(p.base("host1"), ".batou-lock-host1")}`);
      assertStringIncludes(second.output, `held by another deployment: ${Deno.hostname()} (pid ${first.child.pid},`);
      await Deno.writeTextFile(join(shared, "release"), "");
      const r = await first.result;
      assertEquals(r.code, 0, r.output);
    } finally {
      await Deno.writeTextFile(join(shared, "release"), "").catch(() => {});
      await Deno.remove(copy, { recursive: true });
      await Deno.remove(shared, { recursive: true });
      await p.cleanup();
    }
  });
});

Deno.test("unreachable hosts fail with a clear message naming the host and the cause", async () => {
  await withSshd(1, async (fixture) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const otherKey = join(fixture.dir, "other_key");
    await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const otherPub = (await Deno.readTextFile(`${otherKey}.pub`)).trim();
    const wrongKnown = join(fixture.dir, "wrong_known_hosts");
    await Deno.writeTextFile(wrongKnown, `wrongkey ${otherPub}\n`);
    const emptyKnown = join(fixture.dir, "empty_known_hosts");
    await Deno.writeTextFile(emptyKnown, "");
    const block = (name: string, lines: string[]) =>
      `\nHost ${name}\n  HostName 127.0.0.1\n  User ${PREFIX}-host1\n  BatchMode yes\n  HostKeyAlias ${name}\n` +
      `  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  IdentitiesOnly yes\n` +
      lines.map((l) => `  ${l}\n`).join("");
    const extra = [
      block("deadhost", [`Port ${closedPort}`, `IdentityFile ${fixture.clientKey}`]),
      block("wrongkey", [
        `Port ${fixture.port}`,
        `IdentityFile ${fixture.clientKey}`,
        `UserKnownHostsFile ${wrongKnown}`,
      ]),
      block("unknownkey", [
        `Port ${fixture.port}`,
        `IdentityFile ${fixture.clientKey}`,
        `UserKnownHostsFile ${emptyKnown}`,
      ]),
      block("badauth", [
        `Port ${fixture.port}`,
        `IdentityFile ${otherKey}`,
        `UserKnownHostsFile ${fixture.knownHosts}`,
      ]),
    ].join("");
    // badauth reaches the fixture's host key under its own alias.
    await Deno.writeTextFile(
      fixture.knownHosts,
      (await Deno.readTextFile(fixture.knownHosts)) +
        (await Deno.readTextFile(fixture.knownHosts)).split("\n")[0].replace(/^\S+/, "badauth") + "\n",
    );
    const p = await project(
      fixture,
      "[hosts]\nhost1 = hello\ndeadhost = hello\nwrongkey = hello\nunknownkey = hello\nbadauth = hello\n",
      extra,
    );
    try {
      const r = await deploy(p);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "ERROR: deadhost: could not connect via ssh: connection refused");
      assertStringIncludes(r.output, "ERROR: wrongkey: could not connect via ssh: host key mismatch");
      assertStringIncludes(r.output, "ERROR: unknownkey: could not connect via ssh: unknown host key");
      assertStringIncludes(r.output, "ERROR: badauth: could not connect via ssh: authentication failed");
      assertMatch(r.output, /DEPLOYMENT FAILED \(during connect\)/);
      assert(!/at .*\.ts:\d+/.test(r.output), `stack trace in the output:\n${r.output}`);
    } finally {
      await p.cleanup();
    }
  });
});

Deno.test("a killed agent fails the deployment naming host and component; a re-run converges", async () => {
  await withSshd(2, async (fixture) => {
    const shared = await sharedDir();
    const p = await project(fixture, `[hosts]\nhost1 = hold\nhost2 = hello\n[component:hold]\ndir = ${shared}\n`);
    try {
      const run = spawnDeploy(p);
      const pid = Number(await waitForFile(join(shared, "pid-host1"), run.result));
      assert(pid > 0);
      Deno.kill(pid, "SIGKILL");
      const r = await run.result;
      assertEquals(r.code, 1, r.output);
      assertMatch(r.output, /ERROR: host1: lost connection to the agent while deploying hold/);
      assertMatch(r.output, /DEPLOYMENT FAILED \(during deploy\)/);
      await Deno.writeTextFile(join(shared, "release"), "");
      const again = await deploy(p);
      assertEquals(again.code, 0, again.output);
      assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/hello/hello")), "Hello from host2\n");
    } finally {
      await Deno.remove(shared, { recursive: true });
      await p.cleanup();
    }
  });
});

Deno.test("predict mode (-P) shows what would change and changes nothing on the targets", async () => {
  await withSshd(2, async (fixture) => {
    const p = await project(fixture, "[hosts]\nhost1 = hello\nhost2 = hello\n");
    try {
      const first = await deploy(p);
      assertEquals(first.code, 0, first.output);
      const cfg = join(p.dir, "environments/prod/environment.cfg");
      await Deno.writeTextFile(cfg, (await Deno.readTextFile(cfg)) + "[component:hello]\ngreeting = Howdy\n");
      const files = ["host1", "host2"].map((h) => join(p.base(h), "work/hello/hello"));
      const before = await Promise.all(files.map(fileIdentity));
      const r = await deploy(p, ["-P"]);
      assertEquals(r.code, 0, r.output);
      assertStringIncludes(r.stdout, "🚀 host1: Hello > File('work/hello/hello') > Content('hello')");
      assertStringIncludes(r.stdout, "host2:   hello +Howdy from host2");
      assertMatch(r.stdout, /DEPLOYMENT PREDICTION FINISHED/);
      assertEquals(await Promise.all(files.map(fileIdentity)), before);
      assertEquals(await Deno.readTextFile(files[0]), "Hello from host1\n");
    } finally {
      await p.cleanup();
    }
  });
});
