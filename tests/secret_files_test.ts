/**
 * Secret files reach only the hosts whose roots read them (issue 15): an agent knows every secret file's name, a root
 * that reads one whose content has not come is retried, the agent asks for it and the controller sends it (with
 * only its masking data) in the next round. Unit level; tests/security/secret_scope_test.ts checks the bytes on the
 * wire over a real sshd.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { Environment, type EnvironmentSnapshot } from "../core/model/environment.ts";
import { ConfigurationError, SilentConfigurationError } from "../core/model/errors.ts";
import { SecretFiles } from "../core/model/secret_files.ts";
import type { SecretsData } from "../core/model/environment.ts";
import { ResourceBroker } from "../remote/controller/broker.ts";
import { scopedSecrets, secretFilesFor } from "../remote/controller/secret_scope.ts";
import { batou, errorNames, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

Deno.test("secret files: a known name not sent yet is wanted and retried; an unknown one is undefined", () => {
  let configuring = true;
  const files = new SecretFiles(["a.key", "b.key"], { "b.key": "B" }, () => configuring);
  const view = files.view;
  strictEqual(view["b.key"], "B");
  strictEqual(view["nosuch"], undefined, "an unknown name reads as before: undefined");
  ok("a.key" in view && "b.key" in view && !("nosuch" in view), "the names are known");
  deepStrictEqual(Object.keys(view).sort(), ["a.key", "b.key"]);
  deepStrictEqual(files.wanted, []);
  throws(() => view["a.key"], SilentConfigurationError);
  deepStrictEqual(files.wanted, ["a.key"]);
  files.receive({ "a.key": "A", "other": "ignored" });
  strictEqual(view["a.key"], "A");
  strictEqual(view["other"], undefined, "a name the environment does not have is not taken");
  deepStrictEqual(files.wanted, []);
  // Reading every file (Object.entries, a spread) wants them all.
  const all = new SecretFiles(["x", "y"], {}, () => configuring);
  throws(() => Object.entries(all.view), SilentConfigurationError);
  deepStrictEqual(all.wanted, ["x"]);
  // After configure a file that never came cannot come any more: a clear error naming it.
  configuring = false;
  throws(
    () => all.view["y"],
    (e: Error) => e instanceof ConfigurationError && /secret file y was read after/.test(e.message),
  );
});

Deno.test("secret files: without names (the controller, -c -L) they are a plain record, unknown names undefined", () => {
  const env = new Environment("test", { baseDir: "/nonexistent" });
  env.loadSecrets({ overrides: {}, hostData: {}, secretFiles: { "k": "V" }, secretWords: [] });
  strictEqual(env.secretFiles["k"], "V");
  strictEqual(env.secretFiles["nosuch"], undefined);
  deepStrictEqual(env.wantedSecretFiles, []);
});

const PROJECT = {
  "components/reader/component.ts": `import { attribute, Component } from "batou";
export class Reader extends Component {
  names = attribute("list", []);
  got = [];
  override configure() {
    this.got = this.names.map((n) => this.environment.secretFiles[n] ?? "(none)");
  }
}
`,
  "components/plain/component.ts": `import { Component } from "batou";
export class Plain extends Component {
  override configure() {}
}
`,
  "environments/test/environment.cfg": "[hosts]\nh1 = reader\nh2 = plain\n[component:reader]\nnames = a.key, nosuch\n",
};

function agentEnv(dir: string, contents: Record<string, string> = {}): Environment {
  const env = new Environment("test", { baseDir: dir });
  const snapshot: EnvironmentSnapshot = {
    overrides: { reader: { names: "a.key, nosuch" } },
    resolveOverride: {},
    resolveV6Override: {},
    hostData: {},
    secretFiles: contents,
    secretFileNames: ["a.key", "b.key"],
    secretData: [],
  };
  env.load({ batou }, snapshot);
  return env;
}

Deno.test("secret files: an agent's root that reads one is configured once it comes; others need nothing", async () => {
  await using project = await tempProject(PROJECT);
  const env = agentEnv(project.dir);
  const scope = new Set(["h1"]);
  const first = await withRecordedOutput(() => env.configure({ hosts: scope, deferReport: true }));
  deepStrictEqual(errorNames(first.result), ["NonConvergingWorkingSet"], "not final: the file comes next round");
  deepStrictEqual(env.wantedSecretFiles, ["a.key"]);
  env.receiveSecretFiles({ "a.key": "A-CONTENT\n" });
  const second = await withRecordedOutput(() => env.configure({ hosts: scope, deferReport: true }));
  deepStrictEqual(second.result, []);
  deepStrictEqual(env.wantedSecretFiles, []);
  const reader = env.getRoot("reader", "h1").component as unknown as { got: string[] };
  deepStrictEqual(reader.got, ["A-CONTENT\n", "(none)"], "an unknown name is undefined, as before");
  // h2's root reads none: nothing wanted, no second round.
  const other = agentEnv(project.dir);
  deepStrictEqual((await withRecordedOutput(() => other.configure({ hosts: new Set(["h2"]) }))).result, []);
  deepStrictEqual(other.wantedSecretFiles, []);
});

Deno.test("secret files: the broker runs a round for an agent that asks for files, once, and not for others", () => {
  const env = new Environment("test", { baseDir: "/nonexistent" });
  const broker = new ResourceBroker(env);
  broker.publish("h1", new Set(["h1"]), { provides: [], requires: [] });
  broker.publish("h2", new Set(["h2"]), { provides: [], requires: [] });
  for (const agent of ["h1", "h2"]) broker.sent(agent, []);
  deepStrictEqual(broker.changed(), []);
  broker.wantSecretFiles("h1", ["b.key", "a.key"]);
  deepStrictEqual(broker.changed(), [{ agent: "h1", resources: [], secretFiles: ["a.key", "b.key"] }]);
  broker.sent("h1", [], ["a.key", "b.key"]);
  deepStrictEqual([...broker.sentSecretFiles("h1")], ["a.key", "b.key"]);
  deepStrictEqual(broker.changed(), []);
  // Asking again for files already sent is no new round.
  broker.wantSecretFiles("h1", ["a.key"]);
  deepStrictEqual(broker.changed(), []);
});

Deno.test("secret files: a host gets the masking data of the files it reads, and of no other file", async () => {
  await using project = await tempProject(PROJECT);
  const env = new Environment("test", { baseDir: project.dir });
  env.load({ batou });
  const secrets: SecretsData = {
    overrides: {},
    hostData: {},
    secretFiles: { "a.key": "alpha-line-1\n  alpha indented\n", "b.key": "beta-line-1\n" },
    secretWords: ["alpha-line-1", "  alpha indented", "beta-line-1"],
  };
  env.loadSecrets(secrets);
  for (const hosts of [new Set(["h1"]), new Set(["h2"])]) {
    const none = scopedSecrets(env, secrets, hosts);
    deepStrictEqual(none.secretData, [], "no file read: none of their lines");
    deepStrictEqual(none.maskValues, []);
  }
  const a = secretFilesFor(env, secrets, new Set(["h1"]), new Set(), ["a.key"]);
  deepStrictEqual(a.contents, { "a.key": "alpha-line-1\n  alpha indented\n" });
  deepStrictEqual(a.secretData.sort(), ["  alpha indented", "alpha-line-1"]);
  deepStrictEqual(a.maskValues.sort(), ["alpha indented", "alpha-line-1"]);
  const b = secretFilesFor(env, secrets, new Set(["h1"]), new Set(["a.key"]), ["b.key"]);
  deepStrictEqual(b, {
    contents: { "b.key": "beta-line-1\n" },
    maskValues: ["beta-line-1"],
    secretData: ["beta-line-1"],
  });
});
