/**
 * `batou init` ends with a `Next:` line that works as typed: it names the command the user ran (`batou` when that
 * is on PATH, the binary's path, `deno task --config ... batou` or `deno run -A .../main.ts`) and has no `cd .`.
 * The end-to-end cases run the printed line in a shell and expect the deployment to succeed.
 */
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { join } from "node:path";
import { batou, REPO } from "./support/cli.ts";
import { batouCommand, type Invocation, nextSteps } from "../cli/invocation.ts";

function invocation(over: Partial<Invocation> = {}, files: Record<string, string> = {}): Invocation {
  return {
    compiled: false,
    execPath: "/usr/bin/deno",
    mainPath: "/src/batou/main.ts",
    viaTask: false,
    pathDirs: ["/usr/local/bin", "/usr/bin"],
    readText: (p) => files[p] ?? null,
    realPath: (p) => (p in files ? p : null),
    ...over,
  };
}

Deno.test("Next line: no `cd .` without DIR; cd DIR with one", () => {
  const inv = invocation();
  assertEquals(nextSteps(inv, "/home/u", "/home/u"), "deno run -A /src/batou/main.ts deploy dev");
  assertEquals(
    nextSteps(inv, "/home/u", "/home/u/my project"),
    "cd 'my project' && deno run -A /src/batou/main.ts deploy dev",
  );
  assertEquals(nextSteps(inv, "/home/u/a/b", "/srv/p"), "cd /srv/p && deno run -A /src/batou/main.ts deploy dev");
});

Deno.test("Next line names the command that was run: task, compiled binary, batou on PATH", () => {
  assertEquals(
    batouCommand(invocation({ viaTask: true }), "/home/u/p"),
    "deno task --config /src/batou/deno.json batou",
  );
  assertEquals(
    batouCommand(invocation({ mainPath: "/home/u/batou/main.ts" }), "/home/u/p"),
    "deno run -A ../batou/main.ts",
  );
  // A compiled binary: its path as seen from the project (./batou in the project, ../batou in the parent).
  const bin = { compiled: true, execPath: "/home/u/p/batou" };
  assertEquals(batouCommand(invocation(bin, { "/home/u/p/batou": "" }), "/home/u/p"), "./batou");
  assertEquals(batouCommand(invocation({ ...bin, execPath: "/home/u/batou" }), "/home/u/p"), "../batou");
  assertEquals(batouCommand(invocation({ ...bin, execPath: "/opt/b/batou" }), "/home/u/p"), "/opt/b/batou");
  // The same binary on PATH: plain `batou`.
  const onPath = invocation({ ...bin, execPath: "/usr/local/bin/batou" }, { "/usr/local/bin/batou": "ELF" });
  assertEquals(batouCommand(onPath, "/home/u/p"), "batou");
  // A `deno install` wrapper of this checkout is `batou`; one of another checkout is not.
  const wrapper = (main: string) => `#!/bin/sh\nexec deno run --allow-all 'file://${main}' "$@"\n`;
  const installed = invocation({}, { "/usr/local/bin/batou": wrapper("/src/batou/main.ts") });
  assertEquals(batouCommand(installed, "/home/u/p"), "batou");
  const other = invocation({}, { "/usr/local/bin/batou": wrapper("/elsewhere/main.ts") });
  assertEquals(batouCommand(other, "/home/u/p"), "deno run -A /src/batou/main.ts");
});

/** Runs the `Next:` line of an init output in a shell in `cwd`; returns its exit code and output. */
/**
 * This process's environment without `INIT_CWD`: `deno task test` sets it, a nested `deno task` keeps an inherited one,
 * and batou takes it for the project directory.
 */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const all: Record<string, string> = { ...Deno.env.toObject(), ...env };
  delete all.INIT_CWD;
  return all;
}

async function runNext(initOutput: string, cwd: string, env: Record<string, string> = {}) {
  const next = /^Next: (.*)$/m.exec(initOutput)?.[1];
  assert(next, initOutput);
  const out = await new Deno.Command("sh", {
    args: ["-c", next],
    cwd,
    env: cleanEnv({ NO_COLOR: "1", npm_config_user_agent: "", ...env }),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { next, code: out.code, text };
}

const NOT_TASK = { npm_config_user_agent: "" };

Deno.test("init with deno run: the Next line is deno run -A .../main.ts and works as printed", async () => {
  const parent = await Deno.makeTempDir({ prefix: "batou-init-next-" });
  try {
    const init = await batou(parent, ["init", "proj"], NOT_TASK);
    assertEquals(init.code, 0, init.output);
    const r = await runNext(init.output, parent);
    assertEquals(r.next, `cd proj && deno run -A ${join(REPO, "main.ts")} deploy dev`);
    assertEquals(r.code, 0, r.text);
    assertMatch(r.text, /DEPLOYMENT FINISHED/);

    const here = join(parent, "here");
    await Deno.mkdir(here);
    const plain = await batou(here, ["init"], NOT_TASK);
    assertEquals(plain.code, 0, plain.output);
    assertEquals(/^Next: (.*)$/m.exec(plain.output)?.[1], `deno run -A ${join(REPO, "main.ts")} deploy dev`);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("init with deno task: the Next line is deno task --config .../deno.json batou and works", async () => {
  const parent = await Deno.makeTempDir({ prefix: "batou-init-task-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "--config", join(REPO, "deno.json"), "batou", "init", "proj"],
      cwd: parent,
      env: cleanEnv({ NO_COLOR: "1" }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    const r = await runNext(text, parent, { npm_config_user_agent: "deno/x" });
    assertEquals(r.next, `cd proj && deno task --config ${join(REPO, "deno.json")} batou deploy dev`);
    assertEquals(r.code, 0, r.text);
    assertMatch(r.text, /DEPLOYMENT FINISHED/);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("init with a `deno install`ed batou on PATH: the Next line says batou and works", async () => {
  const root = await Deno.makeTempDir({ prefix: "batou-init-install-" });
  try {
    // The README's command, into a private root instead of ~/.deno.
    const install = await new Deno.Command(Deno.execPath(), {
      args: [
        "install",
        "-g",
        "-A",
        "-n",
        "batou",
        "--root",
        root,
        "--config",
        join(REPO, "deno.json"),
        join(REPO, "main.ts"),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(install.code, 0, new TextDecoder().decode(install.stderr));
    const PATH = `${join(root, "bin")}:${Deno.env.get("PATH")}`;
    const parent = join(root, "work");
    await Deno.mkdir(parent);
    const init = await new Deno.Command("sh", {
      args: ["-c", "batou init proj"],
      cwd: parent,
      env: { NO_COLOR: "1", PATH, npm_config_user_agent: "", INIT_CWD: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(init.stdout) + new TextDecoder().decode(init.stderr);
    assertEquals(init.code, 0, text);
    const r = await runNext(text, parent, { PATH, INIT_CWD: "" });
    assertEquals(r.next, "cd proj && batou deploy dev");
    assertEquals(r.code, 0, r.text);
    assertMatch(r.text, /DEPLOYMENT FINISHED/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
