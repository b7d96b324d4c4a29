/**
 * Conformance tests of the component model, ported from batou's test_component.py
 * (reference-core.md section 5, cases 1-35) and adapted to the TypeScript API.
 */
import { AssertionError } from "node:assert";
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { join } from "node:path";
import { attribute, Component, platform, type RootComponent } from "../core/model/component.ts";
import {
  CmdExecutionError,
  ConfigurationError,
  ConversionError,
  MissingOverrideAttributes,
  SilentConfigurationError,
  UnknownComponentOptions,
  UpdateNeeded,
} from "../core/model/errors.ts";
import { makeRoot, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

/** A top component that does nothing; tests add sub-components to it (batou's `root.component`). */
class MyComponent extends Component {}

/** Prepares a fresh `MyComponent` root in a temp project and runs `fn` with it. */
async function withRoot(
  fn: (root: RootComponent, top: Component, dir: string) => Promise<void> | void,
  opts: Parameters<typeof makeRoot>[2] & { factory?: typeof Component } = {},
): Promise<void> {
  await using project = await tempProject();
  const root = makeRoot(opts.factory ?? MyComponent, project.dir, opts);
  await root.prepare();
  await fn(root, root.component!, project.dir);
}

class SampleComponent extends Component {
  updated = false;
  needsUpdate = true;
  override verify(): void {
    if (this.needsUpdate) throw new UpdateNeeded();
  }
  override update(): void {
    this.updated = true;
  }
}

// ---------------------------------------------------------------- construction (1-4)

Deno.test("component: a new component is not prepared and has no parent or sub-components (1)", () => {
  const c = new Component();
  strictEqual(c.parent, null);
  strictEqual(c.prepared, false);
  deepStrictEqual([...c.subComponents], []);
  throws(() => c.root, /not prepared yet/);
});

Deno.test("component: the default lifecycle methods are no-ops, lastUpdated is not implemented", async () => {
  const c = new Component();
  await c.configure();
  await c.verify();
  await c.update();
  throws(() => c.lastUpdated(), /lastUpdated\(\) is not implemented/);
});

Deno.test("component: a namevar argument for a component without namevar is rejected (2)", () => {
  throws(() => new Component("foo"), (e: Error) => {
    ok(e instanceof ConfigurationError);
    strictEqual(e.message, "Namevar is undefined for this component.");
    return true;
  });
});

Deno.test("component: unknown options and options naming methods are rejected when added (2)", async () => {
  await withRoot((_root, top) => {
    throws(
      () => top.add(new SampleComponent({ bar: 1, configure: 2, needsUpdate: false })),
      (e: Error) => {
        ok(e instanceof UnknownComponentOptions);
        strictEqual(
          e.message,
          "The following arguments are unacceptable for this component because they are either undefined or " +
            "would override methods: bar, configure",
        );
        deepStrictEqual(e.options, ["bar", "configure"]);
        return true;
      },
    );
    // Known plain fields are accepted and applied after the field initialisers ran.
    const ok1 = top.add(new SampleComponent({ needsUpdate: false }));
    strictEqual(ok1.needsUpdate, false);
  });
});

class Named extends Component {
  static override namevar = "asdf";
  asdf = "";
  other = 1;
}

Deno.test("component: the first constructor argument goes into the namevar field (3)", async () => {
  await withRoot((_root, top) => {
    const c = top.add(new Named("foobar", { other: 2 }));
    strictEqual(c.asdf, "foobar");
    strictEqual(c.namevar, "foobar");
    strictEqual(c.other, 2);
    strictEqual(c.breadcrumb, "Named('foobar')");
    strictEqual(c.breadcrumbs, "MyComponent > Named('foobar')");
  });
});

Deno.test("component: a component with a namevar requires the argument (4)", () => {
  throws(
    () => new Named(),
    (e: Error) => e instanceof ConfigurationError && e.message.startsWith("Namevar asdf required"),
  );
  throws(() => new Named(null), /Namevar asdf required/);
});

// ---------------------------------------------------------------- prepare (5-9, 12, 13)

Deno.test("component: prepare sets up environment, host, root and parent (5)", async () => {
  await withRoot((root, top) => {
    strictEqual(top.environment, root.environment);
    strictEqual(top.host, root.host);
    strictEqual(top.root, root);
    strictEqual(top.parent, root);
    const sub = top.add(new Component());
    strictEqual(sub.parent, top);
    strictEqual(sub.root, root);
    strictEqual(sub.host, root.host);
    strictEqual(String(top), '<MyComponent (localhost) "MyComponent">');
    strictEqual(String(sub), '<Component (localhost) "MyComponent > Component">');
    strictEqual(String(root), '<RootComponent "mycomponent">');
  });
});

Deno.test("component: adding null or undefined is a no-op", async () => {
  await withRoot((_root, top) => {
    strictEqual(top.add(null), null);
    strictEqual(top.use(undefined), undefined);
    deepStrictEqual([...top.subComponents], []);
    strictEqual(top._, null);
  });
});

class Labelled extends Component {
  static override namevar = "label";
  label = "";
}

Deno.test("component: recursiveSubComponents is a pre-order walk without the component itself (6)", async () => {
  await withRoot((_root, top) => {
    for (let x = 0; x < 3; x++) {
      const c = top.add(new Labelled(`x${x}`));
      for (let y = 0; y < 2; y++) c.add(new Labelled(`x${x}y${y}`));
    }
    deepStrictEqual(
      [...top.recursiveSubComponents()].map((c) => (c as Labelled).label),
      ["x0", "x0y0", "x0y1", "x1", "x1y0", "x1y1", "x2", "x2y0", "x2y1"],
    );
  });
});

class Counting extends Component {
  x = 1;
  override configure(): void {
    this.x += 1;
  }
}

Deno.test("component: use() does not configure an already prepared component again (7)", async () => {
  await withRoot((_root, top) => {
    const c = new Counting();
    top.use(c);
    strictEqual(c.x, 2);
    top.use(c);
    strictEqual(c.x, 2);
    // use() prepares but does not add to the tree.
    deepStrictEqual([...top.subComponents], []);
  });
});

class RemembersDefdir extends Component {
  seenDefdir = "";
  override configure(): void {
    this.seenDefdir = this.defdir;
  }
}

// batou runs configure() inside chdir(defdir). The process cwd is global and configure may be async, so we never
// chdir during configure; instead `defdir` is exposed and `template()` resolves relative names against it.
Deno.test("component: prepare calls configure, which sees the root's defdir (8)", async () => {
  await withRoot((root, top) => {
    const c = top.add(new RemembersDefdir());
    strictEqual(c.seenDefdir, root.defdir);
    ok(c.prepared);
  });
});

class PlatformBase extends Component {}
class PlatformBaseSub extends PlatformBase {}
class TestPlatformPart extends Component {}
class OtherPlatformPart extends Component {}
platform("testplatform", PlatformBase)(TestPlatformPart);
platform("otherplatform", PlatformBase)(OtherPlatformPart);

Deno.test("component: platform components are added as the last sub-component, not inherited (9)", async () => {
  await withRoot((_root, top) => {
    const c = top.add(new PlatformBase());
    strictEqual(c.subComponents.length, 1);
    ok(c.subComponents[0] instanceof TestPlatformPart);
    const sub = top.add(new PlatformBaseSub());
    strictEqual(sub.subComponents.length, 0);
  }, { platform: "testplatform" });
  await withRoot((_root, top) => {
    strictEqual(top.add(new PlatformBase()).subComponents.length, 0);
  }, { platform: null });
});

Deno.test("component: a platform component is added after the ones added in configure (9)", async () => {
  class WithChild extends Component {
    override configure(): void {
      this.add(new Labelled("child"));
    }
  }
  class WithChildPlatform extends Component {}
  platform("debian", WithChild)(WithChildPlatform);
  await withRoot((_root, top) => {
    const c = top.add(new WithChild());
    deepStrictEqual(c.subComponents.map((s) => s.constructor.name), ["Labelled", "WithChildPlatform"]);
  }, { platform: "debian" });
});

class LogsInConfigure extends Component {
  override configure(): void {
    this.log("1: configure");
  }
}

Deno.test("component: log() during configure is stored on the root for later (12)", async () => {
  await withRoot(async (root) => {
    deepStrictEqual(root.logs, ["1: configure"]);
    const { lines } = await withRecordedOutput(() => root.logFinishConfigure());
    deepStrictEqual(lines, ["1: configure"]);
    strictEqual(root.logs, null);
    // After configure, log() prints at once with the host's fqdn.
    const later = await withRecordedOutput(() => root.component!.log("deploying"));
    deepStrictEqual(later.lines, ["localhost: deploying"]);
  }, { factory: LogsInConfigure });
});

class Configured extends Component {
  configured = false;
  override configure(): void {
    this.configured = true;
  }
}

Deno.test("component: added sub-components are configured immediately (13)", async () => {
  await withRoot((_root, top) => {
    const my = top.add(new Configured());
    strictEqual(my.configured, true);
    ok(my.prepared);
  });
});

Deno.test("component: add() and use() make the component available as `_` (13)", async () => {
  await withRoot((_root, top) => {
    strictEqual(top._, null);
    const a = new Component();
    strictEqual(top.add(a), a);
    strictEqual(top._, a);
    const b = new Component();
    strictEqual(top.use(b), b);
    strictEqual(top._, b);
  });
});

Deno.test("component: an async configure of a sub-component completes before the parent is prepared", async () => {
  class SlowChild extends Component {
    done = false;
    override async configure(): Promise<void> {
      await new Promise((r) => setTimeout(r, 5));
      this.done = true;
    }
  }
  class Parent extends Component {
    child: SlowChild | null = null;
    override configure(): void {
      this.child = this.add(new SlowChild());
    }
  }
  await withRoot((_root, top) => {
    const p = top as Parent;
    ok(p.prepared);
    strictEqual(p.child!.done, true);
    ok(p.child!.prepared);
  }, { factory: Parent });
});

Deno.test("component: an async platform component is configured before the parent counts as prepared", async () => {
  class AsyncBase extends Component {}
  class AsyncPlatform extends Component {
    done = false;
    override async configure(): Promise<void> {
      await new Promise((r) => setTimeout(r, 5));
      this.done = true;
    }
  }
  platform("slow", AsyncBase)(AsyncPlatform);
  await withRoot((_root, top) => {
    const p = top.subComponents[0] as AsyncPlatform;
    ok(p instanceof AsyncPlatform);
    strictEqual(p.done, true);
    ok(top.prepared);
  }, { platform: "slow", factory: AsyncBase });
});

Deno.test("component: a configure that fails after adding an async child leaves no unhandled rejection", async () => {
  class FailingChild extends Component {
    override async configure(): Promise<void> {
      await new Promise((r) => setTimeout(r, 1));
      throw new Error("child failed");
    }
  }
  class FailingParent extends Component {
    override configure(): void {
      this.add(new FailingChild());
      throw new Error("parent failed");
    }
  }
  await using project = await tempProject();
  const root = makeRoot(FailingParent, project.dir);
  await rejects(root.prepare(), /parent failed/);
  // Give the child's rejection time to surface; the test runner fails on unhandled rejections.
  await new Promise((r) => setTimeout(r, 10));
});

Deno.test("component: read-only properties are not accepted as options", async () => {
  await withRoot((_root, top) => {
    throws(() => top.add(new Component({ prepared: true })), UnknownComponentOptions);
    throws(() => top.add(new Component({ workdirBase: 1, root: 2 })), UnknownComponentOptions);
  });
});

Deno.test("component: the namevar is known before the component is added", () => {
  const n = new Named("early");
  strictEqual(n.namevar, "early");
  strictEqual(n.breadcrumb, "Named('early')");
});

// ---------------------------------------------------------------- deploy (10, 11, 24, 25)

Deno.test("component: deploy runs update when verify signals it (10)", async () => {
  await withRoot(async (_root, top) => {
    const c = top.add(new SampleComponent({ needsUpdate: true }));
    await withRecordedOutput(() => top.deploy());
    strictEqual(c.updated, true);
    strictEqual(c.changed, true);
    strictEqual(top.changed, true);
  });
});

Deno.test("component: deploy skips update when verify passes (10)", async () => {
  await withRoot(async (_root, top) => {
    const c = top.add(new SampleComponent({ needsUpdate: false }));
    await withRecordedOutput(() => top.deploy());
    strictEqual(c.updated, false);
    strictEqual(c.changed, false);
    strictEqual(top.changed, false);
  });
});

Deno.test("component: a bare AssertionError from verify also means update needed; predicting skips update (10)", async () => {
  class Asserting extends SampleComponent {
    override verify(): void {
      throw new AssertionError({ message: "not there" });
    }
  }
  await withRoot(async (_root, top) => {
    const c = top.add(new Asserting());
    await withRecordedOutput(() => top.deploy(true));
    strictEqual(c.updated, false);
    strictEqual(c.changed, true);
    await withRecordedOutput(() => top.deploy(false));
    strictEqual(c.updated, true);
  });
});

Deno.test("component: other errors from verify propagate", async () => {
  class Broken extends SampleComponent {
    override verify(): void {
      throw new TypeError("broken verify");
    }
  }
  await withRoot(async (_root, top) => {
    const c = top.add(new Broken());
    await withRecordedOutput(() => rejects(top.deploy(), TypeError));
    strictEqual(c.updated, false);
  });
});

Deno.test("component: sub-components are deployed first (11)", async () => {
  const log: string[] = [];
  class Logging extends Component {
    static override namevar = "id";
    id = "";
    override verify(): void {
      log.push(`${this.id}:verify`);
      throw new UpdateNeeded();
    }
    override update(): void {
      log.push(`${this.id}:update`);
    }
  }
  await withRoot(async (_root, top) => {
    const c1 = top.add(new Logging("1"));
    c1.add(new Logging("2"));
    const { lines } = await withRecordedOutput(() => top.deploy());
    deepStrictEqual(log, ["2:verify", "2:update", "1:verify", "1:update"]);
    // The 🚀 lines of changed components, with breadcrumbs.
    deepStrictEqual(lines, [
      "🚀 localhost: MyComponent > Logging('1') > Logging('2')",
      "🚀 localhost: MyComponent > Logging('1')",
    ]);
  });
});

Deno.test("component: root and component know the working dir (24)", async () => {
  await withRoot((root, top, dir) => {
    strictEqual(root.workdir, join(dir, "work", "mycomponent"));
    strictEqual(top.workdir, join(dir, "work", "mycomponent"));
    ok(top.workdir.endsWith("/work/mycomponent"));
  });
});

Deno.test("component: a workdir assigned in configure is inherited by sub-components added later (24)", async () => {
  class Relocating extends Component {
    before: Component | null = null;
    after: Component | null = null;
    override configure(): void {
      this.before = this.add(new Component());
      this.workdir = "/srv/elsewhere";
      this.after = this.add(new Component());
    }
  }
  await withRoot((_root, top, dir) => {
    const r = top as Relocating;
    strictEqual(r.before!.workdir, join(dir, "work", "mycomponent"));
    strictEqual(r.after!.workdir, "/srv/elsewhere");
    strictEqual(r.after!.map("x"), "/srv/elsewhere/x");
  }, { factory: Relocating });
});

// The process cwd is global (and test files run in parallel), so deploy does not chdir unless the agent turns on
// `environment.manageCwd`. What batou's test checks - verify works inside the work dir - holds for cmd() and map().
Deno.test("component: deploy creates the work dir, and commands run inside it (25)", async () => {
  class RememberWorkDir extends Component {
    seen = "";
    override async verify(): Promise<void> {
      this.seen = (await this.cmd("pwd -P")).stdout.trim();
    }
  }
  await withRoot(async (root, top) => {
    await Deno.remove(root.workdir, { recursive: true }).catch(() => {});
    const c = top.add(new RememberWorkDir());
    await withRecordedOutput(() => top.deploy(true));
    ok((await Deno.stat(root.workdir)).isDirectory);
    strictEqual(c.seen, await Deno.realPath(root.workdir));
  });
});

// ---------------------------------------------------------------- assertions (14-16, 27, 28)

Deno.test("component: assertFileIsCurrent raises for a missing file (14)", async () => {
  await withRoot(async (_root, top) => {
    const c = top.add(new Component());
    await rejects(c.assertFileIsCurrent("idonotexist"), UpdateNeeded);
  });
});

Deno.test("component: assertFileIsCurrent passes for an existing file without requirements (14)", async () => {
  await withRoot(async (root, top) => {
    await Deno.mkdir(root.workdir, { recursive: true });
    await Deno.writeTextFile(join(root.workdir, "exists"), "x");
    const c = top.add(new Component());
    await c.assertFileIsCurrent("exists");
    await c.assertFileIsCurrent(join(root.workdir, "exists"));
  });
});

Deno.test("component: assertFileIsCurrent raises if the file is older than a requirement (14)", async () => {
  await withRoot(async (root, top) => {
    await Deno.mkdir(root.workdir, { recursive: true });
    const ref = join(root.workdir, "reference");
    const req = join(root.workdir, "requirement");
    await Deno.writeTextFile(ref, "x");
    await Deno.writeTextFile(req, "y");
    await Deno.utime(ref, 1000, 1000);
    await Deno.utime(req, 2000, 2000);
    const c = top.add(new Component());
    await rejects(c.assertFileIsCurrent("reference", ["requirement"]), UpdateNeeded);
    // Equal times are current; a missing requirement is ignored; newer is current.
    await Deno.utime(req, 1000, 1000);
    await c.assertFileIsCurrent("reference", [req, "missing"]);
    await Deno.utime(req, 500, 500);
    await c.assertFileIsCurrent("reference", ["requirement"]);
  });
});

Deno.test("component: assertNoSubcomponentChanges raises only if a direct sub-component changed (15)", async () => {
  await withRoot((_root, top) => {
    const c2 = top.add(new Component());
    c2.changed = false;
    top.assertNoSubcomponentChanges();
    c2.changed = true;
    throws(() => top.assertNoSubcomponentChanges(), UpdateNeeded);
  });
});

class Dated extends Component {
  stamp: number | null = null;
  override lastUpdated(): number | null {
    return this.stamp;
  }
}

Deno.test("component: assertComponentIsCurrent (16)", async () => {
  await withRoot(async (_root, top) => {
    const c = top.add(new Dated({ stamp: null }));
    // No reference time.
    await rejects(c.assertComponentIsCurrent(new Dated({ stamp: 21 })), UpdateNeeded);
    // Older reference.
    c.stamp = 20;
    await rejects(c.assertComponentIsCurrent(new Dated({ stamp: 21 })), UpdateNeeded);
    // Equal is current.
    c.stamp = 21;
    await c.assertComponentIsCurrent(new Dated({ stamp: 21 }));
    // Newer is current.
    c.stamp = 22;
    await c.assertComponentIsCurrent(new Dated({ stamp: 21 }));
    // Several requirements: one newer is enough to fail. A requirement without a time is skipped.
    c.stamp = 20;
    const req = new Dated({ stamp: 21 });
    await rejects(c.assertComponentIsCurrent([new Dated({ stamp: null }), req, req]), UpdateNeeded);
    await c.assertComponentIsCurrent([new Dated({ stamp: null }), new Dated({ stamp: 19 })]);
  });
});

Deno.test("component: assertComponentIsCurrent prepares an async requirement before asking it (16)", async () => {
  class AsyncDated extends Dated {
    override async configure(): Promise<void> {
      await new Promise((r) => setTimeout(r, 5));
      this.stamp = 30;
    }
  }
  await withRoot(async (root, top) => {
    const c = top.add(new Dated({ stamp: 25 }));
    await rejects(c.assertComponentIsCurrent(new AsyncDated()), UpdateNeeded);
    // The same for component requirements of assertFileIsCurrent (times in ms).
    await Deno.mkdir(root.workdir, { recursive: true });
    await Deno.writeTextFile(join(root.workdir, "ref"), "");
    await Deno.utime(join(root.workdir, "ref"), 0.02, 0.02);
    await rejects(c.assertFileIsCurrent("ref", [new AsyncDated()]), UpdateNeeded);
    await c.assertFileIsCurrent("ref", [new Dated({ stamp: 10 })]);
  });
});

Deno.test("component: assertCmd passes on success and signals an update on failure (27)", async () => {
  await withRoot(async (_root, top) => {
    strictEqual((await top.assertCmd("true")).code, 0);
    await rejects(top.assertCmd("false"), UpdateNeeded);
  });
});

Deno.test("component: assertNoChanges, locally and for sub-components (28)", async () => {
  await withRoot((_root, top) => {
    top.assertNoChanges();
    const c2 = top.add(new Component());
    top.assertNoChanges();
    c2.changed = true;
    throws(() => top.assertNoChanges(), UpdateNeeded);
    c2.changed = false;
    top.changed = true;
    throws(() => top.assertNoChanges(), UpdateNeeded);
  });
});

// ---------------------------------------------------------------- commands and files (17-19)

class WithFoo extends Component {
  foo = "asdf";
}

Deno.test("component: cmd expands templates and returns the output (17)", async () => {
  await withRoot(async (_root, top) => {
    const r = await top.cmd('echo "{{component.foo}}"');
    deepStrictEqual([r.stdout, r.stderr, r.code], ["asdf\n", "", 0]);
    const raw = await top.cmd("echo '{{x}}'", { expand: false });
    strictEqual(raw.stdout, "{{x}}\n");
  }, { factory: WithFoo });
});

Deno.test("component: cmd raises CmdExecutionError naming the command (18)", async () => {
  await withRoot(async (_root, top) => {
    await rejects(top.cmd("non-existing-command-batou-test"), (e: Error) => {
      ok(e instanceof CmdExecutionError);
      strictEqual(e.cmd, "non-existing-command-batou-test");
      strictEqual(e.returncode, 127);
      ok(e.message.startsWith("Command non-existing-command-batou-test failed with return code 127"));
      ok(e.stderr.includes("non-existing-command-batou-test"));
      return true;
    });
  });
});

Deno.test("component: cmd returns the output when ignoring the return code (18)", async () => {
  await withRoot(async (_root, top) => {
    const r = await top.cmd("echo important output && false", { silent: true, ignoreReturnCode: true });
    strictEqual(r.stdout, "important output\n");
    strictEqual(r.code, 1);
  });
});

Deno.test("component: cmd does not hang when the process expects input; input is passed (18)", async () => {
  await withRoot(async (_root, top) => {
    strictEqual((await top.cmd("cat")).stdout, "");
    strictEqual((await top.cmd("cat", { input: "hello" })).stdout, "hello");
    strictEqual((await top.cmd("echo $BATOU_TEST_VAR", { env: { BATOU_TEST_VAR: "v" } })).stdout, "v\n");
  });
});

Deno.test("component: touch creates a new file (19)", async () => {
  await withRoot(async (_root, top, dir) => {
    const reference = join(dir, "reference");
    await top.touch(reference);
    ok((await Deno.stat(reference)).isFile);
    strictEqual(await Deno.readTextFile(reference), "");
  });
});

Deno.test("component: touch updates the mtime and leaves the content intact (19)", async () => {
  await withRoot(async (root, top) => {
    await Deno.mkdir(root.workdir, { recursive: true });
    const reference = join(root.workdir, "reference");
    await Deno.writeTextFile(reference, "Hello world");
    await Deno.utime(reference, 0, 0);
    await top.touch("reference");
    ok((await Deno.stat(reference)).mtime!.getTime() !== 0);
    strictEqual(await Deno.readTextFile(reference), "Hello world");
  });
});

// ---------------------------------------------------------------- templates (20-22)

Deno.test("component: expand renders with host, component and environment (20)", async () => {
  await withRoot((_root, top) => {
    strictEqual(top.expand("Hello {{host.fqdn}}"), "Hello localhost");
    strictEqual(top.expand("{{component.foo}} {{environment.name}} {{x}}", { x: 1 }), "asdf test 1");
  }, { factory: WithFoo });
});

// batou's template() appends "\n" (it uses print); API.md: a trailing newline is kept, never added.
Deno.test("component: template renders a file from the defdir, keeping but never adding newlines (21)", async () => {
  await withRoot(async (root, top) => {
    await Deno.writeTextFile(join(root.defdir, "sample"), "Hello {{host.fqdn}}");
    await Deno.writeTextFile(join(root.defdir, "sample2"), "Hello {{component.foo}}\n");
    strictEqual(top.template("sample"), "Hello localhost");
    strictEqual(top.template("sample2"), "Hello asdf\n");
    strictEqual(top.template(join(root.defdir, "sample2")), "Hello asdf\n");
  }, { factory: WithFoo });
});

Deno.test("component: batou_generated_header names the component's breadcrumbs (22)", async () => {
  await withRoot((_root, top) => {
    const sub = top.add(new Labelled("x"));
    strictEqual(
      sub.expand("{{batou_generated_header}}"),
      "File is generated by batou for component MyComponent > Labelled('x'). Don't edit manually.",
    );
  });
});

// ---------------------------------------------------------------- resources (26)

class ProvidesAndRequires extends Component {
  provided: unknown[] = [];
  strict = true;
  result: unknown = "unset";
  override configure(): void {
    for (const v of this.provided) this.provide("asdf", v);
    this.result = this.requireOne("asdf", { strict: this.strict });
  }
}

Deno.test("component: requireOne returns the single value (26)", async () => {
  await withRoot((_root, top) => {
    const c = top.add(new ProvidesAndRequires({ provided: [1] }));
    strictEqual(c.result, 1);
  });
});

Deno.test("component: requireOne without a value is a silent error, or null when not strict (26)", async () => {
  await withRoot((_root, top) => {
    throws(() => top.add(new ProvidesAndRequires({ provided: [] })), SilentConfigurationError);
    const c = top.add(new ProvidesAndRequires({ provided: [], strict: false }));
    strictEqual(c.result, null);
  });
});

Deno.test("component: requireOne with several values is an error (26)", async () => {
  await withRoot((_root, top) => {
    throws(
      () => top.add(new ProvidesAndRequires({ provided: [1, 2] })),
      (e: Error) =>
        e instanceof ConfigurationError &&
        e.message.startsWith("Expected only one result, got multiple for (key=asdf, host=None) in "),
    );
  });
});

// ---------------------------------------------------------------- overrides and attributes (29-33)

Deno.test("component: an override for an undefined attribute raises MissingOverrideAttributes (29)", async () => {
  await using project = await tempProject();
  const root = makeRoot(MyComponent, project.dir, { overrides: { asdf: "1" } });
  await rejects(root.prepare(), (e: Error) => {
    ok(e instanceof MissingOverrideAttributes);
    deepStrictEqual(e.attributes, ["asdf"]);
    strictEqual(e.message, "Overrides for undefined attributes asdf");
    return true;
  });
});

class OtherComponent extends Component {
  asdf: string | null = null;
  port = 8080;
  debug = false;
  names: string[] = [];
  typed = attribute(Number, 1);
}

Deno.test("component: overrides set existing fields, converted by the type of their default (30)", async () => {
  await withRoot((_root, top) => {
    const c = top as OtherComponent;
    strictEqual(c.asdf, "1");
    strictEqual(c.port, 9090);
    strictEqual(c.debug, true);
    deepStrictEqual(c.names, ["a", "b"]);
    strictEqual(c.typed, 3);
  }, {
    factory: OtherComponent,
    overrides: { asdf: "1", port: "9090", debug: "true", names: "a, b,", typed: "{{ 1 + 2 }}" },
  });
});

Deno.test("component: an unconvertible override is a ConversionError naming attribute and conversion", async () => {
  await using project = await tempProject();
  const root = makeRoot(OtherComponent, project.dir, { overrides: { typed: "many" } });
  await rejects(root.prepare(), (e: Error) => {
    ok(e instanceof ConversionError);
    strictEqual(e.key, "typed");
    strictEqual(e.conversionName, "Number");
    strictEqual(e.componentBreadcrumbs, "OtherComponent");
    return true;
  });
  const plain = makeRoot(OtherComponent, project.dir, { overrides: { port: "eighty" } });
  await rejects(plain.prepare(), (e: Error) => e instanceof ConversionError && e.key === "port");
});

Deno.test("component: overrides apply to the top component only, not to sub-components", async () => {
  class Top extends Component {
    port = 1;
    sub: OtherComponent | null = null;
    override configure(): void {
      this.sub = this.add(new OtherComponent());
    }
  }
  await withRoot((_root, top) => {
    strictEqual((top as Top).port, 2);
    strictEqual((top as Top).sub!.port, 8080);
  }, { factory: Top, overrides: { port: "2" } });
});

const conversionCases: [string, unknown, unknown][] = [
  ["list", "", []],
  ["list", "1,2", ["1", "2"]],
  ["list", "3", ["3"]],
  ["list", "  3, 3,", ["3", "3"]],
  ["literal", "[3,3]", [3, 3]],
  ["literal", "True", true],
  ["literal", "False", false],
  ["literal", "{'a': (1, None)}", { a: [1, null] }],
];

Deno.test("component: string defaults are config strings, converted on access (31)", async () => {
  for (const [conversion, configured, expected] of conversionCases) {
    class Foo extends Component {
      a = attribute(conversion as "list", configured as string);
    }
    await withRoot((_root, top) => {
      const f = top.add(new Foo());
      deepStrictEqual(f.a, expected, `${conversion}(${JSON.stringify(configured)})`);
    });
  }
  class Typed extends Component {
    n = attribute(Number, "8080");
    b = attribute(Boolean, "False");
    s = attribute(String, "{{ host.fqdn }}");
    noexpand = attribute(String, "{{ x }}", { expand: false });
    mapped = attribute(String, "data/x", { map: true });
  }
  await withRoot((root, top) => {
    const t = top.add(new Typed());
    strictEqual(t.n, 8080);
    strictEqual(t.b, false);
    strictEqual(t.s, "localhost");
    strictEqual(t.noexpand, "{{ x }}");
    strictEqual(t.mapped, join(root.workdir, "data/x"));
  });
});

Deno.test("component: an attribute without override and default raises on access (32)", async () => {
  class Foo extends Component {
    a = attribute(String);
  }
  await withRoot((_root, top) => {
    const f = top.add(new Foo());
    throws(() => f.a, (e: Error) => {
      ok(e instanceof ConfigurationError);
      strictEqual(
        e.message,
        'No override and no default given for `a` on Foo instance <Foo (localhost) "MyComponent > Foo">.',
      );
      return true;
    });
    // An option given when adding counts as a value.
    strictEqual(top.add(new Foo({ a: "given" })).a, "given");
  });
});

// batou loses the attribute's name in subclasses ("unknown Attribute"); ours keeps it.
Deno.test("component: attributes inherited by subclasses keep their names in errors and overrides", async () => {
  class Base extends Component {
    a = attribute(String);
    port = attribute(Number, 1);
  }
  class Sub extends Base {}
  await withRoot((_root, top) => {
    const s = top.add(new Sub());
    throws(() => s.a, /No override and no default given for `a` on Sub instance/);
  });
  await withRoot((_root, top) => {
    strictEqual((top as Sub).port, 2);
    strictEqual((top as Sub).a, "x");
  }, { factory: Sub, overrides: { port: "2", a: "x" } });
});

Deno.test("component: non-string defaults and options are not converted (33)", async () => {
  const list = ["x"];
  class Foo extends Component {
    a = attribute("list", list);
    b = attribute(Number, 5);
    c = attribute("literal", null);
  }
  await withRoot((_root, top) => {
    const f = top.add(new Foo());
    strictEqual(f.a, list);
    strictEqual(f.b, 5);
    strictEqual(f.c, null);
    const g = top.add(new Foo({ b: "7" as unknown as number }));
    strictEqual(g.b, "7");
  });
});

// ---------------------------------------------------------------- events (34)

const eventLog: [string, string][] = [];

class Evented extends Component {
  static override namevar = "id";
  static override events = { handle: ["before-update", "*"] as [string, string] };
  id = "";
  needsUpdate = false;
  override verify(): void {
    if (this.needsUpdate) throw new UpdateNeeded();
  }
  handle(source: Component): void {
    eventLog.push([this.id, (source as Evented).id]);
  }
}

class PrecursorEvented extends Evented {
  static override events = { handle: ["before-update", "precursor"] as [string, string] };
}

Deno.test("component: before-update handlers do not fire without changes (34)", async () => {
  eventLog.length = 0;
  await withRoot(async (_root, top) => {
    top.add(new Evented("1"));
    top.add(new Evented("2"));
    await withRecordedOutput(() => top.deploy());
    deepStrictEqual(eventLog, []);
  });
});

Deno.test("component: a `*` handler fires for every updating component, including itself (34)", async () => {
  eventLog.length = 0;
  await withRoot(async (_root, top) => {
    top.add(new Evented("1", { needsUpdate: true }));
    top.add(new Evented("2", { needsUpdate: true }));
    await withRecordedOutput(() => top.deploy());
    deepStrictEqual(eventLog, [["1", "1"], ["2", "1"], ["1", "2"], ["2", "2"]]);
  });
});

Deno.test("component: a precursor handler fires only for sources deployed before it (34)", async () => {
  eventLog.length = 0;
  await withRoot(async (_root, top) => {
    top.add(new PrecursorEvented("1", { needsUpdate: true }));
    top.add(new PrecursorEvented("2"));
    await withRecordedOutput(() => top.deploy());
    deepStrictEqual(eventLog, [["2", "1"]]);
  });
});

Deno.test("component: predicting prints the triggers instead of calling the handlers (34)", async () => {
  eventLog.length = 0;
  await withRoot(async (_root, top) => {
    top.add(new PrecursorEvented("1", { needsUpdate: true }));
    top.add(new PrecursorEvented("2"));
    const { lines } = await withRecordedOutput(() => top.deploy(true));
    deepStrictEqual(eventLog, []);
    ok(
      lines.includes(
        `Trigger before-update: <PrecursorEvented (localhost) "MyComponent > PrecursorEvented('2')">.handle`,
      ),
    );
  });
});

Deno.test("component: async event handlers are awaited before update runs", async () => {
  const order: string[] = [];
  class AsyncHandler extends Component {
    static override events = { evade: ["before-update", "precursor"] as [string, string] };
    async evade(): Promise<void> {
      await new Promise((r) => setTimeout(r, 5));
      order.push("evaded");
    }
  }
  class Updating extends Component {
    override verify(): void {
      throw new UpdateNeeded();
    }
    override update(): void {
      order.push("update");
    }
  }
  await withRoot(async (_root, top) => {
    top.add(new Updating());
    top.add(new AsyncHandler());
    await withRecordedOutput(() => top.deploy());
    deepStrictEqual(order, ["evaded", "update"]);
  });
});

Deno.test("component: an unknown event scope is an error", async () => {
  class BadScope extends Component {
    static override events = { h: ["before-update", "nearby"] as [string, string] };
    h(): void {}
  }
  await withRoot(async (_root, top) => {
    top.add(new SampleComponent());
    top.add(new BadScope());
    await withRecordedOutput(() => rejects(top.deploy(), /Unknown event scope: nearby/));
  });
});

// ---------------------------------------------------------------- checksum (35)

Deno.test("component: checksum is an incremental sha256 (35)", async () => {
  await withRoot((_root, top) => {
    const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    strictEqual(top.checksum(), empty);
    strictEqual(top.checksum(), empty);
    strictEqual(top.checksum("asdf"), "f0e4c2f76c58916ec258f246851bea091d14d4247a2fc3e18694461b1816e13b");
    strictEqual(
      top.checksum(new TextEncoder().encode("bsdf")),
      "b3eff60e5fab50df21d80a987ec7426253284bf1219bb719ab5b658d56bedd6a",
    );
    const a = top.add(new Component());
    a.checksum("bsdf");
    strictEqual(a.checksum("asdf"), "f1e75877e487997c5b39ed8cad79fd8a05e49154e7f8c129c0a430ba2028c8c5");
  });
});
