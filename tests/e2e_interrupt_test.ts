/**
 * Stopping a real ssh deployment of three hosts (issue 16): SIGINT or SIGTERM once stops cleanly at the next
 * component boundary (message, exit code 130, report written, nothing left running), twice stops at once; in both
 * cases no ssh client, agent or control directory is left behind, and a re-run converges.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "../core/runtime/path.ts";
import { batou, writeFiles } from "./support/cli.ts";
import { type RunningDeploy, spawnBatou } from "./faults/harness.ts";
import { exists, waitForFile } from "./support/fs.ts";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { pgrep } from "./support/tools.ts";

const PREFIX = "btint";
const HOSTS = ["host1", "host2", "host3"];

/** Per host one root: a file, a component that waits for `<shared>/release`, then a second file. */
const COMPONENTS = {
  "components/app/component.ts": `import { attribute, Component, File, UpdateNeeded } from "batou";
class Hold extends Component {
  dir = attribute(String, "/tmp");
  override verify() {
    throw new UpdateNeeded();
  }
  override async update() {
    await Deno.writeTextFile(this.dir + "/pid-" + this.host.name, String(Deno.pid));
    for (let i = 0; i < 300; i++) {
      try {
        await Deno.stat(this.dir + "/release");
        return;
      } catch { /* not yet */ }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
export class App extends Component {
  dir = attribute(String, "/tmp");
  override configure() {
    this.add(new File("before", { content: "before\\n" }));
    this.add(new Hold({ dir: this.dir }));
    this.add(new File("after", { content: "after\\n" }));
  }
}
`,
};

interface Run {
  dir: string;
  /** The deployment's TMPDIR: where its ssh control directories go (other test runs use /tmp at the same time). */
  tmp: string;
  shared: string;
  target: string;
  base(host: string): string;
  cleanup(): Promise<void>;
}

async function project(fixture: SshdFixture): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-int-" });
  const shared = await Deno.makeTempDir({ prefix: "batou-e2e-int-shared-" });
  await Deno.chmod(shared, 0o1777);
  const target = `int-${crypto.randomUUID().slice(0, 8)}`;
  const tmp = await Deno.makeTempDir({ prefix: "bti-" });
  await writeFiles(dir, {
    ...COMPONENTS,
    "ssh_config": await Deno.readTextFile(fixture.sshConfig),
    "environments/prod/environment.cfg": `[environment]\ntarget_directory = ~/${target}\n\n[hosts]\n` +
      HOSTS.map((h) => `${h} = app\n`).join("") + `\n[component:app]\ndir = ${shared}\n`,
  });
  const homes = new Map(fixture.hosts.map((h) => [h.name, h.home]));
  return {
    dir,
    tmp,
    shared,
    target,
    base: (host) => join(homes.get(host)!, target),
    async cleanup() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(shared, { recursive: true }).catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      for (const h of homes.values()) await Deno.remove(join(h, target), { recursive: true }).catch(() => {});
    },
  };
}

function spawnDeploy(p: Run): RunningDeploy {
  return spawnBatou(p.dir, ["deploy", "--report", "report.json", "prod"], { TMPDIR: p.tmp });
}

/** The ssh control directories left in the deployment's TMPDIR. */
async function controlDirs(p: Run): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(p.tmp)) if (e.name.startsWith("batou-ssh-")) out.push(e.name);
  return out;
}

/** Waits until no process runs as any test host's account (sshd sessions and agents end with the deployment). */
async function targetsQuiet(fixture: SshdFixture): Promise<string> {
  let left = "";
  for (let i = 0; i < 100; i++) {
    left = (await Promise.all(fixture.hosts.map((h) => pgrep(["-u", h.user])))).join("");
    if (!left) return "";
    await new Promise((r) => setTimeout(r, 100));
  }
  return left;
}

async function withRun(body: (fixture: SshdFixture, p: Run) => Promise<void>): Promise<void> {
  await requireTools("ssh", "sshd", "pgrep");
  const fixture = await startSshd({ hosts: HOSTS, userPrefix: PREFIX });
  const p = await project(fixture);
  try {
    await body(fixture, p);
  } finally {
    await p.cleanup();
    await fixture.stop();
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`one ${signal}: the hosts finish their current component, stop, and the run says what it did`, async () => {
    await withRun(async (fixture, p) => {
      const run = spawnDeploy(p);
      for (const h of HOSTS) await waitForFile(join(p.shared, `pid-${h}`), run.result);
      assert((await controlDirs(p)).length > 0, "the control directories are where the test looks for them");
      run.child.kill(signal);
      // The component being deployed finishes (it waits for this file), the next one does not start.
      await new Promise((r) => setTimeout(r, 300));
      await Deno.writeTextFile(join(p.shared, "release"), "");
      const result = await run.result;
      assertEquals(result.code, 130, result.output);
      assertStringIncludes(result.output, "no new component starts");
      assertStringIncludes(result.output, `DEPLOYMENT INTERRUPTED (${signal}, during deploy)`);
      assertStringIncludes(result.output, "Stopped while deploying (3): host1: app, host2: app, host3: app");
      for (const h of HOSTS) {
        assertEquals(await Deno.readTextFile(join(p.base(h), "work/app/before")), "before\n");
        assert(!(await exists(join(p.base(h), "work/app/after"))), `${h}: the component after the stop ran`);
      }
      const report = JSON.parse(await Deno.readTextFile(join(p.dir, "report.json")));
      assertEquals(report.exitCode, 130);
      assertEquals(report.interrupted, signal);
      assertEquals(report.roots.map((r: { status: string }) => r.status), [
        "interrupted",
        "interrupted",
        "interrupted",
      ]);
      assertEquals(report.errors, []);
      // Nothing left behind: no ssh client of this project, no agent or session on the targets, no control dir.
      assertEquals(await pgrep(["-f", join(p.dir, "ssh_config")]), "");
      assertEquals(await targetsQuiet(fixture), "");
      assertEquals(await controlDirs(p), []);
      // A re-run converges.
      const again = await batou(p.dir, ["deploy", "prod"]);
      assertEquals(again.code, 0, again.output);
      for (const h of HOSTS) assertEquals(await Deno.readTextFile(join(p.base(h), "work/app/after")), "after\n");
    });
  });
}

Deno.test("a second signal stops at once: no ssh client or control directory left, agents end after their component", async () => {
  await withRun(async (fixture, p) => {
    const run = spawnDeploy(p);
    for (const h of HOSTS) await waitForFile(join(p.shared, `pid-${h}`), run.result);
    run.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill("SIGINT");
    const result = await run.result;
    assertEquals(result.code, 130, result.output);
    assertStringIncludes(result.output, "Stopping at once");
    const report = JSON.parse(await Deno.readTextFile(join(p.dir, "report.json")));
    assertEquals(report.interrupted, "SIGINT");
    assertEquals(await pgrep(["-f", join(p.dir, "ssh_config")]), "");
    assertEquals(await controlDirs(p), []);
    // The agents lost their controller: they stop after the component they were in (released here).
    await Deno.writeTextFile(join(p.shared, "release"), "");
    assertEquals(await targetsQuiet(fixture), "");
    for (const h of HOSTS) assert(!(await exists(join(p.base(h), "work/app/after"))), h);
    const again = await batou(p.dir, ["deploy", "prod"]);
    assertEquals(again.code, 0, again.output);
  });
});

Deno.test("a signal while connecting (the agent uploads): stops at once, nothing deployed, a re-run converges", async () => {
  await withRun(async (fixture, p) => {
    // No cached agent: every host gets the agent uploaded (42 MB of deno), which takes a while.
    for (const h of fixture.hosts) await Deno.remove(join(h.home, ".cache/batou"), { recursive: true }).catch(() => {});
    const run = spawnDeploy(p);
    let ended = false;
    run.result.then(() => ended = true);
    // The upload has begun (in the connect step) when its files appear in host1's agent cache.
    const agents = join(fixture.hosts[0].home, ".cache/batou/agents");
    const uploading = async () => {
      try {
        for await (const e of Deno.readDir(agents)) if (/^(run-|deno-)/.test(e.name)) return true;
      } catch { /* not yet */ }
      return false;
    };
    while (!ended && !(await uploading())) await new Promise((r) => setTimeout(r, 20));
    run.child.kill("SIGINT");
    const result = await run.result;
    assertEquals(result.code, 130, result.output);
    assertStringIncludes(result.output, "Interrupted: nothing has been deployed yet; stopping now");
    assertStringIncludes(result.output, "Stopped before the connect step completed: nothing was deployed.");
    assertStringIncludes(result.output, "DEPLOYMENT INTERRUPTED (SIGINT, during connect)");
    assert(!result.output.includes("no new component starts"), result.output);
    const report = JSON.parse(await Deno.readTextFile(join(p.dir, "report.json")));
    assertEquals(report.interrupted, "SIGINT");
    assertEquals(await pgrep(["-f", join(p.dir, "ssh_config")]), "");
    assertEquals(await targetsQuiet(fixture), "");
    assertEquals(await controlDirs(p), []);
    for (const h of HOSTS) assert(!(await exists(join(p.base(h), "work/app/before"))), h);
    // A half uploaded agent is not used: the re-run uploads again and converges.
    await Deno.writeTextFile(join(p.shared, "release"), "");
    const again = await batou(p.dir, ["deploy", "prod"]);
    assertEquals(again.code, 0, again.output);
    for (const h of HOSTS) assertEquals(await Deno.readTextFile(join(p.base(h), "work/app/after")), "after\n");
  });
});
