/**
 * Conformance tests of environment loading and configuration, ported from batou's
 * test_environment.py (reference-core.md section 5, cases 36-49), plus the edge cases of
 * environment.cfg: both file layouts, `[hosts]` with `!host` and `comp:feature`, `[host:x]`
 * with data-*, duplicate hosts, unknown sections and keys, booleans and the resolver.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { Environment, environmentNames, parseHostComponents } from "../core/model/environment.ts";
import { Address, getResolverOverrides, resolve, resolveV6 } from "../core/model/address.ts";
import {
  ConfigFileError,
  ConfigurationError,
  DuplicateHostError,
  InvalidIPAddressError,
  MissingComponent,
  MissingEnvironment,
  SuperfluousComponentSection,
  SuperfluousSection,
} from "../core/model/errors.ts";
import { DeveloperSandbox } from "../core/model/vfs.ts";
import {
  batou,
  configureEnvironment,
  errorNames,
  loadEnvironment,
  reportText,
  tempProject,
  withRecordedOutput,
} from "./core_test_helpers.ts";

/** batou's sample_service fixture, as a TypeScript component file. */
const HELLO = `import { Component, UpdateNeeded } from "batou";
import { existsSync } from "node:fs";

export class Hello extends Component {
  asdf: string | null = null;
  override verify() {
    this.log(\`\${this} verify: asdf=\${this.asdf ?? "None"}\`);
    if (!existsSync(\`\${this.workdir}/\${this.root.name}\`)) throw new UpdateNeeded();
  }
  override update() {
    Deno.writeTextFileSync(\`\${this.workdir}/\${this.root.name}\`, this.root.name);
  }
}
export class Hello1 extends Hello {}
export class Hello2 extends Hello {}
export class Hello3 extends Hello {}
export class Hello4 extends Hello {}
export class Hello5 extends Hello {}
export class Hello6 extends Hello {}

export class HelloReq extends Component {
  override configure() {
    this.require("i-need");
    this.log("Pre sub");
    this.add(new Sub());
    this.log("Post sub");
  }
}

export class HelloProv extends Component {
  override configure() {
    this.provide("i-need", this);
    this.log("Provide");
  }
}

export class Sub extends Component {
  override configure() {
    this.log("Sub!");
  }
}
`;

/** A project with the hello components and the given environments (name -> cfg text). */
function sampleService(environments: Record<string, string>) {
  const files: Record<string, string> = { "components/hello/component.ts": HELLO };
  for (const [name, text] of Object.entries(environments)) {
    files[name.endsWith(".cfg") ? `environments/${name}` : `environments/${name}/environment.cfg`] = text;
  }
  return tempProject(files);
}

// ---------------------------------------------------------------- loading (36-40)

Deno.test("environment: a missing environment raises MissingEnvironment (36)", async () => {
  await using project = await sampleService({ other: "[hosts]\n" });
  const env = new Environment("foobar", { baseDir: project.dir });
  throws(() => env.load({ batou }), (e: Error) => {
    ok(e instanceof MissingEnvironment);
    strictEqual(e.message, "Missing environment `foobar`");
    strictEqual(reportText(e), "ERROR: Missing environment\n    Environment: foobar\nKnown environments: other");
    return true;
  });
  // Names that would leave the environments folder are missing too.
  throws(() => new Environment("../other", { baseDir: project.dir }).load({ batou }), MissingEnvironment);
  await project.write({ "environment.cfg": "[hosts]\n", "environments/environment.cfg": "[hosts]\n" });
  throws(() => new Environment("..", { baseDir: project.dir }).load({ batou }), MissingEnvironment);
  throws(() => new Environment(".", { baseDir: project.dir }).load({ batou }), MissingEnvironment);
  strictEqual(Environment.configPath(project.dir, ".."), null);
});

Deno.test("environment: defaults without [environment] section", async () => {
  await using project = await sampleService({ "test.cfg": "[hosts]\nlocalhost = hello1\n" });
  const env = loadEnvironment(project);
  deepStrictEqual(env.exceptions, []);
  strictEqual(env.hostDomain, null);
  strictEqual(env.branch, null);
  strictEqual(env.connectMethod, "ssh");
  strictEqual(env.targetDirectory, "~/deployment");
  strictEqual(env.timeout, 3);
  strictEqual(env.jobs, null);
  strictEqual(env.platform, null);
  strictEqual(env.requireSudo, null);
});

Deno.test("environment: load uses the [environment] settings (37)", async () => {
  const previous = [Address.requireV4, Address.requireV6] as const;
  await using project = await sampleService({
    test: `[environment]
service_user = joe
host_domain = example.com
branch = release
connect_method = local
target_directory = /srv/app
timeout = 30
jobs = 4
require_v4 = optional
require_v6 = True

[hosts]
localhost = hello1

[host:db]
components = hello2
service_user = postgres
`,
  });
  try {
    const env = loadEnvironment(project);
    deepStrictEqual(env.exceptions, []);
    strictEqual(env.configFile, join("environments", "test", "environment.cfg"));
    strictEqual(env.serviceUser, "joe");
    strictEqual(env.hostDomain, "example.com");
    strictEqual(env.branch, "release");
    strictEqual(env.connectMethod, "local");
    strictEqual(env.targetDirectory, "/srv/app");
    strictEqual(env.timeout, 30);
    strictEqual(env.jobs, 4);
    // The platform defaults to the host domain, as in batou.
    strictEqual(env.platform, "example.com");
    // require_v4/v6 become the Address defaults.
    strictEqual(env.requireV4, "optional");
    strictEqual(env.requireV6, true);
    strictEqual(Address.requireV4, "optional");
    strictEqual(Address.requireV6, true);
    // Host settings: the environment's service_user unless the host section has its own.
    strictEqual(env.hosts.get("localhost")!.serviceUser, "joe");
    strictEqual(env.hosts.get("db")!.serviceUser, "postgres");
    // Host names get the domain in their fqdn (63).
    strictEqual(env.hosts.get("localhost")!.fqdn, "localhost.example.com");
    strictEqual(env.hosts.get("db")!.name, "db");
  } finally {
    [Address.requireV4, Address.requireV6] = previous;
  }
});

Deno.test("environment: command line settings win over environment.cfg (38)", async () => {
  await using project = await sampleService({
    test: "[environment]\nplatform = debian\ntimeout = 30\njobs = 4\n[hosts]\nlocalhost = hello1\n",
  });
  const env = loadEnvironment(project, "test", { platform: "nixos", timeout: 5, jobs: 2 });
  strictEqual(env.platform, "nixos");
  strictEqual(env.timeout, 5);
  strictEqual(env.jobs, 2);
  strictEqual(env.hosts.get("localhost")!.platform, "nixos");
  // An empty -p means "no platform".
  strictEqual(loadEnvironment(project, "test", { platform: "" }).platform, null);
  // -L configures everything locally.
  strictEqual(loadEnvironment(project, "test", { checkAndPredictLocal: true }).connectMethod, "local");
});

Deno.test("environment: [component:x] sections become overrides (39)", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = hello1\n\n[component:hello1]\nasdf = 1\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(env.overrides, { hello1: { asdf: "1" } });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
});

Deno.test("environment: [vfs] sandbox = Developer maps absolute paths into work/_ (40)", async () => {
  await using project = await sampleService({
    test: "[vfs]\nsandbox = Developer\n\n[hosts]\nlocalhost = hello1\n",
  });
  const env = loadEnvironment(project);
  ok(env.vfs instanceof DeveloperSandbox);
  strictEqual(env.vfs!.map("/asdf"), join(project.dir, "work", "_", "asdf"));
  strictEqual(env.map("/etc/x"), join(project.dir, "work", "_", "etc", "x"));
  // Components map absolute paths through it.
  const { env: configured } = await configureEnvironment(project);
  strictEqual(configured.rootComponents[0].component!.map("/srv"), join(project.dir, "work", "_", "srv"));
});

Deno.test("environment: the Developer sandbox creates the mapped parent, so absolute Files deploy", async () => {
  await using project = await tempProject({
    "components/etcfile/component.ts": `import { Component, File } from "batou";
export class Etcfile extends Component {
  override configure() {
    this.add(new File("/etc/batou-vfs-test/app.conf", { content: "x = 1\\n" }));
  }
}
`,
    "environments/test.cfg": "[vfs]\nsandbox = Developer\n\n[hosts]\nlocalhost = etcfile\n",
  });
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  ok(existsSync(join(project.dir, "work", "_", "etc", "batou-vfs-test")));
  await withRecordedOutput(() => env.rootComponents[0].deploy(false));
  strictEqual(Deno.readTextFileSync(join(project.dir, "work", "_", "etc", "batou-vfs-test", "app.conf")), "x = 1\n");
  ok(!existsSync("/etc/batou-vfs-test"));
});

Deno.test("environment: without a sandbox map() is the identity (40)", () => {
  const env = new Environment("foo", { baseDir: "/nonexistent" });
  strictEqual(env.map("/asdf"), "/asdf");
});

Deno.test("environment: [vfs] sandbox = Map replaces path prefixes", async () => {
  await using project = await sampleService({
    test: "[vfs]\nsandbox = Map\n/srv = /tmp/srv\n/srv/app = /opt/app\n[hosts]\nlocalhost = hello1\n",
  });
  const env = loadEnvironment(project);
  strictEqual(env.map("/srv/app/x"), "/opt/app/x");
  strictEqual(env.map("/srv/other"), "/tmp/srv/other");
  strictEqual(env.map("/etc"), "/etc");
});

// ---------------------------------------------------------------- hosts (41-46)

Deno.test("environment: component lists are comma or newline separated (41)", async () => {
  await using project = await sampleService({
    "test.cfg": `[hosts]
localhost = hello1, hello2
otherhost =
    hello3
    hello4
thishost = hello5,
    hello6
`,
  });
  const env = loadEnvironment(project);
  deepStrictEqual(env.exceptions, []);
  const components = Object.fromEntries(
    [...env.hosts.keys()].sort().map((h) => [h, env.rootsFor(h).map((r) => r.name).sort()]),
  );
  deepStrictEqual(components, {
    localhost: ["hello1", "hello2"],
    otherhost: ["hello3", "hello4"],
    thishost: ["hello5", "hello6"],
  });
});

Deno.test("environment: parseHostComponents handles `!` and `:feature` (42)", () => {
  const parse = (items: string[]) => Object.fromEntries(parseHostComponents(items));
  deepStrictEqual(parse(["asdf"]), { asdf: { features: [], ignore: false } });
  deepStrictEqual(parse(["!asdf"]), { asdf: { features: [], ignore: true } });
  deepStrictEqual(parse(["!asdf:test", "asdf:bar"]), { asdf: { features: ["test", "bar"], ignore: true } });
  deepStrictEqual(parse(["asdf:test", "asdf:bar"]), { asdf: { features: ["test", "bar"], ignore: false } });
});

Deno.test("environment: [hosts] and [host:x] are merged; `!host` ignores the host (43)", async () => {
  await using project = await sampleService({
    test: `[hosts]
foo = hello1
!bar = hello2, !hello3, hello4:feat1, hello4:feat2

[host:baz]
components = hello1
ignore = True
`,
  });
  const env = loadEnvironment(project);
  deepStrictEqual(env.exceptions, []);
  deepStrictEqual(env.hostOrder, ["foo", "bar", "baz"]);
  strictEqual(env.hosts.get("foo")!.ignore, false);
  strictEqual(env.hosts.get("bar")!.ignore, true);
  strictEqual(env.hosts.get("baz")!.ignore, true);
  const roots = env.rootComponents.map((r) => [r.host.name, r.name, r.features, r.ignore]);
  deepStrictEqual(roots, [
    ["foo", "hello1", [], false],
    ["bar", "hello2", [], false],
    ["bar", "hello3", [], true],
    ["bar", "hello4", ["feat1", "feat2"], false],
    ["baz", "hello1", [], false],
  ]);
});

Deno.test("environment: a host defined twice is a DuplicateHostError; the later definition wins (43)", async () => {
  await using project = await sampleService({
    test: "[hosts]\nfoo = hello1\n\n[host:foo]\ncomponents = hello2\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["DuplicateHostError"]);
  const e = env.exceptions[0] as DuplicateHostError;
  ok(e instanceof DuplicateHostError);
  strictEqual(e.affectedHostname, "foo");
  strictEqual(e.message, "Duplicate host: foo");
  strictEqual(reportText(e), "ERROR: Duplicate definition of host: foo");
  deepStrictEqual(env.rootComponents.map((r) => r.name), ["hello2"]);
  deepStrictEqual(env.hostOrder, ["foo"]);
  // `!foo` and `foo` in [hosts] are the same host, too.
  await project.write({ "environments/test/environment.cfg": "[hosts]\n!foo = hello1\nfoo = hello2\n" });
  deepStrictEqual(errorNames(loadEnvironment(project).exceptions), ["DuplicateHostError"]);
});

Deno.test("environment: host platform comes from the host section, else the environment (44)", async () => {
  await using project = await sampleService({
    test: `[environment]
platform = generic

[hosts]
single = hello1

[host:foo]
components = hello2

[host:bar]
components = hello3
platform = specific
`,
  });
  const env = loadEnvironment(project);
  strictEqual(env.hosts.get("single")!.platform, "generic");
  strictEqual(env.hosts.get("foo")!.platform, "generic");
  strictEqual(env.hosts.get("bar")!.platform, "specific");
});

Deno.test("environment: data-* keys of [host:x] become host.data (45)", async () => {
  await using project = await sampleService({
    test: "[host:foo]\ncomponents = hello1\ndata-alias = baz\ndata-role = primary\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(env.exceptions, []);
  deepStrictEqual(env.hosts.get("foo")!.data, { alias: "baz", role: "primary" });
  // Components see it through host.data, also in templates.
  const { env: configured } = await configureEnvironment(project);
  strictEqual(configured.rootComponents[0].component!.expand("{{ host.data.alias }}"), "baz");
});

Deno.test("environment: the components of a host can be retrieved (46)", async () => {
  await using project = await sampleService({
    "test.cfg": "[hosts]\nlocalhost = hello1, hello2\nother = hello3\nthis = hello2, hello3\n",
  });
  const env = loadEnvironment(project);
  const names = (host: string) => env.rootsFor(host).map((r) => r.name).sort();
  deepStrictEqual(names("localhost"), ["hello1", "hello2"]);
  deepStrictEqual(names("other"), ["hello3"]);
  deepStrictEqual(names("this"), ["hello2", "hello3"]);
  strictEqual(env.getRoot("hello3", "this").host, env.hosts.get("this"));
  throws(() => env.getRoot("hello1", "other"), /Component hello1 not configured for host other/);
  throws(() => env.getHost("nohost"), ConfigurationError);
});

Deno.test("environment: configure logs are printed in provider order; deploy logs at once (47)", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = helloreq, helloprov, hello\n",
  });
  const env = loadEnvironment(project);
  const configured = await withRecordedOutput(() => env.configure());
  deepStrictEqual(configured.result, []);
  deepStrictEqual(configured.lines, ["Provide", "Pre sub", "Sub!", "Post sub"]);
  const deployed = await withRecordedOutput(async () => {
    for (const root of env.rootComponents.filter((r) => r.name === "hello")) await root.deploy(true);
  });
  deepStrictEqual(deployed.lines, [
    "🚀 localhost: Hello",
    'localhost: <Hello (localhost) "Hello"> verify: asdf=None',
  ]);
});

Deno.test("environment: [resolver] overrides name resolution (48)", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = hello1\n\n[resolver]\nlocalhost =\n    127.0.0.2\n    ::2\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(env.exceptions, []);
  deepStrictEqual(env.resolveOverride, { localhost: "127.0.0.2" });
  deepStrictEqual(env.resolveV6Override, { localhost: "::2" });
  strictEqual(await resolve("localhost"), "127.0.0.2");
  strictEqual(await resolveV6("localhost"), "::2");
  // Loading another environment clears them.
  await project.write({ "environments/plain.cfg": "[hosts]\nlocalhost = hello1\n" });
  loadEnvironment(project, "plain");
  deepStrictEqual(getResolverOverrides(), { v4: {}, v6: {} });
});

Deno.test("environment: an invalid [resolver] address is one InvalidIPAddressError (48)", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = hello1\n\n[resolver]\nlocalhost = thisisinvalid\nother = 10.0.0.1\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["InvalidIPAddressError"]);
  const e = env.exceptions[0] as InvalidIPAddressError;
  ok(e instanceof InvalidIPAddressError);
  strictEqual(e.address, "thisisinvalid");
  deepStrictEqual(env.resolveOverride, { other: "10.0.0.1" });
});

Deno.test("environment: components created but never added are reported as a warning (49)", async () => {
  await using project = await tempProject({
    "components/badunused/component.ts": `import { Component } from "batou";
export class Unused extends Component {}
export class BadUnused extends Component {
  override configure() {
    new Unused();
  }
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = badunused\n",
  });
  const env = loadEnvironment(project);
  const { result, lines } = await withRecordedOutput(() => env.configure());
  deepStrictEqual(result, []);
  const file = project.path("components", "badunused", "component.ts");
  deepStrictEqual(lines, [
    "   WARN: Some components were initialized but never added to the environment:",
    "    'Unused': BadUnused",
    `        initialized in ${file}:5`,
    "Root: badunused",
    "Add the components to the environment using `this.add(component)`.",
  ]);
});

Deno.test("environment: update() without verify() is a warning, not a crash", async () => {
  await using project = await tempProject({
    "components/lazy/component.ts": `import { Component } from "batou";
export class Lazy extends Component {
  override update() {}
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = lazy\n",
  });
  const { result, lines } = await withRecordedOutput(() => loadEnvironment(project).configure());
  deepStrictEqual(result, []);
  deepStrictEqual(lines, [
    "   WARN: Some components have an update method but no verify method:",
    "    'Lazy'",
    "Root: lazy",
    "The update() method may not be called by batou if the verify() method is missing.",
  ]);
});

// ---------------------------------------------------------------- environment.cfg edge cases

Deno.test("environment.cfg: both layouts are found; the directory form wins when both exist", async () => {
  await using project = await sampleService({
    a: "[hosts]\nfromdir = hello1\n",
    "b.cfg": "[hosts]\nfromfile = hello1\n",
    "a.cfg": "[hosts]\nshadowed = hello1\n",
  });
  await project.write({ "environments/.hidden.cfg": "", "environments/notes.txt": "", "environments/empty/x": "" });
  deepStrictEqual(environmentNames(project.dir), ["a", "b"]);
  strictEqual(Environment.configPath(project.dir, "a"), join("environments", "a", "environment.cfg"));
  strictEqual(Environment.configPath(project.dir, "b"), join("environments", "b.cfg"));
  strictEqual(Environment.configPath(project.dir, "c"), null);
  deepStrictEqual([...loadEnvironment(project, "a").hosts.keys()], ["fromdir"]);
  deepStrictEqual([...loadEnvironment(project, "b").hosts.keys()], ["fromfile"]);
});

Deno.test("environment.cfg: an unknown section is a SuperfluousSection", async () => {
  await using project = await sampleService({ test: "[hosts]\nlocalhost = hello1\n[hots]\nx = y\n" });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["SuperfluousSection"]);
  const e = env.exceptions[0];
  ok(e instanceof SuperfluousSection);
  strictEqual(e.message, "Superfluous section in environment: hots");
  strictEqual(reportText(e), "ERROR: Superfluous section in environment configuration\n        Section: hots");
});

Deno.test("environment.cfg: a section for an unknown component is a SuperfluousComponentSection", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = hello1\n[component:nosuch]\nx = y\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["SuperfluousComponentSection"]);
  ok(env.exceptions[0] instanceof SuperfluousComponentSection);
  strictEqual(env.exceptions[0].message, "Override section for unknown component found: nosuch");
  deepStrictEqual(env.overrides, {});
});

Deno.test("environment.cfg: an unknown component on a host is a MissingComponent", async () => {
  await using project = await sampleService({ test: "[hosts]\nlocalhost = hello1, nosuch\n" });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["MissingComponent"]);
  const e = env.exceptions[0] as MissingComponent;
  ok(e instanceof MissingComponent);
  strictEqual(e.affectedHostname, "localhost");
  strictEqual(
    reportText(e),
    "ERROR: Missing component\n      Component: nosuch\n          Place: environments/test/environment.cfg:2",
  );
  deepStrictEqual(env.rootComponents.map((r) => r.name), ["hello1"]);
});

Deno.test("environment.cfg: an unknown key in [environment] is an error naming file and line", async () => {
  await using project = await sampleService({
    test: "[environment]\nhost_domain = example.com\nconect_method = local\n\n[hosts]\nlocalhost = hello1\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["ConfigFileError"]);
  const e = env.exceptions[0] as ConfigFileError;
  ok(e instanceof ConfigFileError);
  strictEqual(e.file, join("environments", "test", "environment.cfg"));
  strictEqual(e.lineNo, 3);
  ok(
    reportText(e).startsWith(
      "ERROR: environments/test/environment.cfg:3: Unknown key `conect_method` in [environment]",
    ),
  );
  // The known settings are still applied.
  strictEqual(env.hostDomain, "example.com");
  strictEqual(env.connectMethod, "ssh");
});

Deno.test("environment.cfg: bad values in [environment] are errors naming file and line", async () => {
  await using project = await sampleService({
    "test.cfg": "[environment]\nconnect_method = telnet\ntimeout = soon\njobs = -1\nrequire_sudo = maybe\n",
  });
  const env = loadEnvironment(project);
  ok(env.exceptions.every((e) => e instanceof ConfigFileError));
  const places = env.exceptions.map((e) => `${(e as ConfigFileError).file}:${(e as ConfigFileError).lineNo}`);
  deepStrictEqual(places.sort(), [2, 3, 4, 5].map((n) => `environments/test.cfg:${n}`));
});

Deno.test("environment.cfg: a syntax error is reported with file and line, not thrown", async () => {
  await using project = await sampleService({ test: "[hosts]\nlocalhost = hello1\nthis is not an option\n" });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["ConfigFileError"]);
  strictEqual((env.exceptions[0] as ConfigFileError).lineNo, 3);
});

Deno.test("environment.cfg: require_sudo = False is really false, on the environment and on hosts", async () => {
  await using project = await sampleService({
    test: `[environment]
require_sudo = False

[hosts]
a = hello1

[host:b]
components = hello2
require_sudo = True
`,
  });
  const env = loadEnvironment(project);
  deepStrictEqual(env.exceptions, []);
  strictEqual(env.requireSudo, false);
  strictEqual(env.hosts.get("a")!.requireSudo, false);
  strictEqual(env.hosts.get("b")!.requireSudo, true);
});

Deno.test("environment.cfg: an unknown key in [host:x] is an error naming file and line", async () => {
  await using project = await sampleService({
    test: "[host:foo]\ncomponents = hello1\ncomponent = hello2\ndata-ok = 1\n",
  });
  const env = loadEnvironment(project);
  deepStrictEqual(errorNames(env.exceptions), ["ConfigFileError"]);
  strictEqual((env.exceptions[0] as ConfigFileError).lineNo, 3);
  ok(env.exceptions[0].message.includes("`component`"));
  deepStrictEqual(env.hosts.get("foo")!.data, { ok: "1" });
});

Deno.test("environment.cfg: overrides apply to the component on every host", async () => {
  await using project = await sampleService({
    test: "[hosts]\na = hello1\nb = hello1\n\n[component:hello1]\nasdf = {{ host.name }}-x\n",
  });
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  // Plain fields get the raw string, without template expansion (as batou).
  deepStrictEqual(
    env.rootComponents.map((r) => (r.component as unknown as { asdf: string }).asdf),
    ["{{ host.name }}-x", "{{ host.name }}-x"],
  );
});

Deno.test("environment: configure reports an unknown exception in configure with the root and host", async () => {
  await using project = await tempProject({
    "components/broken/component.ts": `import { Component } from "batou";
export class Broken extends Component {
  override configure() {
    throw new RangeError("foobar");
  }
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = broken\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownComponentConfigurationError", "NonConvergingWorkingSet"]);
  const text = reportText(errors[0]);
  ok(text.startsWith("ERROR: RangeError: foobar"), text);
  ok(text.includes("           Host: localhost"), text);
  ok(text.includes("      Component: broken"), text);
  ok(text.includes("components/broken/component.ts:4"), text);
});

Deno.test("environment: an error thrown in a project helper module is traced to the helper's line", async () => {
  await using project = await tempProject({
    "components/usehelper/component.ts": `import { Component } from "batou";
import { check } from "../../lib/checks.ts";
export class UseHelper extends Component {
  override configure() {
    check(this.host.name);
  }
}
`,
    "lib/checks.ts": `export function check(name: string): void {
  if (name === "localhost") {
    throw new TypeError(\`bad host \${name}\`);
  }
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = usehelper\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownComponentConfigurationError", "NonConvergingWorkingSet"]);
  const text = reportText(errors[0]);
  ok(text.startsWith("ERROR: TypeError: bad host localhost"), text);
  ok(text.includes("lib/checks.ts:3"), text);
});

Deno.test("environment: bad overrides are configuration errors of the component, not crashes", async () => {
  await using project = await tempProject({
    "components/typed/component.ts": `import { Component, attribute } from "batou";
export class Typed extends Component {
  port = attribute(Number, 80);
  name = attribute(String, "x");
}
`,
    "environments/test.cfg":
      "[hosts]\nlocalhost = typed\n\n[component:typed]\nport = eighty\nname = {{ nope }}\nbogus = 1\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["ConversionError", "NonConvergingWorkingSet"]);
  const text = reportText(errors[0]);
  ok(text.includes("      Attribute: Typed.port"), text);
  ok(text.includes("     Conversion: Number('eighty')"), text);
  // Once the port is fine, the expansion error comes next, then the unknown key.
  await project.write({
    "environments/test.cfg":
      "[hosts]\nlocalhost = typed\n\n[component:typed]\nport = 81\nname = {{ nope }}\nbogus = 1\n",
  });
  const second = await configureEnvironment(project);
  deepStrictEqual(errorNames(second.errors), ["AttributeExpansionError", "NonConvergingWorkingSet"]);
  const expansion = reportText(second.errors[0]);
  ok(
    expansion.startsWith(
      "ERROR: Error while expanding attribute:\n        Message: UndefinedError: 'nope' is undefined",
    ),
    expansion,
  );
  ok(expansion.includes("      Attribute: Typed.name"), expansion);
  await project.write({
    "environments/test.cfg": "[hosts]\nlocalhost = typed\n\n[component:typed]\nport = 81\nbogus = 1\nother = 2\n",
  });
  const third = await configureEnvironment(project);
  deepStrictEqual(errorNames(third.errors), ["MissingOverrideAttributes", "NonConvergingWorkingSet"]);
  strictEqual(
    reportText(third.errors[0]),
    "ERROR: Overrides for undefined attributes\n      Component: Typed\n          Place: environments/test.cfg:6,7\n" +
      "     Attributes: bogus, other",
  );
});

Deno.test("environment: secrets merge into overrides and host data; conflicts are reported", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = hello1\n\n[component:hello1]\nasdf = from-cfg\n",
  });
  const env = loadEnvironment(project);
  env.loadSecrets({
    overrides: { hello1: { asdf: "from-secrets", secret: "s3cr3t" }, nosuch: { a: "1" } },
    hostData: { localhost: { "data-token": "t0k3n" }, otherhost: { x: "1" } },
    secretFiles: { "ssl.key": "KEY" },
    secretWords: ["s3cr3t", "t0k3n"],
  });
  deepStrictEqual(errorNames(env.exceptions).sort(), [
    "DuplicateOverride",
    "SuperfluousSecretsSection",
    "UnknownHostSecretsSection",
  ]);
  const dup = env.exceptions.find((e) => e.constructor.name === "DuplicateOverride")!;
  strictEqual(dup.message, "A value hello1.asdf is defined both in environment and secrets.");
  deepStrictEqual(env.overrides.hello1, { asdf: "from-secrets", secret: "s3cr3t" });
  strictEqual(env.hosts.get("localhost")!.data.token, "t0k3n");
  deepStrictEqual(env.secretFiles, { "ssl.key": "KEY" });
  ok(env.secretData.has("s3cr3t"));
});

// ---------------------------------------------------------------- configuring one host's roots

Deno.test("environment: a scoped configure configures only the host's roots when they use no resources", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = hello1, hello2\nother = hello3, helloprov\n",
  });
  const env = loadEnvironment(project);
  const { result, lines } = await withRecordedOutput(() =>
    env.configure({ hosts: new Set(["localhost"]), report: new Set(["localhost"]) })
  );
  deepStrictEqual(result, []);
  deepStrictEqual(env.configuredHosts, ["localhost"]);
  deepStrictEqual(env.rootsFor("localhost").map((r) => !!r.component), [true, true]);
  deepStrictEqual(env.rootsFor("other").map((r) => !!r.component), [false, false]);
  // HelloProv's "Provide" log belongs to the other host: not configured here, not printed.
  deepStrictEqual(lines, []);
});

Deno.test("environment: a scoped configure uses the forwarded values of other hosts' roots, and publishes its own", async () => {
  await using project = await sampleService({
    test: "[hosts]\nlocalhost = helloreq\nother = helloprov, hello3\n",
  });
  const full = loadEnvironment(project);
  await full.configure();
  // The provider's host: its roots require nothing, what they provide is published (the component as a snapshot).
  const provider = loadEnvironment(project);
  deepStrictEqual(await provider.configure({ hosts: new Set(["other"]) }), []);
  const provided = provider.publication!.provides;
  deepStrictEqual(provided.map((p) => [p.host, p.root, p.key, p.count]), [["other", "helloprov", "i-need", 1]]);
  deepStrictEqual(provider.publication!.requires, []);
  // The requiring host alone: the requirement is unsatisfied, and published.
  const env = loadEnvironment(project);
  const alone = await env.configure({ hosts: new Set(["localhost"]), report: new Set(["localhost"]) });
  ok(alone.some((e) => e.constructor.name === "UnsatisfiedResources"));
  deepStrictEqual(env.publication!.requires.map((r) => [r.host, r.root, r.key]), [["localhost", "helloreq", "i-need"]]);
  deepStrictEqual(env.rootsFor("other").map((r) => !!r.component), [false, false]);
  // A next round with the forwarded values: configured as in the whole model, waiting for the provider.
  const foreign = provided.map((p) => ({ key: p.key, host: p.host, root: p.root, values: p.values! }));
  const { result, lines } = await withRecordedOutput(() =>
    env.configure({ hosts: new Set(["localhost"]), report: new Set(["localhost"]), foreign })
  );
  deepStrictEqual(result, []);
  deepStrictEqual(env.configuredHosts, ["localhost"]);
  deepStrictEqual(env.rootsFor("other").map((r) => !!r.component), [false, false]);
  const tree = (e: Environment) =>
    e.rootsFor("localhost").map((r) => [r.host.name, r.name, [...r.component!.recursiveSubComponents()].length]);
  deepStrictEqual(tree(env), tree(full));
  const graph = [...env.rootDependencies()].filter(([, deps]) => deps.size)
    .map(([r, deps]) => [r.name, [...deps].map((d) => `${d.name}@${d.host.name}`)]);
  deepStrictEqual(graph, [["helloreq", ["helloprov@other"]]]);
  const value = env.resources.get("i-need")[0] as Record<string, unknown>;
  strictEqual((value.host as { name: string }).name, "other");
  ok(Object.isFrozen(value), "a value from another host is read-only");
  // Only the reported host's logs, once per configure.
  deepStrictEqual(lines, ["Pre sub", "Sub!", "Post sub"]);
});

Deno.test("environment: a scoped configure reports the errors of its host's roots only", async () => {
  await using project = await tempProject({
    "components/broken/component.ts": `import { Component } from "batou";
export class Broken extends Component {
  override configure() {
    throw new Error("broken on " + this.host.name);
  }
}
`,
    "environments/test.cfg": "[hosts]\na = broken\nb = broken\n",
  });
  const env = loadEnvironment(project);
  const errors = await env.configure({ hosts: new Set(["b"]) });
  const described = (list: typeof errors) => list.map((e) => `${e.constructor.name} ${e.affectedHostname}`).sort();
  deepStrictEqual(described(errors), [
    "NonConvergingWorkingSet null",
    "UnknownComponentConfigurationError b",
  ]);
  const all = loadEnvironment(project);
  deepStrictEqual(described(await all.configure()), [
    "NonConvergingWorkingSet null",
    "UnknownComponentConfigurationError a",
    "UnknownComponentConfigurationError b",
  ]);
});
