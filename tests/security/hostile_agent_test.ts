/**
 * A compromised target (issue 15): host1's account is the attacker's, its cached agent replaced by a proxy that
 * rewrites what the controller receives (tests/security/hostile.ts), over the real sshd. host2 is honest; its root
 * requires a resource of host1's, which the controller brokers, and host1 is the first host.
 */
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { join } from "../../core/runtime/path.ts";
import { batou, writeFiles } from "../support/cli.ts";
import { requireTools, type SshdFixture, startSshd } from "../support/sshd.ts";
import { installHostileAgent, setRewrite } from "./hostile.ts";
import { SOURCE_SINK } from "./hostile_project.ts";

const PREFIX = "btsec";

interface Project {
  dir: string;
  base(host: string): string;
  deploy(): Promise<{ code: number; output: string; stdout: string }>;
  cleanup(): Promise<void>;
}

async function project(fixture: SshdFixture): Promise<Project> {
  const dir = await Deno.makeTempDir({ prefix: "batou-sec-" });
  const target = `sec-${crypto.randomUUID().slice(0, 8)}`;
  await writeFiles(dir, {
    ...SOURCE_SINK,
    "ssh_config": await Deno.readTextFile(fixture.sshConfig),
    "environments/prod/environment.cfg": `[environment]\ntarget_directory = ~/${target}\n\n[hosts]\n` +
      "host1 = source\nhost2 = sink\n",
  });
  const homes = new Map(fixture.hosts.map((h) => [h.name, h.home]));
  return {
    dir,
    base: (host) => join(homes.get(host)!, target),
    deploy: () => batou(dir, ["deploy", "prod"]),
    async cleanup() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      for (const h of homes.values()) await Deno.remove(join(h, target), { recursive: true }).catch(() => {});
    },
  };
}

/** host1 and host2 with one honest deployment done (so host1's agent is cached and can be replaced). */
async function withHostileHost1(body: (fixture: SshdFixture, p: Project) => Promise<void>): Promise<void> {
  await requireTools("ssh", "sshd");
  const fixture = await startSshd({ hosts: ["host1", "host2"], userPrefix: PREFIX });
  const p = await project(fixture);
  try {
    // An earlier run's hostile agent (with its forged stamp) would still be trusted: start from a clean target.
    for (const h of fixture.hosts) await Deno.remove(join(h.home, ".cache/batou"), { recursive: true }).catch(() => {});
    const honest = await p.deploy();
    assertEquals(honest.code, 0, honest.output);
    await installHostileAgent(fixture, "host1", "return message;");
    await body(fixture, p);
  } finally {
    await p.cleanup();
    await Deno.remove(join(fixture.hosts[0].home, ".cache/batou"), { recursive: true }).catch(() => {});
    await fixture.stop();
  }
}

Deno.test("schedule hijack: host1 cannot mark host2's root as ignored, the answer is rejected naming host1", async () => {
  await withHostileHost1(async (fixture, p) => {
    // The controller computes the schedule itself: an agent's rootDependencies answer is never asked for.
    await setRewrite(
      fixture.hosts[0],
      `if (calls.get(message.id) === "rootDependencies" && Array.isArray(message.result)) {
        for (const r of message.result) r.ignore = true;
        message.result.push({ host: "host2", root: "sink", ignore: true, hostIgnore: true, dependencies: [] });
      }
      return message;`,
    );
    const ignored = await p.deploy();
    assertEquals(ignored.code, 0, ignored.output);
    assert(!ignored.output.includes("Skipping component"), ignored.output);
    assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/sink/token")), "from-host1\n");
    // What it publishes about its roots' resources (the schedule's source) may name only its own roots.
    await setRewrite(
      fixture.hosts[0],
      `const method = calls.get(message.id);
      if ((method === "configure" || method === "reconfigure") && message.result?.resources) {
        message.result.resources.requires.push({
          host: "host2", root: "sink", key: "token", strict: true, onHost: null, reverse: true, dirty: false,
        });
      }
      return message;`,
    );
    const r = await p.deploy();
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(
      r.output,
      "host1: the agent's configure answer was rejected: it speaks for the root sink of host host2, which host1 " +
        "does not deploy",
    );
    assert(!r.output.includes("Scheduling component"), r.output);
    assert(!r.output.includes("DEPLOYMENT FINISHED"), r.output);
  });
});

Deno.test("terminal injection: control characters from a host are shown escaped, and a host cannot draw banners", async () => {
  await withHostileHost1(async (fixture, p) => {
    const attack = "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x1b[H\x1b[5A\rhost2: fake line\u202e" +
      "\n=========== DEPLOYMENT FINISHED ===========";
    await setRewrite(
      fixture.hosts[0],
      `if (calls.get(message.id) === "hello") {
        return [
          message,
          { jsonrpc: "2.0", method: "output", params: { text: ${JSON.stringify(attack)}, fmt: { red: "\\x1b[8m" } } },
          { jsonrpc: "2.0", method: "output", params: { cmd: "sep", char: "=", title: "DEPLOYMENT FINISHED" } },
        ];
      }
      return message;`,
    );
    const r = await p.deploy();
    assertEquals(r.code, 0, r.output);
    assert(
      // deno-lint-ignore no-control-regex -- the test looks for control characters
      !/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/.test(r.output),
      `control characters reached the terminal:\n${r.output}`,
    );
    assertStringIncludes(r.output, "host1: \\x1b]0;pwned\\x07\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\x1b[H\\x1b[5A\\rhost2:");
    const banners = r.output.split("\n").filter((l) => l.includes("DEPLOYMENT FINISHED"));
    // The controller's own banner, and the two fakes, each attributed to host1.
    assertEquals(banners.filter((l) => /^=+ DEPLOYMENT FINISHED =+$/.test(l)).length, 1, r.output);
    assertEquals(banners.filter((l) => l.startsWith("host1: ")).length, 2, r.output);
  });
});
