/**
 * One mistake, one error (core/model/follow_on.ts) and typos in component files as user errors
 * (core/model/unknown_name.ts), on real environments configured in temp projects.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { followOnNote, isFollowOn } from "../core/model/follow_on.ts";
import { namesInSource, type UnknownNameError, unknownNameError } from "../core/model/unknown_name.ts";
import type { NonConvergingWorkingSet, UnsatisfiedResources } from "../core/model/errors.ts";
import { configureEnvironment, errorNames, reportText, tempProject } from "./core_test_helpers.ts";

const PROVIDER = `import { Component, Supervisor } from "batou";
export class App extends Component {
  override configure() {
    this.add(new Supervisr());
    this.provide("app", 1);
  }
}
`;
const CONSUMER = `import { Component } from "batou";
export class Slow extends Component {
  override configure() {
    this.requireOne("app");
  }
}
`;

Deno.test("follow-on: a typo in configure is one UnknownNameError; unsatisfied and unconfigured follow from it", async () => {
  await using project = await tempProject({
    "components/app/component.ts": PROVIDER,
    "components/slow/component.ts": CONSUMER,
    "environments/test.cfg": "[hosts]\na = app, slow\nb = slow\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownNameError", "UnsatisfiedResources", "NonConvergingWorkingSet"]);
  const typo = errors[0] as UnknownNameError;
  deepStrictEqual([typo.file, typo.lineNo, typo.identifier, typo.suggestion], [
    "components/app/component.ts",
    4,
    "Supervisr",
    "Supervisor",
  ]);
  strictEqual(
    reportText(typo),
    "ERROR: components/app/component.ts:4: Unknown name `Supervisr`\n      Component: app\nDid you mean `Supervisor`?",
  );
  deepStrictEqual(errors.map((e) => isFollowOn(e, errors)), [false, true, true]);
  // The same root on two hosts is named once.
  strictEqual((errors[2] as NonConvergingWorkingSet).rootNames, "app, slow");
  deepStrictEqual((errors[1] as UnsatisfiedResources).unsatisfied, [["app", null, ["slow"]]]);
  deepStrictEqual(followOnNote(errors), ['Not configured because of the error above: slow (waits for "app")']);
});

Deno.test("follow-on: without an error of its own, an unsatisfied requirement is the error and explains the rest", async () => {
  await using project = await tempProject({
    "components/slow/component.ts": CONSUMER,
    "environments/test.cfg": "[hosts]\na = slow\nb = slow\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnsatisfiedResources", "NonConvergingWorkingSet"]);
  deepStrictEqual(errors.map((e) => isFollowOn(e, errors)), [false, true]);
  deepStrictEqual(followOnNote(errors), []);
  strictEqual(reportText(errors[0]), 'ERROR: Unsatisfied resource requirements\n    Resource "app" required by slow');
});

Deno.test("unknown name: other errors in configure stay what they were", async () => {
  await using project = await tempProject({
    "components/broken/component.ts": `import { Component } from "batou";
export class Broken extends Component {
  override configure() {
    throw new ReferenceError("Cannot access 'x' before initialization");
  }
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = broken\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownComponentConfigurationError", "NonConvergingWorkingSet"]);
});

Deno.test("unknown name: the names a file imports and declares", () => {
  const names = namesInSource(`import { attribute, Component as C, type Host } from "batou";
import * as path from "node:path";
import data from "./data.json";
const PORT = 8080;
function helper() {}
export class Web extends C {}
`);
  for (const n of ["attribute", "C", "Host", "path", "data", "PORT", "helper", "Web"]) ok(names.includes(n), n);
  ok(!names.includes("Component"), "an import renamed with `as` is known by its new name");
});

Deno.test("unknown name: a typo in a project helper module is traced there; one inside batou is not the user's", async () => {
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
  if (name) chekc(name);
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = usehelper\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownNameError", "NonConvergingWorkingSet"]);
  strictEqual(errors[0].message, "lib/checks.ts:2: Unknown name `chekc`");
  strictEqual((errors[0] as UnknownNameError).suggestion, "check");
  // A ReferenceError whose innermost frame is outside the project (batou's own code) stays a possible batou bug.
  const outside = new ReferenceError("nope is not defined");
  outside.stack = "ReferenceError: nope is not defined\n    at f (/opt/batou/lib/file.ts:3:7)\n" +
    `    at g (${project.dir}/components/usehelper/component.ts:5:5)`;
  strictEqual(unknownNameError(outside, project.dir, []), null);
});
