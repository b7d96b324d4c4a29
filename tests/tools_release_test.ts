/**
 * The release tooling: target selection and the exact `deno compile` command, build info, the release file
 * formats (SHA256SUMS, versions) and the release tool's signing as checked by `batou update`'s verifier.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { REPO } from "./support/cli.ts";
import { chooseTargets, compileArgs } from "../tools/compile.ts";
import { AGENT_V8_FLAGS } from "../remote/transport/connect.ts";
import { generateReleaseKey, writeRelease } from "../tools/release.ts";
import {
  compareVersions,
  formatSums,
  parseReleaseInfo,
  parseSums,
  RELEASE_TARGETS,
  sha256Hex,
  verifyDetached,
} from "../cli/release_files.ts";
import { readBuildInfo, VERSION } from "../core/runtime/version.ts";

function throwsWith(fn: () => unknown, part: string): void {
  try {
    fn();
  } catch (e) {
    assertStringIncludes((e as Error).message, part);
    return;
  }
  throw new Error(`expected an error with ${JSON.stringify(part)}`);
}

Deno.test("compile: four targets by default; DENORT_BIN builds exactly one", () => {
  assertEquals(chooseTargets([], undefined).map((t) => t.target), [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
  ]);
  assertEquals(chooseTargets([], "/opt/denort").map((t) => t.target), [Deno.build.target]);
  assertEquals(chooseTargets(["aarch64-apple-darwin"], "/opt/denort").map((t) => t.os + "-" + t.arch), [
    "darwin-aarch64",
  ]);
  throwsWith(() => chooseTargets(["x86_64-apple-darwin", "aarch64-apple-darwin"], "/opt/denort"), "one target per run");
  throwsWith(() => chooseTargets(["sparc-sun-solaris"], undefined), "unknown target sparc-sun-solaris");
});

Deno.test("compile: the deno compile command embeds environments.example, the build info and the agent's V8 flags", () => {
  assertEquals(compileArgs(RELEASE_TARGETS[0], "dist/batou-linux-x86_64"), [
    "compile",
    "-A",
    `--v8-flags=${AGENT_V8_FLAGS}`,
    "--target",
    "x86_64-unknown-linux-gnu",
    "--include",
    "environments.example",
    "--include",
    "dist/build/build-info.json",
    "--output",
    "dist/batou-linux-x86_64",
    "main.ts",
  ]);
});

Deno.test("compile: a missing DENORT_BIN fails clearly after writing the build info", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO, "tools/compile.ts")],
    env: { DENORT_BIN: "/nonexistent/denort", NO_COLOR: "1", SOURCE_DATE_EPOCH: "1700000000" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assertEquals(r.code, 1, text);
  assertStringIncludes(
    text,
    `DENORT_BIN=/nonexistent/denort deno compile -A --v8-flags=${AGENT_V8_FLAGS} --target ${Deno.build.target}`,
  );
  assertStringIncludes(text, "Could not find denort at '/nonexistent/denort'");
  const info = readBuildInfo(pathToFileURL(join(REPO, "dist/build/build-info.json")));
  assert(info, "build info written");
  assertEquals([info.version, info.date, info.target], [VERSION, "2023-11-14T22:13:20Z", Deno.build.target]);
  assert(/^[0-9a-f]{12}(-dirty)?$/.test(info.commit), info.commit);
});

Deno.test("build info of another version is ignored", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "b.json");
    await Deno.writeTextFile(path, JSON.stringify({ version: "0.0.0-other", commit: "x", date: "y" }));
    assertEquals(readBuildInfo(pathToFileURL(path)), null);
    await Deno.writeTextFile(path, JSON.stringify({ version: VERSION, commit: "abc", date: "d" }));
    assertEquals(readBuildInfo(pathToFileURL(path)), { version: VERSION, commit: "abc", date: "d", target: undefined });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("versions compare in semver order", () => {
  const sorted = ["0.1.0-rc.1", "0.1.0-rc.2", "0.1.0-rc.10", "0.1.0", "0.1.1", "0.2.0", "0.10.0", "1.0.0"];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = 0; j < sorted.length; j++) {
      assertEquals(Math.sign(compareVersions(sorted[i], sorted[j])), Math.sign(i - j), `${sorted[i]} vs ${sorted[j]}`);
    }
  }
  throwsWith(() => parseReleaseInfo('{"version": "latest"}'), "names no valid version");
});

Deno.test("SHA256SUMS round trip; malformed lines, paths and duplicates are refused", () => {
  const a = "a".repeat(64), b = "B".repeat(64);
  const text = formatSums([{ name: "z", sha256: a }, { name: "batou-linux-x86_64", sha256: b.toLowerCase() }]);
  assertEquals(text, `${b.toLowerCase()}  batou-linux-x86_64\n${a}  z\n`);
  assertEquals(parseSums(text + `${b} *binary-mode\n`).get("binary-mode"), b.toLowerCase());
  throwsWith(() => parseSums(`${a}  ../etc/passwd\n`), "line 1 is malformed");
  throwsWith(() => parseSums(`${a.slice(1)}  x\n`), "line 1 is malformed");
  throwsWith(() => parseSums(`${a}  x\n${b}  x\n`), "lists x twice");
});

Deno.test("release tool: only built files are listed, and the signature checks out (and fails when altered)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key = await generateReleaseKey({ name: "test" }, "secret words");
    await Deno.writeTextFile(join(dir, "batou-linux-x86_64"), "binary\n");
    await Deno.writeTextFile(join(dir, "batou.js"), "bundle\n");
    await Deno.writeTextFile(join(dir, "release-key.asc"), key.privateKey);
    let failed = "";
    try {
      await writeRelease({ dir, info: { version: "1.2.3", commit: "c", date: "d" }, privateKey: key.privateKey });
    } catch (e) {
      failed = (e as Error).message;
    }
    assertStringIncludes(failed, "passphrase");
    const names = await writeRelease({
      dir,
      info: { version: "1.2.3", commit: "c", date: "d" },
      privateKey: key.privateKey,
      passphrase: "secret words",
    });
    assertEquals(names, ["batou-linux-x86_64", "batou.js", "release.json"]);
    const sums = await Deno.readFile(join(dir, "SHA256SUMS"));
    assertEquals(
      parseSums(new TextDecoder().decode(sums)).get("batou.js"),
      await sha256Hex(await Deno.readFile(join(dir, "batou.js"))),
    );
    const sig = await Deno.readTextFile(join(dir, "SHA256SUMS.asc"));
    assertEquals(await verifyDetached(sums, sig, key.publicKey), key.fingerprint);
    assertEquals(parseReleaseInfo(await Deno.readTextFile(join(dir, "release.json"))).version, "1.2.3");
    const altered = new Uint8Array(sums);
    altered[0] ^= 1;
    let why = "";
    try {
      await verifyDetached(altered, sig, key.publicKey);
    } catch (e) {
      why = (e as Error).message;
    }
    assertStringIncludes(why, "the file was altered");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
