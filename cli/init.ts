/**
 * `batou init [DIR]`: creates a ready deployment project: an example
 * component, `environments/` from `environments.example/` (including a `dev`
 * environment that deploys locally as created), a `.gitignore`, a `.batou.json`
 * that pins the batou version (see cli/pin.ts) and a `deno.json` that gives
 * editors the types of `"batou"`.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "../core/runtime/path.ts";
import { fileURLToPath } from "node:url";
import { output } from "../core/model/output.ts";
import { lstatOrNull } from "../core/runtime/fsops.ts";
import { VERSION } from "../core/runtime/version.ts";
import { PIN_FILE, pinFileText } from "./pin.ts";
import { currentInvocation, nextSteps } from "./invocation.ts";
import { batouImportMap, batouSourceRoot } from "./check.ts";

const COMPONENT = `import { attribute, Component, File } from "batou";

/**
 * An example component: writes work/hello/hello.txt from the template hello.j2.
 * Deploy it with \`batou deploy dev\`, then change the greeting in
 * environments/dev/environment.cfg and deploy again.
 */
export class Hello extends Component {
  /** Overridable from [component:hello] in an environment. */
  greeting = attribute(String, "Hello");

  override configure() {
    this.add(new File("hello.txt", { source: "hello.j2" }));
  }
}
`;

const TEMPLATE = `{{ component.greeting }}, this is {{ host.fqdn }}.
`;

const GITIGNORE = `work/
.batou-lock
.batou-lock-*
.batou-cache/
`;

function exampleDir(): string {
  const here = import.meta.dirname ?? dirname(fileURLToPath(import.meta.url));
  return resolve(here, "..", "environments.example");
}

async function copyTree(from: string, to: string, created: string[], base: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    const src = join(from, e.name), dst = join(to, e.name);
    if (e.isDirectory) await copyTree(src, dst, created, base);
    else if (e.isFile) {
      await Deno.copyFile(src, dst);
      created.push(relative(base, dst));
    }
  }
}

async function writeNew(path: string, text: string, created: string[], base: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text, { createNew: true });
  created.push(relative(base, path));
}

/** Creates a project in DIR (relative to `cwd`, default `cwd` itself). Returns the exit code. */
export async function initProject(args: string[], cwd: string): Promise<number> {
  if (args.length > 1 || args.some((a) => a.startsWith("-") && a !== "-h" && a !== "--help")) {
    output.error("usage: batou init [DIR]");
    return 2;
  }
  if (args[0] === "-h" || args[0] === "--help") {
    output.line("usage: batou init [DIR]\n\nCreates a new deployment project in DIR (default: the current directory).");
    return 0;
  }
  const dir = resolve(cwd, args[0] ?? ".");
  for (const name of ["components", "environments"]) {
    if (await lstatOrNull(join(dir, name))) {
      output.error(`${join(dir, name)} already exists: refusing to overwrite an existing project.`);
      return 1;
    }
  }
  const created: string[] = [];
  await Deno.mkdir(dir, { recursive: true });
  await writeNew(join(dir, "components", "hello", "component.ts"), COMPONENT, created, dir);
  await writeNew(join(dir, "components", "hello", "hello.j2"), TEMPLATE, created, dir);
  await copyTree(exampleDir(), join(dir, "environments"), created, dir);
  if (!(await lstatOrNull(join(dir, ".gitignore")))) await writeNew(join(dir, ".gitignore"), GITIGNORE, created, dir);
  if (!(await lstatOrNull(join(dir, PIN_FILE)))) {
    await writeNew(join(dir, PIN_FILE), pinFileText(VERSION), created, dir);
  }
  const root = batouSourceRoot();
  if (root && !(await lstatOrNull(join(dir, "deno.json")))) {
    // What an editor and `deno check` (and `batou check`) need: "batou" and "batou/lib/<family>" to batou's sources.
    const config = { imports: batouImportMap(root) };
    await writeNew(join(dir, "deno.json"), JSON.stringify(config, null, 2) + "\n", created, dir);
  }
  output.line(`Created a batou project in ${dir}:`);
  for (const f of created.sort()) output.line(`  ${f}`);
  output.line("");
  output.line(`Next: ${nextSteps(currentInvocation(), cwd, dir)}`);
  return 0;
}
