/**
 * Tests of the component loader: component files are transpiled with sucrase and evaluated with a `require`
 * that serves `"batou"` and relative project files (API.md section 1), and every failure becomes a
 * ComponentLoadingError naming the file and the line.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { componentFiles, loadComponents, ModuleLoader } from "../core/model/loader.ts";
import { Component } from "../core/model/component.ts";
import { ComponentLoadingError, DuplicateComponent, type MissingComponent } from "../core/model/errors.ts";
import {
  batou,
  configureEnvironment,
  errorNames,
  loadEnvironment,
  reportText,
  tempProject,
} from "./core_test_helpers.ts";

Deno.test("loader: component files are found sorted; component.ts before component.js", async () => {
  await using project = await tempProject({
    "components/b/component.ts": "",
    "components/a/component.js": "",
    "components/c/component.ts": "",
    "components/c/component.js": "",
    "components/d/other.ts": "",
  });
  deepStrictEqual(componentFiles(project.dir), [
    project.path("components/a/component.js"),
    project.path("components/b/component.ts"),
    project.path("components/c/component.ts"),
  ]);
  deepStrictEqual(componentFiles(project.path("nonexistent")), []);
});

Deno.test("loader: exported Component subclasses are registered under their lower-cased names", async () => {
  await using project = await tempProject({
    "components/hello/component.ts": `import { Component, attribute } from "batou";
import type { Host } from "batou";

interface Greeting { text: string }

class Hidden extends Component {}

export class Hello extends Component {
  port = attribute(Number, 8080);
  greeting: Greeting = { text: "hi" };
  host2: Host | null = null;
}
export class WorldWide extends Hello {}
export const notAComponent = 1;
export function helper(): number { return 2; }
`,
    "components/plain/component.js": `const { Component } = require("batou");
class Plain extends Component {}
module.exports = { Plain };
`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errors, []);
  deepStrictEqual([...components.keys()].sort(), ["hello", "plain", "worldwide"]);
  const hello = components.get("hello")!;
  strictEqual(hello.name, "hello");
  strictEqual(hello.filename, "components/hello/component.ts");
  strictEqual(hello.defdir, project.path("components/hello"));
  ok(hello.factory.prototype instanceof Component);
  strictEqual(components.get("worldwide")!.factory.name, "WorldWide");
});

Deno.test("loader: a syntax error is a ComponentLoadingError naming file and line", async () => {
  await using project = await tempProject({
    "components/bad/component.ts": `import { Component } from "batou";

export class Bad extends Component {
  override configure() {
    const x = ;
  }
}
`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  strictEqual(components.size, 0);
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError"]);
  const e = errors[0] as ComponentLoadingError;
  ok(e instanceof ComponentLoadingError);
  strictEqual(e.filename, "components/bad/component.ts");
  strictEqual(e.message, "Failed loading component file components/bad/component.ts");
  strictEqual(e.traceback, "  components/bad/component.ts:5");
  ok(e.exceptionStr.includes("5:"), e.exceptionStr);
  const text = reportText(e);
  ok(text.startsWith("ERROR: Failed loading component file\n           File: components/bad/component.ts\n"), text);
  ok(text.includes("Traceback (simplified, most recent call last):\n  components/bad/component.ts:5"), text);
});

Deno.test("loader: decorators are a syntax error (use platform() and static events instead)", async () => {
  await using project = await tempProject({
    "components/deco/component.ts": `import { Component, platform } from "batou";
class Base extends Component {}

@platform("debian", Base)
export class Deco extends Component {}
`,
  });
  const { errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError"]);
  strictEqual((errors[0] as ComponentLoadingError).traceback, "  components/deco/component.ts:4");
});

Deno.test("loader: an exception at load time names file and line, also through imports", async () => {
  await using project = await tempProject({
    "components/boom/component.ts": `import { Component } from "batou";

type Unused = { a: number };
const settings: Record<string, string> = {};

export class Boom extends Component {}
settings.x.toUpperCase();
`,
    "components/viahelper/component.ts": `import { Component } from "batou";
import { value } from "../../lib/helper.ts";
export class ViaHelper extends Component {
  v = value;
}
`,
    "lib/helper.ts": `export const value = 1;

throw new RangeError("helper exploded");
`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  deepStrictEqual([...components.keys()], []);
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError", "ComponentLoadingError"]);
  const [boom, via] = errors as ComponentLoadingError[];
  strictEqual(boom.filename, "components/boom/component.ts");
  strictEqual(boom.traceback, "  components/boom/component.ts:7");
  ok(boom.exceptionStr.includes("toUpperCase"), boom.exceptionStr);
  strictEqual(via.filename, "components/viahelper/component.ts");
  strictEqual(via.exceptionStr, "helper exploded");
  strictEqual(via.traceback, "  components/viahelper/component.ts:2\n  lib/helper.ts:3");
});

Deno.test("loader: a syntax error in an imported project file names that file", async () => {
  await using project = await tempProject({
    "components/user/component.ts": `import { Component } from "batou";
import { x } from "../../lib/broken";
export class User extends Component {
  y = x;
}
`,
    "lib/broken.ts": "export const x = 1;\nexport const y = (;\n",
  });
  const { errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError"]);
  const e = errors[0] as ComponentLoadingError;
  strictEqual(e.filename, "components/user/component.ts");
  strictEqual(e.traceback, "  lib/broken.ts:2");
});

Deno.test("loader: relative imports between project files; shared modules are evaluated once", async () => {
  await using project = await tempProject({
    "components/shared/util.ts": `import { Component } from "batou";
export let loads = 0;
loads++;
export const counter = { n: 0 };
export function portFor(name: string): number {
  counter.n++;
  return 8000 + name.length;
}
export class Base extends Component {
  kind = "base";
}
`,
    "components/shared/data.json": `{ "greeting": "hello" }`,
    "components/a/component.ts": `import { Component } from "batou";
import { Base, counter, portFor } from "../shared/util";
import data from "../shared/data.json";
export class A extends Base {
  port = portFor("a");
  greeting = (data as { greeting: string }).greeting;
  seen = counter;
}
`,
    "components/b/component.ts": `import * as util from "../shared/util.ts";
import { join } from "node:path";
export class B extends util.Base {
  port = util.portFor("bb");
  path = join("x", "y");
  seen = util.counter;
  loads = util.loads;
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = a, b\n",
  });
  const { env, errors } = await configureEnvironment(project);
  deepStrictEqual(errors, []);
  // Base is exported by neither component file, so it is not a component; Base from util is not in a component file.
  deepStrictEqual([...env.components.keys()].sort(), ["a", "b"]);
  const a = env.getRoot("a", "localhost").component as unknown as Record<string, unknown>;
  const b = env.getRoot("b", "localhost").component as unknown as Record<string, unknown>;
  strictEqual(a.kind, "base");
  strictEqual(a.port, 8001);
  strictEqual(b.port, 8002);
  strictEqual(a.greeting, "hello");
  strictEqual(b.path, "x/y");
  strictEqual(b.loads, 1);
  strictEqual(a.seen, b.seen);
});

Deno.test("loader: `batou/...` subpaths resolve to the running program's module", async () => {
  await using project = await tempProject({
    "components/sub/component.ts": `import { Component } from "batou/lib/file";
import { attribute } from "batou/core";
export class Sub extends Component {
  n = attribute(Number, "3");
}
`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errors, []);
  strictEqual(components.get("sub")!.factory.prototype instanceof Component, true);
});

Deno.test("loader: an unknown bare import is an error that says what may be imported", async () => {
  await using project = await tempProject({
    "components/npm/component.ts": `import { Component } from "batou";
import leftPad from "left-pad";
export class Npm extends Component {
  x = leftPad;
}
`,
    "components/missing/component.ts": `import { Component } from "batou";
import { x } from "./nothere";
export class Missing extends Component {
  y = x;
}
`,
  });
  const { errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError", "ComponentLoadingError"]);
  const [missing, npm] = errors as ComponentLoadingError[];
  strictEqual(missing.filename, "components/missing/component.ts");
  ok(missing.exceptionStr.startsWith("Cannot find module './nothere'"), missing.exceptionStr);
  strictEqual(missing.traceback, "  components/missing/component.ts:2");
  ok(npm.exceptionStr.includes(`component files may import "batou"`), npm.exceptionStr);
  strictEqual(npm.traceback, "  components/npm/component.ts:2");
});

Deno.test("loader: two classes with the same lower-case name in one file are a ComponentLoadingError", async () => {
  await using project = await tempProject({
    "components/twice/component.ts": `import { Component } from "batou";
export class Twice extends Component {}
export class TWICE extends Component {}
export class Other extends Component {}
`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError"]);
  const e = errors[0] as ComponentLoadingError;
  strictEqual(e.filename, "components/twice/component.ts");
  strictEqual(e.exceptionStr, "Duplicate component: twice");
  // The first definition stays usable, the others in the file too.
  deepStrictEqual([...components.keys()].sort(), ["other", "twice"]);
  strictEqual(components.get("twice")!.factory.name, "Twice");
});

// batou lets the later file win silently; two files defining one component name is almost certainly a mistake.
Deno.test("loader: the same component name in two files is a DuplicateComponent naming both", async () => {
  await using project = await tempProject({
    "components/one/component.ts": `import { Component } from "batou";\nexport class Hello extends Component {}\n`,
    "components/two/component.ts": `import { Component } from "batou";\nexport class HELLO extends Component {}\n`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errorNames(errors), ["DuplicateComponent"]);
  const e = errors[0] as DuplicateComponent;
  ok(e instanceof DuplicateComponent);
  strictEqual(
    reportText(e),
    'ERROR: Duplicate component "hello"\n     Occurrence: components/one/component.ts\n     Occurrence: components/two/component.ts',
  );
  strictEqual(components.get("hello")!.factory.name, "Hello");
});

Deno.test("loader: one class exported by two component files is no duplicate", async () => {
  await using project = await tempProject({
    "components/one/component.ts": `import { Component } from "batou";\nexport class Hello extends Component {}\n`,
    "components/two/component.ts": `export { Hello } from "../one/component.ts";
import { Component } from "batou";
export class Two extends Component {}
`,
  });
  const { components, errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errors, []);
  deepStrictEqual([...components.keys()].sort(), ["hello", "two"]);
  strictEqual(components.get("hello")!.filename, "components/one/component.ts");
});

Deno.test("loader: a component file without component classes is reported", async () => {
  await using project = await tempProject({
    "components/empty/component.ts": `export const x = 1;\n`,
  });
  const { errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errorNames(errors), ["ComponentLoadingError"]);
  ok((errors[0] as ComponentLoadingError).exceptionStr.includes("exports no component class"));
});

Deno.test("loader: loading errors end up in the environment's exceptions, without follow-on errors", async () => {
  await using project = await tempProject({
    "components/bad/component.ts": `import { Component } from "batou";\nexport class Bad extends Component {\n`,
    "components/good/component.ts": `import { Component } from "batou";\nexport class Good extends Component {}\n`,
    "environments/test.cfg": "[hosts]\nlocalhost = good, bad, nosuch\n\n[component:bad]\nx = 1\n",
  });
  const env = loadEnvironment(project);
  // `bad` and [component:bad] are not reported unknown: the file that defines it failed to load; nosuch is unknown.
  deepStrictEqual(errorNames(env.exceptions), ["ComponentLoadingError", "MissingComponent"]);
  strictEqual((env.exceptions[1] as MissingComponent).componentName, "nosuch");
  deepStrictEqual(env.rootComponents.map((r) => r.name), ["good"]);
});

Deno.test("loader: line numbers of errors in configure point into the component file", async () => {
  await using project = await tempProject({
    "components/late/component.ts": `import { Component } from "batou";

interface Config {
  a: number;
}

export class Late extends Component {
  override configure(): void {
    const cfg: Config | undefined = undefined;
    this.log(String((cfg as unknown as Config).a));
  }
}
`,
    "environments/test.cfg": "[hosts]\nlocalhost = late\n",
  });
  const { errors } = await configureEnvironment(project);
  deepStrictEqual(errorNames(errors), ["UnknownComponentConfigurationError", "NonConvergingWorkingSet"]);
  ok(reportText(errors[0]).includes("components/late/component.ts:10"), reportText(errors[0]));
});

Deno.test("loader: batou/lib/<family> imports see the family's names first (mercurial's Clone, not git's)", async () => {
  await using project = await tempProject({
    "components/repos/component.ts": `import { Component } from "batou";
import { Clone } from "batou/lib/mercurial";
import { Clone as GitClone, File } from "batou/lib/git";
export class Repos extends Component {}
export const kinds = [Clone === HgClone, GitClone === Clone, typeof File];
import { HgClone } from "batou";
`,
  });
  const loader = new ModuleLoader({ batou }, project.dir);
  const exports = loader.load(project.path("components/repos/component.ts"));
  deepStrictEqual(exports.kinds, [true, false, "function"]);
  const { errors } = loadComponents(project.dir, { batou });
  deepStrictEqual(errors, []);
});
