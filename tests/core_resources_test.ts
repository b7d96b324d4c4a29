/**
 * Conformance tests of resources and the configure loop, ported from batou's
 * test_dependencies.py, test_resources.py, test_config.py and test_endtoend.py
 * (reference-core.md section 5, cases 50-65).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { RootComponent } from "../core/model/component.ts";
import { Component } from "../core/model/component.ts";
import {
  compareSortKeys,
  ConfigurationError,
  CycleErrorDetected,
  DuplicateComponent,
  MissingOverrideAttributes,
  NonConvergingWorkingSet,
  type ReportingError,
  sortErrors,
  UnsatisfiedResources,
  UnusedResources,
} from "../core/model/errors.ts";
import { Resources } from "../core/model/resources.ts";
import {
  configureEnvironment,
  errorNames,
  loadEnvironment,
  makeRoot,
  reportText,
  type TempProject,
  tempProject,
  withRecordedOutput,
} from "./core_test_helpers.ts";

const DEPS = `import { Component } from "batou";

export class Provider extends Component {
  override configure() {
    this.provide("the-answer", 42);
  }
}

export class Consumer extends Component {
  theAnswer: unknown[] = [];
  override configure() {
    this.theAnswer = this.require("the-answer");
  }
}

export class AggressiveConsumer extends Component {
  theAnswer: unknown = null;
  override configure() {
    // batou's version indexes an empty list (IndexError); in TS the equivalent is using the missing value.
    this.theAnswer = (this.require("the-answer")[0] as number).toFixed();
  }
}

export class SameHostConsumer extends Component {
  theAnswer: unknown[] = [];
  override configure() {
    this.theAnswer = this.require("the-answer", { host: this.host });
  }
}

export class Broken extends Component {
  override configure() {
    throw new Error("foobar");
  }
}

export class Circular1 extends Component {
  asdf: unknown[] = [];
  override configure() {
    this.asdf = this.require("asdf");
    this.provide("bsdf", this);
  }
}

export class Circular2 extends Component {
  bsdf: unknown[] = [];
  override configure() {
    this.bsdf = this.require("bsdf");
    this.provide("asdf", this);
  }
}

export class DirtySingularCircularReverse extends Component {
  bsdf: unknown[] = [];
  override configure() {
    this.bsdf = this.require("bsdf", { reverse: true, dirty: true });
    this.provide("asdf", this);
  }
}

export class ReverseConsumer extends Component {
  override configure() {
    this.require("the-answer", { reverse: true });
  }
}
`;

/** A project with the dependency components and environment `test` with the given [hosts] lines. */
async function depsProject(hosts: string): Promise<TempProject> {
  return await tempProject({
    "components/deps/component.ts": DEPS,
    // batou's strictness: unused resources are errors (our default only warns).
    "environments/test.cfg": `[environment]\nunused_resources = error\n\n[hosts]\n${hosts}\n`,
  });
}

/** The dependency graph as `name@host -> [name@host...]`, sorted. */
function graphByName(deps: Map<RootComponent, Set<RootComponent>>): Record<string, string[]> {
  const label = (r: RootComponent) => `${r.name}@${r.host.name}`;
  return Object.fromEntries(
    [...deps].map(([root, set]) => [label(root), [...set].map(label).sort()] as const).sort((a, b) =>
      a[0].localeCompare(b[0])
    ),
  );
}

function root(env: { rootComponents: RootComponent[] }, name: string, host: string): RootComponent {
  const r = env.rootComponents.find((r) => r.name === name && r.host.name === host);
  if (!r) throw new Error(`no root ${name}@${host}`);
  return r;
}

// ---------------------------------------------------------------- test_dependencies (50-57)

Deno.test("resources: a provider without consumer is exactly one UnusedResources error (50)", async () => {
  await using project = await depsProject("host = provider");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnusedResources"]);
  ok(errors[0] instanceof UnusedResources);
  strictEqual(
    reportText(errors[0]),
    'ERROR: Unused provided resources\n    Resource "the-answer" provided by provider with value [42]',
  );
});

Deno.test("resources: by default unused resources are a warning, not an error", async () => {
  await using project = await tempProject({
    "components/provider/component.ts": `import { Component } from "batou";
export class Provider extends Component {
  override configure() { this.provide("the-answer", 42); }
}
`,
    "environments/test.cfg": "[hosts]\nhost = provider\n",
  });
  const env = loadEnvironment(project);
  const { lines, result } = await withRecordedOutput(() => env.configure());
  deepStrictEqual(result, []);
  ok(lines.includes("   WARN: Unused provided resources"), lines.join("\n"));
  ok(lines.includes('    Resource "the-answer" provided by provider with value [42]'), lines.join("\n"));
});

Deno.test("resources: unused values are shown like batou shows them, components and cycles included", async () => {
  await using project = await tempProject({
    "components/odd/component.ts": `import { Component } from "batou";
export class Odd extends Component {
  override configure() {
    const cyclic: Record<string, unknown> = { name: "x", on: true, none: null };
    cyclic.self = cyclic;
    this.provide("me", this);
    this.provide("cyclic", cyclic);
    this.provide("text", "it's");
  }
}
`,
    "environments/test.cfg": "[environment]\nunused_resources = error\n\n[hosts]\nhost = odd\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnusedResources"]);
  deepStrictEqual(reportText(errors[0]).split("\n"), [
    "ERROR: Unused provided resources",
    `    Resource "cyclic" provided by odd with value [{'name': 'x', 'on': True, 'none': None, 'self': {'name': 'x', ` +
    `'on': True, 'none': None, 'self': {'name': 'x', 'on': True, 'none': None, 'self': {'name': 'x', 'on': True, ` +
    `'none': None, 'self': ...}}}}]`,
    `    Resource "me" provided by odd with value [<Odd (host) "Odd">]`,
    `    Resource "text" provided by odd with value ['it\\'s']`,
  ]);
});

Deno.test("resources: a consumer retrieves the value, whatever the order of roots (51)", async () => {
  for (const hosts of ["test = provider, consumer", "test = consumer, provider"]) {
    await using project = await depsProject(hosts);
    const { env, errors } = await configureEnvironment(project);
    deepStrictEqual(errors, []);
    deepStrictEqual((root(env, "consumer", "test").component as unknown as { theAnswer: unknown }).theAnswer, [42]);
    deepStrictEqual(graphByName(env.rootDependencies()), {
      "consumer@test": ["provider@test"],
      "provider@test": [],
    });
  }
});

// batou 2.x reports only Unsatisfied + NonConverging here; the value provided on test2 is unused as well, so we
// report that too (sorted as batou sorts reports: unused, unsatisfied, non-converging).
Deno.test("resources: a consumer limited to its own host does not see other hosts' values (52)", async () => {
  await using project = await depsProject("test2 = provider\ntest = samehostconsumer");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(sortErrors(errors)), [
    "UnusedResources",
    "UnsatisfiedResources",
    "NonConvergingWorkingSet",
  ]);
  const unsatisfied = errors.find((e) => e instanceof UnsatisfiedResources) as UnsatisfiedResources;
  deepStrictEqual(unsatisfied.unsatisfied, [["the-answer", "test", ["samehostconsumer"]]]);
  strictEqual(
    reportText(unsatisfied),
    'ERROR: Unsatisfied resource requirements\n    Resource "the-answer" on "test" required by samehostconsumer',
  );
});

Deno.test("resources: a consumer without provider is unsatisfied and does not converge (53)", async () => {
  await using project = await depsProject("host = consumer");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnsatisfiedResources", "NonConvergingWorkingSet"]);
  deepStrictEqual((errors[0] as UnsatisfiedResources).unsatisfied, [["the-answer", null, ["consumer"]]]);
  strictEqual(
    reportText(errors[0]),
    'ERROR: Unsatisfied resource requirements\n    Resource "the-answer" required by consumer',
  );
  strictEqual(reportText(errors[1]), "ERROR: 1 remaining unconfigured component(s): consumer");
});

Deno.test("resources: an aggressive consumer reports the unsatisfied requirement too (53)", async () => {
  await using project = await depsProject("host = aggressiveconsumer");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), [
    "UnknownComponentConfigurationError",
    "UnsatisfiedResources",
    "NonConvergingWorkingSet",
  ]);
  deepStrictEqual((errors[1] as UnsatisfiedResources).unsatisfied.map((u) => u[0]), ["the-answer"]);
});

Deno.test("resources: a broken component gives the real exception plus NonConverging (54)", async () => {
  await using project = await depsProject("host = broken");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownComponentConfigurationError", "NonConvergingWorkingSet"]);
  ok(reportText(errors[0]).startsWith("ERROR: Error: foobar"));
});

Deno.test("resources: host-limited consumers get the values of their own host (55)", async () => {
  await using project = await depsProject(
    "host = samehostconsumer, provider\nhost2 = samehostconsumer, provider",
  );
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  for (const h of ["host", "host2"]) {
    deepStrictEqual((root(env, "samehostconsumer", h).component as unknown as { theAnswer: unknown }).theAnswer, [42]);
  }
  deepStrictEqual(graphByName(env.rootDependencies()), {
    "provider@host": [],
    "provider@host2": [],
    "samehostconsumer@host": ["provider@host"],
    "samehostconsumer@host2": ["provider@host2"],
  });
});

Deno.test("resources: components are ordered over multiple hosts (55)", async () => {
  await using project = await depsProject("host = provider, consumer\nhost2 = provider, consumer");
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  deepStrictEqual(graphByName(env.rootDependencies()), {
    "consumer@host": ["provider@host", "provider@host2"],
    "consumer@host2": ["provider@host", "provider@host2"],
    "provider@host": [],
    "provider@host2": [],
  });
  deepStrictEqual((root(env, "consumer", "host2").component as unknown as { theAnswer: unknown }).theAnswer, [42, 42]);
});

Deno.test("resources: a reverse requirement flips the dependency edge", async () => {
  await using project = await depsProject("host = provider, reverseconsumer");
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  deepStrictEqual(graphByName(env.rootDependencies()), {
    "provider@host": ["reverseconsumer@host"],
    "reverseconsumer@host": [],
  });
});

Deno.test("resources: circular dependencies give a cycle error and NonConverging (56)", async () => {
  await using project = await depsProject("test = circular1, circular2");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(sortErrors(errors)), ["CycleErrorDetected", "NonConvergingWorkingSet"]);
  const cycle = errors.find((e) => e instanceof CycleErrorDetected)!;
  ok(reportText(cycle).startsWith("ERROR: Found dependency cycle\n"), reportText(cycle));
  ok(reportText(cycle).includes("circular1 depends on"), reportText(cycle));
});

Deno.test("resources: a dirty dependency is retrieved once without a cycle or endless loop (57)", async () => {
  await using project = await depsProject("test = circular1, dirtysingularcircularreverse");
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  const c1 = root(env, "circular1", "test").component as unknown as { asdf: unknown[] };
  strictEqual(c1.asdf.length, 1);
});

// ---------------------------------------------------------------- test_resources (58, 59)

class Plain extends Component {}

Deno.test("resources: reset works for a provider nobody requires", async () => {
  await using project = await tempProject();
  const resources = new Resources();
  const root1 = makeRoot(Plain, project.dir, { name: "r1" });
  resources.provide(root1, "key", "asdf");
  resources.resetComponentResources(root1);
  deepStrictEqual(resources.get("key"), []);
  strictEqual(resources.dirtyDependencies.size, 0);
});

Deno.test("resources: reset marks the non-dirty subscribers as dirty (58)", async () => {
  await using project = await tempProject();
  const resources = new Resources();
  const root1 = makeRoot(Plain, project.dir, { name: "r1" });
  const root2 = makeRoot(Plain, project.dir, { name: "r2" });
  const root3 = makeRoot(Plain, project.dir, { name: "r3" });
  resources.provide(root1, "key", "asdf");
  deepStrictEqual(resources.require(root2, "key"), ["asdf"]);
  resources.require(root3, "key", { dirty: true });
  deepStrictEqual([...resources.dirtyDependencies], []);
  resources.resetComponentResources(root1);
  deepStrictEqual([...resources.dirtyDependencies], [root2]);
});

Deno.test("resources: provide marks the subscribers of the provider's host as dirty", async () => {
  await using project = await tempProject();
  const resources = new Resources();
  const a = makeRoot(Plain, project.dir, { name: "a", host: "h1" });
  const b = makeRoot(Plain, project.dir, { name: "b", host: "h2" });
  const c = makeRoot(Plain, project.dir, { name: "c", host: "h3" });
  resources.require(b, "key", { host: b.host });
  resources.require(c, "key");
  resources.provide(a, "key", 1);
  deepStrictEqual([...resources.dirtyDependencies], [c]);
  // Values are returned in provider order; a host filter selects by the provider root's host.
  resources.provide(b, "key", 2);
  deepStrictEqual(resources.get("key"), [1, 2]);
  deepStrictEqual(resources.get("key", b.host), [2]);
});

// batou's unsatisfied list names no consumer for host-limited requirements (it compares a host object with a
// string); we name them.
Deno.test("resources: a missing host-limited requirement names key, host and consumer (59)", async () => {
  await using project = await depsProject("host1 = samehostconsumer\nhost2 = samehostconsumer, provider");
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnsatisfiedResources", "NonConvergingWorkingSet"]);
  deepStrictEqual((errors[0] as UnsatisfiedResources).unsatisfied, [["the-answer", "host1", ["samehostconsumer"]]]);
  strictEqual(reportText(errors[1]), "ERROR: 1 remaining unconfigured component(s): samehostconsumer");
});

// ---------------------------------------------------------------- test_config (60-63)

const BASIC_SERVICE = {
  "components/zeo/component.ts": `import { Component, attribute } from "batou";
export class ZEO extends Component {
  features = ["test", "test2"];
  port = attribute(Number, "9001");
  override configure() {
    this.provide("zeo", \`\${this.host.fqdn}:\${this.port}\`);
  }
}
`,
  "components/zope/component.ts": `import { Component } from "batou";
export class Zope extends Component {
  zeo: string[] = [];
  override configure() {
    this.zeo = this.require("zeo");
  }
}
`,
  "environments/dev.cfg": `[environment]
branch = default

[hosts]
localhost = zeo, zope
host2 = zeo:test
`,
  "environments/production.cfg": `[environment]
service_user = alice
branch = production
host_domain = example.com

[hosts]
host1 = zope
host2 = zeo
host3 = zeo, zope
`,
};

Deno.test("config: features from `comp:feature` replace the class default (60)", async () => {
  await using project = await tempProject(BASIC_SERVICE);
  const { env, errors } = await configureEnvironment(project, "dev");
  deepStrictEqual(errors, []);
  deepStrictEqual(env.getRoot("zeo", "localhost").component!.constructor.name, "ZEO");
  deepStrictEqual((env.getRoot("zeo", "localhost").component as unknown as { features: string[] }).features, [
    "test",
    "test2",
  ]);
  deepStrictEqual((env.getRoot("zeo", "host2").component as unknown as { features: string[] }).features, ["test"]);
});

Deno.test("config: an override string is converted by the attribute (61)", async () => {
  await using project = await tempProject(BASIC_SERVICE);
  const env = loadEnvironment(project, "dev");
  env.overrides.zeo = { port: "9002" };
  const { result: errors } = await withRecordedOutput(() => env.configure());
  deepStrictEqual(errors, []);
  const zeo = env.getRoot("zeo", "localhost").component as unknown as { port: number };
  strictEqual(zeo.port, 9002);
  deepStrictEqual((env.getRoot("zope", "localhost").component as unknown as { zeo: string[] }).zeo.sort(), [
    "host2:9002",
    "localhost:9002",
  ]);
});

Deno.test("config: the dev environment is loaded; a string default is converted (62)", async () => {
  await using project = await tempProject(BASIC_SERVICE);
  const env = loadEnvironment(project, "dev");
  deepStrictEqual(env.exceptions, []);
  deepStrictEqual([...env.components.keys()].sort(), ["zeo", "zope"]);
  strictEqual(env.branch, "default");
  strictEqual(env.hostDomain, null);
  deepStrictEqual([...env.hosts.keys()].sort(), ["host2", "localhost"]);
  const localhost = env.hosts.get("localhost")!;
  strictEqual(localhost.fqdn, "localhost");
  deepStrictEqual(env.rootsFor("localhost").map((r) => r.name).sort(), ["zeo", "zope"]);
  const zeo = env.getRoot("zeo", "localhost");
  await zeo.prepare();
  ok(zeo.component instanceof Component);
  strictEqual(zeo.name, "zeo");
  strictEqual((zeo.component as unknown as { port: number }).port, 9001);
});

Deno.test("config: the production environment is loaded with its host domain (63)", async () => {
  await using project = await tempProject(BASIC_SERVICE);
  const env = loadEnvironment(project, "production");
  deepStrictEqual(env.exceptions, []);
  strictEqual(env.serviceUser, "alice");
  strictEqual(env.branch, "production");
  strictEqual(env.hostDomain, "example.com");
  deepStrictEqual([...env.hosts.values()].map((h) => h.fqdn).sort(), [
    "host1.example.com",
    "host2.example.com",
    "host3.example.com",
  ]);
  const host1 = env.hosts.get("host1")!;
  strictEqual(host1.name, "host1");
  deepStrictEqual(env.rootComponents.filter((r) => r.host === host1).map((r) => r.name), ["zope"]);
});

// ---------------------------------------------------------------- error ordering (64)

Deno.test("errors: configuration errors sort by their sort keys (64)", () => {
  const errors: ReportingError[] = [
    NonConvergingWorkingSet.of(["a"]),
    UnsatisfiedResources.of([["k", null, ["a"]]]),
    UnusedResources.of([["k", "a", "[1]"]]),
    CycleErrorDetected.of("a depends on\n        b"),
    DuplicateComponent.of("x", "a", "b"),
    new ConfigurationError("plain"),
    MissingOverrideAttributes.of({ root: { name: "r", host: { name: "h" } }, breadcrumbs: "R" }, ["x"]),
  ];
  deepStrictEqual(errorNames(sortErrors(errors)), [
    "ConfigurationError",
    "DuplicateComponent",
    "MissingOverrideAttributes",
    "UnusedResources",
    "UnsatisfiedResources",
    "CycleErrorDetected",
    "NonConvergingWorkingSet",
  ]);
  // Tuple comparison: shorter prefixes first, numbers numerically, strings lexically.
  ok(compareSortKeys([0], [0, "a"]) < 0);
  ok(compareSortKeys([1, "b"], [1, "a"]) > 0);
  ok(compareSortKeys([2], [10]) < 0);
  strictEqual(compareSortKeys([3, "x"], [3, "x"]), 0);
});

// ---------------------------------------------------------------- test_endtoend: service_early_resource (65)

Deno.test("resources: adding a sub-component after provide keeps the provided value (65)", async () => {
  await using project = await tempProject({
    "components/zeo/component.ts": `import { Component } from "batou";
class Asdf extends Component {
  override configure() {
    this.provide("side", 1);
  }
}
export class ZEO extends Component {
  override configure() {
    this.provide("zeo", "127.0.0.1:9000");
    this.add(new Asdf());
  }
}
`,
    "components/zope/component.ts": `import { Component } from "batou";
export class Zope extends Component {
  zeo: unknown[] = [];
  side: unknown[] = [];
  override configure() {
    this.zeo = this.require("zeo");
    this.side = this.require("side");
  }
}
`,
    "environments/dev/environment.cfg": "[hosts]\nlocalhost = zope, zeo\n",
  });
  const { env, errors } = await configureEnvironment(project, "dev");
  deepStrictEqual(errors, []);
  const zope = env.getRoot("zope", "localhost").component as unknown as { zeo: unknown[]; side: unknown[] };
  deepStrictEqual(zope.zeo, ["127.0.0.1:9000"]);
  deepStrictEqual(zope.side, [1]);
});
