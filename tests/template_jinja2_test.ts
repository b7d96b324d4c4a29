/**
 * The differential template corpus (tests/templates/corpus/*.json): every template is rendered by batou's engine and
 * by Jinja2 (Debian's python3-jinja2, one python3 process for the whole corpus, with batou's Environment settings:
 * tests/templates/jinja2_oracle.py) and the outputs must be byte-identical. Where Jinja2 fails, batou must fail
 * too; a case with `"error"` must fail in batou with a message containing that text (the construct is deliberately
 * unsupported, or Jinja2 fails as well). Prints `N identical, M errors-as-expected, 0 different`.
 */
import { join } from "node:path";
import { expand } from "../core/model/template.ts";
import { REPO } from "./support/cli.ts";

interface Case {
  template: string;
  context?: Record<string, unknown>;
  error?: string;
}

interface Named extends Case {
  id: string;
}

const DIR = join(REPO, "tests", "templates", "corpus");

// Parse trees from this run only (not from a cache written by an older parser).
const CACHE = Deno.makeTempDirSync({ prefix: "batou-jinja2-test-" });
Deno.env.set("BATOU_CACHE_DIR", CACHE);

function loadCorpus(): { context: Record<string, unknown>; cases: Named[] } {
  const context = JSON.parse(Deno.readTextFileSync(join(DIR, "context.json")));
  const cases: Named[] = [];
  const files = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".json") && n !== "context.json")
    .sort();
  for (const file of files) {
    const list: Case[] = JSON.parse(Deno.readTextFileSync(join(DIR, file)));
    list.forEach((c, i) => cases.push({ ...c, id: `${file.replace(/\.json$/, "")}#${i + 1}` }));
  }
  return { context, cases };
}

async function oracle(
  context: Record<string, unknown>,
  cases: Case[],
): Promise<{ jinja2: string; results: { out?: string; error?: string }[] }> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-I", join(REPO, "tests", "templates", "jinja2_oracle.py")],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({ context, cases })));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) throw new Error(`jinja2_oracle.py failed: ${new TextDecoder().decode(stderr)}`);
  return JSON.parse(new TextDecoder().decode(stdout));
}

function ours(source: string, context: Record<string, unknown>, id: string): { out?: string; error?: string } {
  try {
    return { out: expand(source, context, id) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

Deno.test("templates render byte-identical to Jinja2 (batou's settings), or fail as expected", async () => {
  const { context, cases } = loadCorpus();
  const reference = await oracle(context, cases);
  let identical = 0;
  let errors = 0;
  const different: string[] = [];
  cases.forEach((c, i) => {
    const jinja = reference.results[i];
    const ctx = { ...structuredClone(context), ...structuredClone(c.context ?? {}) };
    const mine = ours(c.template, ctx, `corpus ${c.id}`);
    const show = (
      r: { out?: string; error?: string },
    ) => (r.error !== undefined ? `error ${r.error}` : JSON.stringify(r.out));
    if (c.error !== undefined) {
      if (mine.error !== undefined && mine.error.includes(c.error) && mine.error.includes(`corpus ${c.id}`)) errors++;
      else {different.push(
          `${c.id} ${JSON.stringify(c.template)}: expected an error with ${JSON.stringify(c.error)}; batou: ${
            show(mine)
          }; Jinja2: ${show(jinja)}`,
        );}
    } else if (jinja.error !== undefined) {
      different.push(
        `${c.id} ${JSON.stringify(c.template)}: Jinja2 fails (${jinja.error}); mark the case with "error"; batou: ${
          show(mine)
        }`,
      );
    } else if (mine.out === jinja.out) identical++;
    else {different.push(
        `${c.id} ${JSON.stringify(c.template)}:\n    Jinja2: ${show(jinja)}\n    batou:  ${show(mine)}`,
      );}
  });
  Deno.removeSync(CACHE, { recursive: true });
  console.log(
    `Jinja2 ${reference.jinja2}: ${identical} identical, ${errors} errors-as-expected, ${different.length} different`,
  );
  if (different.length) throw new Error(`templates rendered differently from Jinja2:\n  ${different.join("\n  ")}`);
  if (cases.length < 300) throw new Error(`the corpus has only ${cases.length} cases`);
});
