/**
 * Transport children run in a session of their own, so that a Ctrl-C on the terminal reaches the controller alone
 * (issue 16); on Linux through `setsid` (no fork of the controller), else with Deno's `detached`.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { join } from "../core/runtime/path.ts";
import { spawnInOwnSession } from "../remote/transport/children.ts";

/** Session id and command name of a running process, from /proc. */
function processInfo(pid: number): { sid: number; comm: string } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { sid: Number(fields[3]), comm: Deno.readTextFileSync(`/proc/${pid}/comm`).trim() };
}

Deno.test("a transport child leads a new session and is the command itself", async () => {
  const child = spawnInOwnSession("sleep", { args: ["30"], stdin: "null", stdout: "null", stderr: "null" });
  try {
    // setsid execs the command in the same process: wait until it has.
    let info = processInfo(child.pid);
    for (let i = 0; i < 100 && info.comm !== "sleep"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      info = processInfo(child.pid);
    }
    assertEquals(info, { sid: child.pid, comm: "sleep" });
    assert(processInfo(Deno.pid).sid !== child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("without setsid on PATH the child still gets a session of its own", async () => {
  const bin = await Deno.makeTempDir({ prefix: "batou-nosetsid-" });
  const sleep = new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "command -v sleep"] }).output()).stdout,
  )
    .trim();
  await Deno.symlink(sleep, join(bin, "sleep"));
  const script = join(bin, "probe.ts");
  await Deno.writeTextFile(
    script,
    `import { spawnInOwnSession } from ${
      JSON.stringify(new URL("../remote/transport/children.ts", import.meta.url).href)
    };
const c = spawnInOwnSession("sleep", { args: ["30"], stdin: "null", stdout: "null", stderr: "null" });
const stat = Deno.readTextFileSync("/proc/" + c.pid + "/stat");
console.log(JSON.stringify({ pid: c.pid, sid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]) }));
c.kill("SIGKILL");
await c.status;
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", script],
    env: { PATH: bin },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const { pid, sid } = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(sid, pid);
  await Deno.remove(bin, { recursive: true });
});
