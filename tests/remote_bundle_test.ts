/**
 * The agent's bundle (remote/bootstrap.ts buildBundle): the minified one the agent ships is a single file that
 * runs with nothing but deno (its bundled CommonJS packages reach `node:` built-ins through the prelude's
 * `require`), answers the protocol handshake and is much smaller than the plain bundle.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { buildBundle, MINIFIED_REQUIRE_PRELUDE } from "../remote/bootstrap.ts";
import { REPO } from "./support/cli.ts";
import { PROTOCOL_VERSION } from "../remote/protocol.ts";

Deno.test("minified agent bundle: one file, starts as `agent` and answers hello; a third of the plain bundle", async () => {
  const minified = await buildBundle(REPO, { minify: true });
  const plain = await buildBundle(REPO);
  assert(minified.endsWith(".min.js") && !plain.endsWith(".min.js"));
  const code = await Deno.readTextFile(minified);
  assert(code.startsWith(MINIFIED_REQUIRE_PRELUDE));
  // Only node: built-ins are imported: nothing to resolve or download on the target.
  const imports = [...code.matchAll(/(?:^|[;\n])import\s*(?:\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)\s*from\s*"([^"]+)"/g)];
  assert(imports.length > 0);
  for (const m of imports) assert(m[1].startsWith("node:"), m[1]);
  assert((await Deno.stat(minified)).size * 2 < (await Deno.stat(plain)).size);

  await assertAnswersHello(minified);
});

Deno.test("agent-only bundle (what source mode ships): answers hello, half the program bundle, nothing else", async () => {
  const agent = await buildBundle(REPO, { minify: true, entry: "agent" });
  const program = await buildBundle(REPO, { minify: true });
  assert(agent !== program);
  assert((await Deno.stat(agent)).size * 1.6 < (await Deno.stat(program)).size);
  assert((await Deno.readTextFile(agent)).startsWith(MINIFIED_REQUIRE_PRELUDE));
  await assertAnswersHello(agent);
  const other = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", "--quiet", agent, "--version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(other.code, 2);
  assertStringIncludes(new TextDecoder().decode(other.stderr), "usage: <agent bundle> agent");
});

/** Runs `bundle agent` from elsewhere, without deno.json (as the target runs it), and checks its hello answer. */
async function assertAnswersHello(bundle: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-bundle-test-" });
  try {
    const copy = join(dir, "batou.js");
    await Deno.copyFile(bundle, copy);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", "--quiet", "--no-prompt", copy, "agent"],
      cwd: dir,
      env: { DENO_DIR: join(dir, "deno") },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    const hello = { jsonrpc: "2.0", id: 1, method: "hello", params: { protocol: PROTOCOL_VERSION } };
    await writer.write(new TextEncoder().encode(JSON.stringify(hello) + "\n"));
    await writer.close();
    const out = await child.output();
    const answer = JSON.parse(new TextDecoder().decode(out.stdout).split("\n")[0]);
    assertEquals(answer.result.protocol, PROTOCOL_VERSION, new TextDecoder().decode(out.stderr));
    assertStringIncludes(answer.result.version, ".");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
