/**
 * Issue 15, item 7 and the rotated-secret diff, over the real sshd: a target user who plants a symlink at a managed
 * path cannot make the deployment write a secret through it (or show the link target's content in a diff), and a
 * secret rotated with `batou secrets edit` never shows its old value in the `-P` diff. Secrets are made with
 * `batou secrets edit` (age).
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { batou } from "../support/cli.ts";
import { runCommand } from "../support/tools.ts";
import { faultProject, sharedDir, uidOf, withSshd } from "../faults/harness.ts";

const PREFIX = "bt15lnk";
const TOKEN1 = "tok-1-5d0c2a9e71";
const TOKEN2 = "tok-2-83b4e6f0c5";

const COMPONENTS = {
  "components/alpha/component.ts": `import { attribute, Component, File } from "batou";
export class Alpha extends Component {
  token = attribute(String, "");
  override configure() {
    this.add(new File("alpha.txt", { content: "user=app\\ntoken={{ component.token }}\\n", mode: 0o600 }));
  }
}
`,
};

type Project = Awaited<ReturnType<typeof faultProject>>;

/** A project deploying `alpha` to host1 with `token` in its age-encrypted secrets; `setToken` rotates it. */
async function withProject(
  body: (p: Project, env: Record<string, string>, setToken: (t: string) => Promise<void>) => Promise<void>,
): Promise<void> {
  await withSshd({ hosts: ["host1"], prefix: PREFIX }, async (fixture) => {
    const shared = await sharedDir();
    const p = await faultProject(fixture, { files: COMPONENTS, cfg: "[hosts]\nhost1 = alpha\n" });
    // Short: ssh puts its control socket there.
    const tmp = await Deno.makeTempDir({ prefix: "b15l-" });
    try {
      const key = join(shared, "age-key.txt");
      await runCommand("age-keygen", ["-o", key]);
      const pub = (await runCommand("age-keygen", ["-y", key])).stdout.trim();
      const env = { BATOU_AGE_IDENTITIES: key, TMPDIR: tmp };
      const editor = join(shared, "editor.sh");
      const setToken = async (token: string) => {
        const config = `[batou]\nsecret_provider = age\nmembers = ${pub}\n[component:alpha]\ntoken = ${token}\n`;
        await Deno.writeTextFile(editor, `#!/bin/sh\ncat > "$1" <<'END'\n${config}END\n`, { mode: 0o755 });
        const edit = await batou(p.dir, ["secrets", "edit", "prod"], { ...env, EDITOR: editor });
        assertEquals(edit.code, 0, edit.output);
      };
      await setToken(TOKEN1);
      await body(p, env, setToken);
    } finally {
      await p.cleanup();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      await Deno.remove(shared, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test("a symlink planted at a managed path is replaced; its target keeps its content and mode", async () => {
  await withProject(async (p, env) => {
    const first = await p.deploy([], env);
    assertEquals(first.code, 0, first.output);
    // The attack: as the target user, `ln -s ~/outside.txt work/alpha/alpha.txt` (outside.txt 0644).
    const home = p.home("host1");
    const uid = await uidOf(p.fixture.hosts[0].user);
    const outside = join(home, "outside.txt");
    const managed = join(p.base("host1"), "work/alpha/alpha.txt");
    await Deno.writeTextFile(outside, "outside: the target's own data\n", { mode: 0o644 });
    await Deno.chmod(outside, 0o644);
    await Deno.remove(managed);
    await Deno.symlink(outside, managed);
    await runCommand("chown", ["-h", `${uid}:${uid}`, outside, managed]);
    try {
      const predicted = await p.deploy(["-P"], env);
      assertEquals(predicted.code, 0, predicted.output);
      assert((await Deno.lstat(managed)).isSymlink, "-P changed the link");
      assert(
        !predicted.output.includes("the target's own data"),
        `the link target's content was shown:\n${predicted.output}`,
      );
      assertStringIncludes(predicted.output, "alpha.txt is a symlink: it is replaced by a regular file.");

      const r = await p.deploy([], env);
      assertEquals(r.code, 0, r.output);
      assert(!r.output.includes(TOKEN1), r.output);
      const info = await Deno.lstat(managed);
      assert(info.isFile && !info.isSymlink, "the managed path is still a symlink");
      assertEquals(info.mode! & 0o7777, 0o600);
      assertEquals(await Deno.readTextFile(managed), `user=app\ntoken=${TOKEN1}\n`);
      assertEquals(await Deno.readTextFile(outside), "outside: the target's own data\n");
      assertEquals((await Deno.stat(outside)).mode! & 0o7777, 0o644);
    } finally {
      await Deno.remove(outside).catch(() => {});
    }
  });
});

Deno.test("a rotated secret never shows its old value in the -P diff, nor the new one", async () => {
  await withProject(async (p, env, setToken) => {
    const first = await p.deploy([], env);
    assertEquals(first.code, 0, first.output);
    await setToken(TOKEN2);
    const r = await p.deploy(["-P"], env);
    assertEquals(r.code, 0, r.output);
    assert(!r.output.includes(TOKEN1), `the old secret is in the diff:\n${r.output}`);
    assert(!r.output.includes(TOKEN2), `the new secret is in the diff:\n${r.output}`);
    assert(!/token=/.test(r.output), `a secret line's content is shown:\n${r.output}`);
    assertStringIncludes(r.output, "host1: Not showing diff as it contains sensitive data,");
    // Nor in the diff file on the target.
    const diffDir = join(p.base("host1"), "work/.batou-diffs");
    for (const e of Deno.readDirSync(diffDir)) {
      const text = await Deno.readTextFile(join(diffDir, e.name));
      assert(!text.includes(TOKEN1) && !text.includes(TOKEN2), `${e.name}:\n${text}`);
    }
  });
});
