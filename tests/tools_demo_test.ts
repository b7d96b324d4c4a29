/**
 * `deno task demo [EXAMPLE]`: what an example needs is checked before anything is created (a clear list of what to
 * install, exit 1, no demo directory left behind), and the demo directory is printed.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { REPO } from "./support/cli.ts";
import { checkDemo } from "../tools/demo_prereqs.ts";

async function demo(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO, "tools/demo.ts"), ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function systemdRuns(): boolean {
  try {
    return Deno.statSync("/run/systemd/system").isDirectory;
  } catch {
    return false;
  }
}

Deno.test("demo pyapp without supervisord and python3 on PATH: says what to install, creates nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "batou-demo-test-" });
  try {
    const bin = join(tmp, "bin"), scratch = join(tmp, "tmp");
    await Deno.mkdir(bin);
    await Deno.mkdir(scratch);
    const r = await demo(["pyapp"], { PATH: bin, TMPDIR: scratch });
    assertEquals(r.code, 1, r.stdout + r.stderr);
    assertStringIncludes(r.stderr, "deno task demo pyapp cannot run on this machine:");
    assertStringIncludes(
      r.stderr,
      "  - python3 is not on PATH: install Python 3 (Debian: apt-get install python3-venv)",
    );
    if (systemdRuns()) assertStringIncludes(r.stderr, "systemd runs, but systemctl is not on PATH");
    else {assertStringIncludes(
        r.stderr,
        "supervisord is not on PATH (without systemd the demo runs the app under supervisord): Debian: apt-get install supervisor",
      );}
    assertStringIncludes(r.stderr, "Nothing was created.");
    assertEquals([...Deno.readDirSync(scratch)], [], "no demo directory is created");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("demo with an unknown example: lists the demos, creates nothing", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "batou-demo-test-" });
  try {
    const r = await demo(["nosuch"], { TMPDIR: scratch });
    assertEquals(r.code, 1, r.stdout + r.stderr);
    assertStringIncludes(r.stderr, "there is no demo `nosuch` (demos: hello-world, multi, pyapp)");
    assertEquals([...Deno.readDirSync(scratch)], []);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("demo prerequisites: pyapp is satisfied by python3 with venv and supervisord/supervisorctl on PATH", async () => {
  const bin = await Deno.makeTempDir({ prefix: "batou-demo-bin-" });
  try {
    for (const name of ["python3", "supervisord", "supervisorctl", "systemctl"]) {
      await Deno.writeTextFile(join(bin, name), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    }
    const problems = await checkDemo("pyapp", { pathDirs: [bin], systemd: false });
    assertEquals(problems.filter((p) => !p.startsWith("port 8085")), []);
    assertEquals(await checkDemo("pyapp", { pathDirs: [bin], systemd: true }).then((p) => p.length <= 1), true);
    await Deno.writeTextFile(join(bin, "python3"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const noVenv = await checkDemo("pyapp", { pathDirs: [bin], systemd: false });
    assert(noVenv.some((p) => p.includes("cannot create virtualenvs") && p.includes("apt-get install python3-venv")));
    assertEquals(await checkDemo("hello-world", { pathDirs: [], systemd: false }), []);
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

Deno.test("demo hello-world prints its directory first and deploys twice", async () => {
  const scratch = await Deno.makeTempDir({ prefix: "batou-demo-test-" });
  try {
    const r = await demo([], { TMPDIR: scratch });
    assertEquals(r.code, 0, r.stdout + r.stderr);
    const first = r.stdout.split("\n")[0];
    const m = /^Demo directory: (\S+)$/.exec(first);
    assert(m, r.stdout);
    assert(m[1].startsWith(join(scratch, "batou-demo-hello-world-")), first);
    assert((await Deno.stat(join(m[1], "work"))).isDirectory);
    assertStringIncludes(r.stdout, `The project is in ${m[1]} (remove it when done).`);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("demo pyapp whose deployment fails (a supervisord that exits 1): names the directory it leaves", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "batou-demo-test-" });
  try {
    const bin = join(tmp, "bin"), scratch = join(tmp, "tmp");
    await Deno.mkdir(bin);
    await Deno.mkdir(scratch);
    for (const name of ["supervisord", "supervisorctl", "systemctl"]) {
      await Deno.writeTextFile(join(bin, name), `#!/bin/sh\necho "${name} is broken" >&2\nexit 1\n`, { mode: 0o755 });
    }
    const r = await demo(["pyapp"], { PATH: `${bin}:${Deno.env.get("PATH")}`, TMPDIR: scratch });
    assertEquals(r.code, 1, r.stdout + r.stderr);
    const dirs = [...Deno.readDirSync(scratch)].map((e) => join(scratch, e.name));
    assertEquals(dirs.length, 1, "one demo directory");
    assertStringIncludes(r.stdout, `Demo directory: ${dirs[0]}\n`);
    assertStringIncludes(r.stderr, `The demo failed; its project is left in ${dirs[0]} (remove it when done).`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
