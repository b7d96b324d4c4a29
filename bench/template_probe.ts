/**
 * Template probe, run as its own process: renders W1's 100 files from its template the way a File component does
 * (`expand()` with the component's context), in a process that has just started, and prints the milliseconds as
 * JSON: `firstMs` (the first file, loading and parsing the engine's work included) and `totalMs` (all 100).
 * Run it twice with the same `BATOU_CACHE_DIR` for a cold and a warm template cache.
 *
 * usage: deno run -A bench/template_probe.ts [repo dir, default: this checkout]
 *
 * @module
 */
import { BATOU_TEMPLATE, w1Files } from "./w1.ts";

const repo = Deno.args[0] ?? new URL("..", import.meta.url).pathname;
const started = performance.now();
const { expand } = await import(`${repo}/core/model/template.ts`);
const host = { name: "host01" };
const component = { greeting: "Hello" };
let firstMs = 0;
for (const [i, f] of w1Files().entries()) {
  expand(BATOU_TEMPLATE, { host, component, args: { name: f.name } }, f.path);
  if (i === 0) firstMs = performance.now() - started;
}
console.log(JSON.stringify({ firstMs, totalMs: performance.now() - started }));
