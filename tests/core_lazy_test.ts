/**
 * Packages loaded on first use (core/runtime/lazy.ts): from source (createRequire) and in a bundle built like the agent's
 * (`deno bundle --minify` plus the `require` prelude) none is evaluated until first used, and each then works.
 */
import { join } from "node:path";
import { assertEquals } from "./support/assert.ts";
import { loadedPackages, LOADING, LOADS_ON_FIRST_USE, sucrase, yaml } from "../core/runtime/lazy.ts";
import { MINIFIED_REQUIRE_PRELUDE } from "../remote/transport/payload.ts";
import { REPO } from "./support/cli.ts";

Deno.test("lazy: from source every package works (loaded with createRequire)", () => {
  assertEquals(LOADING, "source");
  assertEquals(LOADS_ON_FIRST_USE, true);
  assertEquals(yaml().parse("a: [1, 2]"), { a: [1, 2] });
  assertEquals(sucrase().transform("const a: number = 1;", { transforms: ["typescript"] }).code, "const a = 1;");
  assertEquals(loadedPackages(), ["sucrase", "yaml"]);
});

Deno.test("lazy: from source nothing is evaluated before its first use (a fresh process)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-lazy-src-" });
  try {
    const probe = join(dir, "probe.ts");
    await Deno.writeTextFile(probe, PROBE(new URL("../core/runtime/lazy.ts", import.meta.url).href));
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", join(REPO, "deno.json"), probe],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(run.success, true, new TextDecoder().decode(run.stderr));
    const steps = JSON.parse(new TextDecoder().decode(run.stdout));
    assertEquals(steps.bundled, true); // LOADS_ON_FIRST_USE
    assertEquals(steps.atStart, []);
    assertEquals(steps.afterYaml, ["yaml"]);
    assertEquals(steps.again, true);
    assertEquals(steps.atEnd, ["sucrase", "yaml"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const PROBE = (lazyUrl: string) => `
import { loadedPackages, LOADS_ON_FIRST_USE, sucrase, yaml } from ${JSON.stringify(lazyUrl)};
const steps = { bundled: LOADS_ON_FIRST_USE, atStart: loadedPackages() };
steps.yaml = yaml().parse("a: [1, 2]");
steps.afterYaml = loadedPackages();
steps.sucrase = sucrase().transform("const a: number = 1;", { transforms: ["typescript"] }).code;
steps.again = yaml() === yaml() && sucrase() === sucrase();
steps.atEnd = loadedPackages();
console.log(JSON.stringify(steps));
`;

Deno.test("lazy: in a minified bundle nothing is evaluated before its first use", async () => {
  const dir = await Deno.makeTempDir({ prefix: "batou-lazy-test-" });
  try {
    const entry = join(dir, "probe.js");
    await Deno.writeTextFile(entry, PROBE(new URL("../core/runtime/lazy.ts", import.meta.url).href));
    const bundle = join(dir, "probe.min.js");
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", "--keep-names", "--minify", "--config", join(REPO, "deno.json")]
        .concat(["-o", bundle, entry]),
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(built.success, true, new TextDecoder().decode(built.stderr));
    await Deno.writeTextFile(bundle, MINIFIED_REQUIRE_PRELUDE + await Deno.readTextFile(bundle));
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", "--quiet", "--no-prompt", bundle],
      cwd: dir,
      env: { DENO_DIR: join(dir, "deno") },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(run.success, true, new TextDecoder().decode(run.stderr));
    assertEquals(JSON.parse(new TextDecoder().decode(run.stdout)), {
      bundled: true,
      atStart: [],
      yaml: { a: [1, 2] },
      afterYaml: ["yaml"],
      sucrase: "const a = 1;",
      again: true,
      atEnd: ["sucrase", "yaml"],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
