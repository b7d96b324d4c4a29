/**
 * What a remote deployment sends, over real OpenSSH (tests/support/sshd.ts), as batou's `update_method` and
 * `repository_root` decide: the repository the project is in (tracked files only for git), the project at its
 * place in it on the target (batou's deployment_base), secrets never sent, and a warning for `repository_url`.
 */
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { join } from "node:path";
import { batou, writeFiles } from "./support/cli.ts";
import { exists } from "./support/fs.ts";
import { requireTools, startSshd } from "./support/sshd.ts";
import { runCommand } from "./support/tools.ts";

const PREFIX = "bt20r";

const HELLO = `import { Component, File } from "batou";
export class Hello extends Component {
  override configure() {
    this.add(new File("hello", { content: "hello from {{ host.name }}\\n" }));
  }
}
`;

async function git(cwd: string, ...args: string[]): Promise<void> {
  const r = await runCommand("git", ["-C", cwd, "-c", "user.name=t", "-c", "user.email=t@example.com", ...args]);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
}

Deno.test("update_method and repository_root: the repository is sent, the project deploys at its place in it", async () => {
  await requireTools("ssh", "sshd", "sudo", "git");
  const fixture = await startSshd({ hosts: ["host1"], userPrefix: PREFIX });
  const repo = await Deno.makeTempDir({ prefix: "batou-e2e-repo-" });
  const target = `e2e-${crypto.randomUUID().slice(0, 8)}`;
  const home = fixture.hosts[0].home;
  const remote = (...p: string[]) => join(home, target, ...p);
  const env = (extra: string) => `[environment]\ntarget_directory = ~/${target}\n${extra}\n[hosts]\nhost1 = hello\n`;
  try {
    await writeFiles(repo, {
      "shared/lib.txt": "shared\n",
      "local-only.txt": "not tracked\n",
      ".gitignore": "local-only.txt\n.batou-lock\nwork/\n",
      "deploy/components/hello/component.ts": HELLO,
      "deploy/ssh_config": await Deno.readTextFile(fixture.sshConfig),
      "deploy/environments/prod/environment.cfg": env(
        "update_method = git-bundle\nrepository_url = ssh://x/y\nbranch = release",
      ),
      "deploy/environments/prod/secret-token.txt": "do not send\n",
    });
    await git(repo, "init", "-q", "-b", "main");
    await git(repo, "add", "-A");
    await git(repo, "commit", "-q", "-m", "init");
    const project = join(repo, "deploy");

    // git-bundle: the repository's tracked files; the project works in <target>/deploy.
    const r = await batou(project, ["deploy", "prod"]);
    assertEquals(r.code, 0, r.output);
    assertStringIncludes(r.output, "repository_url = ssh://x/y has no effect");
    assertStringIncludes(r.output, "branch = release: the working tree is sent, which is on branch main");
    assertEquals(await Deno.readTextFile(remote("shared/lib.txt")), "shared\n");
    assertEquals(await Deno.readTextFile(remote("deploy/work/hello/hello")), "hello from host1\n");
    assert(await exists(remote("deploy/components/hello/component.ts")), r.output);
    assert(!(await exists(remote("local-only.txt"))), "untracked (ignored) files are not sent with git-bundle");
    assert(!(await exists(remote("deploy/environments/prod/secret-token.txt"))), "secrets are never sent");
    assert(!(await exists(remote("work"))), "nothing deploys at the top of the target");

    // rsync with repository_root = ..: everything in the repository, ignored files too (as rsync does).
    await Deno.writeTextFile(join(project, "environments/prod/environment.cfg"), env("repository_root = .."));
    const rsync = await batou(project, ["deploy", "--dirty", "prod"]);
    assertEquals(rsync.code, 0, rsync.output);
    assertEquals(await Deno.readTextFile(remote("local-only.txt")), "not tracked\n");
    assert(await exists(remote("deploy/work/hello/hello")));
    assert(!(await exists(remote("deploy/environments/prod/secret-token.txt"))), "secrets are never sent");

    // A project outside repository_root is a clear error before anything is connected.
    await Deno.writeTextFile(join(project, "environments/prod/environment.cfg"), env("repository_root = ../shared"));
    const outside = await batou(project, ["deploy", "--dirty", "prod"]);
    assertEquals(outside.code, 1, outside.output);
    assertStringIncludes(outside.output, "is not inside repository_root");
    assert(!outside.output.includes("Connecting via"), outside.output);
  } finally {
    await Deno.remove(repo, { recursive: true }).catch(() => {});
    await Deno.remove(join(home, target), { recursive: true }).catch(() => {});
    await fixture.stop();
  }
});
