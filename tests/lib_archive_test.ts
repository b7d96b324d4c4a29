import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { Extract, stripPath, Untar, Unzip } from "../lib/archive.ts";
import { ZipArchive } from "../core/formats/zip.ts";
import { type TestProject, withProject } from "./support/project.ts";
import { requireTools, runCommand } from "./support/tools.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

async function listDir(path: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name).filter((n) => !n.startsWith(".batou"))
    .sort();
}

/** Makes `example.tar.gz` with foo/bar/qux (empty) and foo/bar/baz ("baz\n") in the project's defdir. */
async function makeTar(p: TestProject, name = "example.tar.gz", baz = "baz\n"): Promise<string> {
  await requireTools("tar", "gzip");
  const src = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(src, "foo", "bar"), { recursive: true });
    await Deno.writeTextFile(join(src, "foo", "bar", "qux"), "");
    await Deno.writeTextFile(join(src, "foo", "bar", "baz"), baz);
    await Deno.writeTextFile(join(src, "._resource"), "mac junk");
    const archive = join(p.defdir, name);
    await runCommand("tar", ["-czf", archive, "-C", src, "foo", "._resource"]);
    return archive;
  } finally {
    await Deno.remove(src, { recursive: true });
  }
}

/** Writes a zip with Python's zipfile: members given as [name, content | null (dir), mode, kind]. */
async function makeZip(
  path: string,
  members: [string, string | null, number, "file" | "stored" | "link"][],
  zip64 = false,
) {
  await requireTools("python3");
  const script = `
import json, sys, zipfile
path, members, zip64 = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
with zipfile.ZipFile(path, "w") as z:
    for name, content, mode, kind in members:
        info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
        info.create_system = 3
        if content is None:
            info.external_attr = (0o040000 | mode) << 16 | 0x10
            z.writestr(info, b"")
            continue
        info.compress_type = zipfile.ZIP_STORED if kind != "file" else zipfile.ZIP_DEFLATED
        info.external_attr = ((0o120000 if kind == "link" else 0o100000) | mode) << 16
        with z.open(info, "w", force_zip64=zip64) as f:
            f.write(content.encode())
`;
  await runCommand("python3", ["-c", script, path, JSON.stringify(members), zip64 ? "1" : "0"]);
}

Deno.test("an unknown extension raises", async () => {
  await withProject(async (p) => {
    await rejects(
      p.configure(root((c) => c.add(new Extract("example.unknown")))),
      (e: Error) =>
        e.name === "ConfigurationError" &&
        e.message === `No handler found for archive '${join(p.workdir, "example.unknown")}'.`,
    );
  });
});

Deno.test("stripPath drops leading segments and refuses '..'", () => {
  strictEqual(stripPath("foo/bar/qux", 1), "bar/qux");
  strictEqual(stripPath("./foo/", 1), null);
  strictEqual(stripPath("foo", 0), "foo");
  let threw = false;
  try {
    stripPath("foo/../../etc/passwd", 0);
  } catch {
    threw = true;
  }
  ok(threw);
});

Deno.test("Untar extracts to the target directory (excluding ._*) and a second deploy changes nothing", async () => {
  await withProject(async (p) => {
    const archive = await makeTar(p);
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract(archive, { target: "example" }))));
    ok(extract.extractor instanceof Untar);
    strictEqual(extract.target, join(p.workdir, "example"));
    await p.deploy();
    ok(p.component.changed);
    deepStrictEqual(await listDir(extract.target!), ["foo"]);
    strictEqual(await Deno.readTextFile(join(extract.target!, "foo/bar/baz")), "baz\n");
    await p.deploy();
    strictEqual(p.component.changed, false);
  });
});

Deno.test("Untar can strip paths off archived files", async () => {
  await withProject(async (p) => {
    const archive = await makeTar(p);
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract(archive, { target: "example", strip: 1 }))));
    await p.deploy();
    deepStrictEqual(await listDir(extract.target!), ["bar"]);
    deepStrictEqual(await listDir(join(extract.target!, "bar")), ["baz", "qux"]);
    await p.deploy();
    strictEqual(p.component.changed, false);
  });
});

Deno.test("the default target is the archive path without its suffix", async () => {
  await withProject(async (p) => {
    await makeTar(p, "example.tgz");
    await Deno.copyFile(join(p.defdir, "example.tgz"), join(p.workdir, "example.tgz"));
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract("example.tgz"))));
    strictEqual(extract.target, join(p.workdir, "example"));
    await p.deploy();
    deepStrictEqual(await listDir(join(p.workdir, "example")), ["foo"]);
  });
});

Deno.test("timestamps do not matter (ignores ctime for directories); a changed archive or a missing file does", async () => {
  await withProject(async (p) => {
    const archive = await makeTar(p);
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract(archive, { target: "example" }))));
    await p.deploy();
    // Touch the archive and the extracted files and directories: nothing to extract.
    const later = new Date(Date.now() + 60_000);
    for (const path of [archive, extract.target!, join(extract.target!, "foo"), join(extract.target!, "foo/bar/qux")]) {
      await Deno.utime(path, later, later);
    }
    await extract.extractor!.verify();
    await p.deploy();
    strictEqual(p.component.changed, false);
    // A missing file is extracted again.
    await Deno.remove(join(extract.target!, "foo/bar/qux"));
    await p.deploy();
    ok(p.component.changed);
    ok((await Deno.stat(join(extract.target!, "foo/bar/qux"))).isFile);
    // A new archive content is extracted again, even with an older mtime.
    await makeTar(p, "example.tar.gz", "new baz\n");
    const earlier = new Date(Date.now() - 3600_000);
    await Deno.utime(archive, earlier, earlier);
    await p.deploy();
    ok(p.component.changed);
    strictEqual(await Deno.readTextFile(join(extract.target!, "foo/bar/baz")), "new baz\n");
  });
});

Deno.test("a missing archive predicts a change", async () => {
  await withProject(async (p) => {
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract("later.tar.gz"))));
    await rejects(Promise.resolve(extract.extractor!.verify()), (e: Error) => e.name === "AssertionError");
    await p.deploy(true);
    ok(p.component.changed);
  });
});

Deno.test("Unzip extracts stored, deflated and zip64 members with modes and symlinks, without unzip", async () => {
  await withProject(async (p) => {
    const archive = join(p.defdir, "example.zip");
    await makeZip(archive, [
      ["foo/", null, 0o755, "file"],
      ["foo/bar/", null, 0o750, "file"],
      ["foo/bar/qux", "", 0o644, "file"],
      ["foo/bar/run.sh", "#!/bin/sh\necho hi\n".repeat(50), 0o755, "file"],
      ["foo/stored.txt", "stored\n", 0o600, "stored"],
      ["foo/link", "bar/qux", 0o777, "link"],
    ]);
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract(archive, { target: "example" }))));
    ok(extract.extractor instanceof Unzip);
    await p.deploy();
    deepStrictEqual(await listDir(extract.target!), ["foo"]);
    const t = extract.target!;
    strictEqual(await Deno.readTextFile(join(t, "foo/bar/run.sh")), "#!/bin/sh\necho hi\n".repeat(50));
    strictEqual((await Deno.stat(join(t, "foo/bar/run.sh"))).mode! & 0o777, 0o755);
    strictEqual((await Deno.stat(join(t, "foo/stored.txt"))).mode! & 0o777, 0o600);
    strictEqual((await Deno.stat(join(t, "foo/bar"))).mode! & 0o777, 0o750);
    strictEqual(await Deno.readLink(join(t, "foo/link")), "bar/qux");
    await p.deploy();
    strictEqual(p.component.changed, false);

    const big = join(p.defdir, "zip64.zip");
    await makeZip(big, [["a/b.txt", "zip64 content\n", 0o644, "file"]], true);
    const zip = await ZipArchive.open(big);
    deepStrictEqual(zip.entries.map((e) => e.name), ["a/b.txt"]);
    strictEqual(new TextDecoder().decode(zip.read(zip.entries[0])), "zip64 content\n");
  });
});

Deno.test("Unzip overwrites existing files", async () => {
  await withProject(async (p) => {
    const archive = join(p.defdir, "example.zip");
    await makeZip(archive, [["foo/bar/qux", "", 0o644, "file"]]);
    let extract!: Extract;
    await p.configure(root((c) => extract = c.add(new Extract(archive, { target: "example" }))));
    await Deno.mkdir(join(p.workdir, "example/foo/bar"), { recursive: true });
    await Deno.writeTextFile(join(p.workdir, "example/foo/bar/qux"), "foo");
    await extract.extractor!.update();
    strictEqual(await Deno.readTextFile(join(p.workdir, "example/foo/bar/qux")), "");
  });
});

Deno.test("Unzip refuses members that leave the target", async () => {
  await withProject(async (p) => {
    const archive = join(p.defdir, "evil.zip");
    await makeZip(archive, [["../evil", "x", 0o644, "file"]]);
    await p.configure(root((c) => c.add(new Extract(archive, { target: "example" }))));
    await rejects(p.deploy(), /Refusing to extract/);
    await rejects(Deno.stat(join(p.workdir, "evil")));
  });
});
