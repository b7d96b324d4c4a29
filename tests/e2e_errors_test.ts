/**
 * Errors that point at the mistake, over real OpenSSH (tests/support/sshd.ts) with two hosts: a typo in a component
 * file is one error naming the project-relative file:line (on the target the project lives elsewhere) and the name
 * it could mean, without the follow-on errors of the other host; an unknown option names the `new` call's place.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { assertNoStackTrace, faultProject, withSshd } from "./faults/harness.ts";

const APP = (body: string) =>
  `import { Component, Program, Supervisor } from "batou";

export class App extends Component {
  override configure() {
${body}
    this.provide("app", "http://localhost:8080/");
  }
}
`;

const SLOW = `import { Component } from "batou";

export class Slow extends Component {
  override configure() {
    this.requireOne("app");
  }
}
`;

Deno.test("errors over ssh: a typo is one error with file:line and a suggestion; unknown options name the place", async () => {
  await withSshd({ hosts: ["web", "worker"], prefix: "bterr" }, async (fixture) => {
    const project = await faultProject(fixture, {
      files: {
        "components/app/component.ts": APP("    this.add(new Supervisr());"),
        "components/slow/component.ts": SLOW,
      },
      cfg: "[hosts]\nweb = app\nworker = slow\n",
    });
    try {
      const typo = await project.deploy();
      assertEquals(typo.code, 1, typo.output);
      const lines = typo.output.split("\n");
      assert(lines.includes("ERROR: components/app/component.ts:5: Unknown name `Supervisr`"), typo.output);
      assert(lines.includes("Did you mean `Supervisor`?"), typo.output);
      assert(lines.includes('Not configured because of the error above: slow (waits for "app")'), typo.output);
      assertStringIncludes(typo.output, "1 ERRORS - CONFIGURATION FAILED");
      for (const followOn of ["Not reporting", "Unsatisfied resource", "remaining unconfigured", "batou bug"]) {
        assert(!typo.output.includes(followOn), `${followOn}:\n${typo.output}`);
      }
      assert(!typo.output.includes(project.base("web")), `the target's path is shown:\n${typo.output}`);
      assertNoStackTrace(typo.output);

      await Deno.writeTextFile(
        `${project.dir}/components/app/component.ts`,
        APP(`    this.add(new Supervisor());
    // deno-lint-ignore no-explicit-any
    this.add(new Program("app", { comand: "/bin/sleep", args: "1000" } as any));`),
      );
      const option = await project.deploy();
      assertEquals(option.code, 1, option.output);
      const report = option.output.split("\n");
      assert(report.includes("      Component: App > Program('app')"), option.output);
      assert(report.includes("          Place: components/app/component.ts:7"), option.output);
      assert(report.includes("        Options: comand (did you mean `command`?)"), option.output);
      assert(report.some((l) => l.startsWith("  Valid options: args, command, ")), option.output);
      assert(!option.output.includes("remaining unconfigured"), option.output);
      assertNoStackTrace(option.output);
    } finally {
      await project.cleanup();
    }
  });
});
