/**
 * The resource broker (issue 15) in one process: one Environment per host plays its agent (configuring only that
 * host's roots), the controller's ResourceBroker forwards between them in rounds. The schedule, unused resources
 * and errors must come out as the whole model configured at once gives them.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Environment } from "../core/model/environment.ts";
import type { ForeignResource } from "../core/model/resource_exchange.ts";
import type { ReportingError } from "../core/model/errors.ts";
import { checkPublication, forwardedSecrets, ResourceBroker } from "../remote/controller/broker.ts";
import type { RootDependency } from "../remote/contract/methods.ts";
import { rootDependencyList } from "../remote/contract/root_dependencies.ts";
import { batou, errorNames, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

const component = (name: string, body: string) => ({
  [`components/${name}/component.ts`]: `import { Component } from "batou";
export class ${name.toUpperCase()} extends Component {
  override configure() {
${body}
  }
}
`,
});

/** h1: a; h2: b, c; h3: d, e. Several providers, a host filter, a reverse edge, a non-strict requirement. */
const FILES = {
  ...component("a", `    this.provide("x", 1);\n    this.require("y", { reverse: true });`),
  ...component("b", `    const xs = this.require("x");\n    if (xs.length) this.provide("y", { k: xs.length });`),
  ...component("c", `    this.requireOne("x", { host: this.environment.getHost("h1") });`),
  ...component("d", `    this.require("z", { strict: false });\n    this.provide("x", 2);`),
  ...component("e", `    this.provide("lonely", [true]);`),
  "environments/test/environment.cfg": "[hosts]\nh1 = a\nh2 = b, c\nh3 = d, e\n",
};

function load(dir: string): Environment {
  const env = new Environment("test", { baseDir: dir });
  env.load({ batou });
  return env;
}

/** Runs the broker as the controller does; returns it with each host's last errors and the rounds it took. */
async function brokered(dir: string): Promise<{ broker: ResourceBroker; errors: Map<string, ReportingError[]> }> {
  const controller = load(dir);
  const broker = new ResourceBroker(controller);
  const agents = new Map<string, Environment>();
  const errors = new Map<string, ReportingError[]>();
  const round = async (host: string, foreign: ForeignResource[]) => {
    const env = agents.get(host)!;
    const scope = new Set([host]);
    errors.set(host, [...(await env.configure({ hosts: scope, foreign, deferReport: true }))]);
    strictEqual(checkPublication(host, scope, env.publication ?? undefined, controller), null);
    broker.publish(host, scope, env.publication!);
  };
  for (const host of controller.hosts.keys()) {
    agents.set(host, load(dir));
    await round(host, []);
  }
  for (let changed = broker.changed(); changed.length; changed = broker.changed()) {
    broker.rounds++;
    for (const { agent, resources } of changed) {
      broker.sent(agent, resources);
      await round(agent, resources);
    }
  }
  return { broker, errors };
}

const edges = (deps: RootDependency[]) =>
  deps.map((d) => `${d.host}:${d.root} <- ${d.dependencies.map(([h, r]) => `${h}:${r}`).sort().join(",")}`).sort();

Deno.test("broker: the schedule from the publications is the whole model's, with a reverse edge and host filter", async () => {
  await using project = await tempProject(FILES);
  const full = load(project.dir);
  await withRecordedOutput(() => full.configure());
  const { broker, errors } = await brokered(project.dir);
  deepStrictEqual([...errors.values()].flat(), []);
  deepStrictEqual(edges(broker.dependencies()), edges(rootDependencyList(full)));
  deepStrictEqual(edges(broker.dependencies()), [
    "h1:a <- ",
    "h2:b <- h1:a,h3:d",
    "h2:c <- h1:a",
    "h3:d <- ",
    "h3:e <- ",
  ]);
  // Round 1: all; 2: b and c get x; 3: a gets y (b provided it only once it had x).
  strictEqual(broker.rounds, 3);
  strictEqual(broker.cycle(), null);
  deepStrictEqual(broker.unused()?.unused, [["lonely", "e", "[[True]]"]]);
  deepStrictEqual(broker.forwardErrors(), []);
});

Deno.test("broker: each host gets only the values under the keys its roots require", async () => {
  await using project = await tempProject(FILES);
  const { broker } = await brokered(project.dir);
  const keys = (host: string) => broker.forward(host).resources.map((r) => `${r.key}@${r.host}:${r.root}`);
  deepStrictEqual(keys("h1"), ["y@h2:b"]);
  deepStrictEqual(keys("h2"), ["x@h1:a", "x@h3:d"]);
  deepStrictEqual(keys("h3"), []);
});

Deno.test("broker: a publication speaking for another host's root, or an unknown one, is rejected", async () => {
  await using project = await tempProject(FILES);
  const env = load(project.dir);
  const requires = (host: string, root: string) => ({
    provides: [],
    requires: [{ host, root, key: "x", strict: true, onHost: null, reverse: false, dirty: false }],
  });
  strictEqual(
    checkPublication("h1", new Set(["h1"]), requires("h2", "b"), env),
    "it speaks for the root b of host h2, which h1 does not deploy",
  );
  strictEqual(
    checkPublication("h1", new Set(["h1"]), requires("h1", "zzz"), env),
    "it names the root zzz of host h1, which the environment does not have",
  );
  strictEqual(checkPublication("h1", new Set(["h1"]), undefined, env), "it sent no resources");
  strictEqual(
    checkPublication("h1", new Set(["h1"]), {
      provides: [{ host: "h1", root: "a", key: "k", count: 2, values: [1], display: "" }],
      requires: [],
    }, env),
    "the values of k provided by a are not a list of 2",
  );
  ok(checkPublication("h1", new Set(["h1"]), requires("h1", "a"), env) === null);
});

Deno.test("broker: an unsatisfied requirement is the usual error of the requiring host only", async () => {
  await using project = await tempProject({
    ...component("a", `    this.require("nobody-provides");`),
    ...component("b", `    this.provide("unrelated", 1);\n    this.require("unrelated");`),
    "environments/test/environment.cfg": "[hosts]\nh1 = a\nh2 = b\n",
  });
  const { broker, errors } = await brokered(project.dir);
  deepStrictEqual(errorNames(errors.get("h1")!), ["UnsatisfiedResources", "NonConvergingWorkingSet"]);
  deepStrictEqual(errors.get("h2"), []);
  strictEqual(broker.rounds, 1);
});

Deno.test("broker: a secret inside forwarded values is masked on the receiving host, and only that one", () => {
  const resources = [
    { key: "db", host: "h1", root: "a", values: [{ $o: { password: "s3cret pass", user: "app" } }] },
    { key: "url", host: "h1", root: "a", values: ["http://x/"] },
  ];
  const got = forwardedSecrets(resources, ["s3cret pass", "other-secret"], ["s3cret", "pass", "other-secret"]);
  deepStrictEqual(got, { maskValues: ["s3cret pass"], secretData: ["s3cret", "pass"] });
  deepStrictEqual(forwardedSecrets([], ["s3cret pass"], ["s3cret"]), { maskValues: [], secretData: [] });
});
