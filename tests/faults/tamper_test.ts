/**
 * Fault injection: the agent files cached on the target (`~/.cache/batou/agents`) are tampered with between two
 * deployments — same name, same size, different bytes that would leave a marker file if they were ever run (a shell
 * script in place of the deno executable, JavaScript in place of the bundle), a directory in place of a file, and
 * a symlink to a tampered copy. Every start checks the SHA-256 first: the tampered files are detected, replaced by
 * a fresh upload and never executed; the deployment succeeds.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../support/assert.ts";
import { runCommand } from "../support/tools.ts";
import { faultProject, sha256, sharedDir, uidOf, withSshd } from "./harness.ts";

const PREFIX = "bftamper";

const HELLO = {
  "components/hello/component.ts": `import { Component, File } from "batou";
export class Hello extends Component {
  override configure() {
    this.add(new File("hello", { content: "hello\\n" }));
  }
}
`,
};

/** `text` padded with `pad` up to exactly `size` bytes. */
function sameSize(text: string, size: number, pad: string): Uint8Array {
  const head = new TextEncoder().encode(text);
  assert(head.length + 2 <= size, "the tampered content does not fit");
  const out = new Uint8Array(size).fill(pad.charCodeAt(0));
  out.set(head);
  out[size - 1] = 10;
  return out;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Per-host agent upload from the `📊 host: stats: ... agent-upload=N` line. */
function agentUpload(output: string, host: string): number {
  const m = new RegExp(`📊 ${host}: stats: .*agent-upload=(\\d+)`).exec(output);
  if (!m) throw new Error(`no stats line for ${host}:\n${output}`);
  return Number(m[1]);
}

Deno.test("tampered cached agent files are detected by hash, replaced and never executed", async () => {
  await withSshd({ hosts: ["host1"], prefix: PREFIX }, async (fixture) => {
    const marks = await sharedDir();
    const host = fixture.hosts[0];
    const uid = await uidOf(host.user);
    const cache = join(host.home, ".cache/batou/agents");
    const p = await faultProject(fixture, { files: HELLO, cfg: "[hosts]\nhost1 = hello\n" });
    const stats = { BATOU_STATS: "1" };
    try {
      // From a target that has never seen batou (an earlier failed run may have left a tampered cache).
      await Deno.remove(join(host.home, ".cache/batou"), { recursive: true }).catch(() => {});
      const first = await p.deploy([], stats);
      assertEquals(first.code, 0, first.output);
      const names = (await Array.fromAsync(Deno.readDir(cache))).map((e) => e.name).filter((n) =>
        /^(deno|batou)-/.test(n)
      ).sort();
      const deno = names.find((n) => n.startsWith("deno-"))!;
      const bundle = names.find((n) => n.endsWith(".js"))!;
      assert(deno && bundle, `agent files not found in ${cache}: ${names}`);
      const good = {
        [deno]: sha256(await Deno.readFile(join(cache, deno))),
        [bundle]: sha256(await Deno.readFile(join(cache, bundle))),
      };
      const check = async (what: string) => {
        for (const [name, hash] of Object.entries(good)) {
          const info = await Deno.lstat(join(cache, name));
          assert(info.isFile, `${what}: ${name} is not a regular file after the deployment`);
          assertEquals(sha256(await Deno.readFile(join(cache, name))), hash, `${what}: ${name} was not replaced`);
        }
        const markers = (await Array.fromAsync(Deno.readDir(marks))).map((e) => e.name);
        assertEquals(markers, [], `${what}: a tampered file was executed`);
      };

      // 1. Same names and sizes, other bytes: a script for deno, JavaScript for the bundle.
      const denoSize = (await Deno.stat(join(cache, deno))).size;
      const bundleSize = (await Deno.stat(join(cache, bundle))).size;
      await Deno.writeFile(
        join(cache, deno),
        sameSize(`#!/bin/sh\ntouch ${marks}/deno-ran\nexit 1\n#`, denoSize, "#"),
      );
      await Deno.writeFile(
        join(cache, bundle),
        sameSize(`Deno.writeTextFileSync(${JSON.stringify(`${marks}/bundle-ran`)}, "x");\n//`, bundleSize, "/"),
      );
      for (const n of [deno, bundle]) await Deno.chown(join(cache, n), uid, uid);
      const r1 = await p.deploy([], stats);
      assertEquals(r1.code, 0, r1.output);
      assert(agentUpload(r1.output, "host1") > 0, "nothing was uploaded although the cache was tampered with");
      await check("same-size tampering");

      // 2. Only the bundle (the deno executable is fine): only the bundle is uploaded again.
      await Deno.writeFile(join(cache, bundle), new TextEncoder().encode(`Deno.writeTextFileSync("${marks}/b2", "");`));
      await Deno.chown(join(cache, bundle), uid, uid);
      const r2 = await p.deploy([], stats);
      assertEquals(r2.code, 0, r2.output);
      assert(agentUpload(r2.output, "host1") < denoSize / 4, "the untouched deno executable was uploaded again");
      await check("bundle tampering");

      // 3. A symlink to a tampered copy elsewhere, and a directory in place of the bundle.
      const evil = join(marks, "evil-deno");
      await Deno.writeTextFile(evil, `#!/bin/sh\ntouch ${marks}/symlink-ran\n`, { mode: 0o755 });
      await Deno.remove(join(cache, deno));
      await Deno.symlink(evil, join(cache, deno));
      await Deno.remove(join(cache, bundle));
      await Deno.mkdir(join(cache, bundle));
      await Deno.writeTextFile(join(cache, bundle, "inside"), "x");
      await runCommand("chown", [
        "-h",
        `${uid}:${uid}`,
        join(cache, deno),
        join(cache, bundle),
        join(cache, bundle, "inside"),
      ]);
      const r3 = await p.deploy([], stats);
      console.log(
        `[faults] symlink + directory in the agent cache: exit ${r3.code}; ${
          r3.output.split("\n").filter((l) => /ERROR|📊/.test(l))
        }`,
      );
      assertEquals(r3.code, 0, r3.output);
      await Deno.remove(evil);
      await check("symlink and directory");
      assert(!(await exists(join(cache, bundle, "inside"))), "the directory in place of the bundle is still there");
    } finally {
      await p.cleanup();
      await Deno.remove(marks, { recursive: true }).catch(() => {});
    }
  });
});
