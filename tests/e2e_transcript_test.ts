/**
 * What the transcript says while a deployment to this machine (`connect_method = local`, agents as child processes)
 * runs (issue 19, item 11): `-P` says `predicting` on the status line of a real terminal (tmux), and a Ctrl-C before
 * the deploy step (here while the agent configures the model) stops at once, saying that nothing was deployed.
 * Over ssh the same is shown by tests/e2e_interrupt_test.ts (during the agent's upload) and tests/e2e_ssh_test.ts
 * (the service user on the connection line).
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "../core/runtime/path.ts";
import { REPO, writeFiles } from "./support/cli.ts";
import { spawnBatou } from "./faults/harness.ts";
import { waitForFile } from "./support/fs.ts";
import { requireTools, runCommand } from "./support/tools.ts";

/** A component that writes `<dir>/<stage>-pid` (its agent's pid) in `stage` and waits for `<dir>/release`. */
function waiting(stage: "configure" | "verify"): string {
  const wait = `await Deno.writeTextFile(this.dir + "/${stage}-pid", String(Deno.pid));
    for (let i = 0; i < 400; i++) {
      try {
        await Deno.stat(this.dir + "/release");
        break;
      } catch { /* not yet */ }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }`;
  return `import { attribute, Component, File } from "batou";
export class App extends Component {
  dir = attribute(String, "/tmp");
  override async ${stage}() {
    ${wait}${stage === "configure" ? `\n    this.add(new File("configured", { content: "yes\\n" }));` : ""}
  }
}
`;
}

async function project(stage: "configure" | "verify"): Promise<{ dir: string; shared: string }> {
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-transcript-" });
  const shared = join(dir, "shared");
  await writeFiles(dir, {
    "components/app/component.ts": waiting(stage),
    "environments/dev/environment.cfg": "[environment]\nconnect_method = local\n\n[hosts]\nlocalhost = app\n\n" +
      `[component:app]\ndir = ${shared}\n`,
    "shared/.keep": "",
  });
  return { dir, shared };
}

async function alive(pid: number): Promise<boolean> {
  return (await runCommand("kill", ["-0", String(pid)]).then(() => true, () => false));
}

Deno.test("Ctrl-C while the agent configures: stops at once, says nothing was deployed, leaves no agent", async () => {
  const { dir, shared } = await project("configure");
  try {
    const run = spawnBatou(dir, ["deploy", "-D", "dev"]);
    const agent = Number(await waitForFile(join(shared, "configure-pid"), run.result));
    run.child.kill("SIGINT");
    // The configure waits for `release` (up to 20 s), which never comes: the run must not wait for it.
    const result = await run.result;
    assertEquals(result.code, 130, result.output);
    assertStringIncludes(
      result.output,
      "ERROR: Interrupted: nothing has been deployed yet; stopping now (connections and agents are closed).",
    );
    assertStringIncludes(result.output, "Stopped before the connect step completed: nothing was deployed.");
    assertStringIncludes(result.output, "DEPLOYMENT INTERRUPTED (SIGINT, during connect)");
    assert(!result.output.includes("no new component starts"), result.output);
    assert(!result.output.includes("Deploying"), result.output);
    for (let i = 0; i < 100 && await alive(agent); i++) await new Promise((r) => setTimeout(r, 50));
    assert(!(await alive(agent)), `the agent (pid ${agent}) is still running`);
  } finally {
    await Deno.writeTextFile(join(shared, "release"), "").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs tmux on a private socket. */
async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", { args: ["-S", socket, ...args], stdout: "piped", stderr: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("-P on a terminal: the status line says predicting, not deploying", async () => {
  await requireTools("tmux");
  const { dir, shared } = await project("verify");
  const socket = join(dir, "tmux.sock");
  try {
    const command = `${Deno.execPath()} run -A --quiet ${join(REPO, "main.ts")} deploy -P -D dev; echo "RC=$?"`;
    await tmux(
      socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      "150",
      "-y",
      "30",
      "-c",
      dir,
      "-e",
      `INIT_CWD=${dir}`,
      "-e",
      "TERM=xterm-256color",
      "sh",
      "-c",
      `${command}; sleep 60`,
    );
    await waitForFile(join(shared, "verify-pid"), new Promise(() => {}), { timeoutMs: 60_000 });
    let screen = "";
    for (let i = 0; i < 100 && !/localhost: predicting 0\/1/.test(screen); i++) {
      screen = await tmux(socket, "capture-pane", "-p");
      await new Promise((r) => setTimeout(r, 100));
    }
    assertStringIncludes(screen, "localhost: predicting 0/1");
    assert(!screen.includes("deploying 0/1"), screen);
    await Deno.writeTextFile(join(shared, "release"), "");
    for (let i = 0; i < 200 && !/RC=\d+/.test(screen); i++) {
      await new Promise((r) => setTimeout(r, 100));
      screen = await tmux(socket, "capture-pane", "-p");
    }
    assertStringIncludes(screen, "RC=0");
  } finally {
    await Deno.writeTextFile(join(shared, "release"), "").catch(() => {});
    await tmux(socket, "kill-server");
    await Deno.remove(dir, { recursive: true });
  }
});
