/**
 * End-to-end: secrets never leave the managed files (API.md section 4).
 *
 * The main test deploys over real OpenSSH (tests/support/sshd.ts) an environment whose secrets were made with
 * `batou secrets edit` (a scripted EDITOR, an age key from `age-keygen`), then looks for the secret values in every
 * byte the deployment produced: the CLI's stdout and stderr (also with `--debug`), the `--report` file, every file
 * (and file name) under the target account's home (work dirs, the synced project, `.batou-diffs`, the agent caches),
 * the controller's project, temp and cache dirs, everything written under /tmp and the controller's home during
 * the test, and the running agent's environment and command line (`/proc/<pid>/environ`, found through a component
 * that records `Deno.pid`). The values may appear only in the files the deployment asks for.
 *
 * The other tests port batou's deploy-level secrets cases (test_endtoend.py): errors found early while loading,
 * undecryptable secrets, the tri-state `sensitiveData` and a prediction that masks secret-file content.
 * A missing tool (age-keygen, sshd, ssh, gpg) fails the tests; nothing is skipped.
 */
import { holdUntilReleased } from "./support/components.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { batou, type CliResult, writeFiles } from "./support/cli.ts";
import { exists, waitForFile } from "./support/fs.ts";
import { requireTools, type SshdFixture, startSshd } from "./support/sshd.ts";
import { runCommand } from "./support/tools.ts";

const PREFIX = "batousec";

/** A fresh random fragment: what the scans look for (it is the distinctive part of every secret value). */
function fragment(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** The secrets of one test run, each with the fragment that marks it. */
interface Secrets {
  password: string;
  /** The password after the rotation in the second deployment. */
  newPassword: string;
  token: string;
  region: string;
  apiKey: string;
  /** label -> fragment that must not appear anywhere but in the managed files. */
  needles: Map<string, string>;
}

function makeSecrets(): Secrets {
  const f = {
    password: fragment(),
    newPassword: fragment(),
    token: fragment(),
    region: fragment(),
    apiKey: fragment(),
  };
  return {
    password: `s3cr3t-Gf8Zq2-${f.password}`,
    newPassword: `s3cr3t-Gf8Zq2-${f.newPassword}`,
    token: `t0k3n-Hq7Wm9-${f.token}`,
    region: `h0st-Kp3Xv8-${f.region}`,
    apiKey: `k3y-Rt5Nb1-${f.apiKey}`,
    needles: new Map(Object.entries(f)),
  };
}

/**
 * An editor script that replaces the file it is given with `text`. The text is written as octal escapes, so the
 * script itself does not contain the cleartext (it would otherwise show up in the scans).
 */
async function editorWriting(dir: string, name: string, text: string): Promise<string> {
  const octal = [...new TextEncoder().encode(text)].map((b) => "\\" + b.toString(8).padStart(3, "0")).join("");
  const path = join(dir, name);
  await Deno.writeTextFile(path, `#!/bin/sh\nprintf '${octal}' > "$1"\n`, { mode: 0o755 });
  return path;
}

/** An age key made with `age-keygen`: its file and public key. */
async function ageKey(dir: string, name = "age-key.txt"): Promise<{ path: string; pub: string }> {
  const path = join(dir, name);
  await runCommand("age-keygen", ["-o", path]);
  return { path, pub: (await runCommand("age-keygen", ["-y", path])).stdout.trim() };
}

/** Writes the secrets of `env` through `batou secrets edit` (config, then each secret file); returns the output. */
async function editSecrets(
  projectDir: string,
  env: string,
  key: { path: string },
  scratch: string,
  config: string,
  files: Record<string, string> = {},
): Promise<string> {
  const tmp = join(scratch, "edit-tmp");
  await Deno.mkdir(tmp, { recursive: true });
  const cliEnv = (editor: string) => ({ BATOU_AGE_IDENTITIES: key.path, EDITOR: editor, TMPDIR: tmp });
  const ed = await editorWriting(scratch, "edit-config.sh", config);
  const r = await batou(projectDir, ["secrets", "edit", env], cliEnv(ed));
  assertEquals(r.code, 0, r.output);
  let output = r.output;
  for (const [name, content] of Object.entries(files)) {
    const edFile = await editorWriting(scratch, `edit-${name}.sh`, content);
    const f = await batou(projectDir, ["secrets", "edit", env, name], cliEnv(edFile));
    assertEquals(f.code, 0, f.output);
    output += f.output;
  }
  assertEquals([...Deno.readDirSync(tmp)], [], "batou secrets edit leaves no temp files");
  return output;
}

/** Where a fragment was found. */
interface Hit {
  path: string;
  what: "content" | "name";
  label: string;
}

const MAX_SCAN_SIZE = 512 * 1024 * 1024;

/**
 * Every file below `root` (not following symlinks) whose name or content contains one of the needles. With `since`,
 * only files changed (mtime or ctime) since then are read. Files that vanish while scanning are ignored.
 */
async function scanTree(root: string, needles: Map<string, string>, since?: number): Promise<Hit[]> {
  const hits: Hit[] = [];
  const patterns = [...needles].map(([label, value]) => ({ label, value, bytes: Buffer.from(value) }));
  const walk = async (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      for (const p of patterns) if (e.name.includes(p.value)) hits.push({ path, what: "name", label: p.label });
      let st: Deno.FileInfo;
      try {
        st = await Deno.lstat(path);
      } catch {
        continue;
      }
      if (st.isDirectory) {
        if (path !== "/proc" && path !== "/sys") await walk(path);
        continue;
      }
      if (!st.isFile || st.size > MAX_SCAN_SIZE) continue;
      const changed = Math.max(st.mtime?.getTime() ?? 0, st.ctime?.getTime() ?? 0);
      if (since !== undefined && changed < since) continue;
      let data: Buffer;
      try {
        data = Buffer.from(await Deno.readFile(path));
      } catch {
        continue;
      }
      for (const p of patterns) if (data.indexOf(p.bytes) >= 0) hits.push({ path, what: "content", label: p.label });
    }
  };
  await walk(root);
  return hits;
}

/** The labels of the needles found in `text`. */
function leaks(text: string, needles: Map<string, string>): string[] {
  return [...needles].filter(([, v]) => text.includes(v)).map(([label]) => label);
}

function assertNoLeak(text: string, needles: Map<string, string>, what: string): void {
  const found = leaks(text, needles);
  assertEquals(found, [], `${what} contains the secrets ${found.join(", ")}:\n${text}`);
}

function hitKey(h: Hit): string {
  return `${h.what} ${h.label} ${h.path}`;
}

/** Runs the CLI in the background (same environment as {@link batou}). */
function spawnBatou(cwd: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  return batou(cwd, args, env);
}

const SECRET_APP = `import { attribute, Component, File, UpdateNeeded } from "batou";
export class Secretapp extends Component {
  password = attribute(String, "");
  token = attribute(String, "");
  motd = attribute(String, "v1");
  fail = attribute(Boolean, false);
  override configure() {
    this.add(new File("app.yaml", { content: this.environment.secretFiles["app.yaml"] }));
    this.add(new File("config.ini", {
      content: "[app]\\nmotd = {{ component.motd }}\\npassword = {{ component.password }}\\nregion = {{ host.data.region }}\\n",
    }));
    this.add(new File("token-" + this.token, { content: "present\\n" }));
    this.add(new File("plain.txt", { content: "nothing secret here {{ component.motd }}\\n" }));
  }
  override verify() {
    if (this.fail) throw new UpdateNeeded();
  }
  override async update() {
    await this.cmd("echo out-{{ component.password }}; echo err-{{ component.password }} >&2; exit 3");
  }
}
`;

/** Records the agent's pid (and nothing else) and waits until the test has looked at the agent. */
const PROBE = `import { attribute, Component, UpdateNeeded } from "batou";
export class Probe extends Component {
  dir = attribute(String, "");
  override verify() {
    if (this.dir) throw new UpdateNeeded();
  }
  override async update() {
${holdUntilReleased('this.dir + "/agent-pid"', 2400)}
  }
}
`;

function environmentCfg(target: string, extra: Record<string, string>): string {
  const secretapp = Object.entries(extra).map(([k, v]) => `${k} = ${v}\n`).join("");
  return `[environment]\ntarget_directory = ~/${target}\n[hosts]\nhost1 = probe, secretapp\n` +
    `[component:secretapp]\n${secretapp}`;
}

function secretsConfig(pub: string, s: Secrets, password = s.password): string {
  return `[batou]\nsecret_provider = age\nmembers = ${pub}\n` +
    `[component:secretapp]\npassword = ${password}\ntoken = ${s.token}\n` +
    `[host:host1]\ndata-region = ${s.region}\n`;
}

function appYaml(s: Secrets): string {
  return `api:\n  key: ${s.apiKey}\n  url: https://api.example.com/\n`;
}

async function withSshd(body: (fixture: SshdFixture) => Promise<void>): Promise<void> {
  await requireTools("ssh", "sshd", "age-keygen");
  const fixture = await startSshd({ hosts: ["host1"], userPrefix: PREFIX });
  try {
    await body(fixture);
  } finally {
    await fixture.stop();
  }
}

Deno.test("secrets over ssh: the values appear only in the managed files, never in output, diffs, caches or the agent's environment", async () => {
  const started = Date.now() - 1000;
  await withSshd(async (fixture) => {
    const s = makeSecrets();
    const scratch = await Deno.makeTempDir({ prefix: "batou-e2e-secrets-scratch-" });
    const projectDir = await Deno.makeTempDir({ prefix: "batou-e2e-secrets-" });
    const shared = await Deno.makeTempDir({ prefix: "batou-e2e-secrets-shared-" });
    await Deno.chmod(shared, 0o1777);
    // The controller's TMPDIR (short: ssh puts its control socket there).
    const ctlTmp = await Deno.makeTempDir({ prefix: "bsec-" });
    const target = `e2e-sec-${fragment().slice(0, 8)}`;
    const host = fixture.hosts[0];
    const base = join(host.home, target);
    const cfgPath = join(projectDir, "environments/prod/environment.cfg");
    try {
      const key = await ageKey(scratch);
      await writeFiles(projectDir, {
        "components/secretapp/component.ts": SECRET_APP,
        "components/probe/component.ts": PROBE,
        "ssh_config": await Deno.readTextFile(fixture.sshConfig),
        "environments/prod/environment.cfg": environmentCfg(target, {}) + `[component:probe]\ndir = ${shared}\n`,
      });
      const edited = await editSecrets(projectDir, "prod", key, scratch, secretsConfig(key.pub, s), {
        "app.yaml": appYaml(s),
      });
      assertNoLeak(edited, s.needles, "the output of batou secrets edit");
      const envFiles = [...Deno.readDirSync(join(projectDir, "environments/prod"))].map((e) => e.name).sort();
      assertEquals(envFiles, ["age_keys.txt", "environment.cfg", "secret-app.yaml.age", "secrets.cfg.age"]);

      const cliEnv = { BATOU_AGE_IDENTITIES: key.path, TMPDIR: ctlTmp, BATOU_STATS: "1" };

      // 1. A first deployment; while the probe holds the agent, look at the agent process.
      const firstRun = spawnBatou(projectDir, ["deploy", "prod", "--report", "report-1.json"], cliEnv);
      const pid = Number(await waitForFile(join(shared, "agent-pid"), firstRun, { timeoutMs: 120_000 }));
      assert(pid > 0);
      const environ = new TextDecoder().decode(await Deno.readFile(`/proc/${pid}/environ`));
      const cmdline = new TextDecoder().decode(await Deno.readFile(`/proc/${pid}/cmdline`));
      assertStringIncludes(cmdline, "agent", "the recorded pid is the agent's");
      assertNoLeak(environ, s.needles, "the agent's environment");
      assertNoLeak(cmdline, s.needles, "the agent's command line");
      await Deno.writeTextFile(join(shared, "release"), "");
      const first = await firstRun;
      assertEquals(first.code, 0, first.output);
      assertNoLeak(first.output, s.needles, "the output of the first deployment");
      const work = join(base, "work/secretapp");
      assertEquals(await Deno.readTextFile(join(work, "app.yaml")), appYaml(s));
      assertEquals(
        await Deno.readTextFile(join(work, "config.ini")),
        `[app]\nmotd = v1\npassword = ${s.password}\nregion = ${s.region}\n`,
      );
      assertEquals(await Deno.readTextFile(join(work, `token-${s.token}`)), "present\n");
      // The change line of the file named after a secret is masked; the diffs of secret content are not shown.
      assertStringIncludes(
        first.stdout,
        "🚀 host1: Secretapp > File('work/secretapp/token-*****') > Content('token-*****')",
      );
      // A remote host's lines always carry its name (tests/security: a host must not pass for the controller).
      const hidden = first.stdout.split("\n").filter((l) => l.startsWith("host1: Not showing diff as it contains"));
      assertEquals(hidden, Array(2).fill("host1: Not showing diff as it contains sensitive data,"), first.stdout);
      assertMatch(first.stdout, /\nhost1: see \S+\/\.batou-diffs\/\S+-config\.ini\.diff for the diff\.\n/);
      assertStringIncludes(first.stdout, "\nhost1:   plain.txt +nothing secret here v1");
      // The diff files on the target exist, with the secrets masked; the one of the secret-named file is renamed.
      const diffDir = join(base, "work/.batou-diffs");
      const diffs = [...Deno.readDirSync(diffDir)].map((e) => e.name).sort();
      const configDiff = diffs.find((n) => n.endsWith("-config.ini.diff"));
      assert(configDiff, diffs.join(" "));
      assertStringIncludes(await Deno.readTextFile(join(diffDir, configDiff)), "+password = *****\n");
      assert(diffs.some((n) => n.endsWith("-sensitive.diff")), diffs.join(" "));
      assertNoLeak(await Deno.readTextFile(join(projectDir, "report-1.json")), s.needles, "the --report file");

      // 2. With --debug: the password is rotated (the old one is no longer a secret batou knows, but it must not
      //    survive in a diff); a changed file that contains a secret in its unchanged lines; a failing command with
      //    the secret on its command line and in its output.
      await Deno.writeTextFile(cfgPath, environmentCfg(target, { motd: "v2", fail: "true" }));
      const rotated = await editSecrets(projectDir, "prod", key, scratch, secretsConfig(key.pub, s, s.newPassword));
      assertNoLeak(rotated, s.needles, "the output of batou secrets edit");
      const second = await batou(projectDir, ["-d", "deploy", "prod", "--report", "report-2.json"], cliEnv);
      assertEquals(second.code, 1, second.output);
      assertNoLeak(second.output, s.needles, "the output of the --debug deployment");
      assertStringIncludes(second.output, "host1: cmd: echo out-*****; echo err-***** >&2; exit 3");
      assertStringIncludes(second.output, "ERROR: echo out-*****; echo err-***** >&2; exit 3\n");
      assertStringIncludes(second.output, "    Return code: 3\n");
      assertStringIncludes(second.output, "\nout-*****\n");
      assertStringIncludes(second.output, "\nerr-*****\n");
      assertMatch(second.output, /DEPLOYMENT FAILED \(during deploy\)/);
      assertStringIncludes(
        second.stdout,
        "🚀 host1: Secretapp > File('work/secretapp/config.ini') > Content('config.ini')\nhost1: Not showing diff as it contains sensitive data,\n",
      );
      // The RPC trace names methods and sizes only.
      assertMatch(second.output, /host1: rpc → configure \(\d+ bytes\)/);
      assertMatch(second.output, /host1: rpc ← configure ok \(\d+ bytes\)/);
      assertMatch(second.output, /host1: rpc ← deploy error \(\d+ bytes\)/);
      assertNoLeak(await Deno.readTextFile(join(projectDir, "report-2.json")), s.needles, "the --report file");

      // 3. Predict with -d: the same masking, nothing changes.
      await Deno.writeTextFile(cfgPath, environmentCfg(target, { motd: "v3" }));
      const third = await batou(projectDir, ["deploy", "-P", "--debug", "prod"], cliEnv);
      assertEquals(third.code, 0, third.output);
      assertNoLeak(third.output, s.needles, "the output of the prediction");
      assertStringIncludes(third.stdout, "Not showing diff as it contains sensitive data,");
      assertStringIncludes(third.stdout, "\nhost1:   plain.txt +nothing secret here v3");

      // Everything written anywhere: the secrets are only in the managed files.
      const expected = [
        { path: join(work, "app.yaml"), what: "content" as const, label: "apiKey" },
        { path: join(work, "config.ini"), what: "content" as const, label: "newPassword" },
        { path: join(work, "config.ini"), what: "content" as const, label: "region" },
        { path: join(work, `token-${s.token}`), what: "name" as const, label: "token" },
      ].map(hitKey).sort();
      const onTarget = (await scanTree(host.home, s.needles)).map(hitKey).sort();
      assertEquals(onTarget, expected, "secrets on the target outside the managed files");
      const home = Deno.env.get("HOME") ?? "/root";
      const cache = Deno.env.get("BATOU_CACHE_DIR") ?? join(home, ".cache/batou");
      for (const [root, since] of [[projectDir], [ctlTmp], [cache], ["/tmp", started], [home, started]] as const) {
        const found = (await scanTree(root, s.needles, since)).filter((h) => !h.path.startsWith(host.home + "/"));
        assertEquals(found.map(hitKey), [], `secrets under ${root}`);
      }
    } finally {
      await Deno.writeTextFile(join(shared, "release"), "").catch(() => {});
      await Deno.remove(base, { recursive: true }).catch(() => {});
      for (const d of [scratch, projectDir, shared, ctlTmp]) await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// batou's deploy-level secrets cases (test_endtoend.py), on a local connection

const TRISTATE = `import { attribute, Component, File } from "batou";
export class Values extends Component {
  password = attribute(String, "");
  override configure() {
    const content = "user = app\\npassword = {{ component.password }}\\n";
    this.add(new File("auto.conf", { content }));
    this.add(new File("masked.conf", { content, sensitiveData: true }));
    this.add(new File("clear.conf", { content, sensitiveData: false }));
    this.add(new File("public.conf", { content: "user = app\\n" }));
    this.add(new File("app.yaml", { content: this.environment.secretFiles["app.yaml"] }));
  }
}
`;

/** A local-connection project with the component `values` and secrets written through `batou secrets edit`. */
async function localProject(
  dir: string,
  key: { path: string; pub: string },
  cfg: string,
  secrets: string,
  files: Record<string, string> = {},
): Promise<string> {
  const projectDir = join(dir, "project");
  await writeFiles(projectDir, {
    "components/values/component.ts": TRISTATE,
    "environments/local/environment.cfg": `[environment]\nconnect_method = local\n[hosts]\nlocalhost = values\n${cfg}`,
  });
  await editSecrets(
    projectDir,
    "local",
    key,
    dir,
    `[batou]\nsecret_provider = age\nmembers = ${key.pub}\n${secrets}`,
    files,
  );
  return projectDir;
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  await requireTools("age-keygen");
  const dir = await Deno.makeTempDir({ prefix: "batou-e2e-secrets-local-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("errors early (test_example_errors_early): duplicate override and unknown secrets sections fail the load", async () => {
  await withDir(async (dir) => {
    const s = makeSecrets();
    const key = await ageKey(dir);
    const projectDir = await localProject(
      dir,
      key,
      "[component:values]\npassword = from-the-environment\n",
      `[component:values]\npassword = ${s.password}\n[component:nosuch]\nkey = ${s.token}\n` +
        `[host:nohost]\ndata-region = ${s.region}\n`,
    );
    const r = await batou(projectDir, ["deploy", "local"], { BATOU_AGE_IDENTITIES: key.path });
    assertEquals(r.code, 1, r.output);
    assertNoLeak(r.output, s.needles, "the output");
    assertStringIncludes(
      r.stdout,
      "🔑 main: Loading secrets ...\n\n" +
        "ERROR: Secrets section for unknown host found\n           Host: nohost\n\n" +
        "ERROR: Attribute override found both in environment and secrets\n" +
        "      Component: values\n      Attribute: password\n\n" +
        "ERROR: Secrets section for unknown component found\n      Component: nosuch\n" +
        "======================= DEPLOYMENT FAILED (during load) ========================\n",
    );
    assertEquals(await exists(join(projectDir, "work/values")), false, "nothing was deployed");
  });
});

Deno.test("cannot decrypt (test_example_errors_gpg_cannot_decrypt): a clear report during load, no stack trace", async () => {
  await withDir(async (dir) => {
    await requireTools("gpg");
    const s = makeSecrets();
    const key = await ageKey(dir);
    const other = await ageKey(dir, "other-key.txt");
    const projectDir = await localProject(dir, key, "", `[component:values]\npassword = ${s.password}\n`);
    const envDir = join(projectDir, "environments/local");
    const age = await batou(projectDir, ["deploy", "local"], { BATOU_AGE_IDENTITIES: other.path });
    assertEquals(age.code, 1, age.output);
    assertStringIncludes(
      age.stdout,
      "🔑 main: Loading secrets ...\n\n" +
        `ERROR: Could not decrypt ${join(envDir, "secrets.cfg.age")} with any of the identities ` +
        `${JSON.stringify([other.path])}\n` +
        "======================= DEPLOYMENT FAILED (during load) ========================\n",
    );
    // No identity file at all: the report says how to provide one.
    const none = await batou(projectDir, ["deploy", "local"], { BATOU_AGE_IDENTITIES: join(dir, "missing-key") });
    assertEquals(none.code, 1, none.output);
    assertStringIncludes(
      none.stdout,
      `ERROR: Could not decrypt ${join(envDir, "secrets.cfg.age")} with any of the identities []\n` +
        "No identity files found: set BATOU_AGE_IDENTITIES or create ~/.ssh/id_ed25519 (or id_rsa).\n" +
        "======================= DEPLOYMENT FAILED (during load) ========================\n",
    );

    // gpg: a secrets file gpg cannot read, with an empty keyring.
    await Deno.remove(join(envDir, "secrets.cfg.age"));
    await Deno.writeTextFile(join(envDir, "secrets.cfg.gpg"), "not an OpenPGP message\n");
    const gnupg = join(dir, "gnupg");
    await Deno.mkdir(gnupg, { mode: 0o700 });
    const gpg = await batou(projectDir, ["deploy", "local"], { GNUPGHOME: gnupg });
    assertEquals(gpg.code, 1, gpg.output);
    assertStringIncludes(
      gpg.stdout,
      "🔑 main: Loading secrets ...\n\nERROR: Error while calling GPG\n" +
        `        command: gpg --decrypt ${join(envDir, "secrets.cfg.gpg")}\n      exit code: 2\n        message:\n`,
    );
    assertStringIncludes(gpg.stdout, "gpg: no valid OpenPGP data found.\n");
    assertMatch(gpg.stdout, /\n=+ DEPLOYMENT FAILED \(during load\) =+\n$/);
    for (const r of [age, none, gpg]) {
      assert(!/at .*\.ts:\d+/.test(r.output), `stack trace in the output:\n${r.output}`);
      assertEquals(r.stderr, "");
    }
  });
});

/**
 * The lines of the deploy (or predict) section; `see <diff file> for the diff.` lines become `see <diff> ...` after
 * checking that the file is `<project>/work/.batou-diffs/<timestamp>-<name>.diff`.
 */
function deploySection(stdout: string, projectDir: string): string[] {
  const section = stdout.split(/={3,} (?:Deploying|Predicting deployment actions) ={3,}\n/)[1]?.split(
    /={3,} Summary/,
  )[0];
  assert(section !== undefined, stdout);
  const diffDir = join(projectDir, "work/.batou-diffs/").replaceAll(".", "\\.");
  return section.trimEnd().split("\n").map((line) => {
    if (!line.startsWith("see ")) return line;
    assertMatch(line, new RegExp(`^see ${diffDir}\\d{8}T\\d{6}\\.\\d{3}Z-[\\w.]+\\.diff for the diff\\.$`));
    return "see <diff> for the diff.";
  });
}

/** The expected section of the tri-state component's first deployment (or prediction). */
const TRISTATE_LINES = [
  "⚪ localhost: Scheduling component values ...",
  "🚀 localhost: Values > File('work/values/auto.conf') > Presence('auto.conf')",
  "🚀 localhost: Values > File('work/values/auto.conf') > Content('auto.conf')",
  "Not showing diff as it contains sensitive data,",
  "see <diff> for the diff.",
  "🚀 localhost: Values > File('work/values/masked.conf') > Presence('masked.conf')",
  "🚀 localhost: Values > File('work/values/masked.conf') > Content('masked.conf')",
  "Not showing diff as it contains sensitive data.",
  "🚀 localhost: Values > File('work/values/clear.conf') > Presence('clear.conf')",
  "🚀 localhost: Values > File('work/values/clear.conf') > Content('clear.conf')",
  "  clear.conf ---",
  "  clear.conf +++",
  "  clear.conf @@ -0,0 +1,2 @@",
  "  clear.conf +user = app",
  "  clear.conf +password = *****",
  "🚀 localhost: Values > File('work/values/public.conf') > Presence('public.conf')",
  "🚀 localhost: Values > File('work/values/public.conf') > Content('public.conf')",
  "  public.conf ---",
  "  public.conf +++",
  "  public.conf @@ -0,0 +1 @@",
  "  public.conf +user = app",
  "🚀 localhost: Values > File('work/values/app.yaml') > Presence('app.yaml')",
  "🚀 localhost: Values > File('work/values/app.yaml') > Content('app.yaml')",
  "Not showing diff as it contains sensitive data,",
  "see <diff> for the diff.",
];

/** name -> content of the diff files, keyed by the file name after the timestamp. */
async function diffFiles(projectDir: string): Promise<Map<string, string>> {
  const dir = join(projectDir, "work/.batou-diffs");
  const out = new Map<string, string>();
  for (const e of Deno.readDirSync(dir)) {
    out.set(e.name.replace(/^\d{8}T\d{6}\.\d{3}Z-/, ""), await Deno.readTextFile(join(dir, e.name)));
  }
  return out;
}

Deno.test("sensitiveData tri-state (test_diff_for_keys_in_secrets_overridable): hidden, hidden with a masked diff file, shown masked", async () => {
  await withDir(async (dir) => {
    const s = makeSecrets();
    const key = await ageKey(dir);
    const projectDir = await localProject(dir, key, "", `[component:values]\npassword = ${s.password}\n`, {
      "app.yaml": appYaml(s),
    });
    const r = await batou(projectDir, ["deploy", "local"], { BATOU_AGE_IDENTITIES: key.path });
    assertEquals(r.code, 0, r.output);
    assertNoLeak(r.output, s.needles, "the output");
    assertEquals(deploySection(r.stdout, projectDir), TRISTATE_LINES);
    const work = join(projectDir, "work/values");
    const conf = `user = app\npassword = ${s.password}\n`;
    for (const name of ["auto.conf", "masked.conf", "clear.conf"]) {
      assertEquals(await Deno.readTextFile(join(work, name)), conf);
    }
    assertEquals(await Deno.readTextFile(join(work, "app.yaml")), appYaml(s));
    // sensitiveData: true writes no diff file; the others are written with the secrets masked.
    const diffs = await diffFiles(projectDir);
    assertEquals([...diffs.keys()].sort(), ["app.yaml.diff", "auto.conf.diff", "clear.conf.diff", "public.conf.diff"]);
    for (const [name, text] of diffs) assertNoLeak(text, s.needles, name);
    assertEquals(diffs.get("auto.conf.diff"), "---\n+++\n@@ -0,0 +1,2 @@\n+user = app\n+password = *****\n");
    assertStringIncludes(diffs.get("app.yaml.diff")!, "+*****\n");

    const again = await batou(projectDir, ["deploy", "local"], { BATOU_AGE_IDENTITIES: key.path });
    assertEquals(again.code, 0, again.output);
    assertEquals(deploySection(again.stdout, projectDir), ["⚪ localhost: Scheduling component values ..."]);
  });
});

Deno.test("predicting (test_predicting_deployment_works): secret-file content is masked with a pointer to a masked diff file", async () => {
  await withDir(async (dir) => {
    const s = makeSecrets();
    const key = await ageKey(dir);
    const projectDir = await localProject(dir, key, "", `[component:values]\npassword = ${s.password}\n`, {
      "app.yaml": appYaml(s),
    });
    const r = await batou(projectDir, ["deploy", "-P", "local"], { BATOU_AGE_IDENTITIES: key.path });
    assertEquals(r.code, 0, r.output);
    assertNoLeak(r.output, s.needles, "the output");
    assertEquals(deploySection(r.stdout, projectDir), TRISTATE_LINES);
    assertMatch(r.stdout, /\n=+ DEPLOYMENT PREDICTION FINISHED =+\n$/);
    const work = join(projectDir, "work/values");
    if (await exists(work)) assertEquals([...Deno.readDirSync(work)], [], "a prediction deploys no files");
    const diffs = await diffFiles(projectDir);
    assertEquals(diffs.get("app.yaml.diff"), "---\n+++\n@@ -0,0 +1,3 @@\n+*****\n+  *****\n+  *****\n");
    for (const [name, text] of diffs) assertNoLeak(text, s.needles, name);
  });
});
