/**
 * A two-host project over the real sshd whose host1 is hostile (tests/security/hostile.ts): host1 provides a
 * resource that host2's root requires, one honest deployment is done (so host1's agent is cached), then host1's
 * agent is replaced by the rewriting proxy. Each test file passes its own `userPrefix`.
 */
import { assertEquals } from "../support/assert.ts";
import { join } from "../../core/runtime/path.ts";
import { writeFiles } from "../support/cli.ts";
import { requireTools, type SshdFixture, startSshd } from "../support/sshd.ts";
import { killUserProcesses, runBatou, type RunResult, uidOf } from "../faults/harness.ts";
import { installHostileAgent } from "./hostile.ts";

/** The default components: host1's Source provides `token`, host2's Sink requires it. */
export const SOURCE_SINK: Record<string, string> = {
  "components/source/component.ts": `import { Component, File } from "batou";
export class Source extends Component {
  override configure() {
    this.provide("token", "from-" + this.host.name);
    this.add(new File("source", { content: "source\\n" }));
  }
}
`,
  "components/sink/component.ts": `import { Component, File } from "batou";
export class Sink extends Component {
  token = "";
  override configure() {
    this.token = this.requireOne("token");
    this.add(new File("token", { content: "{{ component.token }}\\n" }));
  }
}
`,
};

/** The project of a hostile test. */
export interface HostileProject {
  dir: string;
  fixture: SshdFixture;
  /** The target directory below each host's home. */
  target: string;
  /** `batou deploy prod` with these extra arguments. */
  deploy(...args: string[]): Promise<RunResult>;
  /** Replaces the project's files (e.g. a component after the honest deployment). */
  write(files: Record<string, string>): Promise<void>;
}

/** Options of {@linkcode withHostileHost1}. */
export interface HostileOptions {
  userPrefix: string;
  /** Component files (default {@linkcode SOURCE_SINK}). */
  files?: Record<string, string>;
  /** The `[hosts]` lines (default host1 = source, host2 = sink). */
  hosts?: string;
}

/** Runs `body` with the project deployed once honestly and host1's agent hostile (rewriting nothing yet). */
export async function withHostileHost1(
  opts: HostileOptions,
  body: (p: HostileProject) => Promise<void>,
): Promise<void> {
  await requireTools("ssh", "sshd");
  const fixture = await startSshd({ hosts: ["host1", "host2"], userPrefix: opts.userPrefix });
  const dir = await Deno.makeTempDir({ prefix: "batou-sec-" });
  const target = `sec-${crypto.randomUUID().slice(0, 8)}`;
  const clean = async () => {
    for (const h of fixture.hosts) {
      killUserProcesses(await uidOf(h.user)); // an agent left stuck by a test must not run on
      await Deno.remove(join(h.home, ".cache/batou"), { recursive: true }).catch(() => {});
      await Deno.remove(join(h.home, target), { recursive: true }).catch(() => {});
    }
  };
  const p: HostileProject = {
    dir,
    fixture,
    target,
    deploy: (...args) => runBatou(dir, ["deploy", ...args, "prod"]),
    write: (files) => writeFiles(dir, files),
  };
  try {
    await writeFiles(dir, {
      ...(opts.files ?? SOURCE_SINK),
      "ssh_config": await Deno.readTextFile(fixture.sshConfig),
      "environments/prod/environment.cfg": `[environment]\ntarget_directory = ~/${target}\n\n[hosts]\n` +
        (opts.hosts ?? "host1 = source\nhost2 = sink\n"),
    });
    // An earlier run's hostile agent (with its forged stamp) would still be trusted: start from a clean target.
    await clean();
    const honest = await p.deploy();
    assertEquals(honest.code, 0, honest.output);
    await installHostileAgent(fixture, "host1", "return message;");
    await body(p);
  } finally {
    await clean().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await fixture.stop();
  }
}
