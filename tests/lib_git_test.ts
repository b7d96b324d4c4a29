import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Component, type ComponentClass } from "../core/model/component.ts";
import { Clone, git, GitClone } from "../lib/git.ts";
import { exists } from "./support/fs.ts";
import { type TestProject, withProject } from "./support/project.ts";
import { requireTools } from "./support/tools.ts";

function root(fn: (c: Component) => void): ComponentClass {
  return class MyComponent extends Component {
    override configure() {
      fn(this);
    }
  };
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

/** A repository `name` (below the project's base dir) with one commit of an empty file `foo` on `main`. */
async function upstream(p: TestProject, name = "upstream"): Promise<string> {
  await requireTools("git");
  const dir = join(p.baseDir, name);
  await Deno.mkdir(dir);
  await git_(dir, "git init -q -b main && touch foo && git add . && git commit -q -m foo");
  return dir;
}

async function git_(dir: string, script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-ec", script],
    cwd: dir,
    env: GIT_ENV,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) throw new Error(`${script} failed: ${new TextDecoder().decode(out.stderr)}`);
  return text;
}

async function read(path: string): Promise<string> {
  return await Deno.readTextFile(path);
}

Deno.test("exports: git.Clone and GitClone are Clone", () => {
  strictEqual(git.Clone, Clone);
  strictEqual(GitClone, Clone);
});

Deno.test("Clone needs exactly one of revision, branch or tag", async () => {
  await withProject(async (p) => {
    await rejects(
      p.configure(root((c) => c.add(new Clone("/x", { branch: "a", tag: "b" })))),
      /^ConfigurationError: Clone\(\/x\) needs exactly one of revision, branch or tag$/m,
    );
  });
});

Deno.test("Clone clones a branch; a second deploy changes nothing; incoming commits are pulled", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main" }))));
    await p.deploy();
    ok(await exists(join(p.workdir, "clone/foo")));
    await p.deploy();
    strictEqual(p.component.changed, false);
    await git_(repo, "touch bar && git add . && git commit -q -m bar");
    await p.deploy();
    ok(p.component.changed);
    ok(await exists(join(p.workdir, "clone/bar")));
    await p.deploy();
    strictEqual(p.component.changed, false);
  });
});

Deno.test("Clone really switches branches, also directly after the clone", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await git_(
      repo,
      "git checkout -q -b other && touch bar && echo qux > foo && git add . && git commit -q -m other && " +
        "git checkout -q main && echo one > foo && git commit -q -am 'foo main'",
    );
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "other" }))));
    await p.deploy();
    const clone = join(p.workdir, "clone");
    ok(await exists(join(clone, "bar")));
    strictEqual((await git_(clone, "git rev-parse --abbrev-ref HEAD")).trim(), "other");
    await p.deploy();
    strictEqual(p.component.changed, false);
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main" }))));
    await p.deploy();
    strictEqual((await git_(clone, "git rev-parse --abbrev-ref HEAD")).trim(), "main");
    strictEqual(await read(join(clone, "foo")), "one\n");
    ok(!(await exists(join(clone, "bar"))));
    await p.deploy();
    strictEqual(p.component.changed, false);
  });
});

Deno.test("a revision stays put when upstream moves on", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await git_(repo, "touch bar && git add . && git commit -q -m commit2");
    const commit1 = (await git_(repo, "git rev-parse HEAD^")).trim();
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", revision: commit1 }))));
    await p.deploy();
    await git_(repo, "touch qux && git add . && git commit -q -m commit3");
    await p.deploy();
    strictEqual(p.component.changed, false);
    ok(!(await exists(join(p.workdir, "clone/qux"))));
    ok(!(await exists(join(p.workdir, "clone/bar"))));
  });
});

Deno.test("a tag does switch tags", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await git_(repo, "git tag -a v1.0 -m 'version 1.0' && touch bar && git add . && git commit -q -m b");
    await git_(repo, "git tag -a v1.1 -m 'version 1.1'");
    for (const tag of ["v1.0", "v1.1"]) {
      await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", tag }))));
      await p.deploy();
      strictEqual((await git_(join(p.workdir, "clone"), "git describe --tags")).trim(), tag);
      await p.deploy();
      strictEqual(p.component.changed, false);
    }
  });
});

Deno.test("no clobber: local changes are protected, with or without incoming commits", async () => {
  for (const incoming of [false, true]) {
    await withProject(async (p) => {
      const repo = await upstream(p);
      await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main" }))));
      await p.deploy();
      if (incoming) await git_(repo, "touch bar && git add . && git commit -q -m commit");
      await Deno.writeTextFile(join(p.workdir, "clone/foo"), "foobar\n");
      await rejects(p.deploy(), (e: Error) => {
        strictEqual(e.name, "RuntimeError");
        strictEqual(e.message, "Refusing to clobber dirty work directory.");
        return true;
      });
      strictEqual(await read(join(p.workdir, "clone/foo")), "foobar\n");
      ok(p.lines.some((l) => l.includes("is dirty - refusing to clobber")), p.lines.join("\n"));
    });
  }
});

Deno.test("no clobber: untracked files are kept", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main" }))));
    await p.deploy();
    await Deno.mkdir(join(p.workdir, "clone/bar"));
    await Deno.writeTextFile(join(p.workdir, "clone/bar/baz"), "foobar\n");
    await rejects(p.deploy(), /Refusing to clobber dirty work directory/);
    strictEqual(await read(join(p.workdir, "clone/bar/baz")), "foobar\n");
  });
});

Deno.test("clobber: changes are lost and untracked files removed, with or without incoming", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main", clobber: true }))));
    await p.deploy();
    await Deno.writeTextFile(join(p.workdir, "clone/foo"), "foobar\n");
    await Deno.mkdir(join(p.workdir, "clone/bar"));
    await Deno.writeTextFile(join(p.workdir, "clone/bar/baz"), "foobar\n");
    await git_(join(p.workdir, "clone"), "touch staged && git add staged");
    await p.deploy();
    strictEqual(await read(join(p.workdir, "clone/foo")), "");
    ok(!(await exists(join(p.workdir, "clone/bar/baz"))));
    ok(!(await exists(join(p.workdir, "clone/staged"))));
    await git_(repo, "touch new && git add . && git commit -q -m commit");
    await Deno.writeTextFile(join(p.workdir, "clone/foo"), "again\n");
    await p.deploy();
    ok(await exists(join(p.workdir, "clone/new")));
    strictEqual(await read(join(p.workdir, "clone/foo")), "");
  });
});

Deno.test("vcsUpdate false leaves changes and upstream commits alone", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main", vcsUpdate: false }))));
    await p.deploy();
    await git_(repo, "echo foobar > foo && touch bar && git add . && git commit -q -m commit");
    await Deno.writeTextFile(join(p.workdir, "clone/foo"), "asdf\n");
    await p.deploy();
    strictEqual(p.component.changed, false);
    strictEqual(await read(join(p.workdir, "clone/foo")), "asdf\n");
    ok(!(await exists(join(p.workdir, "clone/bar"))));
  });
});

Deno.test("a changed remote URL is cloned again", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    const repo2 = await upstream(p, "upstream2");
    await git_(repo2, "echo baz > bar && git add . && git commit -q -m commit");
    await p.configure(root((c) => c.add(new Clone(repo, { target: "clone", branch: "main" }))));
    await p.deploy();
    ok(!(await exists(join(p.workdir, "clone/bar"))));
    await p.configure(root((c) => c.add(new Clone(repo2, { target: "clone", branch: "main" }))));
    await p.deploy();
    strictEqual(await read(join(p.workdir, "clone/bar")), "baz\n");
    strictEqual((await git_(join(p.workdir, "clone"), "git remote get-url origin")).trim(), repo2);
  });
});

Deno.test("cloning into the work dir empties it first", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    await p.writeWorkdir("asdf", "foo");
    await p.configure(root((c) => c.add(new Clone(repo, { branch: "main" }))));
    await p.deploy();
    ok(!(await exists(join(p.workdir, "asdf"))));
    ok(await exists(join(p.workdir, "foo")));
  });
});

Deno.test("untracked files with odd names are read correctly", async () => {
  await withProject(async (p) => {
    const repo = await upstream(p);
    const names = [
      "this string has spaces in it",
      "this string has a ' in it",
      'this string has a " in it',
      '"this string has a \' and a " in it"',
      "this string has a \\ in it",
      "this string has a \\ and a ' in it",
      "this string has a \\ and a & in it",
      "umläut and\ttab",
    ];
    let clone!: Clone;
    await p.configure(root((c) => clone = c.add(new Clone(repo, { branch: "main" }))));
    await p.deploy();
    for (const name of names) await Deno.writeTextFile(join(p.workdir, name), name);
    deepStrictEqual(new Set(await clone.untrackedFiles()), new Set(names));
  });
});

Deno.test("submodules are checked out; lastUpdated is the commit time", async () => {
  await withProject(async (p) => {
    const sub = await upstream(p, "sub");
    await git_(sub, "echo inner > inner && git add . && git commit -q -m inner");
    const repo = await upstream(p);
    await git_(repo, `git -c protocol.file.allow=always submodule -q add ${sub} sub && git commit -q -m sub`);
    const env = { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "protocol.file.allow", GIT_CONFIG_VALUE_0: "always" };
    let clone!: Clone;
    await p.configure(root((c) => clone = c.add(new Clone(repo, { target: "clone", branch: "main", env }))));
    await p.deploy();
    strictEqual(await read(join(p.workdir, "clone/sub/inner")), "inner\n");
    await p.deploy();
    strictEqual(p.component.changed, false);
    const ct = Number((await git_(repo, "git show -s --format=%ct HEAD")).trim()) * 1000;
    strictEqual(await clone.lastUpdated(), ct);
  });
});
