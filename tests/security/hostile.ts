/**
 * A hostile target for security tests: an attacker who controls one target account replaces its cached agent
 * bundle (and forges the bundle's `.ok` stamp, as such an attacker can) with a proxy that runs the real agent and
 * rewrites what goes to the controller, and logs every byte the controller sends.
 *
 * The proxy's rewriting is a JavaScript function body `(message, calls) => message | message[]` kept in
 * `<home>/hostile-rewrite.js`, so one installed proxy serves every attack; `calls` maps request ids to method names.
 * The controller's bytes go to `<home>/hostile-stdin.log`.
 */
import { join } from "../../core/runtime/path.ts";
import { runCommand } from "../support/tools.ts";
import { sha256FileHex } from "../../core/runtime/sha256.ts";
import type { SshdFixture, TestHost } from "../support/sshd.ts";

const PROXY = `
const home = Deno.env.get("HOME");
const real = new URL("./hostile-real.js", import.meta.url).pathname;
const rewrite = new Function("message", "calls", Deno.readTextFileSync(home + "/hostile-rewrite.js"));
const log = Deno.openSync(home + "/hostile-stdin.log", { write: true, create: true, append: true });
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--no-config", "--no-lock", "--quiet", "--no-prompt", real, ...Deno.args],
  stdin: "piped", stdout: "piped", stderr: "inherit",
}).spawn();
const calls = new Map();
const enc = new TextEncoder();
const toAgent = child.stdin.getWriter();
const out = Deno.stdout.writable.getWriter();
(async () => {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of Deno.stdin.readable) {
    log.writeSync(chunk);
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const m = JSON.parse(line);
        if (m.method && m.id !== undefined) calls.set(m.id, m.method);
      } catch { /* not JSON */ }
      await toAgent.write(enc.encode(line + "\\n"));
    }
  }
  await toAgent.close();
})();
const dec = new TextDecoder();
let buf = "";
for await (const chunk of child.stdout) {
  buf += dec.decode(chunk, { stream: true });
  let nl;
  while ((nl = buf.indexOf("\\n")) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    let outLines = [line];
    try {
      const result = rewrite(JSON.parse(line), calls);
      outLines = (Array.isArray(result) ? result : [result]).map((m) => typeof m === "string" ? m : JSON.stringify(m));
    } catch { /* not JSON: as it is */ }
    for (const l of outLines) await out.write(enc.encode(l + "\\n"));
  }
}
Deno.exit((await child.status).code);
`;

/** The cached agent bundle of `host` (after a deployment reached it). */
async function cachedBundle(host: TestHost): Promise<string> {
  const cache = join(host.home, ".cache/batou/agents");
  for await (const e of Deno.readDir(cache)) if (/^batou-.*\.js$/.test(e.name)) return join(cache, e.name);
  throw new Error(`no cached agent bundle in ${cache}`);
}

/** Turns `host`'s cached agent into the proxy (the real bundle is kept beside it); `rewrite` as described above. */
export async function installHostileAgent(fixture: SshdFixture, name: string, rewrite: string): Promise<TestHost> {
  const host = fixture.hosts.find((h) => h.name === name)!;
  const bundle = await cachedBundle(host);
  const stamp = join(host.home, ".cache/batou/agents", `.${bundle.split("/").at(-1)}.ok`);
  const expected = await sha256FileHex(bundle);
  await Deno.copyFile(bundle, join(host.home, ".cache/batou/agents/hostile-real.js"));
  await Deno.writeTextFile(bundle, PROXY);
  await setRewrite(host, rewrite);
  for (const f of [bundle, join(host.home, ".cache/batou/agents/hostile-real.js")]) {
    await runCommand("chown", [`${host.user}:`, f]);
  }
  // The forged stamp: the hash the controller expects, with the new file's inode, size, mtime and ctime.
  const sig = (await runCommand("stat", ["-c", "%i %s %Y %Z", bundle])).stdout.trim();
  await Deno.writeTextFile(stamp, `${expected} ${sig}\n`);
  await runCommand("chown", [`${host.user}:`, stamp]);
  return host;
}

/** Replaces the proxy's rewriting function body. */
export async function setRewrite(host: TestHost, rewrite: string): Promise<void> {
  await Deno.writeTextFile(join(host.home, "hostile-rewrite.js"), rewrite);
  await Deno.writeTextFile(join(host.home, "hostile-stdin.log"), "");
  await runCommand("chown", [
    `${host.user}:`,
    join(host.home, "hostile-rewrite.js"),
    join(host.home, "hostile-stdin.log"),
  ]);
}

/** Everything the controller sent to `host`'s agent since the last {@linkcode setRewrite}. */
export function receivedBy(host: TestHost): Promise<string> {
  return Deno.readTextFile(join(host.home, "hostile-stdin.log"));
}
