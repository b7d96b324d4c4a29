import { ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { UpdateNeeded } from "../core/model/errors.ts";
import { File } from "../lib/file.ts";
import { Eventlistener, Program, Supervisor } from "../lib/supervisor.ts";
import { RotatedLogfile } from "../lib/logrotate.ts";
import { type TestProject, withProject } from "./support/project.ts";
import { requireTools } from "./support/tools.ts";

/** Runs `fn` with a project and shuts its supervisord down afterwards. */
async function withSupervisor(fn: (p: TestProject) => Promise<void>): Promise<void> {
  await requireTools("supervisord", "supervisorctl");
  await withProject(async (p) => {
    try {
      await fn(p);
    } finally {
      const conf = join(p.workdir, "etc/supervisord.conf");
      await new Deno.Command("supervisorctl", { args: ["-c", conf, "shutdown"], stdout: "null", stderr: "null" })
        .output();
      // Wait for the pid file to go away so the directory can be removed.
      for (let i = 0; i < 50; i++) {
        try {
          await Deno.stat(join(p.workdir, "var/supervisord.pid"));
        } catch {
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
}

/** The pid supervisor reports for `name` (0 when not running). */
async function pidOf(p: TestProject, name: string): Promise<number> {
  const out = await new Deno.Command("supervisorctl", {
    args: ["-c", join(p.workdir, "etc/supervisord.conf"), "pid", name],
    stdout: "piped",
    stderr: "null",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim()) || 0;
}

/** A precursor that needs an update when `flag` is set. */
class Precursor extends Component {
  static override namevar = "flag";
  flag = "";
  override async verify() {
    try {
      await Deno.stat(this.flag);
    } catch {
      return;
    }
    throw new UpdateNeeded("flag set");
  }
  override async update() {
    await Deno.remove(this.flag);
  }
}

function app(opts: { args?: string; enable?: boolean; deployment?: "hot" | "cold"; config?: string } = {}) {
  return class MyComponent extends Component {
    override configure() {
      this.add(new Supervisor());
      this.add(new File("app.conf", { content: opts.config ?? "v1\n" }));
      this.add(new Precursor(join(this.workdir, "flag")));
      this.add(
        new Program("sleeper", {
          command: "/bin/sleep",
          args: opts.args ?? "1000",
          options: { startsecs: 1 },
          enable: opts.enable ?? true,
          deployment: opts.deployment ?? "hot",
          dependencies: [],
        }),
      );
      this.add(new Program("sleeper2", { command: "/bin/sleep", args: "999", options: { startsecs: 1 } }));
    }
  } as ComponentClass;
}

Deno.test("Supervisor starts supervisord and keeps programs running; a second deploy changes nothing", async () => {
  await withSupervisor(async (p) => {
    await p.configure(app());
    await p.deploy();
    ok(p.component.changed);
    const pid = await pidOf(p, "sleeper");
    ok(pid > 0, "sleeper runs");
    ok((await pidOf(p, "sleeper2")) > 0, "sleeper2 runs");
    const conf = await Deno.readTextFile(join(p.workdir, "etc/supervisor.d/sleeper.conf"));
    ok(conf.includes("command = /bin/sleep 1000\n"), conf);
    ok(conf.includes("startsecs = 1\nstartretries = 3\n"), conf);
    await p.deploy();
    strictEqual(p.component.changed, false);
    strictEqual(await pidOf(p, "sleeper"), pid);
  });
});

Deno.test("a changed program is restarted; a changed parent restarts programs depending on it", async () => {
  await withSupervisor(async (p) => {
    await p.configure(app());
    await p.deploy();
    const pid1 = await pidOf(p, "sleeper");
    const other1 = await pidOf(p, "sleeper2");
    await p.configure(app({ args: "1001" }));
    await p.deploy();
    const pid2 = await pidOf(p, "sleeper");
    ok(pid2 > 0 && pid2 !== pid1, "sleeper restarted");
    // sleeper2 depends on its parent (the default), whose sub-component sleeper changed: restarted too.
    const other2 = await pidOf(p, "sleeper2");
    ok(other2 > 0 && other2 !== other1, "sleeper2 restarted");
    // app.conf is part of the parent: sleeper2 restarts, sleeper (no dependencies) does not.
    await p.configure(app({ args: "1001", config: "v2\n" }));
    await p.deploy();
    strictEqual(await pidOf(p, "sleeper"), pid2);
    const other3 = await pidOf(p, "sleeper2");
    ok(other3 > 0 && other3 !== other2, "sleeper2 restarted");
  });
});

Deno.test("enable false stops a program; a program that does not start is an error", async () => {
  await withSupervisor(async (p) => {
    await p.configure(app());
    await p.deploy();
    await p.configure(app({ enable: false }));
    await p.deploy();
    strictEqual(await pidOf(p, "sleeper"), 0);
    await p.deploy();
    strictEqual(p.component.changed, false);
    await p.configure(
      class MyComponent extends Component {
        override configure() {
          this.add(new Supervisor());
          this.add(
            new Program("broken", {
              command: "/bin/sh",
              args: "-c 'echo cannot-bind-port-8080; exit 1'",
              options: { startsecs: 1, startretries: 0 },
            }),
          );
        }
      },
    );
    await rejects(
      p.deploy(),
      (e: Error) => {
        // The log's path and its tail (issue 16: only "process log may have details").
        const log = join(p.workdir, "var", "log", "broken.log");
        return e.name === "RuntimeError" && /^Program "broken" did not start up/.test(e.message) &&
          e.message.includes(`Log ${log} (last `) && e.message.includes("cannot-bind-port-8080");
      },
    );
  });
});

Deno.test("cold programs are stopped when a precursor updates; hot ones keep running", async () => {
  for (const deployment of ["cold", "hot"] as const) {
    await withSupervisor(async (p) => {
      await p.configure(app({ deployment }));
      await p.deploy();
      const pid = await pidOf(p, "sleeper");
      await Deno.writeTextFile(join(p.workdir, "flag"), "");
      p.clearOutput();
      await p.deploy();
      const stopped = p.lines.some((l) => l.includes("Stopping sleeper for cold deployment"));
      strictEqual(stopped, deployment === "cold", p.lines.join("\n"));
      const after = await pidOf(p, "sleeper");
      ok(after > 0, "running after the deploy");
      strictEqual(after !== pid, deployment === "cold");
    });
  }
});

Deno.test("a changed supervisord config reloads supervisord", async () => {
  await withSupervisor(async (p) => {
    await p.configure(app());
    await p.deploy();
    await p.configure(
      class MyComponent extends Component {
        override configure() {
          this.add(new Supervisor({ logLevel: "debug" }));
          this.add(new Program("sleeper", { command: "/bin/sleep", args: "1000", options: { startsecs: 1 } }));
        }
      },
    );
    p.clearOutput();
    await p.deploy();
    ok(p.lines.some((l) => l.includes("Reloading supervisord")), p.lines.join("\n"));
    ok((await Deno.readTextFile(join(p.workdir, "etc/supervisord.conf"))).includes("loglevel = debug"));
    ok((await pidOf(p, "sleeper")) > 0);
    await p.deploy();
    strictEqual(p.component.changed, false);
  });
});

async function ctl(p: TestProject, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("supervisorctl", {
    args: ["-c", join(p.workdir, "etc/supervisord.conf"), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("Supervisor address serves supervisor on TCP; logrotate rotates var/log with a working postrotate", async () => {
  await withSupervisor(async (p) => {
    const port = 20000 + Math.floor(Math.random() * 30000);
    let supervisor!: Supervisor;
    await p.configure(
      class MyComponent extends Component {
        override configure() {
          supervisor = this.add(new Supervisor({ address: `127.0.0.1:${port}`, logrotate: true }));
          this.add(new Program("sleeper", { command: "/bin/sleep", args: "1000", options: { startsecs: 1 } }));
        }
      },
    );
    await p.deploy();
    const out = await new Deno.Command("supervisorctl", {
      args: ["-s", `http://127.0.0.1:${port}`, "status", "sleeper"],
      stdout: "piped",
    }).output();
    ok(new TextDecoder().decode(out.stdout).includes("RUNNING"), "reachable over TCP");
    const rotated = supervisor.subComponents.find((c) => c instanceof RotatedLogfile) as RotatedLogfile;
    strictEqual(rotated.path, join(p.workdir, "var/log/*.log"));
    // The postrotate command really reaches supervisord (USR2: reopen the logs).
    const post = await new Deno.Command("sh", { args: ["-c", rotated.postrotate!], stderr: "piped" }).output();
    strictEqual(post.code, 0, new TextDecoder().decode(post.stderr));
    ok((await ctl(p, "pid")).trim() !== "", "supervisord still runs");
    // The max startup delay follows the programs' startsecs.
    strictEqual(supervisor.maxStartupDelay, 1);
    const bad = await p.configureErrors(
      class MyComponent extends Component {
        override configure() {
          this.add(new Supervisor({ address: "nope" }));
        }
      },
    );
    ok(bad[0].message.includes("address must be host:port"), bad[0].message);
  });
});

Deno.test("Supervisor waitForRunning false: a deploy does not wait for programs to be RUNNING", async () => {
  await withSupervisor(async (p) => {
    await p.configure(
      class MyComponent extends Component {
        override configure() {
          this.add(new Supervisor({ waitForRunning: false }));
          this.add(new Program("slow", { command: "/bin/sleep", args: "1000", options: { startsecs: 4 } }));
        }
      },
    );
    await p.deploy();
    ok((await ctl(p, "status", "slow")).includes("STARTING"), "still starting when the deploy returned");
  });
});

Deno.test("Eventlistener: a real supervisor event listener gets its events", async () => {
  await requireTools("python3");
  await withSupervisor(async (p) => {
    const seen = join(p.workdir, "seen");
    const listening = class MyComponent extends Component {
      override configure() {
        this.add(new Supervisor());
        this.add(
          new Eventlistener("watch", {
            command: "/usr/bin/python3",
            args: join(this.workdir, "listener.py"),
            events: ["PROCESS_STATE_RUNNING", "TICK_5"],
            options: { startsecs: 1 },
          }),
        );
        this.add(new Program("sleeper", { command: "/bin/sleep", args: "1000", options: { startsecs: 1 } }));
      }
    };
    await p.writeWorkdir(
      "listener.py",
      `import sys
while True:
    sys.stdout.write("READY\\n"); sys.stdout.flush()
    header = dict(x.split(":") for x in sys.stdin.readline().split())
    payload = sys.stdin.read(int(header["len"]))
    with open(${JSON.stringify(seen)}, "a") as f:
        f.write(header["eventname"] + "\\n")
    sys.stdout.write("RESULT 2\\nOK"); sys.stdout.flush()
`,
    );
    await p.configure(listening);
    await p.deploy();
    const conf = await Deno.readTextFile(join(p.workdir, "etc/supervisor.d/watch.conf"));
    ok(conf.startsWith("[eventlistener:watch]\n") && conf.includes("events = PROCESS_STATE_RUNNING,TICK_5\n"), conf);
    let text = "";
    for (let i = 0; i < 100 && !text.includes("PROCESS_STATE_RUNNING") && !text.includes("TICK_5"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await Deno.readTextFile(seen).catch(() => "");
    }
    ok(text.includes("PROCESS_STATE_RUNNING") || text.includes("TICK_5"), text);
    await p.configure(listening);
    await p.deploy();
    strictEqual(p.component.changed, false, "a running listener is left alone");
  });
});
