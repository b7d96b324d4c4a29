/**
 * A throw-away deployment project for component tests: a temp base dir with
 * `components/<name>/` (the defdir) and `work/<name>/`, an Environment with the
 * host `localhost`, and output captured in a RecordingBackend for the life of
 * the project.
 *
 * Tests in one file run one after another, so swapping the process-wide
 * `output.backend` per project is safe; other test files run in their own
 * workers with their own `output`.
 *
 * @example
 * ```ts
 * const project = await TestProject.create();
 * try {
 *   await project.configure(class MyComponent extends Component {
 *     override configure() { this.add(new File("hello", { content: "Hi\n" })); }
 *   });
 *   await project.deploy();
 * } finally {
 *   await project.cleanup();
 * }
 * ```
 * @module
 */
import { join } from "node:path";
import type { Component, ComponentClass, RootComponent } from "../../core/model/component.ts";
import { Environment } from "../../core/model/environment.ts";
import { Host } from "../../core/model/host.ts";
import { type Format, output, type OutputBackend, RecordingBackend } from "../../core/model/output.ts";
import type { ReportingError } from "../../core/model/errors.ts";

/** A RecordingBackend that also keeps each line's text attributes (colours). */
export class FormatRecordingBackend extends RecordingBackend {
  /** Every line with its attributes, in order. */
  entries: { text: string; fmt: Format }[] = [];

  override line(text: string, fmt: Format = {}): void {
    super.line(text);
    this.entries.push({ text, fmt });
  }
}

/** Options of {@linkcode TestProject.create}. */
export interface TestProjectOptions {
  /** The root component's name (lower-cased class name), default `mycomponent`. */
  name?: string;
}

/** A temp project with one root component on host `localhost`. */
export class TestProject {
  /** The environment of the last {@linkcode configure}. */
  env: Environment;
  /** The root of the last {@linkcode configure}. */
  root: RootComponent | null = null;
  /** Everything printed since the project was created (or {@linkcode clearOutput}). */
  recording = new FormatRecordingBackend();
  readonly #previousBackend: OutputBackend;

  private constructor(readonly baseDir: string, readonly name: string) {
    this.env = this.#newEnvironment();
    this.#previousBackend = output.backend;
    output.backend = this.recording;
  }

  /** Creates the project directories and starts capturing output. */
  static async create(opts: TestProjectOptions = {}): Promise<TestProject> {
    const baseDir = await Deno.realPath(await Deno.makeTempDir({ prefix: "batou-test-" }));
    const name = opts.name ?? "mycomponent";
    await Deno.mkdir(join(baseDir, "components", name), { recursive: true });
    await Deno.mkdir(join(baseDir, "work", name), { recursive: true });
    await Deno.mkdir(join(baseDir, "environments", "test"), { recursive: true });
    await Deno.writeTextFile(
      join(baseDir, "environments", "test", "environment.cfg"),
      `[environment]\nconnect_method = local\n\n[hosts]\nlocalhost = ${name}\n`,
    );
    return new TestProject(baseDir, name);
  }

  /** The root component's directory (`components/<name>`): templates and source files live here. */
  get defdir(): string {
    return join(this.baseDir, "components", this.name);
  }

  /** The root component's work directory (`work/<name>`). */
  get workdir(): string {
    return join(this.baseDir, "work", this.name);
  }

  /** The configured top component. */
  get component(): Component {
    const c = this.root?.component;
    if (!c) throw new Error("configure() first");
    return c;
  }

  /** The captured output lines. */
  get lines(): string[] {
    return this.recording.lines;
  }

  /** Forgets the captured output. */
  clearOutput(): void {
    this.recording.lines = [];
    this.recording.entries = [];
  }

  /** Writes a file below the defdir (creating directories) and returns its path. */
  async writeDefdir(relPath: string, data: string | Uint8Array): Promise<string> {
    return await this.#write(join(this.defdir, relPath), data);
  }

  /** Writes a file below the work dir (creating directories) and returns its path. */
  async writeWorkdir(relPath: string, data: string | Uint8Array): Promise<string> {
    return await this.#write(join(this.workdir, relPath), data);
  }

  async #write(path: string, data: string | Uint8Array): Promise<string> {
    await Deno.mkdir(join(path, ".."), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(path, data);
    else await Deno.writeFile(path, data);
    return path;
  }

  #newEnvironment(): Environment {
    const env = new Environment("test", { baseDir: this.baseDir });
    env.connectMethod = "local";
    return env;
  }

  /**
   * Registers `cls` as the root component on `localhost` in a fresh
   * environment and configures it. Returns the configure errors (empty when
   * all went well).
   */
  async configureErrors(cls: ComponentClass, secretData: Iterable<string> = []): Promise<ReportingError[]> {
    const env = this.#newEnvironment();
    this.env = env;
    const name = cls.name.toLowerCase();
    if (name !== this.name) throw new Error(`component class must be called like the project's root (${this.name})`);
    env.components.set(name, { name, factory: cls, filename: join(this.defdir, "component.ts"), defdir: this.defdir });
    const host = new Host("localhost", "localhost");
    env.hosts.set("localhost", host);
    env.hostOrder.push("localhost");
    for (const word of secretData) env.secretData.add(word);
    this.root = env.addRoot(name, host);
    return await env.configure();
  }

  /** Like {@linkcode configureErrors}, but throws the first error. */
  async configure(cls: ComponentClass, secretData: Iterable<string> = []): Promise<RootComponent> {
    const errors = await this.configureErrors(cls, secretData);
    if (errors.length) throw errors[0];
    return this.root!;
  }

  /** Deploys the configured root (`predict` = `-P`). */
  async deploy(predict = false): Promise<void> {
    if (!this.root) throw new Error("configure() first");
    await this.root.deploy(predict);
  }

  /** Restores the output backend and removes the project directory. */
  async cleanup(): Promise<void> {
    output.backend = this.#previousBackend;
    output.clearBuffer();
    // Make everything removable again (tests may have set restrictive modes).
    await new Deno.Command("chmod", { args: ["-R", "u+rwX", this.baseDir], stderr: "null" }).output().catch(() => {});
    await Deno.remove(this.baseDir, { recursive: true });
  }
}

/** Runs `fn` with a fresh {@linkcode TestProject} and always cleans up. */
export async function withProject<T>(
  fn: (project: TestProject) => Promise<T>,
  opts: TestProjectOptions = {},
): Promise<T> {
  const project = await TestProject.create(opts);
  try {
    return await fn(project);
  } finally {
    await project.cleanup();
  }
}
