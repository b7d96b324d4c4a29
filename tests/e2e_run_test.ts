/**
 * `batou run ENV [--hosts ...] -- CMD` end to end over real OpenSSH (tests/support/sshd.ts): the command runs on
 * every selected host through the agent (as the service user when there is one), in the target directory; its
 * output is prefixed per host and streamed while it runs; the summary lists each host's exit status and batou
 * exits 1 when one failed.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { batou, type CliResult, REPO, writeFiles } from "./support/cli.ts";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { parseRunArguments } from "../cli/run.ts";
import { UsageError } from "../cli/parse.ts";
import { commandOutputLine, outcomeLine } from "../remote/controller/run_command.ts";

const PREFIX = "btrun";
const SVC = `${PREFIX}-svc`;

async function withProject(
  hostSections: string,
  body: (dir: string, fixture: SshdFixture, target: string) => Promise<void>,
): Promise<void> {
  await requireTools("ssh", "sshd", "sudo");
  const fixture = await startSshd({
    hosts: ["host1", "host2"],
    userPrefix: PREFIX,
    extraUsers: [SVC],
    sudoers: [`${PREFIX}-host1 ALL=(${SVC}) NOPASSWD: ALL`],
  });
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-run-" });
  const target = `run-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await writeFiles(dir, {
      "components/hello/component.ts": `import { Component } from "batou";\nexport class Hello extends Component {}\n`,
      "ssh_config": await Deno.readTextFile(fixture.sshConfig),
      "environments/prod/environment.cfg": `[environment]\ntarget_directory = ~/${target}\n\n${hostSections}`,
    });
    await body(dir, fixture, target);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    for (const h of fixture.hosts) await Deno.remove(join(h.home, target), { recursive: true }).catch(() => {});
    const svcHome =
      new TextDecoder().decode((await new Deno.Command("getent", { args: ["passwd", SVC] }).output()).stdout)
        .split(":")[5];
    if (svcHome) await Deno.remove(join(svcHome, target), { recursive: true }).catch(() => {});
    await fixture.stop();
  }
}

function run(dir: string, args: string[]): Promise<CliResult> {
  return batou(dir, ["run", "prod", ...args]);
}

Deno.test("batou run: the command line (`--` or plain words, --hosts, -j, usage errors)", async () => {
  assertEquals(await parseRunArguments(["prod", "--hosts", "a,b*", "-j", "2", "--", "echo", "hi there"]), {
    environment: "prod",
    command: "echo hi there",
    hosts: ["a", "b*"],
    jobs: 2,
    timeout: null,
    debug: false,
  });
  assertEquals((await parseRunArguments(["prod.cfg", "uptime"]))?.command, "uptime");
  assertEquals((await parseRunArguments(["prod", "--timeout=5", "--", "ls", "-la"]))?.timeout, 5);
  assertEquals(await parseRunArguments(["prod", "--help"]), null);
  for (
    const [args, message] of [
      [["prod"], "missing -- CMD... for batou run"],
      [["--", "ls"], "missing ENV for batou run"],
      [["prod", "ls", "-la"], "put the command after `--`"],
      [["prod", "-j", "0", "--", "ls"], "--jobs of batou run takes a whole number >= 1"],
      [["prod", "extra", "--", "ls"], "unexpected argument `extra` for batou run"],
    ] as const
  ) {
    let error: unknown = null;
    try {
      await parseRunArguments([...args]);
    } catch (e) {
      error = e;
    }
    assert(error instanceof UsageError, `${args.join(" ")}: ${error}`);
    assertStringIncludes(error.message, message);
  }
  assertEquals(commandOutputLine("web1", "a\x1b[31mb"), "web1: a\\x1b[31mb");
  assertEquals(outcomeLine("web1", { kind: "exit", code: 3 }), "web1: exit 3");
});

Deno.test("batou run over ssh: two hosts, prefixed output, per-host exit status, -j, --hosts", async () => {
  await withProject("[hosts]\nhost1 = hello\nhost2 = hello\n", async (dir, fixture, target) => {
    const home = (name: string) => fixture.hosts.find((h) => h.name === name)!.home;
    const cmd = `id -un; pwd; echo oops >&2; test "$(id -un)" = ${PREFIX}-host1 || exit 3`;
    const r = await run(dir, ["--", cmd]);
    assertEquals(r.code, 1, r.output);
    const out = `\n${r.stdout}`; // a host's line may be the first one
    for (const host of ["host1", "host2"]) {
      assertStringIncludes(out, `\n${host}: ${PREFIX}-${host}\n`);
      assertStringIncludes(out, `\n${host}: ${await Deno.realPath(join(home(host), target))}\n`);
      assertStringIncludes(out, `\n${host}: oops\n`);
    }
    const summary = r.stdout.slice(r.stdout.indexOf("Summary"));
    assertStringIncludes(summary, "\nhost1: exit 0\nhost2: exit 3\n");

    // -j 1: one host after the other, so host1's lines all come before host2's.
    const serial = await run(dir, ["-j", "1", "--", "echo a; echo b"]);
    assertEquals(serial.code, 0, serial.output);
    const lines = serial.stdout.split("\n").filter((l) => /^host\d: [ab]$/.test(l));
    assertEquals(lines, ["host1: a", "host1: b", "host2: a", "host2: b"]);

    // --hosts: only host1 runs, and all is well.
    const one = await run(dir, ["--hosts", "host1", "--", cmd]);
    assertEquals(one.code, 0, one.output);
    assertStringIncludes(one.stdout, "host1: exit 0");
    assert(!one.stdout.includes("host2"), one.stdout);

    // An unknown host is a clear error before anything runs.
    const unknown = await run(dir, ["--hosts", "nosuch", "--", "true"]);
    assertEquals(unknown.code, 1, unknown.output);
    assertStringIncludes(
      unknown.output,
      "--hosts: no host matches `nosuch` in environment `prod` (hosts: host1, host2)",
    );
  });
});

Deno.test("batou run over ssh: the command runs as the service user, in its target directory", async () => {
  const sections = `[host:host1]\ncomponents = hello\nservice_user = ${SVC}\n\n` +
    `[host:host2]\ncomponents = hello\nservice_user = ${PREFIX}-nosuchuser\n`;
  await withProject(sections, async (dir, _fixture, target) => {
    const r = await run(dir, ["--", "id -un; pwd"]);
    assertEquals(r.code, 1, r.output);
    assertStringIncludes(r.stdout, `host1: ${SVC}\n`);
    const pwd = /host1: (\/\S+)\n/.exec(r.stdout)?.[1] ?? "";
    assert(pwd.endsWith(`/${target}`), r.stdout);
    assertStringIncludes(r.stdout, "host1: exit 0");
    // A host whose agent cannot start fails with the reason; the other hosts run.
    assertStringIncludes(r.stdout, `\nhost2: failed (the service user \`${PREFIX}-nosuchuser\` does not exist)\n`);
    assert(!r.output.includes("Unexpected exception"), r.output);
  });
});

Deno.test("batou run over ssh: output is shown while the command still runs", async () => {
  await withProject("[hosts]\nhost1 = hello\n", async (dir, fixture, target) => {
    const release = join(fixture.hosts[0].home, target, "release");
    // The command waits (at most ~60 s) for a file that the test creates only after it has seen the first line.
    const cmd = "echo first; i=0; while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; " +
      "echo second";
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(REPO, "main.ts"), "run", "prod", "--", cmd],
      cwd: dir,
      env: { NO_COLOR: "1", INIT_CWD: dir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let seen = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!seen.includes("host1: first\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assertStringIncludes(seen, "host1: first\n");
    assert(!seen.includes("second"), seen);
    await Deno.writeTextFile(release, "");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const status = await child.status;
    assertEquals(status.code, 0, seen + (await stderr));
    assertStringIncludes(seen, "host1: second\n");
    assertStringIncludes(seen, "host1: exit 0");
  });
});
