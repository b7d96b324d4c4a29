/**
 * remote/transport/children.ts: once {@linkcode abortConnections} ran (a Ctrl-C that stops at once), a process
 * spawned afterwards (e.g. an upload session of a connect step that goes on in the background, which would connect
 * on its own once the master is gone) is killed as soon as it is tracked, so that nothing outlives the run.
 * (Its own file: the abort is for the whole process.)
 */
import { assertEquals } from "./support/assert.ts";
import { abortConnections, runningChildren, trackChild } from "../remote/transport/children.ts";

function sleeper(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["30"], stdin: "null", stdout: "null", stderr: "null" }).spawn();
}

Deno.test("children: tracked processes are killed by the abort, and so is one spawned after it", async () => {
  let cleanups = 0;
  const before = trackChild(sleeper(), () => cleanups++);
  assertEquals(runningChildren(), 1);
  abortConnections();
  assertEquals((await before.status).signal, "SIGKILL");
  const after = trackChild(sleeper(), () => cleanups++);
  const timer = setTimeout(() => after.kill("SIGKILL"), 5000); // the test's own guard: no sleep outlives it
  const status = await after.status;
  clearTimeout(timer);
  assertEquals(status.signal, "SIGKILL");
  assertEquals(cleanups, 2);
  assertEquals(runningChildren(), 0);
});
