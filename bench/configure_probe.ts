/**
 * Start-up probe, run as its own process by the benchmark: loads and configures W1 for one host the way the agent
 * does (`Agent.configure`), in a process that has just started, and prints the milliseconds as JSON.
 *
 * usage: deno run -A bench/configure_probe.ts <project dir> <host>
 *
 * @module
 */
import * as batou from "../mod.ts";
import { VERSION } from "../core/runtime/version.ts";
import { Agent } from "../remote/agent/agent.ts";
import { output } from "../core/model/output.ts";

const [dir, host] = Deno.args;
output.backend = { line: () => {}, sep: () => {} };
const agent = new Agent({ batou }, VERSION);
await agent.ensureBase(dir);
const started = performance.now();
const result = await agent.configure({
  environment: "bench",
  host,
  overrides: { w1: { greeting: "Hello" } },
  resolveOverride: {},
  resolveV6Override: {},
  secretFiles: {},
  secretData: [],
  maskValues: [],
  hostData: {},
  timeout: null,
  platform: null,
  debug: false,
});
const configureMs = performance.now() - started;
if (result.errors.length) {
  console.error(JSON.stringify(result.errors));
  Deno.exit(1);
}
console.log(JSON.stringify({ configureMs }));
