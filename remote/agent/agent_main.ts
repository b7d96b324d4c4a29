/**
 * The agent's own entry point: what source mode ships to targets as the agent bundle (remote/transport/payload.ts), run as
 * `deno run <bundle> agent`. The same as `batou agent` (main.ts), without the rest of the command line: the bundle
 * holds the component model, the library and the agent, and none of the controller's commands (secrets, update,
 * init, graph) with their packages (OpenPGP, age), which halves what the target's deno parses at every start.
 *
 * @module
 */
import * as batou from "../../mod.ts";
import { VERSION } from "../../core/runtime/version.ts";
import { runAgent } from "./agent.ts";

if (import.meta.main) {
  if (Deno.args[0] !== "agent") {
    console.error("usage: <agent bundle> agent");
    Deno.exit(2);
  }
  await runAgent({ batou }, VERSION);
  Deno.exit(0);
}
