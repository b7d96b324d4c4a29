/**
 * The bad-input corpus (`tests/corpus/<NNN-name>/`): loading cases, preparing a
 * throw-away copy of a case's project and running the CLI on it, and checking
 * the error report against what the case expects.
 *
 * A case directory holds a small deployment project and a `case.json`:
 *
 * ```json
 * { "args": ["deploy", "dev", "-c"], "expect": "ERROR: ...", "step": "load",
 *   "mustMention": ["environments/dev/environment.cfg:4"], "env": { "BATOU_AGE_IDENTITIES": "$OTHER_IDENTITY" } }
 * ```
 *
 * `step` is left out for commands other than `deploy` (`secrets ...`) and for a deploy stopped before its first
 * step; `"code": 2` marks a usage error (the default is 1).
 *
 * A case may also hold `expected-output.txt`: the whole output (stdout, then stderr) must then be exactly that
 * text, apart from the first line (batou's version and platform); the copy's path reads `$PROJECT`.
 *
 * TypeScript files are stored as `*.ts.in` (several are broken on purpose, and none of them may be picked up by
 * `deno fmt`, `deno lint` or `deno check` of the repository); the copy that runs gets the `.ts` name. A project's
 * `deno.json` is stored as `deno.json.in` (deno would read it as a configuration file of the repository). Files named
 * `*.age.plain` are encrypted at run time with a test-generated age key (`age-keygen`, `age`) to the same name
 * without `.plain`. `env` values may use `$IDENTITY` (the matching identity file), `$OTHER_IDENTITY` (an
 * identity that matches nothing) and `$MISSING_IDENTITY` (a path that does not exist). `BATOU_AGE_IDENTITIES`
 * defaults to `$IDENTITY`, so no case ever reads the user's own keys.
 *
 * @module
 */
import { join } from "node:path";
import { batou, type CliResult, copyTree, REPO } from "./cli.ts";

/** The corpus folder. */
export const CORPUS_DIR: string = join(REPO, "tests", "corpus");

/** The deployment step a case fails in. */
export type CorpusStep = "load" | "connect" | "deploy";

/** The contents of a case's `case.json`. */
export interface CorpusCaseSpec {
  /** CLI arguments, e.g. `["deploy", "dev", "-c"]`. */
  args: string[];
  /** A line that must appear in the output exactly (usually the first `ERROR:` line). */
  expect: string;
  /** The step named in `... FAILED (during <step>)`; omitted for commands other than `deploy` (e.g. `secrets`). */
  step?: CorpusStep;
  /** The exit code: 1 (the default) for a bad input, 2 for a usage error. */
  code?: 1 | 2;
  /** Strings that must appear somewhere in the output (file:line, component, attribute, host). */
  mustMention: string[];
  /** Strings that must not appear anywhere in the output (e.g. secret values). */
  mustNotMention?: string[];
  /** Extra environment variables for the CLI (see the module doc for placeholders). */
  env?: Record<string, string>;
}

/** A case: its folder name, path and spec. */
export interface CorpusCase {
  name: string;
  dir: string;
  spec: CorpusCaseSpec;
  /** The contents of `expected-output.txt`, when the case has one. */
  expectedOutput?: string;
}

/** The file that holds a case's whole expected output. */
export const EXPECTED_OUTPUT = "expected-output.txt";

/** Reads every `tests/corpus/<name>/case.json`, sorted by name. */
export function loadCorpus(dir: string = CORPUS_DIR): CorpusCase[] {
  const out: CorpusCase[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isDirectory) continue;
    const caseDir = join(dir, e.name);
    const spec = JSON.parse(Deno.readTextFileSync(join(caseDir, "case.json"))) as CorpusCaseSpec;
    let expectedOutput: string | undefined;
    try {
      expectedOutput = Deno.readTextFileSync(join(caseDir, EXPECTED_OUTPUT));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    out.push({ name: e.name, dir: caseDir, spec, expectedOutput });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Age keys generated for one test run. */
export interface CorpusKeys {
  /** Folder holding the key files (remove it when done). */
  dir: string;
  identity: string;
  otherIdentity: string;
  missingIdentity: string;
  recipient: string;
}

async function runTool(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** Generates the run's age identities with `age-keygen`. */
export async function makeKeys(): Promise<CorpusKeys> {
  const dir = await Deno.makeTempDir({ prefix: "batou-corpus-keys-" });
  const identity = join(dir, "identity.txt"), otherIdentity = join(dir, "other.txt");
  await runTool("age-keygen", ["-o", identity]);
  await runTool("age-keygen", ["-o", otherIdentity]);
  const recipient = (await runTool("age-keygen", ["-y", identity])).trim();
  return { dir, identity, otherIdentity, missingIdentity: join(dir, "no-such-identity.txt"), recipient };
}

/** Turns the stored case into the project: `*.ts.in` -> `*.ts`, `*.json.in` -> `*.json` (a project's deno.json), `*.age.plain` -> `*.age` (encrypted). */
async function materialize(dir: string, recipient: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await materialize(p, recipient);
    else if (e.name.endsWith(".ts.in") || e.name.endsWith(".json.in")) await Deno.rename(p, p.slice(0, -".in".length));
    else if (e.name.endsWith(".age.plain")) {
      await runTool("age", ["-r", recipient, "-o", p.slice(0, -".plain".length), p]);
      await Deno.remove(p);
    }
  }
}

function expandEnv(env: Record<string, string>, keys: CorpusKeys): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    out[k] = v.replaceAll("$OTHER_IDENTITY", keys.otherIdentity)
      .replaceAll("$MISSING_IDENTITY", keys.missingIdentity)
      .replaceAll("$IDENTITY", keys.identity);
  }
  return out;
}

/**
 * Copies the case to a temp dir, runs the CLI there (optionally with extra args) and removes the copy. In the
 * result, the copy's path reads `$PROJECT` and the key folder's `$KEYS`, so that expected lines can be exact.
 */
export async function runCase(c: CorpusCase, keys: CorpusKeys, extraArgs: string[] = []): Promise<CliResult> {
  const work = await Deno.makeTempDir({ prefix: `batou-corpus-${c.name}-` });
  try {
    await copyTree(c.dir, work);
    await Deno.remove(join(work, "case.json"));
    await Deno.remove(join(work, EXPECTED_OUTPUT)).catch(() => {});
    await materialize(work, keys.recipient);
    const env = expandEnv({ BATOU_AGE_IDENTITIES: "$IDENTITY", ...c.spec.env }, keys);
    const result = await batou(work, [...c.spec.args, ...extraArgs], env);
    const norm = (text: string) => text.replaceAll(work, "$PROJECT").replaceAll(keys.dir, "$KEYS");
    return { code: result.code, stdout: norm(result.stdout), stderr: norm(result.stderr), output: norm(result.output) };
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** A line of a JavaScript stack trace (`    at f (file:1:2)`). */
export const STACK_LINE: RegExp = /^\s+at .*:\d+:\d+\)?$/;

/** The output without its first line (`batou/<version> (deno <version>, <platform>)`). */
function withoutBanner(output: string): string {
  return output.startsWith("batou/") ? output.slice(output.indexOf("\n") + 1) : output;
}

/**
 * Everything wrong with `result` for case `spec` (empty when the report is as expected); `expectedOutput`: the
 * case's `expected-output.txt`, compared with the whole output.
 */
export function checkResult(spec: CorpusCaseSpec, result: CliResult, expectedOutput?: string): string[] {
  const problems: string[] = [];
  if (expectedOutput !== undefined && withoutBanner(result.output) !== withoutBanner(expectedOutput)) {
    problems.push(`the output differs from ${EXPECTED_OUTPUT}:\n--- expected ---\n${expectedOutput}`);
  }
  const lines = result.output.split("\n");
  const code = spec.code ?? 1;
  if (result.code !== code) problems.push(`exit code ${result.code}, expected ${code}`);
  if (!lines.includes(spec.expect)) problems.push(`missing line ${JSON.stringify(spec.expect)}`);
  if (spec.step !== undefined && !lines.some((l) => l.includes(`FAILED (during ${spec.step})`))) {
    problems.push(`missing "FAILED (during ${spec.step})"`);
  }
  for (const m of spec.mustMention) {
    if (!result.output.includes(m)) problems.push(`does not mention ${JSON.stringify(m)}`);
  }
  for (const m of spec.mustNotMention ?? []) {
    if (result.output.includes(m)) problems.push(`mentions ${JSON.stringify(m)}`);
  }
  const trace = lines.find((l) => STACK_LINE.test(l));
  if (trace !== undefined) problems.push(`stack trace line ${JSON.stringify(trace)}`);
  if (result.output.includes("Uncaught")) problems.push(`"Uncaught" in output`);
  return problems;
}

/** Runs `fn` over `items` with at most `limit` running at once; results in input order. */
export async function boundedMap<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
