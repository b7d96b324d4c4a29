/**
 * Issue 17: a deploy of thousands of library components changes the working directory only where needed (batou
 * reads it, enters the workdir and restores it for every component), and template sources are read once per
 * process while they do not change (lib/source_cache.ts).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component } from "../core/model/component.ts";
import { File } from "../lib/file.ts";
import { clearSourceCache, readSourceText, RECHECK_MS, SETTLED_MS, sourceCacheStats } from "../lib/source_cache.ts";
import { makeRoot, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

/** Calls of `Deno.chdir` and `Deno.cwd` while `fn` runs (the real functions run; they are only counted). */
async function countingCwdCalls(fn: () => Promise<void>): Promise<{ chdir: number; cwd: number }> {
  const realChdir = Deno.chdir, realCwd = Deno.cwd;
  const counts = { chdir: 0, cwd: 0 };
  Deno.chdir = (dir: string | URL) => {
    counts.chdir++;
    realChdir(dir);
  };
  Deno.cwd = () => {
    counts.cwd++;
    return realCwd();
  };
  try {
    await fn();
  } finally {
    Deno.chdir = realChdir;
    Deno.cwd = realCwd;
  }
  return counts;
}

/** Where each project component's verify ran. */
const seen: string[] = [];

/** A project class: not trusted, so it finds its workdir around its own verify. */
class Probe extends Component {
  static override namevar = "name";
  name = "";
  override verify(): void {
    seen.push(`${this.name} ${Deno.cwd() === this.workdir}`);
  }
}

/** A project subclass of File that leaves the process elsewhere: it is not trusted, its parent's cwd comes back. */
class Wanderer extends File {
  override verify(): void | Promise<void> {
    Deno.chdir("/");
    return super.verify();
  }
}

class Many extends Component {
  override configure(): void {
    for (let i = 0; i < 40; i++) {
      if (i === 10) this.add(new Probe("p10"));
      if (i === 20) this.add(new Wanderer("w20", { content: "w\n" }));
      this.add(new File(`f${i}`, { content: `file ${i}\n` }));
      if (i === 30) this.add(new Probe("p30"));
    }
  }
}

Deno.test("deploy: library files need no chdir per component; project code still runs in its workdir", async () => {
  await using project = await tempProject();
  const root = makeRoot(Many, project.dir);
  root.environment.manageCwd = true;
  await root.prepare();
  const before = Deno.cwd();
  await withRecordedOutput(() => root.component!.deploy());
  strictEqual(Deno.cwd(), before);
  for (let i = 0; i < 40; i++) {
    strictEqual(await Deno.readTextFile(join(root.workdir, `f${i}`)), `file ${i}\n`);
  }
  seen.length = 0;
  const counts = await countingCwdCalls(() => withRecordedOutput(() => root.component!.deploy()).then(() => {}));
  strictEqual(Deno.cwd(), before);
  deepStrictEqual(seen, ["p10 true", "p30 true"]);
  // 40 Files of 2 components each plus 4 others: batou's way is 3 calls per component (~250 here). Now: the
  // project's 4 components (read, enter, restore each), the first File and the one after the Wanderer.
  ok(counts.chdir + counts.cwd <= 20, JSON.stringify(counts));
});

Deno.test("source cache: a settled template is read once; a changed or unsettled one again", async () => {
  await using project = await tempProject();
  const path = join(project.dir, "t.j2");
  clearSourceCache();
  await Deno.writeTextFile(path, "one {{ x }}\n");
  const t = Date.now();
  const start = sourceCacheStats();
  strictEqual(readSourceText(path, "utf-8", t), "one {{ x }}\n");
  // Within RECHECK_MS the text is used without a stat; a rewrite is seen at the next check. Just written (not
  // settled), it is read again then, even with the same size and within the same millisecond.
  await Deno.writeTextFile(path, "two {{ x }}\n");
  strictEqual(readSourceText(path, "utf-8", t + 1), "one {{ x }}\n");
  strictEqual(readSourceText(path, "utf-8", t + RECHECK_MS), "two {{ x }}\n");
  const later = t + SETTLED_MS + 1000;
  strictEqual(readSourceText(path, "utf-8", later), "two {{ x }}\n");
  strictEqual(readSourceText(path, "utf-8", later + 1), "two {{ x }}\n");
  strictEqual(readSourceText(path, "utf-8", later + RECHECK_MS), "two {{ x }}\n");
  const mid = sourceCacheStats();
  deepStrictEqual({ hits: mid.hits - start.hits, reads: mid.reads - start.reads }, { hits: 3, reads: 3 });
  // A rewrite (other size, new ctime), a replacement (new inode) and another encoding are read again.
  await Deno.writeTextFile(path, "three {{ x }}\n");
  strictEqual(readSourceText(path, "utf-8", later + 10_000), "three {{ x }}\n");
  await Deno.writeTextFile(path + ".new", "four\n");
  await Deno.rename(path + ".new", path);
  strictEqual(readSourceText(path, "utf-8", later + 20_000), "four\n");
  strictEqual(readSourceText(path, "latin-1", later + 20_001), "four\n");
  const end = sourceCacheStats();
  strictEqual(end.reads - mid.reads, 3);
});

Deno.test("source cache: hundreds of Files from one template read it once, a delayed source is read fresh", async () => {
  await using project = await tempProject();
  await Deno.writeTextFile(join(project.dir, "file.j2"), "{{ args.n }} on {{ host.name }}\n");
  const old = new Date(Date.now() - 60_000);
  await Deno.utime(join(project.dir, "file.j2"), old, old);
  class FromTemplate extends Component {
    override configure(): void {
      for (let n = 0; n < 200; n++) this.add(new File(`f${n}`, { source: "file.j2", templateArgs: { n } }));
      // Created by the deployment (the first File's content): read when it is verified, not from the cache.
      this.add(new File("copy", { source: join(this.workdir, "f0"), isTemplate: false }));
    }
  }
  clearSourceCache();
  const before = sourceCacheStats();
  const root = makeRoot(FromTemplate, project.dir);
  await root.prepare();
  const after = sourceCacheStats();
  ok(after.reads - before.reads <= 2, JSON.stringify({ before, after }));
  await withRecordedOutput(() => root.component!.deploy());
  strictEqual(await Deno.readTextFile(join(root.workdir, "f199")), "199 on localhost\n");
  strictEqual(await Deno.readTextFile(join(root.workdir, "copy")), "0 on localhost\n");
});
