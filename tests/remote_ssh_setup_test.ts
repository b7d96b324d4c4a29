/** The bound on concurrent ssh master setups (remote/transport/ssh.ts): never more than MAX_PARALLEL_SETUPS at once. */
import { assertEquals } from "./support/assert.ts";
import { inSetupSlot, MAX_PARALLEL_SETUPS } from "../remote/transport/ssh.ts";

Deno.test("inSetupSlot runs at most MAX_PARALLEL_SETUPS at once, all of them eventually, and frees slots on errors", async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  const task = (i: number) =>
    inSetupSlot(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5 + (i % 3)));
      running--;
      if (i % 4 === 0) throw new Error(`task ${i}`);
      done.push(i);
      return i;
    });
  const results = await Promise.allSettled(Array.from({ length: 3 * MAX_PARALLEL_SETUPS + 1 }, (_, i) => task(i)));
  assertEquals(peak, MAX_PARALLEL_SETUPS);
  assertEquals(results.filter((r) => r.status === "rejected").length, Math.ceil((3 * MAX_PARALLEL_SETUPS + 1) / 4));
  assertEquals(done.length + results.filter((r) => r.status === "rejected").length, 3 * MAX_PARALLEL_SETUPS + 1);
  // The slots were all given back: a full round runs at once again.
  running = peak = 0;
  await Promise.all(Array.from({ length: MAX_PARALLEL_SETUPS }, (_, i) => task(4 * i + 1)));
  assertEquals(peak, MAX_PARALLEL_SETUPS);
});
