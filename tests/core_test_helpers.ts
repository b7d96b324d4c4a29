/**
 * Helpers for the core conformance tests: temporary deployment projects on disk,
 * environments loaded from them, and a bare root component for unit tests of
 * single component classes (batou's `root` fixture).
 *
 * Nothing here depends on the process working directory.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { Environment, type EnvironmentOptions } from "../core/model/environment.ts";
import { type ComponentClass, RootComponent } from "../core/model/component.ts";
import { Host } from "../core/model/host.ts";
import { Output, output, RecordingBackend } from "../core/model/output.ts";
import type { ReportingError } from "../core/model/errors.ts";

/** The `"batou"` module as component files see it. */
export const batou: Record<string, unknown> = await import("../mod.ts");

/** A temporary project directory, removed on dispose. */
export class TempProject implements AsyncDisposable {
  constructor(readonly dir: string) {}

  /** Writes `files` (paths relative to the project) into the project. */
  async write(files: Record<string, string>): Promise<void> {
    for (const [rel, text] of Object.entries(files)) {
      const path = join(this.dir, rel);
      await Deno.mkdir(dirname(path), { recursive: true });
      await Deno.writeTextFile(path, text);
    }
  }

  /** The absolute path of `rel` inside the project. */
  path(...rel: string[]): string {
    return join(this.dir, ...rel);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Creates a project in a fresh temp dir with `files` (relative paths -> contents). */
export async function tempProject(files: Record<string, string> = {}): Promise<TempProject> {
  const project = new TempProject(await Deno.makeTempDir({ prefix: "batou-core-test-" }));
  await project.write(files);
  return project;
}

/** Loads environment `name` of the project (components and config) without configuring it. */
export function loadEnvironment(
  project: TempProject,
  name = "test",
  options: Partial<EnvironmentOptions> = {},
): Environment {
  const env = new Environment(name, { baseDir: project.dir, ...options });
  env.load({ batou });
  return env;
}

/** Loads and configures environment `name`; returns the environment and the errors of configure. */
export async function configureEnvironment(
  project: TempProject,
  name = "test",
  options: Partial<EnvironmentOptions> = {},
): Promise<{ env: Environment; errors: ReportingError[] }> {
  const env = loadEnvironment(project, name, options);
  const errors = await withRecordedOutput(() => env.configure());
  return { env, errors: errors.result };
}

/**
 * A root for unit tests of one component class: environment `test` in `dir` with one host
 * `localhost`; the root is named `mycomponent` and works in `<dir>/work/mycomponent`.
 */
export function makeRoot(
  factory: ComponentClass,
  dir: string,
  opts: { host?: string; platform?: string | null; overrides?: Record<string, string>; name?: string } = {},
): RootComponent {
  const env = new Environment("test", { baseDir: dir });
  const host = new Host(opts.host ?? "localhost", opts.host ?? "localhost");
  host.platform = opts.platform ?? null;
  env.hosts.set(host.name, host);
  const name = opts.name ?? "mycomponent";
  const root = new RootComponent(name, env, host, [], false, factory, dir, join(dir, "work", name));
  root.overrides = opts.overrides ?? {};
  env.rootComponents.push(root);
  return root;
}

/**
 * Runs `fn` with the process-wide output recording into a fresh backend (debug lines included),
 * restoring the previous backend afterwards. Returns the result and the recorded lines.
 */
export async function withRecordedOutput<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; lines: string[] }> {
  const previous = output.backend;
  const previousDebug = output.enableDebug;
  const backend = new RecordingBackend();
  output.backend = backend;
  output.enableDebug = true;
  try {
    const result = await fn();
    return { result, lines: backend.lines };
  } finally {
    output.backend = previous;
    output.enableDebug = previousDebug;
  }
}

/** The text of an error's report, as batou would print it. */
export function reportText(error: ReportingError): string {
  const out = new Output(new RecordingBackend());
  error.report(out);
  return (out.backend as RecordingBackend).lines.join("\n");
}

/** The class names of `errors`, in order. */
export function errorNames(errors: ReportingError[]): string[] {
  return errors.map((e) => e.constructor.name);
}

/** A component file that exports `body` (TypeScript) with the usual imports. */
export function componentFile(body: string, imports = "Component, attribute"): string {
  return `import { ${imports} } from "batou";\n${body}\n`;
}
