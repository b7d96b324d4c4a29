/**
 * The README's main job: copies an example project to a temporary directory and
 * deploys it to this machine twice (the second run changes nothing), then shows
 * the deployed files.
 *
 * Usage: deno task demo [EXAMPLE]   (default: hello-world; what each needs: DEMOS in tools/demo_prereqs.ts)
 *
 * What the example needs is checked first (tools/demo_prereqs.ts); when something is missing, the demo says what to
 * install and exits with 1 before creating anything. The demo directory is printed first and again at the end, also
 * when a deployment fails.
 *
 * @module
 */
import { join, relative, resolve } from "../core/runtime/path.ts";
import { checkDemo, currentMachine } from "./demo_prereqs.ts";

const repo = resolve(import.meta.dirname!, "..");
const example = Deno.args[0] ?? "hello-world";
const source = join(repo, "examples", example);

const problems = await checkDemo(example, currentMachine());
if (problems.length) {
  console.error(`deno task demo ${example} cannot run on this machine:`);
  for (const p of problems) console.error(`  - ${p}`);
  console.error("Nothing was created.");
  Deno.exit(1);
}
const target = await Deno.makeTempDir({ prefix: `batou-demo-${example}-` });
console.log(`Demo directory: ${target}`);

async function copy(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.name === "work" || e.name.startsWith(".batou")) continue;
    if (e.isDirectory) await copy(join(from, e.name), join(to, e.name));
    else await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

async function batou(...args: string[]): Promise<number> {
  console.log(`\n$ batou ${args.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(repo, "main.ts"), ...args],
    cwd: target,
    env: { INIT_CWD: target },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return code;
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory && ["venv", ".appenv", "__pycache__", ".batou-diffs"].includes(e.name)) {
      out.push(p + "/...");
      continue;
    }
    if (e.isDirectory) out.push(...await listTree(p));
    else out.push(p);
  }
  return out.sort();
}

await copy(source, target);
console.log(`Deploying examples/${example} there, twice (the second run changes nothing)`);
for (const args of [["deploy", "dev"], ["deploy", "dev"]]) {
  const code = await batou(...args);
  if (code !== 0) {
    console.error(`\nThe demo failed; its project is left in ${target} (remove it when done).`);
    Deno.exit(code);
  }
}
console.log("\nDeployed files:");
for (const f of await listTree(join(target, "work"))) {
  if (relative(target, f).startsWith("work/.batou")) continue;
  console.log(`  ${relative(target, f)}`);
}
console.log(`\nThe project is in ${target} (remove it when done).`);
