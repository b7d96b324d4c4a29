/**
 * `batou secrets ...`: edit, summary, add/remove, reencrypt, decrypttostdout and the command line. Real age,
 * ssh-keygen and gpg (throw-away GNUPGHOME); the command line is run as `deno run -A main.ts secrets ...`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgeIdentitySource, loadIdentities } from "../core/secrets/age.ts";
import { AGE_KEYS_BANNER, lockFile, writeConfig, writeSecretFile } from "../core/secrets/providers.ts";
import {
  changeMembers,
  decryptToStdout,
  EDIT_MENU,
  editSecrets,
  reencryptSecrets,
  type SecretsCliOptions,
  type SecretsIO,
  secretsSummary,
} from "../cli/secrets.ts";
import { firstSecretsConfig, newSecretsTemplate } from "../cli/secrets_new.ts";
import { dec, run, runOk, sshKeygen, withGnupgHome, withTempDir } from "./secrets_test_helpers.ts";
import { REPO } from "./support/cli.ts";
import { exists } from "./support/fs.ts";

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** Captured streams; `inputs` answer the `> ` prompts (then end of input). */
interface CapturedIO extends SecretsIO {
  stdout: string;
  stderr: string;
}

function captureIO(inputs: string[] = []): CapturedIO {
  const io: CapturedIO = {
    stdout: "",
    stderr: "",
    write(data) {
      io.stdout += typeof data === "string" ? data : dec(data);
    },
    writeErr(text) {
      io.stderr += text;
    },
    readLine(prompt) {
      io.stdout += prompt;
      return Promise.resolve(inputs.length > 0 ? inputs.shift()! : null);
    },
  };
  return io;
}

interface Key {
  /** Private key file. */
  path: string;
  /** Public key (ssh line or age1...). */
  pub: string;
}

async function sshKey(dir: string, name: string): Promise<Key> {
  const path = await sshKeygen(dir, name, "ed25519");
  return { path, pub: (await Deno.readTextFile(`${path}.pub`)).trim() };
}

async function ageKey(dir: string, name: string): Promise<Key> {
  const path = join(dir, name);
  await runOk("age-keygen", ["-o", path]);
  return { path, pub: dec(await runOk("age-keygen", ["-y", path])).trim() };
}

/** A project in `<dir>/project` with `environments/<name>/environment.cfg` for each name (`x.cfg` style for `x.cfg`). */
async function project(dir: string, envs: string[]): Promise<string> {
  const base = join(dir, "project");
  for (const env of envs) {
    if (env.endsWith(".cfg")) {
      await Deno.mkdir(join(base, "environments"), { recursive: true });
      await Deno.writeTextFile(join(base, "environments", env), "[environment]\n");
    } else {
      await Deno.mkdir(join(base, "environments", env), { recursive: true });
      await Deno.writeTextFile(join(base, "environments", env, "environment.cfg"), "[environment]\n");
    }
  }
  await Deno.mkdir(join(dir, "tmp"));
  return base;
}

/** Writes an editor script (`$1` is the file to edit) and returns the editor command. */
async function editor(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, `#!/bin/sh\nset -e\n${body}\n`);
  return `sh ${path}`;
}

async function ageDecrypt(key: Key, file: string): Promise<string> {
  return dec(await runOk("age", ["-d", "-i", key.path, file]));
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

async function snapshot(dir: string): Promise<Record<string, { bytes: string; mtime: number }>> {
  const out: Record<string, { bytes: string; mtime: number }> = {};
  for (const name of await listDir(dir)) {
    const p = join(dir, name);
    out[name] = { bytes: dec(await Deno.readFile(p)), mtime: (await Deno.stat(p)).mtime!.getTime() };
  }
  return out;
}

function opts(io: SecretsIO, identities: AgeIdentitySource[], extra: SecretsCliOptions = {}): SecretsCliOptions {
  return { io, identities, ...extra };
}

function config(members: string[], body = "", provider = "age"): string {
  return `[batou]\nsecret_provider = ${provider}\nmembers = ${members.join(",\n    ")}\n${body}`;
}

/** Result of a CLI run. */
interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** Starts `batou secrets <args>` in `cwd` with `env` added; stdin is piped. */
function startCli(cwd: string, args: string[], env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", join(REPO, "main.ts"), "secrets", ...args],
    cwd,
    env: { NO_COLOR: "1", INIT_CWD: cwd, ...env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `batou secrets <args>` in `cwd`, feeding `input` on stdin. */
async function cli(cwd: string, args: string[], env: Record<string, string>, input = ""): Promise<Cli> {
  const child = startCli(cwd, args, env);
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await child.output();
  return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------------------------
// edit

Deno.test("edit (CLI): a new environment starts from the template and becomes an age-encrypted secrets.cfg.age", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const key = await sshKey(dir, "id_ed25519");
    const tmp = join(dir, "tmp");
    const ed = await editor(
      dir,
      "ed.sh",
      `echo "$1" > ${dir}/tmpname\nstat -c %a "$1" >> ${dir}/tmpname\ncp "$1" ${dir}/seen\n` +
        `sed -i "s|^members =.*|members = ${key.pub}|" "$1"\n` +
        `printf '[component:hello]\\n# keep me\\nmagic_word = deploy often\\n' >> "$1"`,
    );
    const r = await cli(base, ["edit", "dev"], { BATOU_AGE_IDENTITIES: key.path, EDITOR: ed, TMPDIR: tmp });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /WARNING: The age encryption public-key metadata file does not exist!/);
    assert.equal(await Deno.readTextFile(join(dir, "seen")), newSecretsTemplate("dev"));

    // temp file: in TMPDIR, edit*.cfg, mode 0600, gone afterwards
    const [tmpName, mode] = (await Deno.readTextFile(join(dir, "tmpname"))).trim().split("\n");
    assert.ok(tmpName.startsWith(join(tmp, "edit")) && tmpName.endsWith(".cfg"), tmpName);
    assert.equal(mode, "600");
    assert.equal(await exists(tmpName), false);
    assert.deepEqual(await listDir(tmp), []);

    const envDir = join(base, "environments", "dev");
    assert.deepEqual(await listDir(envDir), ["age_keys.txt", "environment.cfg", "secrets.cfg.age"]);
    const raw = dec(await Deno.readFile(join(envDir, "secrets.cfg.age")));
    assert.ok(raw.startsWith("age-encryption.org/v1\n-> ssh-ed25519 "), "binary age for the ssh key");
    assert.ok(!raw.includes("deploy often"));
    assert.equal(
      await ageDecrypt(key, join(envDir, "secrets.cfg.age")),
      newSecretsTemplate("dev").replace(/members =\n$/, `members = ${key.pub}\n`) +
        `[component:hello]\n# keep me\nmagic_word = deploy often\n`,
    );
    assert.equal(
      await Deno.readTextFile(join(envDir, "age_keys.txt")),
      `${AGE_KEYS_BANNER}# plain ssh public key\n${key.pub}\n`,
    );
  });
});

Deno.test("edit: changing an existing environment keeps comments; an unchanged edit writes nothing", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const key = await sshKey(dir, "id_ed25519");
    const identities = await loadIdentities({ paths: [key.path] });
    const envDir = join(base, "environments", "dev");
    const original = config([key.pub], "\n[component:hello]\n# a comment\nword = one\n");
    await writeConfig(envDir, original, { identities, log: () => {} });

    let io = captureIO();
    const append = await editor(dir, "append.sh", `echo "other = two" >> "$1"`);
    assert.equal(
      await editSecrets(base, "dev", { ...opts(io, identities), editor: append, tempDir: join(dir, "tmp") }),
      0,
    );
    assert.equal(io.stderr, "");
    assert.equal(await ageDecrypt(key, join(envDir, "secrets.cfg.age")), original + "other = two\n");
    assert.deepEqual(await listDir(join(dir, "tmp")), []);

    const before = await snapshot(envDir);
    io = captureIO();
    const list = ": && true"; // a command list is run as it is (without `exec`)
    assert.equal(
      await editSecrets(base, "dev", { ...opts(io, identities), editor: list, tempDir: join(dir, "tmp") }),
      0,
    );
    assert.equal(io.stdout, "No changes from original cleartext. Not updating.\n");
    assert.deepEqual(await snapshot(envDir), before, "same bytes and mtimes");
  });
});

Deno.test("edit (CLI): a broken edit, then quit on stdin, keeps the old file and removes the temp file", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const key = await sshKey(dir, "id_ed25519");
    const envDir = join(base, "environments", "dev");
    await writeConfig(envDir, config([key.pub], "[a]\nb = c\n"), {
      identities: await loadIdentities({ paths: [key.path] }),
      log: () => {},
    });
    const before = await snapshot(envDir);
    const tmp = join(dir, "tmp");
    const ed = await editor(dir, "broken.sh", `echo "$1" > ${dir}/tmpname\necho "[broken" >> "$1"`);
    const r = await cli(
      base,
      ["edit", "dev"],
      { BATOU_AGE_IDENTITIES: key.path, EDITOR: ed, TMPDIR: tmp },
      "\nasdf\nquit\n",
    );
    const block = (error: string) => `\n\nAn error occurred: ${error}\n\n${EDIT_MENU}\n> `;
    assert.equal(
      r.stdout,
      block("secrets.cfg:6: Section header is missing the closing ']'") + block("empty command") +
        block("unknown command `asdf`"),
    );
    assert.equal(r.stderr, "");
    assert.equal(r.code, 1);
    assert.deepEqual(await snapshot(envDir), before);
    assert.equal(await exists((await Deno.readTextFile(join(dir, "tmpname"))).trim()), false);
    assert.deepEqual(await listDir(tmp), []);
  });
});

Deno.test("edit: the command loop (batou's test_edit_command_loop) and recovering with `edit`", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const key = await sshKey(dir, "id_ed25519");
    const identities = await loadIdentities({ paths: [key.path] });
    const envDir = join(base, "environments", "dev");

    // a new environment left without members cannot be encrypted: encrypt fails again, quit discards
    // (left as the template was, nothing is encrypted at all: see "unchanged, nothing is made" below)
    const noMember = await editor(dir, "nomember.sh", `echo "# just a comment" >> "$1"`);
    let io = captureIO(["asdf", "encrypt", "quit"]);
    let code = await editSecrets(base, "dev", { ...opts(io, identities), editor: noMember, tempDir: join(dir, "tmp") });
    assert.equal(code, 1);
    const block = (error: string) => `\n\nAn error occurred: ${error}\n\n${EDIT_MENU}\n> `;
    const noMembers = "Please add at least one recipient to the secrets file.";
    assert.equal(io.stdout, block(noMembers) + block("unknown command `asdf`") + block(noMembers));
    assert.deepEqual(await listDir(envDir), ["environment.cfg"]);

    // end of input at the prompt also quits
    io = captureIO([]);
    code = await editSecrets(base, "dev", { ...opts(io, identities), editor: noMember, tempDir: join(dir, "tmp") });
    assert.equal(code, 1);
    assert.ok(io.stdout.endsWith("> \n"));

    // the first edit is broken, the second (after `edit`) fixes it; the broken text was offered again
    const ed = await editor(
      dir,
      "twice.sh",
      `if [ -e ${dir}/once ]; then cp "$1" ${dir}/second; sed -i 's/^\\[broken$/[fixed]/' "$1"; ` +
        `else touch ${dir}/once; sed -i "s|^members =.*|members = ${key.pub}|" "$1"; echo "[broken" >> "$1"; fi`,
    );
    io = captureIO(["edit"]);
    code = await editSecrets(base, "dev", { ...opts(io, identities), editor: ed, tempDir: join(dir, "tmp") });
    assert.equal(code, 0, io.stdout + io.stderr);
    assert.equal((io.stdout.match(/An error occurred/g) ?? []).length, 1);
    assert.ok((await Deno.readTextFile(join(dir, "second"))).endsWith("[broken\n"));
    assert.equal(
      await ageDecrypt(key, join(envDir, "secrets.cfg.age")),
      newSecretsTemplate("dev").replace(/members =\n$/, `members = ${key.pub}\n`) + "[fixed]\n",
    );
    assert.deepEqual(await listDir(join(dir, "tmp")), []);
  });
});

Deno.test("edit FILE: secret-<name>.age with the inner suffix; a blank new file is still encrypted", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev", "plain"]);
    const key = await sshKey(dir, "id_ed25519");
    const identities = await loadIdentities({ paths: [key.path] });
    const envDir = join(base, "environments", "dev");
    await writeConfig(envDir, config([key.pub]), { identities, log: () => {} });
    const tempDir = join(dir, "tmp");

    const ed = await editor(
      dir,
      "yaml.sh",
      `echo "$1" > ${dir}/tmpname\nprintf 'user: x\\npassword: hunter2\\n' > "$1"`,
    );
    let io = captureIO();
    assert.equal(
      await editSecrets(base, "dev", { ...opts(io, identities), editor: ed, file: "foobar.yaml", tempDir }),
      0,
    );
    const tmpName = (await Deno.readTextFile(join(dir, "tmpname"))).trim();
    assert.ok(/\/edit[^/]*\.yaml$/.test(tmpName), tmpName);
    assert.equal(await ageDecrypt(key, join(envDir, "secret-foobar.yaml.age")), "user: x\npassword: hunter2\n");

    // editing it again starts from its content
    const ed2 = await editor(dir, "seen.sh", `cp "$1" ${dir}/seen`);
    io = captureIO();
    assert.equal(
      await editSecrets(base, "dev", { ...opts(io, identities), editor: ed2, file: "foobar.yaml", tempDir }),
      0,
    );
    assert.equal(await Deno.readTextFile(join(dir, "seen")), "user: x\npassword: hunter2\n");
    assert.equal(io.stdout, "No changes from original cleartext. Not updating.\n");

    // blank edit of a new file (batou's test_blank_edit)
    io = captureIO();
    assert.equal(
      await editSecrets(base, "dev", { ...opts(io, identities), editor: "true", file: "asdf123", tempDir }),
      0,
    );
    const blank = await Deno.readFile(join(envDir, "secret-asdf123.age"));
    assert.ok(blank.length > 0);
    assert.equal(await ageDecrypt(key, join(envDir, "secret-asdf123.age")), "");

    // quitting a new file after an error leaves no placeholder behind
    io = captureIO(["quit"]);
    assert.equal(
      await editSecrets(base, "dev", { ...opts(io, identities), editor: "false", file: "gone", tempDir }),
      1,
    );
    assert.match(io.stdout, /An error occurred: The editor command `false .*` failed with exit code 1\./);
    assert.equal(await exists(join(envDir, "secret-gone.age")), false);

    // no secrets configuration: secret files cannot be edited
    io = captureIO();
    assert.equal(await editSecrets(base, "plain", { ...opts(io, identities), editor: "true", file: "x", tempDir }), 1);
    assert.equal(io.stderr, "Cannot edit secret files for environment without secret configuration.\n");
    assert.deepEqual(await listDir(join(base, "environments", "plain")), ["environment.cfg"]);
    assert.deepEqual(await listDir(tempDir), []);
  });
});

Deno.test("edit: unknown environment, locked file, and a provider switch by editing secret_provider", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev", "other.cfg"]);
    const key = await sshKey(dir, "id_ed25519");
    const identities = await loadIdentities({ paths: [key.path] });
    const envDir = join(base, "environments", "dev");
    const tempDir = join(dir, "tmp");
    await writeConfig(envDir, config([key.pub], "[x]\ny = secret value\n"), { identities, log: () => {} });
    await writeSecretFile(envDir, "f.txt", "file content\n", { identities, log: () => {} });

    let io = captureIO();
    assert.equal(await editSecrets(base, "nope", { ...opts(io, identities), editor: "true", tempDir }), 1);
    assert.equal(io.stderr, "Environment nope does not exist.\nExisting environments: dev, other\n");

    const lock = await lockFile(join(envDir, "secrets.cfg.age"), { exclusive: true });
    try {
      io = captureIO();
      assert.equal(await editSecrets(base, "dev", { ...opts(io, identities), editor: "true", tempDir }), 1);
      assert.equal(io.stderr, `File already locked: ${join(envDir, "secrets.cfg.age")}\n`);
    } finally {
      lock.release();
    }

    const ed = await editor(
      dir,
      "switch.sh",
      `sed -i 's/^secret_provider = age$/secret_provider = age-diffable/' "$1"`,
    );
    io = captureIO();
    assert.equal(await editSecrets(base, "dev", { ...opts(io, identities), editor: ed, tempDir }), 0);
    assert.match(io.stdout, /Secret provider changed from age to age-diffable\./);
    assert.deepEqual(await listDir(envDir), [
      "age_keys.txt",
      "environment.cfg",
      "secret-f.txt.age",
      "secrets.cfg.age-diffable",
    ]);
    const diffable = await Deno.readTextFile(join(envDir, "secrets.cfg.age-diffable"));
    assert.ok(diffable.startsWith(`[batou]\nsecret_provider = age-diffable\nmembers = ${key.pub}\n[x]\ny = `));
    assert.ok(!diffable.includes("secret value"));
    assert.equal(await ageDecrypt(key, join(envDir, "secret-f.txt.age")), "file content\n");

    // an environment given as environments/<name>.cfg gets its secrets in environments/<name>/
    const ed2 = await editor(dir, "members.sh", `sed -i "s|^members =.*|members = ${key.pub}|" "$1"`);
    io = captureIO();
    assert.equal(await editSecrets(base, "other", { ...opts(io, identities), editor: ed2, tempDir }), 0);
    assert.deepEqual(await listDir(join(base, "environments", "other")), ["age_keys.txt", "secrets.cfg.age"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// summary, add, remove

Deno.test("summary: members and secret files of every environment, exactly", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["a", "b", "c.cfg", "d"]);
    const key = await sshKey(dir, "id_ed25519");
    const age = await ageKey(dir, "age.txt");
    const identities = await loadIdentities({ paths: [key.path] });
    const q = { identities, log: () => {} };
    const a = join(base, "environments", "a");
    await writeConfig(a, config([key.pub, age.pub], "[hello]\nx = 1\n"), q);
    await writeSecretFile(a, "z.txt", "z\n", q);
    await writeSecretFile(a, "b.yaml", "b: 1\n", q);
    await writeConfig(join(base, "environments", "b"), config([key.pub], "[x]\ny = z\n", "age-diffable"), q);

    const io = captureIO();
    assert.equal(await secretsSummary(base, opts(io, identities)), 0);
    assert.equal(
      io.stdout,
      `a\n\t members\n\t\t- ${key.pub}\n\t\t- ${age.pub}\n\t secret files\n\t\t- b.yaml\n\t\t- z.txt\n\n` +
        `b\n\t members\n\t\t- ${key.pub}\n\t secret files\n\t\t(none)\n\n` +
        `c\n\tNo secrets found.\n\n` +
        `d\n\tNo secrets found.\n\n`,
    );
    assert.equal(io.stderr, "");

    // without a matching identity: the name is printed, the error goes to stderr, exit code 1
    const stranger = await sshKey(dir, "stranger");
    const io2 = captureIO();
    const code = await secretsSummary(base, opts(io2, await loadIdentities({ paths: [stranger.path] })));
    assert.equal(code, 1);
    assert.equal(io2.stdout, "a\nb\nc\n\tNo secrets found.\n\nd\n\tNo secrets found.\n\n");
    assert.match(io2.stderr, /^Could not decrypt .*environments\/a\/secrets\.cfg\.age with any of the identities/);
    assert.match(io2.stderr, /\nCould not decrypt .*environments\/b\/secrets\.cfg\.age-diffable/);
  });
});

Deno.test("add/remove: members change, comments stay, files are re-encrypted for the new members", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["errors", "plain"]);
    const key = await sshKey(dir, "id_ed25519");
    const age = await ageKey(dir, "age.txt");
    const identities = await loadIdentities({ paths: [key.path, age.path] });
    const envDir = join(base, "environments", "errors");
    const text = `# who may read this\n[batou]\nsecret_provider = age\n# the team\nmembers = ${key.pub}\n` +
      `\n[component:hello]\n# the word\nmagic_word = deploy often\n`;
    await writeConfig(envDir, text, { identities, log: () => {} });
    await writeSecretFile(envDir, "f.txt", "file\n", { identities, log: () => {} });

    // batou's test_manage__1
    for (const action of ["add", "remove"] as const) {
      const io = captureIO();
      assert.equal(await changeMembers(base, action, age.pub, ["foo", "bar", "errors"], opts(io, identities)), 1);
      assert.equal(io.stderr, "Unknown environment(s): foo, bar\n");
    }

    let io = captureIO();
    assert.equal(await changeMembers(base, "add", age.pub, ["errors"], opts(io, identities)), 0, io.stderr);
    assert.match(io.stdout, /errors: added age1/);
    const added = text.replace(`members = ${key.pub}\n`, `members = ${key.pub},\n    ${age.pub}\n`);
    assert.equal(await ageDecrypt(age, join(envDir, "secrets.cfg.age")), added);
    assert.equal(await ageDecrypt(age, join(envDir, "secret-f.txt.age")), "file\n");
    assert.ok((await Deno.readTextFile(join(envDir, "age_keys.txt"))).includes(`# plain age public key\n${age.pub}\n`));

    const before = await snapshot(envDir);
    io = captureIO();
    assert.equal(await changeMembers(base, "add", age.pub, null, opts(io, identities)), 0);
    assert.equal(
      io.stdout,
      `errors: ${age.pub} is already a member. Nothing to do.\nplain: No secrets found. Skipped.\n`,
    );
    assert.deepEqual(await snapshot(envDir), before);

    io = captureIO();
    assert.equal(await changeMembers(base, "remove", key.pub, [], opts(io, identities)), 0, io.stderr);
    const removed = text.replace(`members = ${key.pub}\n`, `members = ${age.pub}\n`);
    assert.equal(await ageDecrypt(age, join(envDir, "secrets.cfg.age")), removed);
    for (const f of ["secrets.cfg.age", "secret-f.txt.age"]) {
      const r = await run("age", ["-d", "-i", key.path, join(envDir, f)]);
      assert.notEqual(r.code, 0, `${f} no longer readable by the removed member`);
    }

    // the last member cannot be removed
    io = captureIO();
    assert.equal(await changeMembers(base, "remove", age.pub, ["errors"], opts(io, identities)), 1);
    assert.equal(io.stderr, "errors: Please add at least one recipient to the secrets file.\n");
    assert.equal(await ageDecrypt(age, join(envDir, "secrets.cfg.age")), removed);
  });
});

Deno.test("gpg: summary, add/remove (test_manage__2), secret-<name>.gpg, summary without keyring fails", async () => {
  await withGnupgHome(async (home, dir) => {
    const base = await project(dir, ["errors"]);
    const envDir = join(base, "environments", "errors");
    const gpg = { gnupgHome: home };
    await writeConfig(envDir, config(["a@example.com"], "[hello]\nx = 1\n", "gpg"), { gpg, log: () => {} });
    const o = (io: SecretsIO) => opts(io, [], { gpg });

    let io = captureIO();
    assert.equal(await secretsSummary(base, o(io)), 0, io.stderr);
    assert.equal(io.stdout, "errors\n\t members\n\t\t- a@example.com\n\t secret files\n\t\t(none)\n\n");

    io = captureIO();
    assert.equal(
      await editSecrets(base, "errors", { ...o(io), editor: "true", file: "asdf123", tempDir: join(dir, "tmp") }),
      0,
    );
    assert.deepEqual((await listDir(envDir)).filter((n) => n.startsWith("secret")), [
      "secret-asdf123.gpg",
      "secrets.cfg.gpg",
    ]);

    io = captureIO();
    assert.equal(await changeMembers(base, "add", "b@example.com", ["errors"], o(io)), 0, io.stderr);
    io = captureIO();
    assert.equal(await secretsSummary(base, o(io)), 0, io.stderr);
    assert.match(io.stdout, /\t\t- a@example\.com\n\t\t- b@example\.com\n\t secret files\n\t\t- asdf123\n/);

    io = captureIO();
    assert.equal(await changeMembers(base, "remove", "a@example.com", ["errors"], o(io)), 0, io.stderr);
    io = captureIO();
    assert.equal(await secretsSummary(base, o(io)), 0, io.stderr);
    assert.ok(!io.stdout.includes("a@example.com"));
    assert.ok(io.stdout.includes("\t\t- b@example.com\n"));

    // decrypttostdout of a gpg file
    io = captureIO();
    assert.equal(await decryptToStdout(base, "environments/errors/secrets.cfg.gpg", o(io)), 0);
    assert.equal(io.stdout, config(["b@example.com"], "[hello]\nx = 1\n", "gpg"));

    // an empty keyring cannot decrypt (batou's test_manage__summary__2)
    const empty = join(dir, "empty-gnupg");
    await Deno.mkdir(empty, { mode: 0o700 });
    try {
      io = captureIO();
      assert.equal(await secretsSummary(base, opts(io, [], { gpg: { gnupgHome: empty } })), 1);
      assert.equal(io.stdout, "errors\n");
      assert.match(io.stderr, /^Error while calling GPG\ncommand: gpg --decrypt .*secrets\.cfg\.gpg\nexit code: 2\n/);
    } finally {
      await run("gpgconf", ["--kill", "gpg-agent"], { env: { GNUPGHOME: empty } });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// reencrypt

Deno.test("reencrypt: only when keys changed (URL members), -f forces every file, gpg untouched unless forced", async () => {
  await withGnupgHome(async (home, dir) => {
    const base = await project(dir, ["age", "gpg"]);
    const key = await sshKey(dir, "id_ed25519");
    const newcomer = await sshKey(dir, "newcomer");
    const identities = await loadIdentities({ paths: [key.path] });
    let published = `${key.pub}\n`;
    const fetchText = (url: string) => {
      assert.equal(url, "https://keys.example/team.keys");
      return Promise.resolve(published);
    };
    const gpg = { gnupgHome: home };
    const q = { identities, gpg, fetchText, log: () => {} };
    const ageDir = join(base, "environments", "age");
    const gpgDir = join(base, "environments", "gpg");
    await writeConfig(ageDir, config(["https://keys.example/team.keys"], "[x]\ny = 1\n"), q);
    await writeSecretFile(ageDir, "one", "1\n", q);
    await writeSecretFile(ageDir, "two.yaml", "2\n", q);
    await writeConfig(gpgDir, config(["a@example.com"], "[x]\ny = 1\n", "gpg"), q);
    await writeSecretFile(gpgDir, "g", "g\n", q);
    const o = (io: SecretsIO, extra: SecretsCliOptions = {}) => opts(io, identities, { gpg, fetchText, ...extra });

    // unchanged keys: nothing is written
    let ageBefore = await snapshot(ageDir);
    const gpgBefore = await snapshot(gpgDir);
    let io = captureIO();
    assert.equal(await reencryptSecrets(base, null, false, o(io)), 0, io.stderr);
    assert.equal(
      io.stdout,
      "Re-encrypting environments ['age', 'gpg']\nage: keys unchanged, nothing re-encrypted.\n" +
        "gpg: keys unchanged, nothing re-encrypted.\n",
    );
    assert.deepEqual(await snapshot(ageDir), ageBefore);
    assert.deepEqual(await snapshot(gpgDir), gpgBefore);

    // the URL now lists another key: config and secret files are re-encrypted for it
    published = `${newcomer.pub}\n${key.pub}\n`;
    io = captureIO();
    assert.equal(await reencryptSecrets(base, ["age"], false, o(io)), 0, io.stderr);
    assert.match(io.stdout, /^Re-encrypting environments \['age'\]\nWARNING: The age encryption public-key metadata/);
    assert.match(io.stdout, /age: re-encrypted 3 file\(s\)\.\n$/);
    const changed = await snapshot(ageDir);
    for (const f of ["secrets.cfg.age", "secret-one.age", "secret-two.yaml.age", "age_keys.txt"]) {
      assert.notEqual(changed[f].bytes, ageBefore[f].bytes, f);
    }
    assert.equal(await ageDecrypt(newcomer, join(ageDir, "secret-two.yaml.age")), "2\n");
    assert.equal(
      await ageDecrypt(newcomer, join(ageDir, "secrets.cfg.age")),
      config(["https://keys.example/team.keys"], "[x]\ny = 1\n"),
    );
    assert.deepEqual(await snapshot(gpgDir), gpgBefore);

    // a second run is byte-identical
    io = captureIO();
    assert.equal(await reencryptSecrets(base, ["age"], false, o(io)), 0);
    assert.deepEqual(await snapshot(ageDir), changed);

    // --force: every file changes (batou's test_manage__reencrypt__1 / force)
    ageBefore = changed;
    io = captureIO();
    assert.equal(await reencryptSecrets(base, [], true, o(io)), 0, io.stderr);
    const forcedAge = await snapshot(ageDir);
    const forcedGpg = await snapshot(gpgDir);
    for (const f of ["secrets.cfg.age", "secret-one.age", "secret-two.yaml.age"]) {
      assert.notEqual(forcedAge[f].bytes, ageBefore[f].bytes, f);
    }
    for (const f of ["secrets.cfg.gpg", "secret-g.gpg"]) assert.notEqual(forcedGpg[f].bytes, gpgBefore[f].bytes, f);
    assert.equal(forcedAge["age_keys.txt"].bytes, ageBefore["age_keys.txt"].bytes);

    io = captureIO();
    assert.equal(await reencryptSecrets(base, ["nope"], false, o(io)), 1);
    assert.equal(io.stderr, "Unknown environment(s): nope\n");
    assert.equal(io.stdout, "");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// command line

Deno.test("CLI: decrypttostdout round trip (age, age-diffable, secret file), empty and undecryptable files", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["a", "d"]);
    const key = await sshKey(dir, "id_ed25519");
    const identities = await loadIdentities({ paths: [key.path] });
    const q = { identities, log: () => {} };
    const cfgA = config([key.pub], "[hello]\nword = ünïcode\nmulti = one\n    two\n");
    await writeConfig(join(base, "environments", "a"), cfgA, q);
    await writeSecretFile(join(base, "environments", "a"), "bin", new Uint8Array([0, 1, 2, 255, 10]), q);
    const cfgD = config([key.pub], "[hello]\nword = x\nmulti = one\n    two\n", "age-diffable");
    await writeConfig(join(base, "environments", "d"), cfgD, q);
    await Deno.writeFile(join(dir, "empty.age"), new Uint8Array(0));
    const env = { BATOU_AGE_IDENTITIES: key.path };

    const [a, bin, d, empty, denied, missing] = await Promise.all([
      cli(base, ["decrypttostdout", "environments/a/secrets.cfg.age"], env),
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          join(REPO, "main.ts"),
          "secrets",
          "decrypttostdout",
          "environments/a/secret-bin.age",
        ],
        cwd: base,
        env: { ...env, INIT_CWD: base },
        stdout: "piped",
        stderr: "piped",
      }).output(),
      cli(base, ["decrypttostdout", join(base, "environments/d/secrets.cfg.age-diffable")], env),
      cli(base, ["decrypttostdout", join(dir, "empty.age")], env),
      cli(base, ["decrypttostdout", "environments/a/secrets.cfg.age"], { BATOU_AGE_IDENTITIES: join(dir, "none") }),
      cli(base, ["decrypttostdout", "environments/a/missing.age"], env),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, cfgA);
    assert.equal(a.stderr, "");
    assert.equal(bin.code, 0);
    assert.deepEqual([...bin.stdout], [0, 1, 2, 255, 10]);
    assert.equal(d.stdout, cfgD);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, "(unable to decrypt content)\n");
    assert.equal(denied.code, 0);
    assert.equal(denied.stdout, "(unable to decrypt content)\n");
    assert.match(denied.stderr, /^Could not decrypt .*secrets\.cfg\.age with any of the identities \[\]/);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such file or directory/);
  });
});

Deno.test("CLI: usage errors exit 2 with the usage on stderr; --help exits 0", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const env = { BATOU_AGE_IDENTITIES: join(dir, "none") };
    const runs = await Promise.all([
      cli(base, [], env),
      cli(base, ["bogus"], env),
      cli(base, ["edit"], env),
      cli(base, ["add", "a", "b"], env),
      cli(base, ["reencrypt", "--bogus"], env),
      cli(base, ["summary", "extra"], env),
      cli(base, ["edit", "--help"], env),
      cli(base, ["--help"], env),
    ]);
    const [none, bogus, edit, add, reencrypt, summary, editHelp, help] = runs;
    assert.equal(none.code, 2);
    assert.match(
      none.stderr,
      /^batou: error: missing command for batou secrets \(one of edit, [^\n]*\)\n\nusage: batou secrets <command>/,
    );
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /unknown command `bogus`/);
    assert.equal(edit.code, 2);
    assert.match(
      edit.stderr,
      /^batou: error: missing ENV for batou secrets edit: the environment\n\nusage: batou secrets edit ENV \[FILE\]/,
    );
    assert.equal(add.code, 2);
    assert.match(add.stderr, /unexpected argument `b`/);
    assert.equal(reencrypt.code, 2);
    assert.match(reencrypt.stderr, /--bogus[\s\S]*usage: batou secrets reencrypt/);
    assert.equal(summary.code, 2);
    for (const r of [none, bogus, edit, add, reencrypt, summary]) assert.equal(r.stdout, "");
    assert.equal(editHelp.code, 0);
    assert.match(editHelp.stdout, /^usage: batou secrets edit ENV \[FILE\] \[-e\|--editor EDITOR\]/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /decrypttostdout FILE/);
  });
});

Deno.test("CLI: summary, add and reencrypt through main.ts", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const key = await sshKey(dir, "id_ed25519");
    const age = await ageKey(dir, "age.txt");
    const envDir = join(base, "environments", "dev");
    await writeConfig(envDir, config([key.pub]), {
      identities: await loadIdentities({ paths: [key.path] }),
      log: () => {},
    });
    const env = { BATOU_AGE_IDENTITIES: key.path };

    const add = await cli(base, ["add", age.pub, "--environments", "dev"], env);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(await ageDecrypt(age, join(envDir, "secrets.cfg.age")), config([key.pub, age.pub]));
    const unknown = await cli(base, ["remove", age.pub, "--environments", "foo,bar"], env);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, "Unknown environment(s): foo, bar\n");

    const summary = await cli(base, ["summary"], env);
    assert.equal(summary.code, 0, summary.stderr);
    assert.equal(
      summary.stdout,
      `dev\n\t members\n\t\t- ${key.pub}\n\t\t- ${age.pub}\n\t secret files\n\t\t(none)\n\n`,
    );

    const before = await snapshot(envDir);
    const re = await cli(base, ["reencrypt"], env);
    assert.equal(re.stdout, "Re-encrypting environments ['dev']\ndev: keys unchanged, nothing re-encrypted.\n");
    assert.deepEqual(await snapshot(envDir), before);
    const forced = await cli(base, ["reencrypt", "-f", "--environments", "dev"], env);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual((await snapshot(envDir))["secrets.cfg.age"].bytes, before["secrets.cfg.age"].bytes);
  });
});

Deno.test("CLI: interrupted at the prompt or while the editor runs, the temp file goes and the old file stays", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["dev"]);
    const key = await sshKey(dir, "id_ed25519");
    const envDir = join(base, "environments", "dev");
    await writeConfig(envDir, config([key.pub]), {
      identities: await loadIdentities({ paths: [key.path] }),
      log: () => {},
    });
    const before = await snapshot(envDir);
    const tmp = join(dir, "tmp");

    // SIGINT at the `> ` prompt after a failed edit
    const broken = await editor(dir, "broken.sh", `echo "[broken" >> "$1"`);
    let child = startCli(base, ["edit", "dev"], { BATOU_AGE_IDENTITIES: key.path, EDITOR: broken, TMPDIR: tmp });
    const reader = child.stdout.getReader();
    let seen = "";
    while (!seen.endsWith("> ")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += dec(value);
    }
    assert.ok(seen.endsWith("> "), seen);
    child.kill("SIGINT");
    reader.releaseLock();
    let out = await child.output();
    await child.stdin.close().catch(() => {});
    assert.equal(out.code, 130);
    assert.match(dec(out.stderr), /Interrupted \(SIGINT\): changes not saved\./);
    assert.deepEqual(await snapshot(envDir), before);
    assert.deepEqual(await listDir(tmp), []);

    // SIGTERM while the editor runs: the editor is stopped, the temp file removed
    const slow = await editor(
      dir,
      "slow.sh",
      `echo "x = 1" >> "$1"\necho $$ > ${dir}/pid\necho "$1" > ${dir}/tmpname\nexec sleep 60 </dev/null >/dev/null 2>&1`,
    );
    child = startCli(base, ["edit", "dev"], { BATOU_AGE_IDENTITIES: key.path, EDITOR: slow, TMPDIR: tmp });
    await waitFor("the editor", () => exists(join(dir, "tmpname")));
    const tmpName = (await Deno.readTextFile(join(dir, "tmpname"))).trim();
    assert.equal(await exists(tmpName), true);
    child.kill("SIGTERM");
    out = await child.output();
    await child.stdin.close().catch(() => {});
    assert.equal(out.code, 143);
    assert.equal(await exists(tmpName), false);
    assert.deepEqual(await listDir(tmp), []);
    assert.deepEqual(await snapshot(envDir), before);
    const lock = await lockFile(join(envDir, "secrets.cfg.age"), { exclusive: true });
    lock.release();
    const pid = Number((await Deno.readTextFile(join(dir, "pid"))).trim());
    assert.throws(() => Deno.kill(pid, "SIGKILL"), "the editor was stopped");
  });
});

// ---------------------------------------------------------------------------------------------------------------
// the first secrets of an environment (issue 19, item 7)

Deno.test("edit (CLI): a new environment's template explains members and sections; unchanged, nothing is made", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["remote"]);
    const ed = await editor(dir, "ed.sh", `cp "$1" ${dir}/seen`);
    const r = await cli(base, ["edit", "remote"], { BATOU_AGE_IDENTITIES: join(dir, "none"), EDITOR: ed });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, "Nothing filled in: remote still has no secrets. Not creating them.\n");
    const seen = await Deno.readTextFile(join(dir, "seen"));
    assert.equal(seen, newSecretsTemplate("remote"));
    for (const hint of ["# members: who can read", "ssh-ed25519 AAAA", "age1...", "https://github.com/USER.keys"]) {
      assert.ok(seen.includes(hint), hint);
    }
    assert.ok(seen.includes("# [component:NAME] sections override attributes"), seen);
    assert.ok(seen.includes("batou secrets add KEY --environments remote"), seen);
    assert.ok(seen.endsWith("[batou]\nsecret_provider = age\nmembers =\n"), seen);
    assert.deepEqual(await listDir(join(base, "environments", "remote")), ["environment.cfg"]);
  });
});

Deno.test("add (CLI): the first member of an environment without secrets creates its secrets file", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["remote", "other"]);
    const age = await ageKey(dir, "age.txt");
    const env = { BATOU_AGE_IDENTITIES: age.path };
    const r = await cli(base, ["add", age.pub, "--environments", "remote"], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `remote: had no secrets: created environments/remote/secrets.cfg.age with member ${age.pub}\\.\n` +
          `remote: add secrets with: batou secrets edit remote\n`,
      ),
    );
    const envDir = join(base, "environments", "remote");
    assert.deepEqual(await listDir(envDir), ["age_keys.txt", "environment.cfg", "secrets.cfg.age"]);
    assert.equal(await ageDecrypt(age, join(envDir, "secrets.cfg.age")), firstSecretsConfig("remote", age.pub));
    // Only the environment named: the other one still has none.
    assert.deepEqual(await listDir(join(base, "environments", "other")), ["environment.cfg"]);
    // It is an ordinary secrets file now: summary shows the member, a second add says it is one already.
    const summary = await cli(base, ["summary"], env);
    assert.equal(summary.code, 0, summary.stderr);
    assert.ok(summary.stdout.includes(`remote\n\t members\n\t\t- ${age.pub}\n`), summary.stdout);
    const again = await cli(base, ["add", age.pub, "--environments", "remote"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, `remote: ${age.pub} is already a member. Nothing to do.\n`);
  });
});

Deno.test("add (CLI): without --environments, no secrets anywhere: skipped, saying how to start them", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["remote"]);
    const age = await ageKey(dir, "age.txt");
    const r = await cli(base, ["add", age.pub], { BATOU_AGE_IDENTITIES: age.path });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "remote: No secrets found. Skipped.\n" +
        "No environment has secrets yet. To start those of one: batou secrets add KEY --environments ENV\n",
    );
    assert.deepEqual(await listDir(join(base, "environments", "remote")), ["environment.cfg"]);
  });
});

Deno.test("add (CLI): a member that is no key fails, also when no environment has secrets yet", async () => {
  await withTempDir(async (dir) => {
    const base = await project(dir, ["remote"]);
    const env = { BATOU_AGE_IDENTITIES: join(dir, "none") };
    const message = 'Invalid member "notakey": an age member is an age1... or ssh-... public key or an https:// ' +
      "URL of ssh keys. (New secrets are encrypted with age.)\n";
    for (const args of [["add", "notakey"], ["add", "notakey", "--environments", "remote"]]) {
      const r = await cli(base, args, env);
      assert.equal(r.code, 1, args.join(" "));
      assert.equal(r.stderr, message, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    }
    assert.deepEqual(await listDir(join(base, "environments", "remote")), ["environment.cfg"]);
  });
});
