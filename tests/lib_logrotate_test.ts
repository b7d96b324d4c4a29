import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { CronTab } from "../lib/cron.ts";
import { DEBIAN_LOGROTATE_DEFAULTS, Logrotate, RotatedLogfile } from "../lib/logrotate.ts";
import { withProject } from "./support/project.ts";
import { requireTools, runCommand } from "./support/tools.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

Deno.test("Logrotate collects rotated log files, sorted by path, in batou's layout", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => {
      c.add(new RotatedLogfile("var/b.log", { args: "rotate 3, size 1k", postrotate: "kill -HUP 1" }));
      c.add(new RotatedLogfile("var/a.log", { prerotate: "echo pre" }));
      c.add(new Logrotate({ commonConfig: "weekly\n" }));
    }));
    await p.deploy();
    strictEqual(
      await Deno.readTextFile(join(p.workdir, "logrotate.conf")),
      "weekly\n" +
        `\n\n${p.workdir}/var/a.log  {\nprerotate\necho pre\nendscript\n}\n\n` +
        `\n\n${p.workdir}/var/b.log  {\nrotate 3\nsize 1k\npostrotate\nkill -HUP 1\nendscript\n}\n\n` +
        "\n",
    );
    await p.deploy();
    strictEqual(p.component.changed, false);
  });
});

Deno.test("Logrotate without log files is an unsatisfied requirement", async () => {
  await withProject(async (p) => {
    await rejects(p.configure(root((c) => c.add(new Logrotate()))));
  });
});

Deno.test("the real logrotate accepts the config and rotates the files", async () => {
  await requireTools("logrotate");
  await withProject(async (p) => {
    await p.writeWorkdir("var/app.log", "line\n".repeat(100));
    let logrotate!: Logrotate;
    await p.configure(root((c) => {
      c.add(new RotatedLogfile("var/app.log", { args: ["rotate 2"], postrotate: `touch ${c.workdir}/rotated` }));
      logrotate = c.add(new Logrotate());
    }));
    await p.deploy();
    ok((await Deno.readTextFile(logrotate.logrotateConf!.path)).startsWith(DEBIAN_LOGROTATE_DEFAULTS));
    const debug = await runCommand("logrotate", ["-d", "-s", join(p.workdir, "state"), logrotate.logrotateConf!.path], {
      check: false,
    });
    strictEqual(debug.code, 0, debug.stderr);
    ok(!/error/i.test(debug.stderr), debug.stderr);
    // Force a rotation with the job's own command.
    await runCommand("sh", ["-c", logrotate.command.replace(" -s ", " -f -s ")]);
    const names = [...Deno.readDirSync(join(p.workdir, "var"))].map((e) => e.name).sort();
    strictEqual(names.length, 2, names.join(", "));
    strictEqual(names[0], "app.log");
    ok(/^app\.log-\d{8}\.gz$/.test(names[1]) || /^app\.log-\d{8}$/.test(names[1]), names[1]);
    strictEqual(await Deno.readTextFile(join(p.workdir, "var/app.log")), "");
    ok((await Deno.stat(join(p.workdir, "rotated"))).isFile, "postrotate ran");
  });
});

Deno.test("cronJob adds a nightly logrotate job to the host's crontab", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => {
      c.add(new RotatedLogfile("app.log"));
      c.add(new Logrotate({ cronJob: true }));
      c.add(new CronTab({ install: false }));
    }));
    await p.deploy();
    const lines = (await Deno.readTextFile(join(p.workdir, "crontab"))).split("\n").filter((l) =>
      l.includes("logrotate")
    );
    deepStrictEqual(lines, [
      `45 2 * * * /usr/sbin/logrotate -s ${p.workdir}/state ${p.workdir}/logrotate.conf `,
    ]);
  });
});
