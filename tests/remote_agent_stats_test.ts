/**
 * The agent's CPU figure (remote/agent/agent.ts cpuMilliseconds) without node:process: the same as node:process'
 * cpuUsage; the /proc/self/stat fallback reads utime and stime, also behind a command name with spaces.
 */
import { cpuUsage } from "node:process";
import { agentStats, cpuMilliseconds, procStatCpuMs } from "../remote/agent/agent.ts";
import { assert, assertEquals } from "./support/assert.ts";

Deno.test("cpuMilliseconds: node:process' cpuUsage in ms, growing with work", async () => {
  const before = await cpuMilliseconds();
  const node = cpuUsage();
  const nodeMs = Math.round((node.user + node.system) / 1000);
  assert(before !== null && Math.abs(before - nodeMs) <= 2, `${before} vs ${nodeMs}`);
  let x = 0;
  const until = performance.now() + 60;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const after = await cpuMilliseconds();
  assert(after !== null && after >= before + 30, `${before} -> ${after} (${x > 0})`);
  assertEquals(typeof (await agentStats()).cpuMs, "number");
});

Deno.test("procStatCpuMs: utime + stime in 10 ms ticks; null when the text is not a stat line", async () => {
  const line = "4242 (deno (a) b) S 1 4242 4242 0 -1 4194560 1200 0 3 0 37 12 0 0 20 0 9 0 1000 100000 5000";
  assertEquals(procStatCpuMs(line), 490);
  assertEquals(procStatCpuMs("garbage"), null);
  if (Deno.build.os === "linux") {
    const own = procStatCpuMs(await Deno.readTextFile("/proc/self/stat"));
    const node = cpuUsage();
    assert(own !== null && Math.abs(own - (node.user + node.system) / 1000) < 50, `${own}`);
  }
});
