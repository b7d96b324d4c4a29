/**
 * Issue 15, item 2: a host receives only its own roots' secrets. Every byte each target receives on stdin is
 * recorded on the target side (the sshd's authorized key forces a wrapper that tees stdin into the account's home),
 * then searched for the other host's secret values. Secrets are made with `batou secrets edit` (age).
 *
 * When roots use resources of other hosts' roots, the controller brokers them: each agent still configures only its
 * own roots with only their secrets, and receives only the values under the keys its roots require (host1 <-> host2
 * in both directions, and a chain host3 -> host2 -> host1 with a provided component crossing as a snapshot). A
 * hostile host2 (tests/security/hostile.ts) that claims to need the whole model, or speaks for host1's root, gets
 * nothing more.
 */
import { join } from "node:path";
import { assert, assertEquals, assertStringIncludes } from "../support/assert.ts";
import { batou } from "../support/cli.ts";
import { runCommand } from "../support/tools.ts";
import { changeLines, faultProject, sharedDir, withSshd } from "../faults/harness.ts";
import type { SshdFixture } from "../support/sshd.ts";
import { installHostileAgent, receivedBy, setRewrite } from "./hostile.ts";

const PREFIX = "bt15sec";
const SECRET1 = "host1-only-secret-7f3a9c";
const SECRET2 = "host2-only-secret-c21e04";
/** Secret files: one read by host1's root only (several lines), one read by host1's and host2's, one by none. */
const FILES: Record<string, string> = {
  "host1.key": "first-line-9d2f4a\nkey: host1-file-secret-5b7e\n  indented-line-03c1\n",
  "shared.cfg": "shared-file-secret-41ac\n",
  "unread.txt": "nobody-reads-this-e8b2\n",
};

const COMPONENTS = {
  "components/alpha/component.ts": `import { attribute, Component, File } from "batou";
export class Alpha extends Component {
  password = attribute(String, "");
  share = attribute(Boolean, false);
  secretfiles = attribute("list", []);
  override configure() {
    for (const name of this.secretfiles) {
      this.add(new File("file-" + name, { content: this.environment.secretFiles[name] }));
    }
    let info = "none";
    if (this.share) {
      this.provide("alpha-url", "http://alpha.example/");
      // The other direction: beta's value, with beta deploying after alpha all the same.
      info = this.require("beta-info", { reverse: true }).join(",") || "pending";
    }
    this.add(new File("alpha.txt", { content: "alpha {{ component.password }} " + info + "\\n" }));
  }
}
`,
  "components/beta/component.ts": `import { attribute, Component, File } from "batou";
export class Beta extends Component {
  password = attribute(String, "");
  share = attribute(Boolean, false);
  secretfiles = attribute("list", []);
  override configure() {
    for (const name of this.secretfiles) {
      this.add(new File("file-" + name, { content: this.environment.secretFiles[name] }));
    }
    let url = "none", gamma = "";
    if (this.share) {
      url = this.requireOne("alpha-url");
      const g = this.requireOne("gamma");
      gamma = " " + g.host.name + " " + g.address.connect + " " + g.names.join("+") + " " + g.settings.mode;
      this.provide("beta-info", "beta@" + this.host.name);
    }
    this.add(new File("beta.txt", { content: "beta {{ component.password }} " + url + gamma + "\\n" }));
  }
}
`,
  "components/gamma/component.ts": `import { Address, attribute, Component, File } from "batou";
export class Gamma extends Component {
  port = attribute(Number, 5432);
  share = attribute(Boolean, false);
  address = null;
  names = ["g1", "g2"];
  settings = { mode: "ro" };
  override configure() {
    this.address = new Address(this.host.fqdn, this.port);
    if (this.share) this.provide("gamma", this);
    this.add(new File("gamma.txt", { content: "gamma\\n" }));
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
  share: boolean | { files: Record<string, string> },
  body: (
    p: Awaited<ReturnType<typeof faultProject>>,
    env: Record<string, string>,
    tag: string,
    fixture: SshdFixture,
  ) => Promise<void>,
): Promise<void> {
  await withSshd({ hosts: ["host1", "host2", "host3"], prefix: PREFIX }, async (fixture) => {
    const shared = await sharedDir();
    const tag = crypto.randomUUID().slice(0, 8);
    const share1 = share === true ? "share = true\n" : "";
    const reads = typeof share === "object" ? share.files : {};
    const read = (c: string) => reads[c] ? `secretfiles = ${reads[c]}\n` : "";
    const p = await faultProject(fixture, {
      files: COMPONENTS,
      cfg: `[hosts]\nhost1 = alpha\nhost2 = beta\nhost3 = gamma\n` +
        `[component:alpha]\n${share1}${read("alpha")}[component:beta]\n${share1}${read("beta")}` +
        `[component:gamma]\n${share1}`,
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
      for (const [name, content] of Object.entries(FILES)) {
        const fileEditor = join(shared, `edit-${name}.sh`);
        await Deno.writeTextFile(fileEditor, `#!/bin/sh\ncat > "$1" <<'END'\n${content}END\n`, { mode: 0o755 });
        const f = await batou(p.dir, ["secrets", "edit", "prod", name], { ...env, EDITOR: fileEditor });
        assertEquals(f.code, 0, f.output);
      }
      await recordStdin(fixture, shared, tag);
      try {
        await body(p, env, tag, fixture);
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
    const r = await p.deploy(["-d"], env);
    assertEquals(r.code, 0, r.output);
    // Secret files that no root reads cost no configure round.
    assertStringIncludes(r.output, "configured in 1 round(s)");
    assertEquals(await Deno.readTextFile(join(p.base("host1"), "work/alpha/alpha.txt")), `alpha ${SECRET1} none\n`);
    assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/beta/beta.txt")), `beta ${SECRET2} none\n`);
    const in1 = await received(p.home("host1"), tag), in2 = await received(p.home("host2"), tag);
    assertStringIncludes(in1, SECRET1, "the recording works: host1 receives its own secret");
    assertStringIncludes(in2, SECRET2, "the recording works: host2 receives its own secret");
    assert(!in2.includes(SECRET1), "host2's stdin holds host1's secret");
    assert(!in1.includes(SECRET2), "host1's stdin holds host2's secret");
    for (const [h, got] of [["host1", in1], ["host2", in2]]) assertNoSecretFile(got, Object.values(FILES), h);
    // A consistency check (-c) is scoped the same way.
    for (const h of ["host1", "host2"]) await Deno.writeTextFile(join(p.home(h), `stdin-${tag}.log`), "");
    const check = await p.deploy(["-c"], env);
    assertEquals(check.code, 0, check.output);
    assertStringIncludes(await received(p.home("host2"), tag), SECRET2, "the recording works with -c");
    assert(!(await received(p.home("host2"), tag)).includes(SECRET1), "with -c host2's stdin holds host1's secret");
    assert(!(await received(p.home("host1"), tag)).includes(SECRET2), "with -c host1's stdin holds host2's secret");
  });
});

/** Fails when `got` (a host's recorded stdin) holds any of the secret file contents or any of their lines. */
function assertNoSecretFile(got: string, contents: string[], host: string): void {
  for (const content of contents) {
    for (const line of content.split("\n").map((l) => l.trim()).filter((l) => l !== "")) {
      // Each line by itself, also JSON-escaped and in the words the masking data is made of.
      for (const word of [line, ...line.split(/\s+/).filter((w) => w.length > 4)]) {
        assert(!got.includes(word), `${host}'s stdin holds ${JSON.stringify(word)} of a secret file it does not read`);
      }
    }
  }
}

Deno.test("a secret file reaches only the hosts whose roots read it, in the first deploy and again", async () => {
  const files = { alpha: "host1.key, shared.cfg", beta: "shared.cfg" };
  await withSecretsProject({ files }, async (p, env, tag) => {
    for (const run of ["first", "again"]) {
      // Emptied once the account's own tee made it (a file the test creates would be root's, and stay empty).
      if (run === "again") {
        for (const h of ["host1", "host2", "host3"]) await Deno.writeTextFile(join(p.home(h), `stdin-${tag}.log`), "");
      }
      const r = await p.deploy(["-d"], env);
      assertEquals(r.code, 0, r.output);
      assertEquals(await Deno.readTextFile(join(p.base("host1"), "work/alpha/file-host1.key")), FILES["host1.key"]);
      assertEquals(await Deno.readTextFile(join(p.base("host1"), "work/alpha/file-shared.cfg")), FILES["shared.cfg"]);
      assertEquals(await Deno.readTextFile(join(p.base("host2"), "work/beta/file-shared.cfg")), FILES["shared.cfg"]);
      // Round 2 sends the files to the hosts that asked for them; alpha reads its second file only once the first has
      // come (a read of a file not there yet stops its configure, as a missing resource does): round 3. host3 reads
      // none and is in no round but the first.
      assertStringIncludes(r.output, "configure round 2: host1, host2\n", r.output);
      assertStringIncludes(r.output, "main: host1 gets the secret files host1.key\n", r.output);
      assertStringIncludes(r.output, "main: host2 gets the secret files shared.cfg\n", r.output);
      assertStringIncludes(r.output, "configure round 3: host1\n", r.output);
      assertStringIncludes(r.output, "main: host1 gets the secret files shared.cfg\n", r.output);
      assertStringIncludes(r.output, "configured in 3 round(s)", r.output);
      if (run === "again") {
        assertEquals(changeLines(r.output).filter((l) => l.includes("file-")), [], `${run}: ${r.output}`);
      }
      const in1 = await received(p.home("host1"), tag), in2 = await received(p.home("host2"), tag);
      const in3 = await received(p.home("host3"), tag);
      assertStringIncludes(
        in1,
        "host1-file-secret-5b7e",
        `${run}: the recording works: host1 receives the file it reads`,
      );
      assertStringIncludes(in1, "shared-file-secret-41ac", "host1 receives the shared file");
      assertStringIncludes(in2, "shared-file-secret-41ac", "host2 receives the shared file");
      assertNoSecretFile(in1, [FILES["unread.txt"]], "host1");
      assertNoSecretFile(in2, [FILES["host1.key"], FILES["unread.txt"]], "host2");
      assertNoSecretFile(in3, Object.values(FILES), "host3");
    }
    // A consistency check (-c) gets the same files, and only those.
    for (const h of ["host1", "host2"]) await Deno.writeTextFile(join(p.home(h), `stdin-${tag}.log`), "");
    const check = await p.deploy(["-c"], env);
    assertEquals(check.code, 0, check.output);
    assertStringIncludes(await received(p.home("host2"), tag), "shared-file-secret-41ac", "-c: host2 gets its file");
    assertNoSecretFile(await received(p.home("host2"), tag), [FILES["host1.key"]], "host2 with -c");
  });
});

Deno.test("provide/require across hosts, both ways and in a chain, with each host's secrets its own", async () => {
  await withSecretsProject(true, async (p, env, tag) => {
    const r = await p.deploy(["-d"], env);
    assertEquals(r.code, 0, r.output);
    assertEquals(
      await Deno.readTextFile(join(p.base("host2"), "work/beta/beta.txt")),
      `beta ${SECRET2} http://alpha.example/ host3 host3:5432 g1+g2 ro\n`,
    );
    assertEquals(
      await Deno.readTextFile(join(p.base("host1"), "work/alpha/alpha.txt")),
      `alpha ${SECRET1} beta@host2\n`,
    );
    // Round 1: all; 2: beta gets alpha's url; 3: gamma's too (in round 1 its requireOne of the url failed before it
    // required gamma); 4: alpha gets beta's value.
    assertStringIncludes(r.output, "configured in 4 round(s)");
    const order = r.output.split("\n").filter((l) => l.includes("Scheduling component")).map((l) => l.split(": ")[0]);
    assertEquals(order.indexOf("⚪ host2") > order.indexOf("⚪ host1"), true, r.output);
    assertEquals(order.indexOf("⚪ host2") > order.indexOf("⚪ host3"), true, r.output);
    const in1 = await received(p.home("host1"), tag), in2 = await received(p.home("host2"), tag);
    const in3 = await received(p.home("host3"), tag);
    assertStringIncludes(in1, SECRET1, "the recording works: host1 receives its own secret");
    assertStringIncludes(in2, SECRET2, "the recording works: host2 receives its own secret");
    assertStringIncludes(in2, "http://alpha.example/", "host2 receives the value it requires");
    assert(!in2.includes(SECRET1), "host2's stdin holds host1's secret");
    assert(!in1.includes(SECRET2), "host1's stdin holds host2's secret");
    assert(!in3.includes(SECRET1) && !in3.includes(SECRET2), "host3's stdin holds a secret of host1 or host2");
    assert(!in3.includes("alpha.example"), "host3 requires nothing, yet receives alpha's value");
  });
});

Deno.test("a hostile host2 that claims the whole model, or speaks for host1's root, gets no secret of host1", async () => {
  await withSecretsProject(true, async (p, env, _tag, fixture) => {
    // The hostile agent is trusted by its forged stamp until the cache is gone: start and end without one.
    const cache = join(p.home("host2"), ".cache/batou");
    await Deno.remove(cache, { recursive: true }).catch(() => {});
    try {
      await hostileHost2(p, env, fixture);
    } finally {
      await Deno.remove(cache, { recursive: true }).catch(() => {});
    }
  });
});

async function hostileHost2(
  p: Awaited<ReturnType<typeof faultProject>>,
  env: Record<string, string>,
  fixture: SshdFixture,
): Promise<void> {
  {
    const honest = await p.deploy([], env);
    assertEquals(honest.code, 0, honest.output);
    // Claims to need the whole model and requirements its roots do not have: the claim is no protocol any more.
    const host2 = await installHostileAgent(
      fixture,
      "host2",
      `const method = calls.get(message.id);
      if ((method === "configure" || method === "reconfigure") && message.result) {
        message.result.needsWholeModel = true;
        message.result.configuredHosts = null;
        message.result.resources?.requires.push(
          { host: "host2", root: "beta", key: "alpha-password", strict: false, onHost: null, reverse: false, dirty: false },
        );
      }
      return message;`,
    );
    const claimed = await p.deploy([], env);
    assertEquals(claimed.code, 0, claimed.output);
    const got = await receivedBy(host2);
    assertStringIncludes(got, SECRET2, "the recording works");
    assert(!got.includes(SECRET1), "the hostile host2 received host1's secret");
    // Speaks for host1's root: rejected, naming host2, and still nothing of host1's.
    await setRewrite(
      host2,
      `const method = calls.get(message.id);
      if ((method === "configure" || method === "reconfigure") && message.result?.resources) {
        message.result.resources.requires.push(
          { host: "host1", root: "alpha", key: "alpha-url", strict: true, onHost: null, reverse: false, dirty: false },
        );
      }
      return message;`,
    );
    const forged = await p.deploy([], env);
    assertEquals(forged.code, 1, forged.output);
    assertStringIncludes(
      forged.output,
      "host2: the agent's configure answer was rejected: it speaks for the root alpha of host host1",
    );
    assert(!(await receivedBy(host2)).includes(SECRET1), "the hostile host2 received host1's secret");
    // Asks for a secret file the environment does not have: rejected, naming host2 and the name.
    await setRewrite(
      host2,
      `const method = calls.get(message.id);
      if (method === "configure" && message.result) message.result.secretFiles = ["nosuch.key"];
      return message;`,
    );
    const unknown = await p.deploy([], env);
    assertEquals(unknown.code, 1, unknown.output);
    assertStringIncludes(
      unknown.output,
      "host2: the agent's configure answer was rejected: it asks for the secret file nosuch.key, which the environment" +
        " does not have",
    );
    // The limit (README, docs/architecture.md): a host that asks for a secret file by name gets it, like a claimed
    // resource; only that file, and none of host1's other secrets.
    await setRewrite(
      host2,
      `const method = calls.get(message.id);
      if (method === "configure" && message.result) message.result.secretFiles = ["host1.key"];
      return message;`,
    );
    const asked = await p.deploy([], env);
    assertEquals(asked.code, 0, asked.output);
    const gotFile = await receivedBy(host2);
    assertStringIncludes(gotFile, "host1-file-secret-5b7e", "the documented limit: the file asked for comes");
    assert(!gotFile.includes(SECRET1), "the hostile host2 received host1's secret");
    assertNoSecretFile(gotFile, [FILES["shared.cfg"], FILES["unread.txt"]], "the hostile host2");
  }
}
