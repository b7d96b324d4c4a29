/**
 * Fault injection: a full disk on the target. A 1 MiB tmpfs, mounted by the test (as root) and owned by the
 * target's account, is the destination of a File, and separately the `target_directory` the project is synced to.
 *
 * When the write does not fit: the deployment fails with a clear message naming the host and the file (no stack
 * trace), the old file is intact, no temporary file is left behind; once there is room again a re-run converges.
 */
import { join } from "node:path";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../support/assert.ts";
import { runCommand } from "../support/tools.ts";
import { requireTools } from "../support/sshd.ts";
import { assertNoStackTrace, faultProject, tempLeftovers, uidOf, withSshd } from "./harness.ts";

const PREFIX = "bfdisk";

const COMPONENT = `import { attribute, Component, File } from "batou";
export class Conf extends Component {
  dest = attribute(String, "");
  lines = attribute(Number, 10);
  generation = attribute(String, "A");
  override configure() {
    let text = "";
    for (let i = 0; i < this.lines; i++) text += ("line " + i + " of generation " + this.generation).padEnd(63, ".") + "\\n";
    this.add(new File(this.dest || "conf", { content: text, isTemplate: false }));
  }
}
`;

function content(lines: number, generation: string): string {
  let text = "";
  for (let i = 0; i < lines; i++) text += `line ${i} of generation ${generation}`.padEnd(63, ".") + "\n";
  return text;
}

/** Mounts a 1 MiB tmpfs owned by `user` on a fresh directory; returns it and how to unmount and remove it. */
async function smallDisk(user: string): Promise<{ mnt: string; release: () => Promise<void> }> {
  await requireTools("mount", "umount");
  const outer = await Deno.makeTempDir({ prefix: "batou-fault-disk-" });
  await Deno.chmod(outer, 0o755);
  const mnt = join(outer, "mnt");
  await Deno.mkdir(mnt);
  const uid = await uidOf(user);
  const gid = Number((await runCommand("id", ["-g", user])).stdout.trim());
  await runCommand("mount", ["-t", "tmpfs", "-o", `size=1m,mode=0755,uid=${uid},gid=${gid}`, "tmpfs", mnt]);
  return {
    mnt,
    async release() {
      await runCommand("umount", ["-l", mnt], { check: false });
      await Deno.remove(outer, { recursive: true }).catch(() => {});
    },
  };
}

async function mounted(path: string): Promise<boolean> {
  return (await Deno.readTextFile("/proc/self/mounts")).split("\n").some((l) => l.split(" ")[1] === path);
}

Deno.test("a full disk under a File: clear error naming host and file, old file intact, no temp file; converges with room", async () => {
  await withSshd({ hosts: ["host1"], prefix: PREFIX }, async (fixture) => {
    const disk = await smallDisk(fixture.hosts[0].user);
    const dest = join(disk.mnt, "app.conf");
    const p = await faultProject(fixture, {
      files: { "components/conf/component.ts": COMPONENT },
      cfg: "",
    });
    const cfg = (lines: number, gen: string) =>
      `[hosts]\nhost1 = conf\n[component:conf]\ndest = ${dest}\nlines = ${lines}\ngeneration = ${gen}\n`;
    try {
      assert(await mounted(disk.mnt), "the tmpfs is not mounted");
      await p.setConfig(cfg(100, "A"));
      const first = await p.deploy();
      assertEquals(first.code, 0, first.output);
      const old = content(100, "A");
      assertEquals(await Deno.readTextFile(dest), old);

      // 2 MiB do not fit on 1 MiB.
      await p.setConfig(cfg(32768, "B"));
      const full = await p.deploy();
      console.log(
        `[faults] disk full under a File: ${full.output.split("\n").filter((l) => /ERROR|Host:|FAILED/.test(l))}`,
      );
      assertEquals(full.code, 1, full.output);
      assertNoStackTrace(full.output);
      // The error itself names the file (the OS message does not).
      assertStringIncludes(full.output, `ERROR: Error: Cannot write ${dest}: No space left on device`);
      assertMatch(full.output, /Host: host1\n\s+Component: conf/);
      assertMatch(full.output, /DEPLOYMENT FAILED \(during deploy\)/);
      assertEquals(await Deno.readTextFile(dest), old, "the old file was damaged");
      assertEquals(await tempLeftovers(disk.mnt), [], "temporary files left on the full disk");
      assertEquals(await tempLeftovers(p.base("host1")), []);

      // Room again (content that fits): converges.
      await p.setConfig(cfg(4000, "C"));
      const again = await p.deploy();
      assertEquals(again.code, 0, again.output);
      assertEquals(await Deno.readTextFile(dest), content(4000, "C"));
      assertEquals(await tempLeftovers(disk.mnt), []);
    } finally {
      await p.cleanup();
      await disk.release();
    }
  });
});

Deno.test("a full disk as target_directory: the sync fails clearly, nothing half-written is left; converges with room", async () => {
  await withSshd({ hosts: ["host2"], prefix: PREFIX }, async (fixture) => {
    const disk = await smallDisk(fixture.hosts[0].user);
    const base = join(disk.mnt, "deployment");
    const p = await faultProject(fixture, {
      files: { "components/conf/component.ts": COMPONENT },
      cfg: "[hosts]\nhost2 = conf\n",
      targetDirectory: base,
    });
    try {
      const first = await p.deploy();
      assertEquals(first.code, 0, first.output);
      const confPath = join(base, "work/conf/conf");
      const old = await Deno.readTextFile(confPath);
      const componentFile = join(base, "components/conf/component.ts");
      const oldComponent = await Deno.readTextFile(componentFile);

      // A project file larger than the disk (incompressible): 2 MiB go in one message, 5 MiB in chunks.
      await Deno.writeTextFile(join(p.dir, "components/conf/component.ts"), COMPONENT + "// changed\n");
      for (const size of [2, 5]) {
        const blob = crypto.getRandomValues(new Uint8Array(65536));
        const big = new Uint8Array(size * 1024 * 1024);
        for (let i = 0; i < big.length; i += blob.length) big.set(blob, i);
        big[0] ^= 1;
        await Deno.writeFile(join(p.dir, "components/conf/blob.bin"), big);
        const full = await p.deploy();
        console.log(
          `[faults] disk full as target_directory (${size} MiB): ${
            full.output.split("\n").filter((l) => /ERROR|Host:|FAILED/.test(l))
          }`,
        );
        assertEquals(full.code, 1, full.output);
        assertNoStackTrace(full.output);
        // Files are written in parallel: whichever write meets the full disk first is named.
        assertMatch(full.output, /ERROR: Error: Cannot sync \/\S+\/(blob\.bin|component\.ts): No space left on device/);
        assertMatch(full.output, /Host: host2/);
        assert(!full.output.includes("Traceback"), `a traceback without a place:\n${full.output}`);
        assertMatch(full.output, /DEPLOYMENT FAILED \(during connect\)/);
        assertEquals(await Deno.readTextFile(confPath), old);
        const seen = await Deno.readTextFile(componentFile);
        assert(seen === oldComponent || seen === oldComponent + "// changed\n", "component.ts is half-written");
        assertEquals(await tempLeftovers(base), [], "the failed sync left temporary files");
      }

      // Room again: the blob goes away, the re-run converges and removes what the failed run left.
      await Deno.remove(join(p.dir, "components/conf/blob.bin"));
      const again = await p.deploy();
      assertEquals(again.code, 0, again.output);
      assertEquals(await Deno.readTextFile(componentFile), oldComponent + "// changed\n");
      assertEquals(await tempLeftovers(base), []);
    } finally {
      await p.cleanup();
      await disk.release();
    }
  });
});

Deno.test("a full disk under the agent cache (home on a 16 MiB tmpfs): the upload fails clearly, no partial file left", async () => {
  await withSshd({ hosts: ["host3"], prefix: PREFIX }, async (fixture) => {
    await requireTools("mount", "umount");
    const host = fixture.hosts[0];
    const uid = await uidOf(host.user);
    const gid = Number((await runCommand("id", ["-g", host.user])).stdout.trim());
    const elsewhere = await Deno.makeTempDir({ prefix: "batou-fault-elsewhere-" });
    await Deno.chown(elsewhere, uid, gid);
    const p = await faultProject(fixture, {
      files: { "components/conf/component.ts": COMPONENT },
      cfg: "[hosts]\nhost3 = conf\n",
      targetDirectory: join(elsewhere, "deployment"),
    });
    let mounted = false;
    try {
      await runCommand("mount", ["-t", "tmpfs", "-o", `size=16m,mode=0755,uid=${uid},gid=${gid}`, "tmpfs", host.home]);
      mounted = true;
      const r = await p.deploy();
      console.log(
        `[faults] full disk under the agent cache: ${
          r.output.split("\n").filter((l) => /ERROR|^\s{4}\S|FAILED/.test(l))
        }`,
      );
      assertEquals(r.code, 1, r.output);
      assertNoStackTrace(r.output);
      assertMatch(
        r.output,
        /ERROR: host3: the agent upload is incomplete \(\d+ of \d+ bytes written\): the target's disk is full/,
      );
      assertMatch(r.output, /\n {4}.*No space left on device/);
      assertEquals(await tempLeftovers(host.home), [], "a partial upload was left in the agent cache");
    } finally {
      if (mounted) await runCommand("umount", ["-l", host.home], { check: false });
      await p.cleanup();
      await Deno.remove(elsewhere, { recursive: true }).catch(() => {});
    }
  });
});
