/**
 * Where components were constructed ("initialized in file:line" of the never-added warning) when the stack is not
 * captured: components constructed by a library component's configure() report the place where user code
 * constructed that library component.
 */
import { deepStrictEqual } from "node:assert/strict";
import { Environment } from "../core/model/environment.ts";
import { Component } from "../core/model/component.ts";
import { batou, tempProject, withRecordedOutput } from "./core_test_helpers.ts";

/** Stands for a library component that (wrongly) constructs a component without adding it. */
class Leaky extends Component {
  override configure(): void {
    new Helper();
  }
}
class Helper extends Component {}

Deno.test("a component constructed by a library component reports where user code constructed that component", async () => {
  await using project = await tempProject({
    "components/user/component.ts": `import { Component, Leaky } from "batou";
export class User extends Component {
  override configure() {
    this.add(new Leaky());
  }
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = user\n",
  });
  const env = new Environment("test", { baseDir: project.dir });
  env.load({ batou: { ...batou, Leaky, Helper } });
  const { result, lines } = await withRecordedOutput(() => env.configure());
  deepStrictEqual(result, []);
  const file = project.path("components", "user", "component.ts");
  deepStrictEqual(lines, [
    "   WARN: Some components were initialized but never added to the environment:",
    "    'Helper': User -> Leaky",
    `        initialized in ${file}:4`,
    "Root: user",
    "Add the components to the environment using `this.add(component)`.",
  ]);
});
