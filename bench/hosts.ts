/**
 * Keeps the benchmark's hosts up for manual experiments: starts the private sshd with `h1..hN`, writes the W1
 * batou project (environment `bench` with the first N hosts; with FILES, W2's shape: FILES files, no symlinks) into a
 * temporary directory, prints both and waits until it is terminated (SIGINT/SIGTERM), then stops sshd and removes
 * the project. Needs root.
 *
 * usage: deno run -A bench/hosts.ts [N [FILES]]
 *
 * @module
 */
import { startSshd } from "../tests/support/sshd.ts";
import { setShape, writeBatouProject } from "./w1.ts";

const n = Number(Deno.args[0] ?? 4);
if (Deno.args[1]) setShape(Number(Deno.args[1]), 0);
const fixture = await startSshd({ hosts: Array.from({ length: n }, (_, i) => `h${i + 1}`), userPrefix: "batoubench" });
const project = await Deno.makeTempDir({ prefix: "batou-bench-project-" });
await writeBatouProject(project, {
  hosts: fixture.hosts.map((h) => h.name),
  sshConfig: fixture.sshConfig,
  greeting: "Hello",
  targetDirectory: "~/bench-batou",
});
console.log(JSON.stringify({ project, sshConfig: fixture.sshConfig, hosts: fixture.hosts }));
const done = Promise.withResolvers<void>();
Deno.addSignalListener("SIGINT", () => done.resolve());
Deno.addSignalListener("SIGTERM", () => done.resolve());
await done.promise;
await fixture.stop();
await Deno.remove(project, { recursive: true }).catch(() => {});
Deno.exit(0);
