import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { Command } from "../lib/command.ts";
import { withProject } from "./support/project.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

async function lines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

Deno.test("Command without a guard runs on every deploy and always counts as changed", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new Command("echo run >> log"))));
    await p.deploy();
    ok(p.component.changed);
    await p.deploy();
    ok(p.component.changed);
    deepStrictEqual(await lines(join(p.workdir, "log")), ["run", "run"]);
  });
});

Deno.test("Command with creates runs once, until the file is gone", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new Command("echo run >> log; touch done", { creates: "done" }))));
    await p.deploy();
    ok(p.component.changed);
    await p.deploy();
    strictEqual(p.component.changed, false);
    deepStrictEqual(await lines(join(p.workdir, "log")), ["run"]);
    await Deno.remove(join(p.workdir, "done"));
    await p.deploy();
    deepStrictEqual(await lines(join(p.workdir, "log")), ["run", "run"]);
  });
});

Deno.test("Command with unless is skipped while the guard command succeeds", async () => {
  await withProject(async (p) => {
    await p.configure(
      root((c) => c.add(new Command("echo 1 > state; echo run >> log", { unless: "grep -q 1 state" }))),
    );
    await p.deploy();
    await p.deploy();
    strictEqual(p.component.changed, false);
    deepStrictEqual(await lines(join(p.workdir, "log")), ["run"]);
    await Deno.writeTextFile(join(p.workdir, "state"), "0\n");
    await p.deploy();
    ok(p.component.changed);
    deepStrictEqual(await lines(join(p.workdir, "log")), ["run", "run"]);
  });
});

Deno.test("Command runs in cwd with env and expands templates; a failure is an error", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => {
      c.add(
        new Command("echo $GREETING {{ component.creates }} > out", {
          cwd: "sub",
          env: { GREETING: "hi" },
          creates: "sub/out",
        }),
      );
    }));
    await p.deploy();
    strictEqual(await Deno.readTextFile(join(p.workdir, "sub", "out")), `hi ${join(p.workdir, "sub", "out")}\n`);
    await p.configure(root((c) => c.add(new Command("exit 3"))));
    await rejects(p.deploy(), (e: Error) => e.name === "CmdExecutionError" && /return code 3/.test(e.message));
  });
});

Deno.test("predicting does not run the command", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new Command("touch ran", { creates: "ran" }))));
    await p.deploy(true);
    ok(p.component.changed);
    await rejects(Deno.stat(join(p.workdir, "ran")));
  });
});
