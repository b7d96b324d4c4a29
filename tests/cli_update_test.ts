/**
 * `batou update` end to end: a local HTTP server on 127.0.0.1 serves signed releases that this test makes from
 * the bundled program (with a release key it generates), and `batou update --target FILE` (the same code path as
 * replacing the running binary) installs or refuses them.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { batou, REPO } from "./support/cli.ts";
import { buildBundle } from "../remote/transport/payload.ts";
import { assetName, SUMS_FILE } from "../cli/release_files.ts";
import { generateReleaseKey, verifyRelease, writeRelease } from "../tools/release.ts";
import { VERSION } from "../core/runtime/version.ts";

const OLD_PROGRAM = "#!/bin/sh\necho 'batou 0.0.1 (the installed one)'\n";
const HERE = assetName();

/** The bundled program, made runnable as a file (shebang through deno) and reporting `version`. */
function programFor(bundle: string, version: string): string {
  // `var VERSION = "..."`, or `VERSION = "..."` inside a lazily initialised module (the bundle has dynamic imports).
  const patched = bundle.replace(
    new RegExp(`(^|\\s)((?:var )?VERSION = )"${VERSION.replaceAll(".", "\\.")}";`, "m"),
    `$1$2"${version}";`,
  );
  assert(patched !== bundle, "the bundle defines VERSION as expected");
  return `#!/usr/bin/env -S ${Deno.execPath()} run -A --quiet --no-config --no-lock --no-prompt\n${patched}`;
}

interface Fixture {
  root: string;
  url: string;
  keyFile: string;
  otherKeyFile: string;
  programs: Map<string, string>;
  server: Deno.HttpServer;
  cutter: { url: string; close(): Promise<void> };
}

/**
 * A bare HTTP/1.1 server that announces the whole of `file` (Content-Length) and closes the connection after
 * sending half of it.
 */
function cuttingServer(file: string): { url: string; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of listener) {
      try {
        const buf = new Uint8Array(16384);
        let request = "";
        while (!request.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          request += new TextDecoder().decode(buf.subarray(0, n));
        }
        const data = await Deno.readFile(file);
        const head = `HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n`;
        const half = data.subarray(0, data.length >> 1);
        for (const part of [new TextEncoder().encode(head), half]) {
          for (let at = 0; at < part.length;) at += await conn.write(part.subarray(at));
        }
      } catch { /* the client went away */ }
      conn.close();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

/** Makes a release directory `download/v<version>/` under `mirror`, signed with `privateKey`. */
async function makeRelease(
  mirror: string,
  version: string,
  files: Record<string, string>,
  privateKey: string,
): Promise<string> {
  const dir = join(mirror, "download", `v${version}`);
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
  await writeRelease({ dir, info: { version, commit: "test", date: "2025-01-01T00:00:00Z" }, privateKey });
  return dir;
}

async function setUp(): Promise<Fixture> {
  const root = await Deno.makeTempDir({ prefix: "batou-update-test-" });
  const bundle = await Deno.readTextFile(await buildBundle(REPO));
  const key = await generateReleaseKey({ name: "batou test releases" });
  const other = await generateReleaseKey({ name: "somebody else" });
  const keyFile = join(root, "release-key.asc"), otherKeyFile = join(root, "other-key.asc");
  await Deno.writeTextFile(keyFile, key.publicKey, { mode: 0o600 });
  await Deno.writeTextFile(otherKeyFile, other.publicKey, { mode: 0o600 });
  const mirror = join(root, "mirror");
  const programs = new Map<string, string>();
  const release = async (version: string, platform = HERE, signer = key.privateKey) => {
    programs.set(version, programFor(bundle, version));
    return await makeRelease(mirror, version, { [platform]: programs.get(version)! }, signer);
  };
  // 9.9.9: good (also `latest`); 9.9.1: binary swapped after signing; 9.9.2: SHA256SUMS edited after signing;
  // 9.9.3: signed by another key; 9.9.4: no binary for this platform; 9.9.5: served cut off mid-body.
  await release("9.9.9");
  const swapped = await release("9.9.1");
  await Deno.writeTextFile(join(swapped, HERE), programs.get("9.9.1")!.replace("batou", "b4tou"));
  const edited = await release("9.9.2");
  const sums = await Deno.readTextFile(join(edited, SUMS_FILE));
  await Deno.writeTextFile(join(edited, SUMS_FILE), sums.replace(/^[0-9a-f]{8}/, "00000000"));
  await release("9.9.3", HERE, other.privateKey);
  await release("9.9.4", "batou-plan9-mips");
  await release("9.9.5");
  const cutter = cuttingServer(join(mirror, "download", "v9.9.5", HERE));

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    const latest = /^\/latest\/download\/([^/]+)$/.exec(path);
    if (latest) return Response.redirect(new URL(`/download/v9.9.9/${latest[1]}`, req.url), 302);
    if (!/^\/download\/v[\d.]+\/[^/]+$/.test(path)) return new Response("not found", { status: 404 });
    let data: Uint8Array;
    try {
      data = await Deno.readFile(join(mirror, path));
    } catch {
      return new Response("not found", { status: 404 });
    }
    if (path === `/download/v9.9.5/${HERE}`) return Response.redirect(`${cutter.url}${path}`, 302);
    return new Response(data as Uint8Array<ArrayBuffer>);
  });
  const addr = server.addr as Deno.NetAddr;
  return { root, url: `http://127.0.0.1:${addr.port}`, keyFile, otherKeyFile, programs, server, cutter };
}

/** A fresh install directory with the old program as `batou`, and an empty project directory. */
async function install(fx: Fixture, name: string): Promise<{ target: string; project: string }> {
  const dir = join(fx.root, name);
  await Deno.mkdir(join(dir, "bin"), { recursive: true });
  await Deno.mkdir(join(dir, "project"), { recursive: true });
  const target = join(dir, "bin", "batou");
  await Deno.writeTextFile(target, OLD_PROGRAM, { mode: 0o755 });
  return { target, project: join(dir, "project") };
}

async function assertUntouched(target: string): Promise<void> {
  assertEquals(await Deno.readTextFile(target), OLD_PROGRAM, "the installed program is unchanged");
  const names: string[] = [];
  for await (const e of Deno.readDir(join(target, ".."))) names.push(e.name);
  assertEquals(names, ["batou"], "no batou.old and no temporary file left behind");
}

Deno.test("batou update: verified install, and refusals that leave the installed program untouched", async (t) => {
  const fx = await setUp();
  const env = { BATOU_UPDATE_TRUSTED_KEY_FILE: fx.keyFile };
  const update = (project: string, args: string[], extra: Record<string, string> = env) =>
    batou(project, ["update", "--from", fx.url, ...args], extra);
  try {
    await t.step("the test's release passes the release tool's own verification", async () => {
      const key = await Deno.readTextFile(fx.keyFile);
      assertEquals(await verifyRelease(join(fx.root, "mirror", "download", "v9.9.9"), key), []);
      const problems = await verifyRelease(join(fx.root, "mirror", "download", "v9.9.1"), key);
      assertEquals(problems, [`${HERE}: checksum mismatch`]);
    });

    await t.step("success: latest release installed, old program kept as batou.old, prints old -> new", async () => {
      const { target, project } = await install(fx, "ok");
      const r = await update(project, ["--target", target]);
      assertEquals(r.code, 0, r.output);
      assertStringIncludes(r.stdout, `batou ${VERSION} -> 9.9.9`);
      assertStringIncludes(r.output, "Trusting the release key");
      assertEquals(await Deno.readTextFile(target), fx.programs.get("9.9.9"));
      assertEquals(await Deno.readTextFile(`${target}.old`), OLD_PROGRAM);
      assertEquals((await Deno.stat(target)).mode! & 0o111, 0o111, "the new program is executable");
      const names: string[] = [];
      for await (const e of Deno.readDir(join(target, ".."))) names.push(e.name);
      assertEquals(names.sort(), ["batou", "batou.old"]);
      const run = await new Deno.Command(target, { args: ["--version"], stdout: "piped", stderr: "null" }).output();
      assertEquals(new TextDecoder().decode(run.stdout).trim(), "batou 9.9.9 (source)");
    });

    await t.step("--check reports the available version and changes nothing", async () => {
      const { target, project } = await install(fx, "check");
      const r = await update(project, ["--check", "--target", target]);
      assertEquals(r.code, 0, r.output);
      assertStringIncludes(r.stdout, `batou ${VERSION} -> 9.9.9 is available`);
      await assertUntouched(target);
    });

    await t.step("wrong checksum", async () => {
      const { target, project } = await install(fx, "sum");
      const r = await update(project, ["--version", "9.9.1", "--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, `checksum mismatch for ${HERE}`);
      assertStringIncludes(r.output, "The installed batou was not changed.");
      await assertUntouched(target);
    });

    await t.step("bad signature: SHA256SUMS altered after signing", async () => {
      const { target, project } = await install(fx, "sig");
      const r = await update(project, ["--version", "9.9.2", "--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "bad signature");
      assertStringIncludes(r.output, "the file was altered");
      await assertUntouched(target);
    });

    await t.step("bad signature: signed by a key that is not trusted", async () => {
      const { target, project } = await install(fx, "otherkey");
      const r = await update(project, ["--version", "9.9.3", "--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "which is not the trusted release key");
      await assertUntouched(target);
      // ...and the good release is refused too when another key is the trusted one.
      const r2 = await update(project, ["--version", "9.9.9", "--target", target], {
        BATOU_UPDATE_TRUSTED_KEY_FILE: fx.otherKeyFile,
      });
      assertEquals(r2.code, 1, r2.output);
      assertStringIncludes(r2.output, "bad signature");
      await assertUntouched(target);
    });

    await t.step("unknown platform", async () => {
      const { target, project } = await install(fx, "platform");
      const r = await update(project, ["--version", "9.9.4", "--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(
        r.output,
        `release 9.9.4 has no binary for this platform (${HERE}; it has: batou-plan9-mips)`,
      );
      await assertUntouched(target);
    });

    await t.step("interrupted download", async () => {
      const { target, project } = await install(fx, "cut");
      const r = await update(project, ["--version", "9.9.5", "--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "was interrupted");
      await assertUntouched(target);
    });

    await t.step("a missing release names the URL", async () => {
      const { target, project } = await install(fx, "missing");
      const r = await update(project, ["--version", "9.8.7", "--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, `${fx.url}/download/v9.8.7/SHA256SUMS (HTTP 404`);
      await assertUntouched(target);
    });

    await t.step("without --version, the version pinned in .batou.json is the one fetched", async () => {
      const { target, project } = await install(fx, "pin");
      await Deno.writeTextFile(join(project, ".batou.json"), JSON.stringify({ batou: { version: "9.9.7" } }));
      const r = await update(project, ["--target", target]);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "Going to batou 9.9.7, pinned in");
      assertStringIncludes(r.output, "/download/v9.9.7/SHA256SUMS");
      await assertUntouched(target);
    });

    await t.step("a file:// mirror works like http", async () => {
      const { target, project } = await install(fx, "file");
      const from = `file://${join(fx.root, "mirror")}`;
      const r = await batou(project, ["update", "--from", from, "--version", "9.9.9", "--target", target], env);
      assertEquals(r.code, 0, r.output);
      assertStringIncludes(r.stdout, `batou ${VERSION} -> 9.9.9`);
      assertEquals(await Deno.readTextFile(target), fx.programs.get("9.9.9"));
    });

    await t.step("the trusted-key override must not be writable by others; no key at all refuses", async () => {
      const { target, project } = await install(fx, "keys");
      const loose = join(fx.root, "loose-key.asc");
      await Deno.writeTextFile(loose, await Deno.readTextFile(fx.keyFile));
      await Deno.chmod(loose, 0o666);
      const r = await update(project, ["--target", target], { BATOU_UPDATE_TRUSTED_KEY_FILE: loose });
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "is writable by group or others; refusing to trust it");
      const r2 = await update(project, ["--target", target], {});
      assertEquals(r2.code, 1, r2.output);
      assertStringIncludes(r2.output, "no release key built in");
      await assertUntouched(target);
    });

    await t.step("source mode: explains that a checkout updates with git", async () => {
      const { project } = await install(fx, "source");
      const r = await batou(project, ["update"], env);
      assertEquals(r.code, 1, r.output);
      assertStringIncludes(r.output, "runs from a source checkout");
      assertStringIncludes(r.output, `git -C ${REPO} pull`);
    });
  } finally {
    await fx.server.shutdown();
    await fx.cutter.close();
    await Deno.remove(fx.root, { recursive: true });
  }
});
