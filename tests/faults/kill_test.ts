/**
 * Fault injection: the ssh connection, or separately the agent, is killed (SIGKILL) in the middle of a deployment
 * over real OpenSSH — during the project sync, during configure, during a large file write and during a command.
 *
 * The points are made deterministic by components that are slow where it matters (a 12 MB project file for the
 * sync, a configure that sleeps, a 48 MB File, a Command that sleeps); a seeded random (seed printed, replay with
 * `BATOU_FAULT_SEED`) picks how long after the slow part began the kill lands and how the connection dies (sshd's
 * session process on the target side, or the controller's ssh master).
 *
 * For every fault: the deployment fails with a clear message naming the host (no stack trace); the agent is gone
 * by itself (a lost connection ends it); its lock is free again (flock dies with the agent), so a re-run
 * converges at once; a separate process polling the managed files and the synced copy during both runs saw only
 * complete old or new contents; no temporary files are left after the re-run.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  agentPids,
  alive,
  assertNoStackTrace,
  changeLines,
  type FaultProject,
  faultProject,
  killAll,
  killUserProcesses,
  Poller,
  processes,
  readIfThere,
  seeded,
  type SeededRandom,
  sharedDir,
  sleep,
  sshdSessionPids,
  tempLeftovers,
  uidOf,
  unexpectedContents,
  waitFor,
  watchForName,
  withSshd,
} from "./harness.ts";

const PREFIX = "bfkill";
const BLOB = "components/faulty/blob.bin";
const BLOB_SIZE = 12 * 1024 * 1024;
const BIG_SIZE = 48 * 1024 * 1024;

const COMPONENT = `import { attribute, Command, Component, File } from "batou";
export class Faulty extends Component {
  generation = attribute(String, "A");
  marks = attribute(String, "/tmp");
  confdelay = attribute(Number, 0);
  cmddelay = attribute(Number, 0);
  override async configure() {
    if (this.confdelay) {
      await Deno.writeTextFile(this.marks + "/configure-" + this.generation, String(Deno.pid));
      await new Promise((resolve) => setTimeout(resolve, this.confdelay));
    }
    this.add(new File("small", { content: "small {{ component.generation }}\\n" }));
    this.add(new File("big", { content: bigContent(this.generation), isTemplate: false, encoding: null }));
    this.add(
      new Command(
        "echo $$ > " + this.marks + "/command-" + this.generation + "; sleep " + this.cmddelay +
          "; echo done > cmd-done-" + this.generation,
        { creates: "cmd-done-" + this.generation },
      ),
    );
    this.add(new File("after", { content: "after {{ component.generation }}\\n" }));
  }
}

function bigContent(generation: string): string {
  const line = ("generation " + generation + " ").padEnd(63, generation) + "\\n";
  return line.repeat(${BIG_SIZE / 64});
}
`;

/** The content the component writes to `big` for a generation (same as in the component). */
function bigContent(generation: string): string {
  const line = `generation ${generation} `.padEnd(63, generation) + "\n";
  return line.repeat(BIG_SIZE / 64);
}

/** A project file whose bytes depend on the generation (incompressible, so the sync takes several messages). */
function blobContent(generation: string): Uint8Array {
  const out = new Uint8Array(BLOB_SIZE);
  let x = generation.charCodeAt(0) * 2654435761 >>> 0;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 255;
    out[i + 1] = (x >>> 8) & 255;
    out[i + 2] = (x >>> 16) & 255;
    out[i + 3] = (x >>> 24) & 255;
  }
  return out;
}

type Phase = "sync" | "configure" | "file write" | "command";
type Victim = "agent" | "ssh";

interface State {
  p: FaultProject;
  marks: string;
  user: string;
  uid: number;
  gen: string;
  rng: SeededRandom;
}

function cfg(s: State, gen: string, extra = ""): string {
  return `[hosts]\nhost1 = faulty\n[component:faulty]\ngeneration = ${gen}\nmarks = ${s.marks}\n${extra}`;
}

/** Waits until the deployment is inside `phase`; returns a description of the moment. */
async function reachPhase(s: State, phase: Phase, gen: string, running: Promise<unknown>): Promise<string> {
  const base = s.p.base("host1");
  const opts = { running, intervalMs: 2 };
  switch (phase) {
    case "sync":
      // The blob is sent in chunks into a temp file beside it.
      await watchForName(join(base, "components/faulty"), ".batou-sync-tmp-", opts);
      return "blob upload in progress";
    case "configure":
      await waitFor("configure to start", () => readIfThere(join(s.marks, `configure-${gen}`)), opts);
      return "configure sleeping";
    case "file write":
      await watchForName(join(base, "work/faulty"), ".big.batou-tmp-", opts);
      return "big being written";
    case "command":
      await waitFor("the command to start", () => readIfThere(join(s.marks, `command-${gen}`)), opts);
      return "command sleeping";
  }
}

/** Kills the agent, or the ssh connection (server or client side, picked by the seed); returns what was done. */
function kill(s: State, victim: Victim): string {
  if (victim === "agent") {
    const pids = agentPids(s.uid);
    assert(pids.length > 0, "no agent process found to kill");
    killAll(pids);
    return `agent pid ${pids.join(",")}`;
  }
  if (s.rng.next() < 0.5) {
    const pids = sshdSessionPids(s.user);
    assert(pids.length > 0, "no sshd session process found to kill");
    killAll(pids);
    return `sshd session pid ${pids.join(",")} (target side)`;
  }
  // The controller's ssh master of this project (its -F names the project's ssh_config).
  const config = join(s.p.dir, "ssh_config");
  const masters = processes().filter((p) =>
    p.cmdline[0]?.endsWith("ssh") && p.cmdline.includes(config) && p.cmdline.includes("ControlMaster=yes")
  ).map((p) => p.pid);
  assert(masters.length > 0, "no ssh master process found to kill");
  killAll(masters);
  return `ssh master pid ${masters.join(",")} (controller side)`;
}

async function faultRound(s: State, phase: Phase, victim: Victim): Promise<void> {
  const oldGen = s.gen;
  const newGen = String.fromCharCode(oldGen.charCodeAt(0) + 1);
  const base = s.p.base("host1");
  const work = join(base, "work/faulty");
  const delays: Record<Phase, [number, number]> = {
    sync: [0, 30],
    configure: [0, 1500],
    "file write": [0, 15],
    command: [0, 1500],
  };
  // "file write" also sleeps in the command after big: the deployment must still be running when the kill comes.
  const extra = phase === "configure"
    ? "confdelay = 2000\n"
    : phase === "command" || phase === "file write"
    ? "cmddelay = 2\n"
    : "";
  await Deno.writeFile(join(s.p.dir, BLOB), blobContent(newGen));
  await s.p.setConfig(cfg(s, newGen, extra));
  const watched = {
    [join(base, BLOB)]: [blobContent(oldGen), blobContent(newGen)],
    [join(work, "small")]: [`small ${oldGen}\n`, `small ${newGen}\n`],
    [join(work, "big")]: [bigContent(oldGen), bigContent(newGen)],
    [join(work, "after")]: [`after ${oldGen}\n`, `after ${newGen}\n`],
  };
  const poller = new Poller(Object.keys(watched));
  let stopped = false;
  try {
    const run = s.p.spawnDeploy();
    const moment = await reachPhase(s, phase, newGen, run.result);
    const wait = s.rng.int(...delays[phase]);
    await sleep(wait);
    const how = kill(s, victim);
    console.log(`[faults] ${phase}: killed ${how} ${wait} ms after: ${moment}`);
    const r = await run.result;
    assert(!r.killed, `the deployment hung after the kill:\n${r.output}`);
    assertEquals(r.code, 1, r.output);
    const during: Record<Phase, RegExp> = {
      sync: /ERROR: host1: lost connection to the agent while syncing the project/,
      configure: /ERROR: host1: lost connection to the agent while configuring/,
      "file write": /ERROR: host1: lost connection to the agent while deploying faulty/,
      command: /ERROR: host1: lost connection to the agent while deploying faulty/,
    };
    assertMatch(r.output, during[phase]);
    assertMatch(r.output, /DEPLOYMENT FAILED \(during (connect|deploy)\)/);
    assertNoStackTrace(r.output);
    console.log(`[faults]   -> ${r.output.split("\n").filter((l) => l.startsWith("ERROR")).join(" | ")}`);

    // A lost connection ends the agent by itself; its flock goes with it.
    const agents = await waitFor("the old agent to exit", () => {
      const left = agentPids(s.uid).filter(alive);
      return left.length === 0 ? true : undefined;
    }, { deadlineMs: 20_000, intervalMs: 50 }).catch(() => agentPids(s.uid));
    assertEquals(agents, true, `agent still running after its connection died: ${agents}`);

    // The lock file still names the dead holder; its flock is free, so the re-run takes it over at once.
    const stale = JSON.parse(await Deno.readTextFile(join(base, ".batou-lock-host1")));
    assert(!alive(stale.agentPid), `the lock's holder ${stale.agentPid} is still alive`);
    const again = await s.p.deploy();
    assertEquals(again.code, 0, `re-run after killing ${how} during ${phase}:\n${again.output}`);
    const seen = await poller.stop();
    stopped = true;
    const problems = unexpectedContents(
      seen.seen,
      Object.fromEntries(Object.entries(watched).map(([f, contents]) => [f, { contents, missingOk: false }])),
    );
    assertEquals(problems, [], `${seen.rounds} poll rounds`);
    assert(seen.rounds >= 3, `the poller made only ${seen.rounds} rounds`);
    assertEquals(await Deno.readTextFile(join(work, "small")), `small ${newGen}\n`);
    assertEquals(await Deno.readTextFile(join(work, "after")), `after ${newGen}\n`);
    assert((await Deno.readTextFile(join(work, "big"))) === bigContent(newGen), "big has not the new content");
    assertEquals(await Deno.readFile(join(base, BLOB)), blobContent(newGen));
    assertEquals(await Deno.readTextFile(join(work, `cmd-done-${newGen}`)), "done\n");
    assertEquals(await tempLeftovers(base), [], "temporary files left after the re-run");
    const holder = JSON.parse(await Deno.readTextFile(join(base, ".batou-lock-host1")));
    assertEquals(holder.environment, "prod");
    assert(holder.agentPid !== stale.agentPid, "the re-run did not record itself as the lock's holder");
    s.gen = newGen;
  } finally {
    if (!stopped) await poller.stop().catch(() => {});
    // Commands orphaned by a killed agent (the sleeping one) must not outlive the test.
    killUserProcesses(s.uid);
  }
}

Deno.test("killing the agent or the ssh connection at any point of a deployment: clear error, files whole, re-run converges", async () => {
  const rng = seeded("kill");
  await withSshd({ hosts: ["host1"], prefix: PREFIX }, async (fixture) => {
    const marks = await sharedDir();
    const user = fixture.hosts[0].user;
    const p = await faultProject(fixture, {
      files: { "components/faulty/component.ts": COMPONENT },
      cfg: "",
    });
    const s: State = { p, marks, user, uid: await uidOf(user), gen: "A", rng };
    try {
      await Deno.writeFile(join(p.dir, BLOB), blobContent("A"));
      await p.setConfig(cfg(s, "A"));
      const first = await p.deploy();
      assertEquals(first.code, 0, first.output);
      const results: string[] = [];
      for (const phase of ["sync", "configure", "file write", "command"] as Phase[]) {
        for (const victim of ["agent", "ssh"] as Victim[]) {
          await faultRound(s, phase, victim);
          results.push(`${phase}/${victim}: ok`);
        }
      }
      console.log(`[faults] kill rounds passed: ${results.join("; ")}`);
      // Converged: one more run changes nothing.
      const last = await p.deploy();
      assertEquals(last.code, 0, last.output);
      assertEquals(changeLines(last.stdout), [], last.output);
    } finally {
      killUserProcesses(s.uid);
      await p.cleanup();
      await Deno.remove(marks, { recursive: true }).catch(() => {});
    }
  });
});

const BUSY = `import { attribute, Component, File } from "batou";
export class Busy extends Component {
  marks = attribute(String, "/tmp");
  spin = attribute(Number, 0);
  override configure() {
    if (this.spin) {
      Deno.writeTextFileSync(this.marks + "/spinning", String(Deno.pid));
      // Synchronous: the agent cannot notice its lost connection before this ends (at "release", or spin ms).
      const end = Date.now() + this.spin;
      while (Date.now() < end) {
        try {
          Deno.statSync(this.marks + "/release");
          break;
        } catch { /* spin on */ }
      }
    }
    this.add(new File("done", { content: "done\\n" }));
  }
}
`;

Deno.test("an agent orphaned while busy keeps the lock: the re-run names it (agent pid); once it ends, the lock is taken over", async () => {
  await withSshd({ hosts: ["host2"], prefix: PREFIX }, async (fixture) => {
    const marks = await sharedDir();
    const user = fixture.hosts[0].user;
    const uid = await uidOf(user);
    const p = await faultProject(fixture, {
      files: { "components/busy/component.ts": BUSY },
      cfg: `[hosts]\nhost2 = busy\n[component:busy]\nmarks = ${marks}\nspin = 120000\n`,
    });
    try {
      const run = p.spawnDeploy();
      const agentPid = Number(
        await waitFor("the agent to spin", () => readIfThere(join(marks, "spinning")), {
          running: run.result,
        }),
      );
      killAll(sshdSessionPids(user));
      const r = await run.result;
      assertEquals(r.code, 1, r.output);
      assertMatch(r.output, /ERROR: host2: lost connection to the agent while configuring/);
      assert(alive(agentPid), "the busy agent is already gone: the test did not catch it busy");

      await p.setConfig(`[hosts]\nhost2 = busy\n[component:busy]\nmarks = ${marks}\nspin = 0\n`);
      const locked = await p.deploy();
      console.log(`[faults] orphaned busy agent: ${locked.output.split("\n").filter((l) => /ERROR/.test(l))}`);
      assertEquals(locked.code, 1, locked.output);
      assertNoStackTrace(locked.output);
      assertMatch(
        locked.output,
        new RegExp(
          `File already locked: ${join(p.base("host2"), ".batou-lock-host2")} \\(held by another deployment: ` +
            `${Deno.hostname()} \\(pid ${run.child.pid}, started [^;]+; agent pid ${agentPid}\\)`,
        ),
      );
      // The orphan notices its lost connection as soon as it is idle, and exits: its lock goes with it.
      await Deno.writeTextFile(join(marks, "release"), "");
      await waitFor("the orphaned agent to exit", () => alive(agentPid) ? undefined : true, {
        deadlineMs: 30_000,
        intervalMs: 100,
      });
      const again = await p.deploy();
      assertEquals(again.code, 0, again.output);
      assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/busy/done")), "done\n");
    } finally {
      killUserProcesses(uid);
      await p.cleanup();
      await Deno.remove(marks, { recursive: true }).catch(() => {});
    }
  });
});
