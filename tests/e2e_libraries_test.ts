/**
 * Shared component libraries (batou's `batou_ext`): component files import libraries by the names that the
 * project's `deno.json` "imports" map gives them, from outside the project (`../shared/...`) or vendored inside it;
 * locally and over real OpenSSH (tests/support/sshd.ts), where a library from outside the project is synced to the
 * target's `.batou-libs/<name>/` and only what changed is sent again.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { batou, writeFiles } from "./support/cli.ts";
import { requireTools, startSshd } from "./support/sshd.ts";
import {
  ImportMapError,
  readProjectImports,
  resolveLibraryImport,
  SYNCED_LIBRARIES_DIR,
} from "../core/model/import_map.ts";

const PREFIX = "btlib";

/** The error `fn` throws, checked to be an `ImportMapError`. */
function importMapError(fn: () => unknown): ImportMapError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ImportMapError) return e;
    throw e;
  }
  throw new Error("no error thrown");
}

/** A workspace: `shared/batou_ext` (a library outside the project) and `project/` with a vendored `acme`. */
function workspace(environment: string): Record<string, string> {
  return {
    "shared/batou_ext/greeting.ts": `import { Component, File } from "batou";
import { shout } from "./util.ts";
import { signature } from "acme";
export class Greeting extends Component {
  static override namevar = "path";
  path = "";
  who = "nobody";
  override configure() {
    this.add(new File(this.path, { content: shout("hello " + this.who) + " " + signature() + "\\n" }));
  }
}
`,
    "shared/batou_ext/util.ts": `export function shout(s: string): string {\n  return s.toUpperCase();\n}\n`,
    "shared/batou_ext/greeter.ts": `import { Component, File } from "batou";
export class Greeter extends Component {
  override configure() {
    this.add(new File("greeter.txt", { content: "a root from the library\\n" }));
  }
}
`,
    // A library component with a template of its own, found with import.meta.dirname (as under Deno).
    "shared/batou_ext/motd.ts": `import { Component, File } from "batou";
export class Motd extends Component {
  override configure() {
    this.add(new File("motd", { source: \`\${import.meta.dirname}/motd.j2\` }));
  }
}
`,
    "shared/batou_ext/motd.j2": "welcome to {{ host.name }}\n",
    "project/vendor/acme/mod.ts": `export function signature(): string {\n  return "(acme)";\n}\n`,
    "project/deno.json": JSON.stringify(
      { imports: { "batou_ext/": "../shared/batou_ext/", "acme": "./vendor/acme/mod.ts", "left-pad": "npm:left-pad" } },
      null,
      2,
    ),
    "project/components/web/component.ts": `import { Component } from "batou";
import { Greeting } from "batou_ext/greeting.ts";
import { Motd } from "batou_ext/motd.ts";
export { Greeter } from "batou_ext/greeter";
export class Web extends Component {
  override configure() {
    this.add(new Greeting("web.txt", { who: "web" }));
    this.add(new Motd());
  }
}
`,
    "project/environments/dev/environment.cfg": environment,
  };
}

Deno.test("import map: prefix and exact entries, longest key first, non-local targets, synced copies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-imports-" });
  try {
    await writeFiles(dir, workspace(""));
    await writeFiles(dir, {
      "project/deno.json": JSON.stringify({
        imports: {
          "batou": "/somewhere/mod.ts",
          "batou_ext/": "../shared/batou_ext/",
          "batou_ext/special/": "./special/",
          "acme": "./vendor/acme/mod.ts",
          "left-pad": "npm:left-pad",
        },
      }),
    });
    const base = join(dir, "project");
    const imports = readProjectImports(base);
    assertEquals(imports.entries.map((e) => e.key), ["batou_ext/special/", "batou_ext/", "left-pad", "acme"]);
    assertEquals(resolveLibraryImport(imports, "batou_ext/a/b.ts", base), join(dir, "shared/batou_ext/a/b.ts"));
    assertEquals(resolveLibraryImport(imports, "batou_ext/special/x", base), join(base, "special/x"));
    assertEquals(resolveLibraryImport(imports, "acme", base), join(base, "vendor/acme/mod.ts"));
    assertEquals(resolveLibraryImport(imports, "acme/other", base), null);
    assertEquals(resolveLibraryImport(imports, "batou", base), null);
    const npm = importMapError(() => resolveLibraryImport(imports, "left-pad", base));
    assertStringIncludes(npm.message, 'maps "left-pad" to npm:left-pad');
    // On a target, the synced copy of a library wins over its (absent there) original path.
    await Deno.mkdir(join(base, SYNCED_LIBRARIES_DIR, "batou_ext"), { recursive: true });
    assertEquals(
      resolveLibraryImport(imports, "batou_ext/greeting.ts", base),
      join(base, SYNCED_LIBRARIES_DIR, "batou_ext", "greeting.ts"),
    );
    // No deno.json: no libraries; a broken one: a clear error naming it.
    assertEquals(readProjectImports(dir).entries, []);
    await Deno.writeTextFile(join(base, "deno.json"), "{ nope");
    const broken = importMapError(() => readProjectImports(base));
    assertStringIncludes(broken.message, "deno.json is not valid JSON");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("libraries, local deploy: from ../shared and vendored, as a root, with its own template (import.meta)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-libs-local-" });
  try {
    await writeFiles(dir, workspace("[environment]\nconnect_method = local\n\n[hosts]\nlocalhost = web, greeter\n"));
    const r = await batou(join(dir, "project"), ["deploy", "dev"]);
    assertEquals(r.code, 0, r.output);
    assertEquals(await Deno.readTextFile(join(dir, "project/work/web/web.txt")), "HELLO WEB (acme)\n");
    assertEquals(await Deno.readTextFile(join(dir, "project/work/greeter/greeter.txt")), "a root from the library\n");
    assertEquals(await Deno.readTextFile(join(dir, "project/work/web/motd")), "welcome to localhost\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("libraries over ssh: a library outside the project reaches the target; unchanged files are not re-sent", async () => {
  await requireTools("ssh", "sshd");
  const fixture = await startSshd({ hosts: ["host1"], userPrefix: PREFIX });
  const dir = await Deno.makeTempDir({ prefix: "batou-libs-ssh-" });
  const target = `libs-${crypto.randomUUID().slice(0, 8)}`;
  const remote = join(fixture.hosts[0].home, target);
  try {
    await writeFiles(dir, {
      ...workspace(`[environment]\ntarget_directory = ~/${target}\n\n[hosts]\nhost1 = web, greeter\n`),
      "project/ssh_config": await Deno.readTextFile(fixture.sshConfig),
    });
    const project = join(dir, "project");
    const deploy = () => batou(project, ["deploy", "dev"], { BATOU_STATS: "1" });
    const librarySync = (output: string) => /host1: sync library batou_ext: files=(\d+) sent=(\d+)/.exec(output);

    const first = await deploy();
    assertEquals(first.code, 0, first.output);
    assertEquals(await Deno.readTextFile(join(remote, "work/web/web.txt")), "HELLO WEB (acme)\n");
    assertEquals(await Deno.readTextFile(join(remote, "work/greeter/greeter.txt")), "a root from the library\n");
    assertEquals(await Deno.readTextFile(join(remote, "work/web/motd")), "welcome to host1\n");
    assertEquals(
      await Deno.readTextFile(join(remote, SYNCED_LIBRARIES_DIR, "batou_ext/util.ts")),
      await Deno.readTextFile(join(dir, "shared/batou_ext/util.ts")),
    );
    assert(await Deno.stat(join(remote, "vendor/acme/mod.ts")), "the vendored library travels with the project");
    assertEquals(librarySync(first.output)?.slice(1), ["5", "5"], first.output);

    const second = await deploy();
    assertEquals(second.code, 0, second.output);
    assertEquals(librarySync(second.output)?.slice(1), ["5", "0"], second.output);

    // A change in the library: only that file is sent, and the deployment uses it.
    await Deno.writeTextFile(
      join(dir, "shared/batou_ext/util.ts"),
      `export function shout(s: string): string {\n  return s.toUpperCase() + "!";\n}\n`,
    );
    const third = await deploy();
    assertEquals(third.code, 0, third.output);
    assertEquals(librarySync(third.output)?.slice(1), ["5", "1"], third.output);
    assertEquals(await Deno.readTextFile(join(remote, "work/web/web.txt")), "HELLO WEB! (acme)\n");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(remote, { recursive: true }).catch(() => {});
    await fixture.stop();
  }
});
