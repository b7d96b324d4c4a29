/**
 * The agent's bundle (remote/transport/payload.ts buildBundle): the minified one the agent ships is a single file that
 * runs with nothing but deno (its bundled CommonJS packages reach `node:` built-ins through the prelude's
 * `require`), answers the protocol handshake and is much smaller than the plain bundle. The agent-only bundle
 * imports no `node:` module, and neither its start nor a no-op deployment (sync, configure with templates, verify,
 * stats) evaluates any of Deno's Node compatibility layer: V8's function-event log names every script evaluated.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { AGENT_V8_FLAGS } from "../remote/transport/connect.ts";
import { buildBundle, MINIFIED_REQUIRE_PRELUDE } from "../remote/transport/payload.ts";
import { REPO } from "./support/cli.ts";
import { PROTOCOL_VERSION } from "../remote/contract/protocol.ts";
import { checkTree, writeBatouProject } from "../bench/w1.ts";

Deno.test("minified agent bundle: one file, starts as `agent` and answers hello; a third of the plain bundle", async () => {
  const minified = await buildBundle(REPO, { minify: true });
  const plain = await buildBundle(REPO);
  assert(minified.endsWith(".min.js") && !plain.endsWith(".min.js"));
  const code = await Deno.readTextFile(minified);
  assert(code.startsWith(MINIFIED_REQUIRE_PRELUDE));
  // Only node: built-ins are imported: nothing to resolve or download on the target.
  for (const m of staticImports(code)) assert(m.startsWith("node:"), m);
  assert((await Deno.stat(minified)).size * 2 < (await Deno.stat(plain)).size);

  await assertAnswersHello(minified);
});

Deno.test("agent-only bundle (what source mode ships): answers hello, half the program bundle, nothing else", async () => {
  const agent = await buildBundle(REPO, { minify: true, entry: "agent" });
  const program = await buildBundle(REPO, { minify: true });
  assert(agent !== program);
  assert((await Deno.stat(agent)).size * 1.6 < (await Deno.stat(program)).size);
  const code = await Deno.readTextFile(agent);
  assert(code.startsWith(MINIFIED_REQUIRE_PRELUDE));
  // No static import at all (node: built-ins are loaded where a feature needs them, with import()).
  assertEquals(staticImports(code), []);
  assert(!code.includes('from"node:') && !code.includes('import"node:'));
  assert(code.includes('import("node:zlib")') || code.includes('import("node:crypto")'));
  await assertAnswersHello(agent);
  const other = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", "--quiet", agent, "--version"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(other.code, 2);
  assertStringIncludes(new TextDecoder().decode(other.stderr), "usage: <agent bundle> agent");
});

/** The modules `code` imports statically (`import ... from "x"`, `import "x"`). */
function staticImports(code: string): string[] {
  // Statement starts only: the minified code has no indentation, the import examples in sucrase's strings have.
  const re = /(?:^|[;\n])import\s*(?:(?:\{[^}]*\}|\*\s*as\s+[\w$]+|[\w$]+)\s*from\s*)?"([^"]+)"/g;
  return [...code.matchAll(re)].map((m) => m[1]);
}

/** The scripts of Deno's Node compatibility layer that a V8 `--log-function-events` log shows evaluated. */
async function nodeScripts(v8Log: string): Promise<string[]> {
  const names = (await Deno.readTextFile(v8Log)).matchAll(/^script-details,\d+,(ext:deno_node\/[^,]+),/gm);
  // Deno's runtime evaluates this one in every process, before any user code.
  return [...new Set([...names].map((m) => m[1]))].filter((n) => n !== "ext:deno_node/02_register_cloneable.js");
}

/** `--v8-flags` for the agent that also log every function event (the log names each script evaluated). */
function loggingFlags(v8Log: string): string {
  return `--v8-flags=${AGENT_V8_FLAGS},--log-function-events,--logfile=${v8Log},--no-logfile-per-isolate`;
}

/**
 * Runs `bundle agent` from elsewhere, without deno.json (as the target runs it), and checks its hello answer; with
 * `v8Log`, V8 logs its function events there.
 */
async function assertAnswersHello(bundle: string, v8Log?: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "batou-bundle-test-" });
  try {
    const copy = join(dir, "batou.js");
    await Deno.copyFile(bundle, copy);
    const flags = v8Log ? [loggingFlags(v8Log)] : [];
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, "-A", "--no-config", "--no-lock", "--quiet", "--no-prompt", copy, "agent"],
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

Deno.test("agent-only bundle: start, hello and a no-op W1 deployment evaluate none of Deno's Node modules", async () => {
  const agent = await buildBundle(REPO, { minify: true, entry: "agent" });
  const scratch = await Deno.makeTempDir({ prefix: "batou-bundle-test-" });
  try {
    // The check itself: a script that imports node:path shows Deno's Node modules in the log.
    const control = join(scratch, "control.js");
    await Deno.writeTextFile(control, 'await import("node:path");\n');
    const controlLog = join(scratch, "control.log");
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", loggingFlags(controlLog), "-A", "--no-config", "--quiet", control],
      stdout: "null",
      stderr: "null",
    }).output();
    assert(run.success && (await nodeScripts(controlLog)).some((n) => n.startsWith("ext:deno_node/path/")));

    const helloLog = join(scratch, "hello.log");
    await assertAnswersHello(agent, helloLog);
    assertEquals(await nodeScripts(helloLog), []);

    const project = join(scratch, "project"), target = join(scratch, "target");
    await Deno.writeTextFile(join(scratch, "ssh_config"), "");
    await writeBatouProject(project, {
      hosts: ["w1a"],
      sshConfig: join(scratch, "ssh_config"),
      greeting: "Hej",
      targetDirectory: target,
    });
    const deploy = async (v8Log?: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(REPO, "tests/support/bundle_deploy.ts"), agent, project, "bench", scratch]
          .concat(v8Log ? [v8Log] : []),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
      assert(out.success, text + new TextDecoder().decode(out.stderr));
      return JSON.parse(text) as { code: number; stats: { cpuMs: number | null }[]; output: string[] };
    };
    const first = await deploy();
    assertEquals(first.code, 0, first.output.join("\n"));
    // The templates rendered by the bundle's template engine, the modes and the symlinks.
    assertEquals(await checkTree(join(target, "work/w1"), "w1a", "Hej"), []);
    const noopLog = join(scratch, "noop.log");
    const noop = await deploy(noopLog);
    assertEquals(noop.code, 0, noop.output.join("\n"));
    assertEquals(noop.stats.length, 1);
    assertEquals(typeof noop.stats[0].cpuMs, "number");
    assertEquals(await nodeScripts(noopLog), []);
    assertEquals(await checkTree(join(target, "work/w1"), "w1a", "Hej"), []);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
