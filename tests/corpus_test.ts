/**
 * The bad-input corpus: every case in `tests/corpus/` is a small broken project; the CLI must fail on it with
 * exit code 1, the expected error line, the step it failed in, the places named, and no stack trace (see
 * `tests/support/corpus.ts` for the case format). Plus: `--debug` shows more, and command-line mistakes are
 * usage errors (exit 2).
 *
 * Cases run as child processes (`deno run main.ts deploy ...`) in throw-away copies, a few at a time: each test
 * starts its own case and the next few, so the whole corpus runs in a fraction of its sequential time.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { batou, type CliResult, exampleProject } from "./support/cli.ts";
import {
  checkResult,
  type CorpusCase,
  type CorpusKeys,
  loadCorpus,
  makeKeys,
  runCase,
  STACK_LINE,
} from "./support/corpus.ts";

/** CLI runs at the same time (the machine may have only 2 cores; other test files run beside this one). */
const CONCURRENCY = 3;
/** How many cases ahead of the current test are started. */
const LOOKAHEAD = 5;

const cases: CorpusCase[] = loadCorpus();

let keysPromise: Promise<CorpusKeys> | null = null;
let keysDir: string | null = null;
function keys(): Promise<CorpusKeys> {
  keysPromise ??= makeKeys().then((k) => {
    keysDir = k.dir;
    return k;
  });
  return keysPromise;
}
globalThis.addEventListener("unload", () => {
  if (keysDir) Deno.removeSync(keysDir, { recursive: true });
});

let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

const results = new Map<string, Promise<CliResult>>();
function resultOf(index: number): Promise<CliResult> {
  for (let i = index; i < Math.min(cases.length, index + LOOKAHEAD); i++) {
    const c = cases[i];
    if (!results.has(c.name)) {
      const p = limited(async () => runCase(c, await keys()));
      p.catch(() => {}); // reported by the test that awaits it
      results.set(c.name, p);
    }
  }
  return results.get(cases[index].name)!;
}

Deno.test("corpus: has at least 80 cases, each with a complete case.json", () => {
  assert(cases.length >= 80, `only ${cases.length} cases`);
  for (const c of cases) {
    assert(/^\d{3}-[a-z0-9-]+$/.test(c.name), `case folder name ${c.name}`);
    assert(Array.isArray(c.spec.args) && c.spec.args.length > 0, `${c.name}: args`);
    assert(c.spec.expect.trim() !== "", `${c.name}: expect is empty`);
    // Without a step: a command other than deploy, or a deploy stopped before its first step (checked options).
    if (c.spec.step !== undefined) {
      assert(["load", "connect", "deploy"].includes(c.spec.step ?? ""), `${c.name}: step ${c.spec.step}`);
    }
    assert([undefined, 1, 2].includes(c.spec.code), `${c.name}: code ${c.spec.code}`);
    assert(c.spec.mustMention.length > 0, `${c.name}: mustMention is empty`);
  }
});

cases.forEach((c, index) => {
  Deno.test({
    name: `corpus ${c.name}`,
    // Later cases are already running in the background when a test ends.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const result = await resultOf(index);
      const problems = checkResult(c.spec, result, c.expectedOutput);
      assert(
        problems.length === 0,
        `${c.name} (batou ${c.spec.args.join(" ")}):\n  - ${problems.join("\n  - ")}\n--- output ---\n${result.output}`,
      );
    },
  });
});

const DEBUG_CASES = [
  "cfg-missing-bracket",
  "component-configure-throws",
  "deploy-verify-throws",
  "component-unknown-name",
];

Deno.test({
  name: "corpus: with --debug the same reports carry stack traces",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const suffix of DEBUG_CASES) {
      const c = cases.find((c) => c.name.endsWith(`-${suffix}`));
      assert(c, `no case *-${suffix}`);
      const result = await limited(async () => runCase(c, await keys(), ["--debug"]));
      const lines = result.output.split("\n");
      assertEquals(result.code, 1, `${c.name} --debug:\n${result.output}`);
      assert(lines.includes(c.spec.expect), `${c.name} --debug lacks ${c.spec.expect}:\n${result.output}`);
      assert(lines.some((l) => STACK_LINE.test(l)), `${c.name} --debug shows no stack trace:\n${result.output}`);
      const plain = await resultOf(cases.indexOf(c));
      assert(result.output.length > plain.output.length, `${c.name}: --debug shows no more than without`);
    }
  },
});

/** Command-line mistakes: `batou deploy <args>` must exit 2 with `batou: error: <message>` and the usage. */
const USAGE_ERRORS: [string[], string][] = [
  [["dev", "-j", "0"], "--jobs takes a whole number >= 1"],
  [["dev", "-j", "x"], "--jobs takes a whole number >= 1"],
  [["dev", "-j", "1.5"], "--jobs takes a whole number >= 1"],
  [["dev", "--jobs=-1"], "--jobs takes a whole number >= 1"],
  [["dev", "-j"], "option -j/--jobs of batou deploy needs a value (N)"],
  [["dev", "-t", "0"], "--timeout takes a whole number of seconds >= 1"],
  [["dev", "-t", "abc"], "--timeout takes a whole number of seconds >= 1"],
  [["dev", "--timeout", "2.5"], "--timeout takes a whole number of seconds >= 1"],
  [[], "missing ENV for batou deploy: the environment"],
  [["dev", "prod"], "unexpected argument `prod` for batou deploy (it takes ENV)"],
  [["dev", "--frobnicate"], "unknown option --frobnicate for batou deploy"],
];

Deno.test("corpus: bad -j/-t values and other command-line mistakes are usage errors (exit 2)", async () => {
  const dir = await exampleProject("hello-world");
  try {
    for (const [args, message] of USAGE_ERRORS) {
      const result = await batou(dir, ["deploy", "-c", ...args]);
      const what = `batou deploy -c ${args.join(" ")}:\n${result.output}`;
      assertEquals(result.code, 2, what);
      assertStringIncludes(result.stderr.split("\n")[0], `batou: error: ${message}`, what);
      assertStringIncludes(result.stderr, "usage: batou", what);
      assert(!result.output.split("\n").some((l) => STACK_LINE.test(l)), `stack trace: ${what}`);
      assert(!result.output.includes("Uncaught"), what);
    }
    // Nothing was deployed.
    assert(!(await Deno.stat(`${dir}/work/hello`).then(() => true, () => false)), "work/hello was created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
