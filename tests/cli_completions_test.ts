/**
 * `batou completions bash|zsh|fish` in the real shells: each test starts the shell in a tmux pane (a real TTY)
 * inside a project with two environments, loads the script that `batou completions SHELL` printed and presses Tab
 * the way a user does. Commands, environment names, options and option values (from the command table) must
 * complete.
 *
 * @module
 */
import { ok as assert } from "node:assert/strict";
import { join } from "../core/runtime/path.ts";
import { batou, writeFiles } from "./support/cli.ts";
import { requireTools } from "./support/tools.ts";

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr) };
}

/** One shell in a detached tmux session on a private socket. */
class Pane {
  constructor(readonly socket: string) {}
  static async start(dir: string, shell: string[], env: Record<string, string>): Promise<Pane> {
    const pane = new Pane(join(dir, "tmux.sock"));
    const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    const r = await run("tmux", [
      "-S",
      pane.socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      "160",
      "-y",
      "40",
      "-c",
      dir,
      ...envArgs,
      ...shell,
    ]);
    assert(r.code === 0, `tmux failed: ${r.out}`);
    return pane;
  }
  async keys(...keys: string[]): Promise<void> {
    await run("tmux", ["-S", this.socket, "send-keys", ...keys]);
  }
  async type(text: string): Promise<void> {
    await run("tmux", ["-S", this.socket, "send-keys", "-l", text]);
  }
  async screen(): Promise<string> {
    return (await run("tmux", ["-S", this.socket, "capture-pane", "-p", "-N"])).out;
  }
  /** Waits until the screen matches (polling; gives up after 20 s with the screen in the message). */
  async waitFor(re: RegExp, what: string): Promise<string> {
    let text = "";
    for (let i = 0; i < 200; i++) {
      text = await this.screen();
      if (re.test(text)) return text;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what}: ${re} not on the screen:\n${text}`);
  }
  /** Clears the command line and the screen. */
  async reset(): Promise<void> {
    await this.keys("C-c");
    await this.type("clear");
    await this.keys("Enter");
    await this.waitFor(/^\S*> $/m, "prompt after clear");
  }
  async stop(): Promise<void> {
    await run("tmux", ["-S", this.socket, "kill-server"]);
  }
}

/** A project with environments `prod` (folder form) and `staging` (flat file), and the shell's script. */
async function project(shell: string): Promise<{ dir: string; script: string }> {
  const dir = await Deno.makeTempDir({ prefix: `batou-compl-${shell}-` });
  await writeFiles(dir, {
    "environments/prod/environment.cfg": "[environment]\nconnect_method = local\n",
    "environments/staging.cfg": "[environment]\nconnect_method = local\n",
    "home/.keep": "",
  });
  const r = await batou(dir, ["completions", shell]);
  assert(r.code === 0, r.output);
  const script = join(dir, `batou.${shell}`);
  await Deno.writeTextFile(script, r.stdout);
  return { dir, script };
}

/** Completion checks shared by the three shells; `list` is the key sequence that lists all candidates. */
async function exercise(pane: Pane, list: string[]): Promise<void> {
  await pane.type("batou dep");
  await pane.keys("Tab");
  await pane.waitFor(/batou deploy $/m, "command name");
  await pane.type("pr");
  await pane.keys("Tab");
  await pane.waitFor(/batou deploy prod $/m, "environment (folder form)");
  await pane.reset();

  await pane.type("batou deploy st");
  await pane.keys("Tab");
  await pane.waitFor(/batou deploy staging $/m, "environment (flat file)");
  await pane.reset();

  await pane.type("batou deploy ");
  await pane.keys(...list);
  await pane.waitFor(/prod[\s\S]*staging/, "both environments listed");
  await pane.reset();

  await pane.type("batou deploy --predi");
  await pane.keys("Tab");
  await pane.waitFor(/batou deploy --predict-only $/m, "long option");
  await pane.reset();

  await pane.type("batou secrets summ");
  await pane.keys("Tab");
  await pane.waitFor(/batou secrets summary $/m, "secrets subcommand");
  await pane.reset();

  await pane.type("batou completions fi");
  await pane.keys("Tab");
  await pane.waitFor(/batou completions fish $/m, "shell name");
  await pane.reset();

  // From the command table (cli/commands.ts): each command's own options and their values.
  await pane.type("batou graph prod --for");
  await pane.keys("Tab");
  await pane.waitFor(/batou graph prod --format $/m, "graph's own option");
  await pane.type("mer");
  await pane.keys("Tab");
  await pane.waitFor(/batou graph prod --format mermaid $/m, "an option's fixed choices");
  await pane.reset();

  await pane.type("batou secrets add age1x --envi");
  await pane.keys("Tab");
  await pane.waitFor(/batou secrets add age1x --environments $/m, "a secrets subcommand's option");
  await pane.type("sta");
  await pane.keys("Tab");
  await pane.waitFor(/batou secrets add age1x --environments staging $/m, "an option taking an environment");
}

async function inShell(shell: string, argv: string[], setup: string, list: string[]): Promise<void> {
  await requireTools("tmux", shell);
  if (shell === "bash" && !(await Deno.stat("/usr/share/bash-completion/bash_completion").catch(() => null))) {
    throw new Error("bash-completion is not installed (apt-get install bash-completion; .ci/run installs it)");
  }
  const { dir, script } = await project(shell);
  const env = { HOME: join(dir, "home"), TERM: "xterm-256color", LANG: "C.UTF-8" };
  const pane = await Pane.start(dir, argv, env);
  try {
    await pane.waitFor(/> $/m, "first prompt");
    // Wait for the setup to finish before anything else is typed: a Ctrl-C of reset() would interrupt it.
    await pane.type(setup.replaceAll("SCRIPT", script) + "; echo SETUP-DONE");
    await pane.keys("Enter");
    await pane.waitFor(/^SETUP-DONE\s*$/m, "setup");
    await pane.reset();
    await exercise(pane, list);
  } finally {
    await pane.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("completions: bash completes commands, environments and options", async () => {
  await inShell(
    "bash",
    ["env", "PS1=bash> ", "bash", "--norc", "--noprofile"],
    "source /usr/share/bash-completion/bash_completion 2>/dev/null; source SCRIPT",
    ["Tab", "Tab"],
  );
});

Deno.test("completions: zsh completes commands, environments and options", async () => {
  await inShell(
    "zsh",
    ["env", "PS1=zsh> ", "zsh", "-f"],
    "PS1='zsh> '; autoload -U compinit && compinit -u && source SCRIPT",
    ["Tab"],
  );
});

Deno.test("completions: fish completes commands, environments and options", async () => {
  await inShell(
    "fish",
    ["fish", "--no-config", "-C", "function fish_prompt; echo -n 'fish> '; end; set -g fish_greeting"],
    "source SCRIPT",
    ["Tab"],
  );
});
