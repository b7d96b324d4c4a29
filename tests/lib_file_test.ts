import { deepStrictEqual, match, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { join, relative } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { ComponentUsageError, ConfigurationError, ConversionError, UpdateNeeded } from "../core/model/errors.ts";
import {
  BinaryFile,
  Content,
  convertMode,
  Directory,
  ensurePathNonexistent,
  File,
  Group,
  JSONContent,
  Mode,
  Owner,
  parseMode,
  Presence,
  Purge,
  Symlink,
  SyncDirectory,
  UnicodeEncodeError,
  YAMLContent,
} from "../lib/file.ts";
import { dictMerge, pythonJsonDumps } from "../core/formats/pyjson.ts";
import { chmodNoFollow, chownNoFollow, fileInfoSync, forgetFileInfo, glob } from "../core/runtime/fsops.ts";
import { exists } from "./support/fs.ts";
import { contentMemoFor } from "../core/runtime/content_memo.ts";
import { RACY_MARGIN_MS } from "../core/runtime/file_signature.ts";
import { reportText } from "./core_test_helpers.ts";
import { planSync } from "../lib/dirsync.ts";
import { TestProject, withProject } from "./support/project.ts";

/** A root component class `MyComponent` whose configure runs `fn`; `fields` are set on it first. */
function root(fn: (c: Component) => void, fields: Record<string, unknown> = {}): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      Object.assign(this, fields);
      fn(this);
    }
  };
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00]);

async function listDir(path: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name).sort();
}

// ------------------------------------------------------------------------------------------ ensurePathNonexistent

Deno.test("ensurePathNonexistent removes files, symlinks, broken symlinks and directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "file"), "x");
    await Deno.writeTextFile(join(dir, "target"), "t");
    await Deno.symlink(join(dir, "target"), join(dir, "link"));
    await Deno.symlink(join(dir, "nowhere"), join(dir, "broken"));
    await Deno.mkdir(join(dir, "tree", "sub"), { recursive: true });
    await Deno.writeTextFile(join(dir, "tree", "sub", "f"), "f");
    for (const name of ["file", "link", "broken", "tree", "missing"]) await ensurePathNonexistent(join(dir, name));
    // Only the link's target is left, and no temporary directory.
    deepStrictEqual(await listDir(dir), ["target"]);
    strictEqual(await Deno.readTextFile(join(dir, "target")), "t");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------------------------------------ Presence

Deno.test("Presence creates a missing file and leaves existing content intact", async () => {
  await withProject(async (p) => {
    let presence!: Presence;
    await p.configure(root((c) => presence = c.add(new Presence("path"))));
    strictEqual(presence.path, join(p.workdir, "path"));
    await p.deploy();
    strictEqual(await Deno.readTextFile(presence.path), "");
    strictEqual(presence.changed, true);
    await Deno.writeTextFile(presence.path, "Hello there!");
    await p.deploy();
    strictEqual(await Deno.readTextFile(presence.path), "Hello there!");
    strictEqual(presence.changed, false);
  });
});

Deno.test("Presence creates leading directories only when asked", async () => {
  await withProject(async (p) => {
    let presence!: Presence;
    await p.configure(root((c) => presence = c.add(new Presence("directory/file", { leading: true }))));
    await p.deploy();
    strictEqual(await Deno.readTextFile(presence.path), "");
  });
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new Presence("directory/file"))));
    await rejects(() => p.deploy(), (e: Error) => {
      ok(e instanceof Deno.errors.NotFound);
      match(e.message, /^Cannot create \/.*\/work\/mycomponent\/directory\/file: directory .* does not exist/);
      return true;
    });
  });
});

Deno.test("Presence replaces conflicting symlinks and directories", async () => {
  await withProject(async (p) => {
    await Deno.symlink(join(p.workdir, "target"), join(p.workdir, "link"));
    await Deno.mkdir(join(p.workdir, "dir", "sub"), { recursive: true });
    await p.configure(root((c) => {
      c.add(new Presence("link"));
      c.add(new Presence("dir"));
    }));
    await p.deploy();
    for (const name of ["link", "dir"]) {
      const info = await Deno.lstat(join(p.workdir, name));
      ok(info.isFile, name);
      strictEqual(await Deno.readTextFile(join(p.workdir, name)), "");
    }
    ok(!(await exists(join(p.workdir, "target"))));
  });
});

// ------------------------------------------------------------------------------------------ Directory

Deno.test("Directory creates a directory, with leading directories if configured", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => {
      c.add(new Directory("dir"));
      c.add(new Directory("directory/path", { leading: true }));
    }));
    await p.deploy();
    ok((await Deno.stat(join(p.workdir, "dir"))).isDirectory);
    ok((await Deno.stat(join(p.workdir, "directory/path"))).isDirectory);
  });
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new Directory("directory/path"))));
    await rejects(() => p.deploy(), /Cannot create directory .*directory\/path: directory .* does not exist/);
  });
});

Deno.test("Directory with source copies files, honours exclude and converges", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("source/one", "1");
    await p.writeDefdir("source/two", "2");
    await p.writeDefdir("source/sub/three.txt", "3");
    await p.writeDefdir("source/sub/skip.pyc", "x");
    await Deno.chmod(join(p.defdir, "source/one"), 0o750);
    let dir!: Directory;
    const cls = root((c) => dir = c.add(new Directory("target", { source: "source", exclude: ["two", "*.pyc"] })));
    await p.configure(cls);
    await p.deploy();
    const target = join(p.workdir, "target");
    deepStrictEqual(await listDir(target), ["one", "sub"]);
    deepStrictEqual(await listDir(join(target, "sub")), ["three.txt"]);
    strictEqual((await Deno.stat(join(target, "one"))).mode! & 0o777, 0o750);
    strictEqual(dir.changed, true);
    ok(p.lines.includes("🚀 localhost: MyComponent > Directory('work/mycomponent/target') > SyncDirectory('target')"));

    // Unchanged source: nothing to do, nothing touched.
    await Deno.writeTextFile(join(target, "extra"), "kept");
    const inode = (await Deno.stat(join(target, "one"))).ino;
    await p.configure(cls);
    await p.deploy();
    strictEqual(dir.changed, false);
    strictEqual((await Deno.stat(join(target, "one"))).ino, inode);

    // A changed file is copied again; extra files survive (no --delete).
    await p.writeDefdir("source/sub/three.txt", "drei");
    await p.configure(cls);
    await p.deploy();
    strictEqual(dir.changed, true);
    strictEqual(await Deno.readTextFile(join(target, "sub/three.txt")), "drei");
    strictEqual(await Deno.readTextFile(join(target, "extra")), "kept");
    strictEqual(await dir.lastUpdated(), (await Deno.stat(join(target, "sub/three.txt"))).mtime!.getTime());
  });
});

Deno.test("Directory delete: true removes what the source no longer has, keeps excluded files", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("source/keep", "k");
    await p.writeDefdir("source/sub/gone.txt", "g");
    await p.writeDefdir("source/old/deep.txt", "d");
    let dir!: Directory;
    const cls = root((c) =>
      dir = c.add(new Directory("target", { source: "source", exclude: ["*.log"], delete: true }))
    );
    await p.configure(cls);
    await p.deploy();
    const target = join(p.workdir, "target");
    deepStrictEqual(await listDir(target), ["keep", "old", "sub"]);

    // Remove from the source; add strays to the target (one excluded, which is protected as rsync does).
    await Deno.remove(join(p.defdir, "source/sub/gone.txt"));
    await Deno.remove(join(p.defdir, "source/old"), { recursive: true });
    await Deno.writeTextFile(join(target, "stray"), "s");
    await Deno.writeTextFile(join(target, "app.log"), "l");
    await Deno.symlink("keep", join(target, "link"));
    await p.configure(cls);
    await p.deploy();
    strictEqual(dir.changed, true);
    deepStrictEqual(await listDir(target), ["app.log", "keep", "sub"]);
    deepStrictEqual(await listDir(join(target, "sub")), []);
    // Converged: nothing more to do.
    await p.configure(cls);
    await p.deploy();
    strictEqual(dir.changed, false);
  });
  // planSync lists the deletions without touching anything (predict mode shows them).
  const src = await Deno.makeTempDir(), dst = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dst, "extra"), "");
    deepStrictEqual(await planSync(src, dst, [], { delete: true }), [{
      kind: "delete",
      path: "extra",
      reason: "extraneous",
    }]);
    deepStrictEqual(await planSync(src, dst), []);
    ok(await exists(join(dst, "extra")));
  } finally {
    await Deno.remove(src, { recursive: true });
    await Deno.remove(dst, { recursive: true });
  }
});

Deno.test("File ensure=directory with source copies all files", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("source/one", "");
    await p.writeDefdir("source/two", "");
    let file!: File;
    await p.configure(root((c) => file = c.add(new File("target", { ensure: "directory", source: "source" }))));
    ok(file.subComponents[0] instanceof Directory);
    await p.deploy();
    deepStrictEqual(await listDir(join(p.workdir, "target")), ["one", "two"]);
  });
});

Deno.test("SyncDirectory needs an update for a missing target and requires a source", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("existing_dir/test_file", "");
    let sync!: SyncDirectory;
    await p.configure(root((c) => sync = c.add(new SyncDirectory("non_existing_dir", { source: "existing_dir" }))));
    await rejects(async () => await sync.verify(), UpdateNeeded);
    const errors = await p.configureErrors(root((c) => c.add(new SyncDirectory("x"))));
    ok(errors[0] instanceof ComponentUsageError);
    strictEqual(errors[0].message, "SyncDirectory requires a source to sync from.");
  });
});

// ------------------------------------------------------------------------------------------ Content

Deno.test("Content passed by string is a template of the parent component", async () => {
  await withProject(async (p) => {
    let content!: Content;
    let raw!: Content;
    await p.configure(root((c) => {
      content = c.add(new Content("path", { content: "{{component.foobar}}" }));
      raw = c.add(new Content("raw", { content: "{{component.foobar}}", isTemplate: false }));
    }, { foobar: "asdf" }));
    await p.deploy();
    strictEqual(await Deno.readTextFile(content.path), "asdf");
    strictEqual(await Deno.readTextFile(raw.path), "{{component.foobar}}");
  });
});

Deno.test("Content templates see templateArgs as `args` and an explicit templateContext", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => {
      c.add(
        new File("args", { content: "{{ args.greeting }}, {{ component.name }}\n", templateArgs: { greeting: "Hi" } }),
      );
      c.add(new Content("ctx", { content: "{{component.foobar}}", templateContext: { foobar: "from context" } }));
    }, { name: "root" }));
    await p.deploy();
    strictEqual(await Deno.readTextFile(join(p.workdir, "args")), "Hi, root\n");
    strictEqual(await Deno.readTextFile(join(p.workdir, "ctx")), "from context");
  });
});

Deno.test("Content from a source file: relative to the defdir, templated, with encodings", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("source", "content from source file {{component.foo}}");
    await p.writeDefdir(
      "latin",
      new Uint8Array([
        0x63,
        0xf6,
        0x6e,
        0x74,
        0x20,
        0x7b,
        0x7b,
        0x63,
        0x6f,
        0x6d,
        0x70,
        0x6f,
        0x6e,
        0x65,
        0x6e,
        0x74,
        0x2e,
        0x66,
        0x6f,
        0x6f,
        0x7d,
        0x7d,
      ]),
    ); // "cönt {{component.foo}}" in latin-1
    let content!: Content;
    await p.configure(root((c) => {
      content = c.add(new Content("path", { source: "source" }));
      c.add(new Content("latin-out", { source: "latin", encoding: "latin-1" }));
    }, { foo: "bar" }));
    strictEqual(content.source, join(p.defdir, "source"));
    await p.deploy();
    strictEqual(await Deno.readTextFile(content.path), "content from source file bar");
    deepStrictEqual(
      await Deno.readFile(join(p.workdir, "latin-out")),
      new Uint8Array([0x63, 0xf6, 0x6e, 0x74, 0x20, 0x62, 0x61, 0x72]),
    );
  });
});

Deno.test("Content with unicode requires a suitable encoding (error at configure time)", async () => {
  await withProject(async (p) => {
    const errors = await p.configureErrors(
      root((c) => c.add(new File("path", { content: "örks {{component.foobar}}", encoding: "ascii" })), {
        foobar: "äsdf",
      }),
    );
    ok(errors[0] instanceof UnicodeEncodeError);
    strictEqual(errors[0].message, "'ascii' codec can't encode character 'ö' in position 0: ordinal not in range(128)");
    let file!: File;
    await p.configure(
      root((c) => file = c.add(new File("path", { content: "örks {{component.foobar}}" })), { foobar: "äsdf" }),
    );
    await p.deploy();
    strictEqual(await Deno.readTextFile(file.path), "örks äsdf");
  });
});

Deno.test("Binary content is preserved byte for byte (Content encoding null, BinaryFile)", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("image.png", PNG);
    let binary!: BinaryFile;
    await p.configure(root((c) => {
      c.add(new Content("content.png", { source: "image.png", isTemplate: false, encoding: null }));
      binary = c.add(new BinaryFile("file.png", { source: "image.png" }));
    }));
    await p.deploy();
    deepStrictEqual(await Deno.readFile(join(p.workdir, "content.png")), PNG);
    deepStrictEqual(await Deno.readFile(binary.path), PNG);
    deepStrictEqual(binary.content, PNG);
    ok(p.lines.includes("Not showing diff for binary data."));
  });
});

Deno.test("File guesses its source from the defdir (implicit template)", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("path", "content from source file {{component.foo}}");
    let file!: File;
    await p.configure(root((c) => file = c.add(new File("path")), { foo: "bar" }));
    strictEqual(file.source, `${p.defdir}/path`);
    deepStrictEqual(file.content, new TextEncoder().encode("content from source file bar"));
    await p.deploy();
    strictEqual(await Deno.readTextFile(file.path), "content from source file bar");
  });
});

Deno.test("File without content or implicit source: exact message", async () => {
  await withProject(async (p) => {
    const errors = await p.configureErrors(root((c) => c.add(new File("path"))));
    ok(errors[0] instanceof ConfigurationError);
    strictEqual(
      errors[0].message,
      `Missing implicit template file ${
        relative(p.baseDir, p.defdir)
      }/path. Or did you want to create an empty file? ` +
        'Then use new File("path", { content: "" }).',
    );
  });
});

Deno.test("File('x', {content: ''}) creates an empty file but does not empty an existing one", async () => {
  await withProject(async (p) => {
    let file!: File;
    await p.configure(root((c) => file = c.add(new File("new", { content: "" }))));
    deepStrictEqual(file.subComponents.map((s) => s.constructor.name), ["Presence"]);
    await p.deploy();
    strictEqual(await Deno.readTextFile(file.path), "");
    await Deno.writeTextFile(file.path, "kept");
    await p.deploy();
    strictEqual(await Deno.readTextFile(file.path), "kept");
  });
});

Deno.test("Content and source together are a configuration error", async () => {
  await withProject(async (p) => {
    const errors = await p.configureErrors(
      root((c) => c.add(new Content("path", { content: "asdf", source: "bsdf" }))),
    );
    strictEqual(errors[0].message, 'Only one of either "content" or "source" are allowed.');
    const json = await p.configureErrors(
      root((c) => c.add(new JSONContent("t.json", { data: { a: 1 }, source: "x" }))),
    );
    strictEqual(json[0].message, 'Only one of either "data" or "source" are allowed.');
  });
});

Deno.test("Content only touches the file when the content differs; updates are atomic", async () => {
  await withProject(async (p) => {
    const path = await p.writeWorkdir("path", "bsdf");
    await Deno.chmod(path, 0o640);
    if (Deno.uid() === 0) await Deno.chown(path, null, 1); // a group other than the writer's
    await Deno.utime(path, 0, 0);
    const before = await Deno.stat(path);
    let content!: Content;
    const cls = root((c) => content = c.add(new Content("path", { content: "asdf" })));
    await p.configure(cls);
    await p.deploy();
    const after = await Deno.stat(path);
    strictEqual(await Deno.readTextFile(path), "asdf");
    ok(after.mtime!.getTime() !== 0);
    ok(after.ino !== before.ino, "a real update replaces the file (new inode)");
    strictEqual(after.mode! & 0o7777, 0o640, "mode of the replaced file is kept");
    strictEqual(after.gid, before.gid, "group of the replaced file is kept");
    strictEqual(content.changed, true);

    await Deno.utime(path, 0, 0);
    await p.configure(cls);
    await p.deploy();
    const again = await Deno.stat(path);
    strictEqual(again.mtime!.getTime(), 0);
    strictEqual(again.ino, after.ino);
    strictEqual(content.changed, false);
    // No temporary files are left behind.
    deepStrictEqual(await listDir(p.workdir), ["path"]);
  });
});

Deno.test("Content with follow: true writes through a symlink and keeps the link", async () => {
  await withProject(async (p) => {
    const real = await p.writeWorkdir("real", "old");
    await Deno.symlink(real, join(p.workdir, "link"));
    await p.configure(root((c) => c.add(new File("link", { content: "new", follow: true }))));
    await p.deploy();
    ok((await Deno.lstat(join(p.workdir, "link"))).isSymlink);
    strictEqual(await Deno.readTextFile(real), "new");
  });
});

Deno.test("Content into a missing directory is a clear error naming the path", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => c.add(new Content("missing/file", { content: "x" }))));
    await rejects(() => p.deploy(), (e: Error) => {
      ok(e instanceof Deno.errors.NotFound);
      strictEqual(e.message, `Cannot write ${p.workdir}/missing/file: directory ${p.workdir}/missing does not exist`);
      return true;
    });
  });
});

// ------------------------------------------------------------------------------------------ diffs and predict

Deno.test("First deploy and predicted change print batou's diff layout", async () => {
  await withProject(async (p) => {
    const cls = root((c) => c.add(new File("hello", { content: "Hello world\n" })));
    await p.configure(cls);
    await p.deploy();
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > File('work/mycomponent/hello') > Presence('hello')",
      "🚀 localhost: MyComponent > File('work/mycomponent/hello') > Content('hello')",
      "  hello ---",
      "  hello +++",
      "  hello @@ -0,0 +1 @@",
      "  hello +Hello world",
    ]);
    deepStrictEqual(p.recording.entries.slice(2).map((e) => e.fmt), [
      { red: true },
      { green: true },
      {},
      { green: true },
    ]);

    p.clearOutput();
    await p.deploy();
    deepStrictEqual(p.lines, []);

    const target = join(p.workdir, "hello");
    await Deno.writeTextFile(target, "Changed\n");
    const inode = (await Deno.stat(target)).ino;
    p.clearOutput();
    await p.configure(cls);
    await p.deploy(true);
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > File('work/mycomponent/hello') > Content('hello')",
      "  hello ---",
      "  hello +++",
      "  hello @@ -1 +1 @@",
      "  hello -Changed",
      "  hello +Hello world",
    ]);
    strictEqual(await Deno.readTextFile(target), "Changed\n", "predicting writes nothing");
    strictEqual((await Deno.stat(target)).ino, inode);
  });
});

Deno.test("Predicting a new project creates no files", async () => {
  await withProject(async (p) => {
    await p.configure(root((c) => {
      c.add(new File("sub/conf", { content: "x\n", leading: true, mode: 0o600 }));
      c.add(new Symlink("link", { source: "sub" }));
    }));
    await p.deploy(true);
    deepStrictEqual(await listDir(p.workdir), []);
    deepStrictEqual(p.lines.filter((l) => l.startsWith("🚀")), [
      "🚀 localhost: MyComponent > File('work/mycomponent/sub/conf') > Presence('conf') > Directory('work/mycomponent/sub')",
      "🚀 localhost: MyComponent > File('work/mycomponent/sub/conf') > Presence('conf')",
      "🚀 localhost: MyComponent > File('work/mycomponent/sub/conf') > Mode('conf')",
      "🚀 localhost: MyComponent > File('work/mycomponent/sub/conf') > Content('conf')",
      "🚀 localhost: MyComponent > Symlink('work/mycomponent/link')",
    ]);
  });
});

Deno.test("A large diff is cut to first and last lines and written in full to .batou-diffs", async () => {
  await withProject(async (p) => {
    let content!: Content;
    await p.writeWorkdir("path", Array(21).fill("bsdf").join("\n"));
    await p.configure(root((c) => {
      content = c.add(new Content("path", { content: Array(21).fill("asdf").join("\n"), maxDiff: 20, maxDiffLead: 5 }));
    }));
    await p.deploy();
    strictEqual(content.diffDir, join(p.baseDir, "work", ".batou-diffs"));
    const logs = await listDir(content.diffDir);
    strictEqual(logs.length, 1);
    match(logs[0], /^\d{8}T\d{6}\.\d{3}Z-path\.diff$/);
    const log = join(content.diffDir, logs[0]);
    strictEqual((await Deno.stat(log)).mode! & 0o777, 0o600);
    strictEqual(
      await Deno.readTextFile(log),
      "---\n+++\n@@ -1,21 +1,21 @@\n" + "-bsdf\n".repeat(21) + "+asdf\n".repeat(21),
    );
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > Content('work/mycomponent/path')",
      "More than 20 lines of diff. Showing first and last 5 lines.",
      `see ${log} for the full diff.`,
      "  path ---",
      "  path +++",
      "  path @@ -1,21 +1,21 @@",
      "  path -bsdf",
      "  path -bsdf",
      "  path ...",
      ...Array(5).fill("  path +asdf"),
    ]);
  });
});

Deno.test("A new file's diff shows its first maxNewDiff lines and counts the rest (issue 17)", async () => {
  await withProject(async (p) => {
    let content!: Content;
    const text = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n") + "\n";
    await p.configure(root((c) => {
      content = c.add(new Content("big", { content: text, maxNewDiff: 4 }));
      c.add(new Content("small", { content: "a\nb\nc\nd\n", maxNewDiff: 4 }));
    }));
    await p.deploy();
    const logs = await listDir(content.diffDir);
    const bigLog = join(content.diffDir, logs.find((l) => l.endsWith("-big.diff"))!);
    strictEqual(
      await Deno.readTextFile(bigLog),
      "---\n+++\n@@ -0,0 +1,30 @@\n" + text.replace(/^/gm, "+").slice(0, -1),
    );
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > Content('work/mycomponent/big')",
      "  big ---",
      "  big +++",
      "  big @@ -0,0 +1,30 @@",
      "  big +line 0",
      "  big +line 1",
      "  big +line 2",
      "  big +line 3",
      "  big ... 26 more lines of the new file not shown,",
      `see ${bigLog} for the full diff.`,
      "🚀 localhost: MyComponent > Content('work/mycomponent/small')",
      "  small ---",
      "  small +++",
      "  small @@ -0,0 +1,4 @@",
      "  small +a",
      "  small +b",
      "  small +c",
      "  small +d",
    ]);
    // A changed file still shows its whole (bounded) diff.
    p.clearOutput();
    await p.configure(root((c) => c.add(new Content("big", { content: text.replace("line 20", "LINE 20") }))));
    await p.deploy();
    ok(p.lines.includes("  big -line 20") && p.lines.includes("  big +LINE 20"), p.lines.join("\n"));
  });
});

Deno.test("sensitiveData: true hides the diff and writes no diff file", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("target.json", JSON.stringify({ bsdf: 2 }, null, 4));
    let json!: JSONContent;
    await p.configure(root((c) => {
      json = c.add(new JSONContent("target.json", { data: { asdf: 1, bsdf: 2 }, sensitiveData: true }));
    }));
    await p.deploy();
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > JSONContent('work/mycomponent/target.json')",
      "Not showing diff as it contains sensitive data.",
    ]);
    deepStrictEqual(p.recording.entries[1].fmt, { red: true });
    ok(!(await exists(json.diffDir)));
  });
});

Deno.test("sensitiveData: null masks diffs that contain a secret; false always shows them", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("secret.conf", "password = old\n");
    await p.writeWorkdir("shown.conf", "password = old\n");
    await p.configure(
      root((c) => {
        c.add(new File("secret.conf", { content: "password = topsecret\n" }));
        c.add(new File("shown.conf", { content: "password = topsecret\n", sensitiveData: false }));
      }),
      ["topsecret"],
    );
    await p.deploy();
    const diffDir = join(p.baseDir, "work", ".batou-diffs");
    const [first] = (await listDir(diffDir)).filter((n) => n.endsWith("-secret.conf.diff"));
    ok(first);
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > File('work/mycomponent/secret.conf') > Content('secret.conf')",
      "Not showing diff as it contains sensitive data,",
      `see ${join(diffDir, first)} for the diff.`,
      "🚀 localhost: MyComponent > File('work/mycomponent/shown.conf') > Content('shown.conf')",
      "  shown.conf ---",
      "  shown.conf +++",
      "  shown.conf @@ -1 +1 @@",
      "  shown.conf -password = old",
      "  shown.conf +password = topsecret",
    ]);
    deepStrictEqual(p.recording.entries.slice(1, 3).map((e) => e.fmt), [{ yellow: true }, { yellow: true }]);
    // The diff file holds the diff with the secret and all removed lines masked (API.md: secrets only in the
    // managed files; a removed line may hold a replaced secret).
    strictEqual(
      await Deno.readTextFile(join(diffDir, first)),
      "---\n+++\n@@ -1 +1 @@\n-*****\n+password = *****\n",
    );
    strictEqual(await Deno.readTextFile(join(p.workdir, "secret.conf")), "password = topsecret\n");
  });
});

Deno.test("a rotated secret inside a word: the diff shows neither the old nor the new value", async () => {
  await withProject(async (p) => {
    // The old value is no longer a secret batou knows; the new one is glued to its key (no whitespace).
    await p.writeWorkdir("app.conf", "user=app\ntoken=tok-1-old5d0c\n");
    await p.configure(
      root((c) => c.add(new File("app.conf", { content: "user=app\ntoken=tok-2-new83b4\n" }))),
      ["tok-2-new83b4"],
    );
    await p.deploy(true);
    const diffDir = join(p.baseDir, "work", ".batou-diffs");
    const [diff] = (await listDir(diffDir)).filter((n) => n.endsWith("-app.conf.diff"));
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > File('work/mycomponent/app.conf') > Content('app.conf')",
      "Not showing diff as it contains sensitive data,",
      `see ${join(diffDir, diff)} for the diff.`,
    ]);
    strictEqual(
      await Deno.readTextFile(join(diffDir, diff)),
      "---\n+++\n@@ -1,2 +1,2 @@\n user=app\n-*****\n+token=*****\n",
    );
  });
});

Deno.test("Unreadable content cannot be predicted", async () => {
  await withProject(async (p) => {
    await Deno.mkdir(join(p.workdir, "conf"));
    await p.configure(root((c) => c.add(new File("conf", { content: "x" }))));
    await p.deploy(true);
    deepStrictEqual(p.lines.slice(-2), [
      "🚀 localhost: MyComponent > File('work/mycomponent/conf') > Content('conf')",
      "Unknown content - can't predict diff.",
    ]);
  });
});

// ------------------------------------------------------------------------------------------ JSON and YAML

Deno.test("JSONContent writes Python's json.dumps output, readable or compact", async () => {
  await withProject(async (p) => {
    let readable!: JSONContent;
    let compact!: JSONContent;
    await p.configure(root((c) => {
      readable = c.add(new JSONContent("readable.json", { data: { asdf: 1 } }));
      compact = c.add(new JSONContent("compact.json", { data: { asdf: 1 }, humanReadable: false }));
    }));
    await p.deploy();
    strictEqual(await Deno.readTextFile(readable.path), '{\n    "asdf": 1\n}');
    strictEqual(await Deno.readTextFile(compact.path), '{"asdf":1}');
    deepStrictEqual(readable.content, new TextEncoder().encode('{\n    "asdf": 1\n}'));
  });
});

Deno.test("JSONContent diff layout", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("target.json", JSON.stringify({ bsdf: 2 }, null, 4));
    await p.configure(root((c) => c.add(new JSONContent("target.json", { data: { asdf: 1, bsdf: 2 } }))));
    await p.deploy();
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > JSONContent('work/mycomponent/target.json')",
      "  target.json ---",
      "  target.json +++",
      "  target.json @@ -1,3 +1,4 @@",
      "  target.json  {",
      '  target.json +    "asdf": 1,',
      '  target.json      "bsdf": 2',
      "  target.json  }",
    ]);
  });
});

Deno.test("JSONContent from a source with a deep override", async () => {
  await withProject(async (p) => {
    await p.writeDefdir(
      "source.json",
      JSON.stringify({ database: { address: "localhost", password: "topsecret" }, hosts: ["a"] }),
    );
    let json!: JSONContent;
    await p.configure(root((c) => {
      json = c.add(
        new JSONContent("target.json", {
          source: "source.json",
          override: { database: { password: "realpassword" }, hosts: ["b"] },
        }),
      );
    }));
    await p.deploy();
    const expected = '{\n    "database": {\n        "address": "localhost",\n        "password": "realpassword"\n' +
      '    },\n    "hosts": [\n        "a",\n        "b"\n    ]\n}';
    strictEqual(await Deno.readTextFile(json.path), expected);
  });
});

Deno.test("A delayed source: predicting signals a change, deploying without it fails, a late source works", async () => {
  await withProject(async (p) => {
    let json!: JSONContent;
    const cls = root((c) => json = c.add(new JSONContent("target.json", { source: "source.json" })));
    await p.configure(cls);
    await rejects(async () => await json.verify(true), UpdateNeeded);
    await rejects(() => p.deploy(), new RegExp(`^NotFound: Could not find source file ${p.defdir}/source.json$`));
    await p.configure(cls);
    await p.writeDefdir("source.json", "[1, 2, 3, 4]");
    await p.deploy();
    strictEqual(await Deno.readTextFile(json.path), "[\n    1,\n    2,\n    3,\n    4\n]");
  });
});

Deno.test("YAMLContent writes like yaml.safe_dump, with source and override", async () => {
  await withProject(async (p) => {
    await p.writeDefdir("source.yaml", "database:\n  address: localhost\n  password: topsecret\n");
    let fromSource!: YAMLContent;
    let fromData!: YAMLContent;
    await p.configure(root((c) => {
      fromSource = c.add(
        new YAMLContent("target.yaml", { source: "source.yaml", override: { database: { password: "realpassword" } } }),
      );
      fromData = c.add(new YAMLContent("data.yaml", { data: { b: [1, 2], a: { y: "yes", x: null } } }));
    }));
    await p.deploy();
    strictEqual(
      await Deno.readTextFile(fromSource.path),
      "database:\n  address: localhost\n  password: realpassword\n",
    );
    strictEqual(await Deno.readTextFile(fromData.path), "a:\n  x: null\n  'y': 'yes'\nb:\n- 1\n- 2\n");
  });
});

Deno.test("YAMLContent diff layout", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("target.yaml", JSON.stringify({ bsdf: 2 }, null, 4));
    await p.configure(root((c) => c.add(new YAMLContent("target.yaml", { data: { asdf: 1, bsdf: 2 } }))));
    await p.deploy();
    deepStrictEqual(p.lines, [
      "🚀 localhost: MyComponent > YAMLContent('work/mycomponent/target.yaml')",
      "  target.yaml ---",
      "  target.yaml +++",
      "  target.yaml @@ -1,3 +1,2 @@",
      "  target.yaml -{",
      '  target.yaml -    "bsdf": 2',
      "  target.yaml -}",
      "  target.yaml +asdf: 1",
      "  target.yaml +bsdf: 2",
    ]);
  });
});

Deno.test("pythonJsonDumps matches Python's json.dumps", () => {
  strictEqual(
    pythonJsonDumps({
      "ü": "ä€😀",
      b: [1.5, 1e16, 1.5e-7, 1e-5, 0.1, -2, 123.456],
      a: {},
      c: [],
      d: null,
      e: true,
      f: '\n\t"\\\x7f',
    }, {
      indent: 4,
    }),
    '{\n    "a": {},\n    "b": [\n        1.5,\n        10000000000000000,\n        1.5e-07,\n        1e-05,\n        0.1,\n        -2,\n        123.456\n' +
      '    ],\n    "c": [],\n    "d": null,\n    "e": true,\n    "f": "\\n\\t\\"\\\\\\u007f",\n' +
      '    "\\u00fc": "\\u00e4\\u20ac\\ud83d\\ude00"\n}',
  );
  strictEqual(
    pythonJsonDumps({ b: [1, { z: 1, y: 2 }], a: "x" }, { separators: [",", ":"] }),
    '{"a":"x","b":[1,{"y":2,"z":1}]}',
  );
  strictEqual(pythonJsonDumps([1, 2]), "[1, 2]");
});

Deno.test("dictMerge merges objects recursively, concatenates lists and copies", () => {
  const a = { x: { y: 1, l: [1] }, keep: true };
  const merged = dictMerge(a, { x: { z: 2, l: [2] }, n: [3] });
  deepStrictEqual(merged, { x: { y: 1, z: 2, l: [1, 2] }, keep: true, n: [3] });
  deepStrictEqual(a, { x: { y: 1, l: [1] }, keep: true });
  strictEqual(dictMerge(a, 5), 5);
});

// ------------------------------------------------------------------------------------------ one stat per File

Deno.test("fileInfoSync remembers its answer for the same scope, path and follow until forgotten", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "f");
    const scope = {};
    strictEqual(fileInfoSync(path, false, scope), null);
    await Deno.writeTextFile(path, "x");
    // The same scope gets the remembered answer; another scope, follow or no scope asks the file system.
    strictEqual(fileInfoSync(path, false, scope), null);
    ok(fileInfoSync(path, true, scope)?.isFile);
    ok(fileInfoSync(path, false, {})?.isFile);
    ok(fileInfoSync(path, false)?.isFile);
    const remembered = fileInfoSync(path, false, scope);
    await Deno.remove(path);
    strictEqual(fileInfoSync(path, false, scope), remembered);
    forgetFileInfo();
    strictEqual(fileInfoSync(path, false, scope), null);
  } finally {
    forgetFileInfo();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the parts of a File share one stat, never across an update or the project's code", async () => {
  await withProject(async (p) => {
    const outside = join(p.workdir, "outside");
    await Deno.writeTextFile(outside, "outside");
    await Deno.writeTextFile(join(p.workdir, "f"), "old");
    // A project component between the presence check and the content check of the same path (one parent) turns the
    // file into a symlink: the content check must see the link (and replace it), not the regular file seen before.
    class Swap extends Component {
      override verify() {
        Deno.removeSync(join(p.workdir, "f"));
        Deno.symlinkSync(outside, join(p.workdir, "f"));
      }
    }
    await p.configure(root((c) => {
      c.add(new Presence("f"));
      c.add(new Swap());
      c.add(new Content("f", { content: "new" }));
      // A File whose Presence creates the file: its Mode and Content see the new file.
      c.add(new File("g", { content: "g", mode: 0o600 }));
    }));
    await p.deploy();
    const f = join(p.workdir, "f");
    ok(p.lines.includes(`${f} is a symlink: it is replaced by a regular file.`), p.lines.join("\n"));
    ok(!p.lines.some((l) => l.includes("-outside")), "the link's target is never read");
    ok(!(await Deno.lstat(f)).isSymlink);
    strictEqual(await Deno.readTextFile(join(p.workdir, "f")), "new");
    strictEqual(await Deno.readTextFile(outside), "outside");
    strictEqual((await Deno.stat(join(p.workdir, "g"))).mode! & 0o777, 0o600);
    strictEqual(await Deno.readTextFile(join(p.workdir, "g")), "g");
    // Between deploys the file changes behind batou's back: the next deploy checks it again.
    await Deno.chmod(join(p.workdir, "g"), 0o644);
    await Deno.writeTextFile(join(p.workdir, "g"), "changed");
    await p.deploy();
    strictEqual((await Deno.stat(join(p.workdir, "g"))).mode! & 0o777, 0o600);
    strictEqual(await Deno.readTextFile(join(p.workdir, "g")), "g");
  });
});

Deno.test("Content compares every byte: same size, longer or shorter files with the same start are replaced", async () => {
  await withProject(async (p) => {
    const want = "abcdef\n";
    const cases: Record<string, string> = {
      same: want,
      size: "abcdeX\n",
      longer: want + "x",
      shorter: "abc",
      empty: "",
    };
    for (const [name, text] of Object.entries(cases)) await Deno.writeTextFile(join(p.workdir, name), text);
    await p.configure(root((c) => {
      for (const name of Object.keys(cases)) c.add(new File(name, { content: want }));
    }));
    await p.deploy();
    for (const name of Object.keys(cases)) strictEqual(await Deno.readTextFile(join(p.workdir, name)), want, name);
    const changed = p.lines.filter((l) => l.startsWith("🚀") && l.includes("Content(")).map((l) =>
      /'(\w+)'\)$/.exec(l)?.[1]
    );
    deepStrictEqual(changed, ["size", "longer", "shorter", "empty"]);
    ok(p.lines.includes("  size -abcdeX"), p.lines.join("\n"));
  });
});

Deno.test("A no-op notes checked files; a same-size change with the mtime put back is still replaced", async () => {
  await withProject(async (p) => {
    const want = "abcdef\n";
    const files: File[] = [];
    await p.configure(root((c) => {
      for (const name of ["a", "b"]) files.push(c.add(new File(name, { content: want })));
    }));
    await p.deploy();
    // Written just now: not noted yet (ctime within the racy margin).
    const memo = contentMemoFor(p.component.environment.workdirBase);
    const path = (name: string) => join(p.workdir, name);
    strictEqual(memo.holds(path("a"), Deno.lstatSync(path("a")), files[0].content as Uint8Array), false);
    await new Promise((resolve) => setTimeout(resolve, RACY_MARGIN_MS + 100));
    await p.deploy();
    ok(memo.holds(path("a"), Deno.lstatSync(path("a")), files[0].content as Uint8Array), "noted by the no-op");
    const before = Deno.lstatSync(path("a"));
    await Deno.writeTextFile(path("a"), "ABCDEF\n");
    Deno.utimeSync(path("a"), before.atime!, before.mtime!);
    const mark = p.lines.length;
    await p.deploy();
    strictEqual(await Deno.readTextFile(path("a")), want);
    const changed = p.lines.slice(mark).filter((l) => l.startsWith("🚀") && l.includes("Content("));
    strictEqual(changed.length, 1, p.lines.slice(mark).join("\n"));
    ok(changed[0].endsWith("Content('a')"), changed[0]);
  });
});

Deno.test("Rendered utf-8 bytes of many files stay each file's own (encoded into shared chunks)", async () => {
  await withProject(async (p) => {
    const text = (i: number) => `${i}: grüße € 😀 `.repeat(150) + "\n";
    const files: File[] = [];
    await p.configure(root((c) => {
      for (let i = 0; i < 200; i++) files.push(c.add(new File(`f${i}`, { content: text(i), isTemplate: false })));
    }));
    const enc = new TextEncoder();
    files.forEach((f, i) => deepStrictEqual(f.content, enc.encode(text(i)), `f${i}`));
    await p.deploy();
    for (let i = 0; i < 200; i += 37) strictEqual(await Deno.readTextFile(join(p.workdir, `f${i}`)), text(i));
  });
});

// ------------------------------------------------------------------------------------------ Mode, Owner, Group

Deno.test("Mode ensures the mode of files and directories; the second run is a no-op", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("path", "");
    await Deno.mkdir(join(p.workdir, "dir"));
    let file!: Mode;
    let dir!: Mode;
    await p.configure(root((c) => {
      file = c.add(new Mode("path", { mode: 0o000 }));
      dir = c.add(new Mode("dir", { mode: 0o000 }));
    }));
    await p.deploy();
    strictEqual((await Deno.stat(file.path)).mode! & 0o7777, 0o000);
    strictEqual((await Deno.stat(dir.path)).mode! & 0o7777, 0o000);
    file.mode = 0o777;
    dir.mode = 0o777;
    await p.deploy();
    strictEqual((await Deno.stat(file.path)).mode! & 0o7777, 0o777);
    strictEqual((await Deno.stat(dir.path)).mode! & 0o7777, 0o777);
    ok(file.changed && dir.changed);
    await p.deploy();
    ok(!file.changed && !dir.changed);
  });
});

Deno.test("Mode converts strings; None and bad strings are clear errors", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("path", "");
    const modes: Mode[] = [];
    await p.configure(root((c) => {
      for (const m of ["rwx------", "500", "0o755", "0644", 0o640]) modes.push(c.add(new Mode("path", { mode: m })));
    }));
    deepStrictEqual(modes.map((m) => m.mode), [0o700, 0o500, 0o755, 0o644, 0o640]);

    const none = await p.configureErrors(root((c) => c.add(new Mode("path"))));
    ok(none[0] instanceof ConfigurationError);
    strictEqual(none[0].message, "`mode` is required and `None` is not a valid value.");

    const bad = await p.configureErrors(root((c) => c.add(new Mode("path", { mode: "rwxr-x--" }))));
    ok(bad[0] instanceof ConversionError);
    strictEqual(bad[0].message, "Mode-string should be between `---------` and `rwxrwxrwx`.");
    strictEqual((bad[0] as ConversionError).key, "mode");
    // The report names the value as batou (Python) shows it: convert_mode('wrongmode').
    const wrong = await p.configureErrors(root((c) => c.add(new Mode("path", { mode: "wrongmode" }))));
    ok(reportText(wrong[0]).includes("Conversion: convert_mode('wrongmode')"), reportText(wrong[0]));
  });
  strictEqual(convertMode("rwxr-x---"), 0o750);
  strictEqual(parseMode("---------"), 0);
  throws(() => parseMode("rwsr-xr-x"), SyntaxError);
  throws(() => parseMode(0o10000), RangeError);
});

Deno.test("Mode is a no-op for symlinks; File keeps its mode across content updates", async () => {
  await withProject(async (p) => {
    const target = await p.writeWorkdir("link_to", "");
    await Deno.chmod(target, 0o644);
    await Deno.symlink(target, join(p.workdir, "link"));
    let file!: File;
    const cls = root((c) => {
      c.add(new Mode("link", { mode: 0o000 }));
      file = c.add(new File("conf", { content: "v1\n", mode: "rw-------" }));
    });
    await p.configure(cls);
    await p.deploy();
    strictEqual((await Deno.stat(target)).mode! & 0o7777, 0o644);
    strictEqual((await Deno.stat(file.path)).mode! & 0o7777, 0o600);
    deepStrictEqual(file.subComponents.map((s) => s.constructor.name), ["Presence", "Mode", "Content"]);
  });
});

Deno.test("Owner and Group resolve names lazily; chown keeps the other id", async () => {
  await withProject(async (p) => {
    // Configuring with unknown names works; deploying names them.
    await p.configure(root((c) => c.add(new File("asdf", { owner: "batou-no-such-user", content: "" }))));
    await rejects(() => p.deploy(), /Unknown user `batou-no-such-user`/);
    await p.configure(root((c) => c.add(new File("asdf", { group: "batou-no-such-group", content: "" }))));
    await rejects(() => p.deploy(), /Unknown group `batou-no-such-group`/);

    const path = await p.writeWorkdir("owned", "");
    const me = Deno.uid()!;
    const myName = new TextDecoder().decode((await new Deno.Command("id", { args: ["-un"] }).output()).stdout).trim();
    let owner!: Owner;
    await p.configure(root((c) => owner = c.add(new Owner("owned", { owner: myName }))));
    await p.deploy();
    strictEqual(owner.changed, false);

    if (me !== 0) return; // Changing the group to one we are not a member of needs root.
    let group!: Group;
    await p.configure(root((c) => group = c.add(new Group("owned", { group: "daemon" }))));
    await p.deploy();
    strictEqual(group.changed, true);
    const info = await Deno.stat(path);
    strictEqual(info.gid, 1);
    strictEqual(info.uid, me);
    await p.deploy();
    strictEqual(group.changed, false);
  });
});

// ------------------------------------------------------------------------------------------ symlinks at managed paths

/** A file outside the work directory (`outside.txt`, 0644) and a symlink to it at `work/mycomponent/<name>`. */
async function plantLink(p: TestProject, name: string): Promise<{ outside: string; link: string }> {
  const outside = join(p.baseDir, "outside.txt");
  await Deno.writeTextFile(outside, "outside content\n");
  await Deno.chmod(outside, 0o644);
  await Deno.mkdir(p.workdir, { recursive: true });
  const link = join(p.workdir, name);
  await Deno.symlink(outside, link);
  return { outside, link };
}

Deno.test("File replaces a planted symlink with a regular file; the link's target is neither read nor written", async () => {
  await withProject(async (p) => {
    const { outside, link } = await plantLink(p, "secret.conf");
    const cls = root((c) => c.add(new File("secret.conf", { content: "token = s3cr3t-value\n", mode: 0o600 })));
    // Predicting changes nothing and does not show the target's content as the current one.
    await p.configure(cls);
    await p.deploy(true);
    ok((await Deno.lstat(link)).isSymlink);
    ok(!p.lines.some((l) => l.includes("outside content")), p.lines.join("\n"));
    ok(p.lines.includes(`${link} is a symlink: it is replaced by a regular file.`), p.lines.join("\n"));
    await p.configure(cls);
    await p.deploy();
    const info = await Deno.lstat(link);
    ok(info.isFile && !info.isSymlink);
    strictEqual(info.mode! & 0o7777, 0o600);
    strictEqual(await Deno.readTextFile(link), "token = s3cr3t-value\n");
    strictEqual(await Deno.readTextFile(outside), "outside content\n");
    strictEqual((await Deno.stat(outside)).mode! & 0o7777, 0o644);
    ok(!p.lines.some((l) => l.includes("outside content")), p.lines.join("\n"));
    // And the next deployment is a no-op.
    p.clearOutput();
    await p.configure(cls);
    await p.deploy();
    deepStrictEqual(p.lines, []);
  });
});

Deno.test("Content, Presence and Mode on their own replace a symlink, never touch its target", async () => {
  await withProject(async (p) => {
    const a = await plantLink(p, "a.conf");
    await Deno.symlink(a.outside, join(p.workdir, "b.conf"));
    await Deno.symlink(a.outside, join(p.workdir, "c.conf"));
    await p.configure(root((c) => {
      c.add(new Content("a.conf", { content: "a\n" }));
      c.add(new Presence("b.conf"));
      c.add(new Mode("c.conf", { mode: 0o600 }));
    }));
    await p.deploy();
    strictEqual(await Deno.readTextFile(join(p.workdir, "a.conf")), "a\n");
    ok((await Deno.lstat(join(p.workdir, "a.conf"))).isFile);
    strictEqual(await Deno.readTextFile(join(p.workdir, "b.conf")), "");
    ok((await Deno.lstat(join(p.workdir, "b.conf"))).isFile);
    // A link has no mode of its own: Mode leaves it (batou: a no-op on Linux), its target keeps 0644.
    ok((await Deno.lstat(join(p.workdir, "c.conf"))).isSymlink);
    strictEqual(await Deno.readTextFile(a.outside), "outside content\n");
    strictEqual((await Deno.stat(a.outside)).mode! & 0o7777, 0o644);
  });
});

Deno.test("follow: true writes through a symlink and gives its target the mode (batou's behaviour, on purpose)", async () => {
  await withProject(async (p) => {
    const { outside, link } = await plantLink(p, "shared.conf");
    let file!: File;
    await p.configure(root((c) => {
      file = c.add(new File("shared.conf", { content: "shared\n", mode: 0o600, follow: true }));
    }));
    await p.deploy();
    ok((await Deno.lstat(link)).isSymlink);
    strictEqual(await Deno.readTextFile(outside), "shared\n");
    strictEqual((await Deno.stat(outside)).mode! & 0o7777, 0o600);
    deepStrictEqual(file.subComponents.map((s) => (s as unknown as { follow: boolean }).follow), [true, true, true]);
    p.clearOutput();
    await p.deploy();
    strictEqual(file.changed, false);
  });
});

Deno.test("Directory accepts a symlink to a directory (batou, Ansible's file module); follow: false replaces it", async () => {
  await withProject(async (p) => {
    const elsewhere = join(p.baseDir, "elsewhere");
    await Deno.mkdir(elsewhere);
    await Deno.writeTextFile(join(elsewhere, "keep"), "k");
    await Deno.mkdir(p.workdir, { recursive: true });
    await Deno.symlink(elsewhere, join(p.workdir, "data"));
    await Deno.symlink(elsewhere, join(p.workdir, "linked"));
    await Deno.symlink(elsewhere, join(p.workdir, "file-dir"));
    await p.writeDefdir("src/f", "from source\n");
    await p.configure(root((c) => {
      c.add(new Directory("data", { source: "src", follow: false }));
      c.add(new Directory("linked"));
      c.add(new File("file-dir", { ensure: "directory" }));
    }));
    await p.deploy();
    const data = await Deno.lstat(join(p.workdir, "data"));
    ok(data.isDirectory && !data.isSymlink);
    strictEqual(await Deno.readTextFile(join(p.workdir, "data/f")), "from source\n");
    deepStrictEqual(await listDir(elsewhere), ["keep"]);
    ok((await Deno.lstat(join(p.workdir, "linked"))).isSymlink);
    ok((await Deno.lstat(join(p.workdir, "file-dir"))).isSymlink);
    p.clearOutput();
    await p.deploy();
    deepStrictEqual(p.lines, []);
    // Syncing into a linked directory on purpose: the files land in its target.
    await p.configure(root((c) => c.add(new Directory("linked", { source: "src" }))));
    await p.deploy();
    ok((await Deno.lstat(join(p.workdir, "linked"))).isSymlink);
    deepStrictEqual(await listDir(elsewhere), ["f", "keep"]);
  });
});
Deno.test("Mode and Owner changes go through O_NOFOLLOW: a link swapped in after verify is not followed", async () => {
  await withProject(async (p) => {
    const { outside } = await plantLink(p, "unused");
    const path = await p.writeWorkdir("conf", "x\n");
    await Deno.chmod(path, 0o644);
    let mode!: Mode;
    let owner!: Owner;
    await p.configure(root((c) => {
      mode = c.add(new Mode("conf", { mode: 0o600 }));
      owner = c.add(new Owner("conf", { owner: 1 }));
    }));
    await rejects(() => mode.verify(), UpdateNeeded);
    await rejects(() => owner.verify(), UpdateNeeded);
    // The race: between the check and the change, the file becomes a link to another file.
    await Deno.remove(path);
    await Deno.symlink(outside, path);
    await mode.update();
    strictEqual((await Deno.stat(outside)).mode! & 0o7777, 0o644);
    if (Deno.uid() === 0) {
      const before = await Deno.stat(outside);
      await owner.update();
      strictEqual((await Deno.stat(outside)).uid, before.uid);
      strictEqual((await Deno.lstat(path)).uid, 1);
    }
    // The helpers: false for a link, true (changed) for a file; a FIFO does not block.
    strictEqual(await chmodNoFollow(path, 0o600), false);
    strictEqual(await chownNoFollow(path, null, Deno.gid()), false);
    strictEqual(await chmodNoFollow(outside, 0o640), true);
    strictEqual((await Deno.stat(outside)).mode! & 0o7777, 0o640);
    const fifo = join(p.workdir, "fifo");
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    strictEqual(await chmodNoFollow(fifo, 0o600), true);
    strictEqual((await Deno.lstat(fifo)).mode! & 0o7777, 0o600);
    await rejects(() => chmodNoFollow(join(p.workdir, "missing"), 0o600), Deno.errors.NotFound);
  });
});

Deno.test("Owner and Group change a symlink itself, its target only with follow: true", async () => {
  if (Deno.uid() !== 0) {
    console.log("chown to another user needs root: only the no-op case is checked");
  }
  await withProject(async (p) => {
    const { outside, link } = await plantLink(p, "owned");
    const before = await Deno.stat(outside);
    await Deno.symlink(outside, join(p.workdir, "followed"));
    const id = Deno.uid() === 0 ? 1 : Deno.uid()!;
    const gid = Deno.uid() === 0 ? 1 : Deno.gid()!;
    await p.configure(root((c) => {
      c.add(new Owner("owned", { owner: id }));
      c.add(new Group("owned", { group: gid }));
    }));
    await p.deploy();
    const l = await Deno.lstat(link);
    strictEqual(l.uid, id);
    strictEqual(l.gid, gid);
    const after = await Deno.stat(outside);
    strictEqual(after.uid, before.uid);
    strictEqual(after.gid, before.gid);
    if (Deno.uid() !== 0) return;
    await p.configure(root((c) => c.add(new Owner("followed", { owner: 1, follow: true }))));
    await p.deploy();
    strictEqual((await Deno.stat(outside)).uid, 1);
  });
});

// ------------------------------------------------------------------------------------------ Symlink, File, Purge

Deno.test("Symlink creates and updates links; source and target are mapped", async () => {
  await withProject(async (p) => {
    let link!: Symlink;
    await p.configure(root((c) => link = c.add(new Symlink("path", { source: "link_to" }))));
    strictEqual(link.source, join(p.workdir, "link_to"));
    await p.deploy();
    strictEqual(await Deno.readLink(join(p.workdir, "path")), join(p.workdir, "link_to"));
    link.source = join(p.workdir, "link_to2");
    await p.deploy();
    strictEqual(await Deno.readLink(join(p.workdir, "path")), join(p.workdir, "link_to2"));
    strictEqual(link.changed, true);
  });
});

Deno.test("File creates the sub-component for its ensure value and rejects others", async () => {
  await withProject(async (p) => {
    const files: File[] = [];
    await p.configure(root((c) => {
      files.push(c.add(new File("path", { content: "" })));
      files.push(c.add(new File("dir", { ensure: "directory" })));
      files.push(c.add(new File("link", { ensure: "symlink", linkTo: "target" })));
    }));
    deepStrictEqual(files.map((f) => f.subComponents[0].constructor.name), ["Presence", "Directory", "Symlink"]);
    await p.deploy();
    ok((await Deno.lstat(join(p.workdir, "link"))).isSymlink);
    ok((await Deno.stat(join(p.workdir, "dir"))).isDirectory);
    deepStrictEqual(await files[0].lastUpdated(), (await Deno.stat(join(p.workdir, "path"))).mtime!.getTime());

    const errors = await p.configureErrors(root((c) => c.add(new File("file", { ensure: "pipe" as "file" }))));
    strictEqual(errors[0].message, "Ensure must be one of: file, directory, symlink not pipe");
  });
});

Deno.test("Unknown File options are rejected", async () => {
  await withProject(async (p) => {
    const errors = await p.configureErrors(
      root((c) => c.add(new File("f", { content: "", bogus: 1 } as unknown as { content: string }))),
    );
    match(errors[0].message, /bogus/);
  });
});

Deno.test("Purge deletes matching trees and files; a symlink to a directory goes as a link", async () => {
  await withProject(async (p) => {
    await p.writeWorkdir("source/one", "");
    await p.writeWorkdir("source-two", "");
    await Deno.mkdir(join(p.workdir, "somedir"));
    await Deno.symlink(join(p.workdir, "somedir"), join(p.workdir, "mylink"));
    await p.writeWorkdir(".hidden-source", "");
    let purge!: Purge;
    await p.configure(root((c) => {
      purge = c.add(new Purge("sourc*"));
      c.add(new Purge("mylink"));
    }));
    await p.deploy();
    deepStrictEqual(await listDir(p.workdir), [".hidden-source", "somedir"]);
    strictEqual(purge.changed, true);
    await p.deploy();
    strictEqual(purge.changed, false);
  });
});

Deno.test("glob follows Python's glob rules", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    for (const f of ["a1", "a2", "b1", ".a3", "d/x1", "d/y1"]) {
      await Deno.mkdir(join(dir, f, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, f), "");
    }
    deepStrictEqual(await glob(join(dir, "a*")), [join(dir, "a1"), join(dir, "a2")]);
    deepStrictEqual(await glob(join(dir, "?1")), [join(dir, "a1"), join(dir, "b1")]);
    deepStrictEqual(await glob(join(dir, ".a*")), [join(dir, ".a3")]);
    deepStrictEqual(await glob(join(dir, "[!a]1")), [join(dir, "b1")]);
    deepStrictEqual(await glob(join(dir, "*/x*")), [join(dir, "d/x1")]);
    deepStrictEqual(await glob(join(dir, "nothing*")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TestProject captures output per project and restores the backend", async () => {
  const project = await TestProject.create();
  const base = project.baseDir;
  try {
    await project.configure(root((c) => c.add(new File("x", { content: "1" }))));
    await project.deploy();
    ok(project.lines.length > 0);
  } finally {
    await project.cleanup();
  }
  ok(!(await exists(base)));
});
