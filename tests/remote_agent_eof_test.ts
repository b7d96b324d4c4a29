/**
 * An agent whose input ends right after a request still answers it: the controller (or a test) may send and close
 * at once. The agent sees the end while the request is being served (it reads on, so that `stop` reaches a running
 * deployment) and must not exit before its answers are written.
 */
import { assertEquals } from "./support/assert.ts";
import { join } from "../core/runtime/path.ts";
import { REPO } from "./support/cli.ts";
import { PROTOCOL_VERSION } from "../remote/contract/protocol.ts";

Deno.test("hello, then the end of input: the answer is written before the agent exits (10 starts)", async () => {
  const hello = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hello", params: { protocol: PROTOCOL_VERSION } });
  const answers = await Promise.all(Array.from({ length: 10 }, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(REPO, "main.ts"), "agent"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { BATOU_AGENT: "1" },
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(hello + "\n"));
    await writer.close();
    const out = await child.output();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0];
    return first ? JSON.parse(first).result?.protocol : null;
  }));
  assertEquals(answers, Array(10).fill(PROTOCOL_VERSION));
});
