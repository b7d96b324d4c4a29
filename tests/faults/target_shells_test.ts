/**
 * Fault injection: targets that differ from the test machine.
 * - zsh and fish as login shells, each with a startup file that prints a greeting on stdout (before the protocol)
 *   and sets `LC_ALL=C`;
 * - no bash: a login shell (a dash script) that logs every command line sshd hands it, runs it with a PATH in which
 *   no bash can be found and in the C locale (`LANG=C LC_ALL=C`): every command must be `/bin/sh -c ...`;
 * - a home directory on a read-only mount, with `target_directory` elsewhere;
 * - a login umask of 027, and a relative `target_directory`.
 * The project has non-ASCII file names and contents, a Command and a `cmd()`, so locale and shell quoting matter.
 * Login shells are restored and mounts removed in `finally`.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { runCommand } from "../support/tools.ts";
import { requireTools } from "../support/sshd.ts";
import {
  assertNoStackTrace,
  changeLines,
  type FaultProject,
  faultProject,
  sharedDir,
  uidOf,
  withSshd,
} from "./harness.ts";

const PREFIX = "bfshell";

const COMPONENTS = {
  "components/unicode/component.ts": `import { Command, Component, File } from "batou";
export class Unicode extends Component {
  override configure() {
    this.add(new File("grüße.txt", { content: "Grüße, {{ host.name }} ✓ — naïve café\\n" }));
    this.add(new File("copy.txt", { source: "dätä.txt", isTemplate: false }));
    this.add(new Command("printf 'Ünïcödé %s\\\\n' \\"$(id -un)\\" > 'cmd-öut.txt'; echo \\"shell: $0\\"", { creates: "cmd-öut.txt" }));
  }
  override async verify() {
    const r = await this.cmd("printf '%s' 'ß ✓'");
    if (r.stdout !== "ß ✓") throw new Error("cmd() mangled non-ASCII output: " + JSON.stringify(r.stdout));
  }
}
`,
  "components/unicode/dätä.txt": "Dätä with ümläuts ✓\n",
};

async function retry(what: string, attempt: () => Promise<{ code: number; stderr: string }>): Promise<void> {
  let last = "";
  for (let i = 0; i < 30; i++) {
    const r = await attempt();
    if (r.code === 0) return;
    last = r.stderr;
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
  }
  throw new Error(`${what} failed: ${last}`);
}

/** Sets `user`'s login shell (usermod retries while another test holds /etc/passwd). */
async function setShell(user: string, shell: string): Promise<void> {
  await retry(`usermod -s ${shell} ${user}`, () => runCommand("usermod", ["-s", shell, user], { check: false }));
}

async function writeOwned(path: string, text: string, uid: number, mode = 0o644): Promise<void> {
  await Deno.mkdir(join(path, ".."), { recursive: true });
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chown(path, uid, uid);
}

/** Deploys twice: the first run changes, the second is a no-op; checks the files. */
async function deployAndCheck(p: FaultProject, host: string, what: string): Promise<string> {
  const r = await p.deploy();
  console.log(`[faults] ${what}: exit ${r.code}${r.code ? `\n${r.output}` : ""}`);
  assertEquals(r.code, 0, r.output);
  assertNoStackTrace(r.output);
  const work = join(p.base(host), "work/unicode");
  assertEquals(await Deno.readTextFile(join(work, "grüße.txt")), `Grüße, ${host} ✓ — naïve café\n`);
  assertEquals(await Deno.readTextFile(join(work, "copy.txt")), "Dätä with ümläuts ✓\n");
  assertEquals(await Deno.readTextFile(join(p.base(host), "components/unicode/dätä.txt")), "Dätä with ümläuts ✓\n");
  assertMatch(await Deno.readTextFile(join(work, "cmd-öut.txt")), /^Ünïcödé \S+\n$/);
  assertStringIncludes(r.stdout, "Content('grüße.txt')");
  const again = await p.deploy();
  assertEquals(again.code, 0, again.output);
  assertEquals(changeLines(again.stdout), [], again.output);
  return r.output;
}

Deno.test("zsh and fish login shells with chatty startup files and LC_ALL=C", async () => {
  await requireTools("zsh", "fish");
  await withSshd({ hosts: ["zsh", "fish"], prefix: PREFIX }, async (fixture) => {
    const [zsh, fish] = fixture.hosts;
    const p = await faultProject(fixture, { files: COMPONENTS, cfg: "[hosts]\nzsh = unicode\nfish = unicode\n" });
    try {
      await setShell(zsh.user, "/usr/bin/zsh");
      await setShell(fish.user, "/usr/bin/fish");
      await writeOwned(
        join(zsh.home, ".zshenv"),
        `echo "Welcome from .zshenv"\nexport LANG=C LC_ALL=C\nsetopt NO_GLOB_SUBST\n`,
        await uidOf(zsh.user),
      );
      await writeOwned(
        join(fish.home, ".config/fish/config.fish"),
        `echo "Welcome from config.fish"\nset -gx LANG C\nset -gx LC_ALL C\n`,
        await uidOf(fish.user),
      );
      await runCommand("chown", ["-R", `${zsh.user}:`, join(zsh.home)]);
      await runCommand("chown", ["-R", `${fish.user}:`, join(fish.home)]);
      const out = await deployAndCheck(p, "zsh", "zsh + fish login shells");
      assertEquals(
        await Deno.readTextFile(join(p.base("fish"), "work/unicode/grüße.txt")),
        "Grüße, fish ✓ — naïve café\n",
      );
      // The greeting is passed on (it is not protocol), attributed to its host.
      assertMatch(out, /zsh: Welcome from \.zshenv/);
    } finally {
      await setShell(zsh.user, "/bin/sh");
      await setShell(fish.user, "/bin/sh");
      await Deno.remove(join(zsh.home, ".zshenv")).catch(() => {});
      await Deno.remove(join(fish.home, ".config/fish"), { recursive: true }).catch(() => {});
      await p.cleanup();
    }
  });
});

Deno.test("no bash and the C locale: every command sshd runs is /bin/sh -c, with a PATH without bash", async () => {
  await requireTools("dash");
  await withSshd({ hosts: ["plain"], prefix: PREFIX }, async (fixture) => {
    const host = fixture.hosts[0];
    const shared = await sharedDir();
    // A PATH with every tool of /usr/bin and /usr/sbin except bash.
    const bin = join(shared, "bin");
    await Deno.mkdir(bin);
    for (const dir of ["/usr/bin", "/usr/sbin"]) {
      for await (const e of Deno.readDir(dir)) {
        if (/^r?bash/.test(e.name)) continue;
        await Deno.symlink(join(dir, e.name), join(bin, e.name)).catch(() => {});
      }
    }
    const log = join(shared, "commands.log");
    const shell = join(shared, "logshell");
    await Deno.writeTextFile(
      shell,
      `#!/bin/dash\nprintf '%s\\n' "$*" | head -n 1 >> ${log}\nPATH=${bin}\nLANG=C\nLC_ALL=C\nexport PATH LANG LC_ALL\nexec /bin/dash "$@"\n`,
      { mode: 0o755 },
    );
    await Deno.writeTextFile(log, "", { mode: 0o666 });
    await Deno.chmod(log, 0o666);
    const p = await faultProject(fixture, { files: COMPONENTS, cfg: "[hosts]\nplain = unicode\n" });
    try {
      // From an empty agent cache, so that the upload runs under this shell too.
      await Deno.remove(join(host.home, ".cache/batou"), { recursive: true }).catch(() => {});
      await setShell(host.user, shell);
      assert(!(await runCommand(shell, ["-c", "command -v bash"], { check: false })).stdout.trim(), "bash on PATH");
      await Deno.writeTextFile(log, "");
      await deployAndCheck(p, "plain", "no bash, C locale");
      const lines = (await Deno.readTextFile(log)).split("\n").filter((l) => l !== "");
      // The first deploy's start script waits while the two uploads run, then starts the agent; the re-deploy starts.
      assert(lines.length >= 4, `the login shell saw too few commands (start, uploads, start): ${lines}`);
      for (const line of lines) assertMatch(line, /^-c \/bin\/sh -c /, `a command not run through /bin/sh: ${line}`);
      console.log(`[faults] no bash: ${lines.length} commands, all through /bin/sh -c`);
    } finally {
      await setShell(host.user, "/bin/sh");
      await p.cleanup();
      await Deno.remove(shared, { recursive: true }).catch(() => {});
    }
  });
});

Deno.test("a read-only home directory with target_directory elsewhere", async () => {
  await requireTools("mount", "umount");
  await withSshd({ hosts: ["rohome"], prefix: PREFIX }, async (fixture) => {
    const host = fixture.hosts[0];
    const uid = await uidOf(host.user);
    const elsewhere = await Deno.makeTempDir({ prefix: "batou-fault-elsewhere-" });
    await Deno.chown(elsewhere, uid, uid);
    const p = await faultProject(fixture, {
      files: COMPONENTS,
      cfg: "[hosts]\nrohome = unicode\n",
      targetDirectory: join(elsewhere, "deployment"),
    });
    let mounted = false;
    try {
      // Start without an agent cache: the home cannot take one.
      await Deno.remove(join(host.home, ".cache"), { recursive: true }).catch(() => {});
      await runCommand("mount", ["--bind", host.home, host.home]);
      mounted = true;
      await runCommand("mount", ["-o", "remount,bind,ro", host.home]);
      const probe = await runCommand("sudo", ["-u", host.user, "touch", join(host.home, "probe")], { check: false });
      assert(probe.code !== 0, "the home directory is writable");
      await deployAndCheck(p, "rohome", "read-only home");
      assertEquals(
        (await Array.fromAsync(Deno.readDir(host.home))).map((e) => e.name).filter((n) => n === ".cache"),
        [],
      );
      // The agent cache went below the target directory (private); the target directory has the login's umask.
      const cache = join(elsewhere, "deployment/.batou-cache/agents");
      assertEquals(((await Deno.stat(cache)).mode! & 0o777).toString(8), "700");
      assert((await Array.fromAsync(Deno.readDir(cache))).some((e) => e.name.startsWith("deno-")), "no agent there");
      assertEquals(((await Deno.stat(join(elsewhere, "deployment"))).mode! & 0o777).toString(8), "755");
    } finally {
      if (mounted) await runCommand("umount", [host.home], { check: false });
      await p.cleanup();
      await Deno.remove(elsewhere, { recursive: true }).catch(() => {});
    }
  });
});

Deno.test("the agent works with the login's umask (not the agent cache's 077); a relative target_directory is below the home", async () => {
  await requireTools("dash");
  await withSshd({ hosts: ["umask"], prefix: PREFIX }, async (fixture) => {
    const host = fixture.hosts[0];
    const shared = await sharedDir();
    const shell = join(shared, "umaskshell");
    await Deno.writeTextFile(shell, `#!/bin/dash\numask 027\nexec /bin/dash "$@"\n`, { mode: 0o755 });
    const rel = `fault-rel-${crypto.randomUUID().slice(0, 8)}`;
    const p = await faultProject(fixture, {
      files: COMPONENTS,
      cfg: "[hosts]\numask = unicode\n",
      targetDirectory: rel,
    });
    const base = join(host.home, rel);
    try {
      await setShell(host.user, shell);
      const r = await p.deploy();
      assertEquals(r.code, 0, r.output);
      const mode = async (path: string) => (await Deno.stat(join(base, path))).mode! & 0o777;
      assertEquals(await Deno.readTextFile(join(base, "work/unicode/copy.txt")), "Dätä with ümläuts ✓\n");
      assertEquals((await mode("")).toString(8), "750");
      assertEquals((await mode("work/unicode")).toString(8), "750");
      assertEquals((await mode("work/unicode/grüße.txt")).toString(8), "640");
      assertEquals((await mode("work/unicode/cmd-öut.txt")).toString(8), "640");
      // The agent cache stays private.
      assertEquals(((await Deno.stat(join(host.home, ".cache/batou/agents"))).mode! & 0o777).toString(8), "700");
    } finally {
      await setShell(host.user, "/bin/sh");
      await p.cleanup();
      await Deno.remove(base, { recursive: true }).catch(() => {});
      await Deno.remove(shared, { recursive: true }).catch(() => {});
    }
  });
});
