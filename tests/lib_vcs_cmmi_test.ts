/**
 * lib/mercurial.ts, lib/svn.ts and lib/cmmi.ts against the real tools (hg, svn/svnadmin, make and gcc).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { ConfigurationError } from "../core/model/errors.ts";
import { hg } from "../lib/mercurial.ts";
import { Checkout } from "../lib/svn.ts";
import { Build } from "../lib/cmmi.ts";
import { sha256FileHex } from "../core/runtime/sha256.ts";
import { withProject } from "./support/project.ts";
import { requireTools } from "./support/tools.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

async function sh(cwd: string, script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-ec", script],
    cwd,
    env: { HGUSER: "test", HGPLAIN: "1", LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`${script}: ${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

Deno.test("hg.Clone: clones a branch, follows incoming changesets, stays at a revision, loses local changes", async () => {
  await requireTools("hg");
  await withProject(async (p) => {
    const up = join(p.baseDir, "upstream");
    await Deno.mkdir(up);
    await sh(up, "hg init . && echo one > foo && hg add foo && hg commit -q -m one");
    const first = (await sh(up, "hg log -r . --template '{node|short}'")).trim();
    let clone!: InstanceType<typeof hg.Clone>;
    const follow = root((c) => clone = c.add(new hg.Clone(up, { branch: "default", target: "site" })));
    await p.configure(follow);
    await p.deploy();
    strictEqual(clone.changed, true);
    const site = join(p.workdir, "site");
    strictEqual(await Deno.readTextFile(join(site, "foo")), "one\n");

    await p.configure(follow);
    await p.deploy();
    strictEqual(clone.changed, false, "an up-to-date clone is left alone");

    await sh(up, "echo two > foo && hg commit -q -m two");
    await Deno.writeTextFile(join(site, "stray"), "untracked");
    await p.configure(follow);
    await p.deploy();
    strictEqual(clone.changed, true);
    strictEqual(await Deno.readTextFile(join(site, "foo")), "two\n");
    ok(!(await Deno.stat(join(site, "stray")).catch(() => null)), "untracked files are removed, as batou does");
    ok(p.lines.some((l) => l.includes("is dirty, going to lose changes")), p.lines.join("\n"));

    // A revision: the clone goes back to it and stays there.
    const pinned = root((c) => clone = c.add(new hg.Clone(up, { revision: first, target: "site" })));
    await p.configure(pinned);
    await p.deploy();
    strictEqual(clone.changed, true);
    strictEqual(await Deno.readTextFile(join(site, "foo")), "one\n");
    strictEqual(await clone.currentRevision(), first);
    await p.configure(pinned);
    await p.deploy();
    strictEqual(clone.changed, false);
    ok((await clone.lastUpdated())! > 0);

    const errors = await p.configureErrors(root((c) => c.add(new hg.Clone(up, { target: "x" }))));
    ok(errors[0] instanceof ConfigurationError);
    ok(errors[0].message.includes("needs exactly one of revision or branch"), errors[0].message);
  });
});

Deno.test("svn.Checkout: checks out a revision, updates to another, reverts local changes", async () => {
  await requireTools("svn", "svnadmin");
  await withProject(async (p) => {
    const repo = join(p.baseDir, "repo");
    await sh(p.baseDir, `svnadmin create ${repo}`);
    const url = `file://${repo}/trunk`;
    const wc = join(p.baseDir, "wc");
    await sh(p.baseDir, `svn mkdir -q -m trunk ${url} && svn checkout -q ${url} ${wc}`);
    await sh(wc, "echo one > foo && svn add -q foo && svn commit -q -m one");
    await sh(wc, "echo two > foo && svn commit -q -m two");
    let co!: Checkout;
    const at = (revision: string) => root((c) => co = c.add(new Checkout(url, { revision, target: "legacy" })));
    await p.configure(at("2"));
    await p.deploy();
    strictEqual(co.changed, true);
    const legacy = join(p.workdir, "legacy");
    strictEqual(await Deno.readTextFile(join(legacy, "foo")), "one\n");
    await p.configure(at("2"));
    await p.deploy();
    strictEqual(co.changed, false);

    await Deno.writeTextFile(join(legacy, "foo"), "local edit\n");
    await p.configure(at("3"));
    await p.deploy();
    strictEqual(co.changed, true);
    strictEqual(await Deno.readTextFile(join(legacy, "foo")), "two\n");
    strictEqual(await co.currentRevision(), "3");

    const errors = await p.configureErrors(root((c) => c.add(new Checkout(url))));
    ok(errors[0].message.includes("needs a revision"), errors[0].message);
  });
});

const CONFIGURE = `#!/bin/sh
prefix=/usr/local
for arg in "$@"; do
  case "$arg" in --prefix=*) prefix="\${arg#--prefix=}" ;; --greeting=*) greeting="\${arg#--greeting=}" ;; esac
done
echo "configuring for $prefix"
cat > Makefile <<EOF
all: hello
hello: hello.c
\tgcc -DGREETING='"$greeting"' -o hello hello.c
install: hello
\tmkdir -p $prefix/bin
\tcp hello $prefix/bin/hello
EOF
echo "prefix=$prefix" > config.status
`;

const HELLO_C = `#include <stdio.h>
int main(void) { puts(GREETING); return 0; }
`;

Deno.test("cmmi.Build: downloads, extracts, configures and make-installs a real C program once", async () => {
  await requireTools("make", "gcc", "tar");
  await withProject(async (p) => {
    const src = join(p.baseDir, "hello-1.0");
    await Deno.mkdir(src);
    await Deno.writeTextFile(join(src, "configure"), CONFIGURE);
    await Deno.chmod(join(src, "configure"), 0o755);
    await Deno.writeTextFile(join(src, "hello.c"), HELLO_C);
    await sh(p.baseDir, "tar czf hello-1.0.tar.gz hello-1.0");
    const tarball = join(p.baseDir, "hello-1.0.tar.gz");
    const checksum = `sha256:${await sha256FileHex(tarball)}`;
    const prefix = join(p.baseDir, "opt");
    let build!: Build;
    const cls = root((c) =>
      build = c.add(new Build(`file://${tarball}`, { checksum, prefix, configureArgs: "--greeting=built" }))
    );
    await p.configure(cls);
    await p.deploy();
    strictEqual(build.changed, true);
    strictEqual(await sh(p.baseDir, `${prefix}/bin/hello`), "built\n");
    ok(p.lines.some((l) => l.includes(`configuring for ${prefix}`)), "configure's output is shown while it runs");
    deepStrictEqual(build.subComponents.map((s) => s.constructor.name), ["Download", "Extract", "Configure", "Make"]);

    p.clearOutput();
    await p.configure(cls);
    await p.deploy();
    strictEqual(build.changed, false, "a second deploy configures and makes nothing");
    ok(!p.lines.some((l) => l.includes("configuring for")), p.lines.join("\n"));
  });
});
