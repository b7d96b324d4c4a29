/**
 * batou's lifecycle idioms in TypeScript form: `enter()`/`exit()` around verify/update (`__enter__`/`__exit__`),
 * `chdir(path, fn)` (`with self.chdir(path)`) and `cmd(..., { communicate: false })` streaming output.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component } from "../core/model/component.ts";
import { UpdateNeeded } from "../core/model/errors.ts";
import { runCmd } from "../core/model/cmd.ts";
import { makeRoot, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

/** Records the order of its lifecycle calls in `calls` (a static list shared by the test). */
const calls: string[] = [];

class Mounted extends Component {
  needsUpdate = true;
  failIn: "" | "verify" | "update" | "enter" = "";
  override enter(): void {
    calls.push(`enter cwd=${Deno.cwd() === this.workdir}`);
    if (this.failIn === "enter") throw new Error("enter failed");
  }
  override verify(): void {
    calls.push("verify");
    if (this.failIn === "verify") throw new TypeError("verify broke");
    if (this.needsUpdate) throw new UpdateNeeded();
  }
  override update(): void {
    calls.push("update");
    if (this.failIn === "update") throw new Error("update broke");
  }
  override async exit(error: unknown): Promise<void> {
    await Promise.resolve();
    calls.push(`exit ${error === null ? "ok" : (error as Error).message}`);
  }
}

async function deployed(setup: (c: Mounted) => void, predict = false): Promise<string[]> {
  await using project = await tempProject();
  const root = makeRoot(Mounted, project.dir);
  root.environment.manageCwd = true;
  await root.prepare();
  setup(root.component as Mounted);
  calls.length = 0;
  await withRecordedOutput(() => root.component!.deploy(predict)).catch((e) => calls.push(`threw ${e.message}`));
  return [...calls];
}

Deno.test("lifecycle: enter() runs before verify in the work dir, exit() after update, also in predict mode", async () => {
  deepStrictEqual(await deployed(() => {}), ["enter cwd=true", "verify", "update", "exit ok"]);
  deepStrictEqual(await deployed((c) => c.needsUpdate = false), ["enter cwd=true", "verify", "exit ok"]);
  deepStrictEqual(await deployed(() => {}, true), ["enter cwd=true", "verify", "exit ok"]);
});

Deno.test("lifecycle: exit() gets the error of verify or update, which still fails the deploy", async () => {
  deepStrictEqual(await deployed((c) => c.failIn = "update"), [
    "enter cwd=true",
    "verify",
    "update",
    "exit update broke",
    "threw update broke",
  ]);
  deepStrictEqual(await deployed((c) => c.failIn = "verify"), [
    "enter cwd=true",
    "verify",
    "exit verify broke",
    "threw verify broke",
  ]);
  // A failing enter() means nothing was set up: no verify, no exit.
  deepStrictEqual(await deployed((c) => c.failIn = "enter"), ["enter cwd=true", "threw enter failed"]);
});

class Dirs extends Component {}

Deno.test("lifecycle: chdir() switches the directory of cmd and the process, and restores both on errors", async () => {
  await using project = await tempProject();
  const root = makeRoot(Dirs, project.dir);
  await root.prepare();
  const top = root.component!;
  await Deno.mkdir(join(top.workdir, "sub"), { recursive: true });
  const before = Deno.cwd();
  const inside = await top.chdir("sub", async () => {
    strictEqual(Deno.cwd(), join(top.workdir, "sub"));
    return (await top.cmd("pwd")).stdout.trim();
  });
  strictEqual(inside, join(top.workdir, "sub"));
  strictEqual(Deno.cwd(), before);
  strictEqual((await top.cmd("pwd")).stdout.trim(), top.workdir);
  await rejects(top.chdir("sub", () => Promise.reject(new Error("inner"))), /inner/);
  strictEqual(Deno.cwd(), before);
  // Nested: the inner directory is relative to the work dir too, and the outer one comes back.
  await Deno.mkdir(join(top.workdir, "other"));
  await top.chdir(
    "sub",
    () => top.chdir("other", async () => strictEqual((await top.cmd("pwd")).stdout.trim(), join(top.workdir, "other"))),
  );
  strictEqual(Deno.cwd(), before);
});

Deno.test("lifecycle: cmd communicate: false shows each line while the command runs", async () => {
  await using project = await tempProject();
  const root = makeRoot(Dirs, project.dir);
  await root.prepare();
  const top = root.component!;
  const { result, lines } = await withRecordedOutput(() =>
    top.cmd("echo one; echo two >&2; printf three", { communicate: false })
  );
  strictEqual(result.stdout, "one\nthree");
  strictEqual(result.stderr, "two\n");
  for (const l of ["localhost: one", "localhost: two", "localhost: three"]) {
    ok(lines.some((x) => x.trim() === l), lines.join("\n"));
  }

  // The lines arrive while the command still runs: the first is seen before the command is allowed to go on.
  const gate = join(project.dir, "gate");
  const seen: string[] = [];
  const run = runCmd(`echo first; while [ ! -e ${gate} ]; do sleep 0.05; done; echo second`, {
    onLine: (line) => {
      seen.push(line);
      if (line === "first") Deno.writeTextFileSync(gate, "");
    },
  });
  const done = await run;
  deepStrictEqual(seen, ["first", "second"]);
  strictEqual(done.stdout, "first\nsecond\n");
  // A failing streamed command is still an error.
  await rejects(top.cmd("echo bad; exit 3", { communicate: false }), (e: Error) => e.name === "CmdExecutionError");
});
