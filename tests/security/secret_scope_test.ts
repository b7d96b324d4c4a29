/**
 * Issue 15, item 2: a host receives only its own roots' secrets. Every byte each target receives on stdin is
 * recorded on the target side (the sshd's authorized key forces a wrapper that tees stdin into the account's home),
 * then searched for the other host's secret values. Secrets are made with `batou secrets edit` (age).
 *
 * When roots use resources from other hosts, the agents still configure the whole model with all the data (the
 * controller does not broker resources yet): the second test shows provide/require between the hosts works.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { batou } from "../support/cli.ts";
import { runCommand } from "../support/tools.ts";
import { faultProject, sharedDir, withSshd } from "../faults/harness.ts";
import type { SshdFixture } from "../support/sshd.ts";

const PREFIX = "bt15sec";
const SECRET1 = "host1-only-secret-7f3a9c";
const SECRET2 = "host2-only-secret-c21e04";

const COMPONENTS = {
  "components/alpha/component.ts": `import { attribute, Component, File } from "batou";
export class Alpha extends Component {
  password = attribute(String, "");
  share = attribute(Boolean, false);
  override configure() {
    if (this.share) this.provide("alpha-url", "http://alpha.example/");
    this.add(new File("alpha.txt", { content: "alpha {{ component.password }}\\n" }));
  }
}
`,
  "components/beta/component.ts": `import { attribute, Component, File } from "batou";
export class Beta extends Component {
  password = attribute(String, "");
  share = attribute(Boolean, false);
  override configure() {
    const url = this.share ? this.require("alpha-url")[0] : "none";
    this.add(new File("beta.txt", { content: "beta {{ component.password }} " + url + "\\n" }));
  }
}
`,
};

/** Forces every login through a wrapper that appends the session's stdin to `~/stdin-<tag>.log`. */
async function recordStdin(fixture: SshdFixture, dir: string, tag: string): Promise<void> {
  const wrapper = join(dir, "record-stdin.sh");
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\ntee -a "$HOME/stdin-${tag}.log" | /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`,
    { mode: 0o755 },
  );
  const keys = join(fixture.dir, "authorized_keys");
  const key = (await Deno.readTextFile(keys)).trim();
  await Deno.writeTextFile(keys, `command="${wrapper}" ${key}\n`, { mode: 0o600 });
}

async function received(home: string, tag: string): Promise<string> {
  return await Deno.readTextFile(join(home, `stdin-${tag}.log`));
}

async function withSecretsProject(
  share: boolean,
  body: (p: Awaited<ReturnType<typeof faultProject>>, env: Record<string, string>, tag: string) => Promise<void>,
): Promise<void> {
  await withSshd({ hosts: ["host1", "host2"], prefix: PREFIX }, async (fixture) => {
    const shared = await sharedDir();
    const tag = crypto.randomUUID().slice(0, 8);
    const share1 = share ? "share = true\n" : "";
    const p = await faultProject(fixture, {
      files: COMPONENTS,
      cfg: `[hosts]\nhost1 = alpha\nhost2 = beta\n[component:alpha]\n${share1}[component:beta]\n${share1}`,
    });
    try {
      const key = join(shared, "age-key.txt");
      await runCommand("age-keygen", ["-o", key]);
      const pub = (await runCommand("age-keygen", ["-y", key])).stdout.trim();
      const config = `[batou]\nsecret_provider = age\nmembers = ${pub}\n` +
        `[component:alpha]\npassword = ${SECRET1}\n[component:beta]\npassword = ${SECRET2}\n`;
      const editor = join(shared, "editor.sh");
      await Deno.writeTextFile(editor, `#!/bin/sh\ncat > "$1" <<'END'\n${config}END\n`, { mode: 0o755 });
      // Short: ssh puts its control socket there.
      const tmp = await Deno.makeTempDir({ prefix: "b15-" });
      const env = { BATOU_AGE_IDENTITIES: key, TMPDIR: tmp };
      const edit = await batou(p.dir, ["secrets", "edit", "prod"], { ...env, EDITOR: editor });
      assertEquals(edit.code, 0, edit.output);
      await recordStdin(fixture, shared, tag);
      try {
        await body(p, env, tag);
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    } finally {
      for (const h of fixture.hosts) await Deno.remove(join(h.home, `stdin-${tag}.log`)).catch(() => {});
      await p.cleanup();
      await Deno.remove(shared, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test("host2 never receives host1's secrets (and the other way round)", async () => {
  await withSecretsProject(false, async (p, env, tag) => {
    const r = await p.deploy([], env);
    assertEquals(r.code, 0, r.output);
    assertEquals(await Deno.readTextFile(join(p.base("host1"), "work/alpha/alpha.txt")), `alpha ${SECRET1}\n`);
    assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/beta/beta.txt")), `beta ${SECRET2} none\n`);
    const in1 = await received(p.home("host1"), tag), in2 = await received(p.home("host2"), tag);
    assertStringIncludes(in1, SECRET1, "the recording works: host1 receives its own secret");
    assertStringIncludes(in2, SECRET2, "the recording works: host2 receives its own secret");
    assert(!in2.includes(SECRET1), "host2's stdin holds host1's secret");
    assert(!in1.includes(SECRET2), "host1's stdin holds host2's secret");
  });
});

Deno.test("provide/require between two hosts works with scoped secrets", async () => {
  await withSecretsProject(true, async (p, env) => {
    const r = await p.deploy([], env);
    assertEquals(r.code, 0, r.output);
    assertEquals(
      await Deno.readTextFile(join(p.base("host2"), "work/beta/beta.txt")),
      `beta ${SECRET2} http://alpha.example/\n`,
    );
  });
});
