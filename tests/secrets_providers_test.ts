/** Secret providers: layout detection, reading, writing, key changes, provider switches (real age/gpg). */
import assert from "node:assert/strict";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { type AgeIdentitySource, identitiesFromStrings, loadIdentities } from "../core/secrets/age.ts";
import { fromBase64 } from "../core/formats/base64.ts";
import {
  AGE_KEYS_BANNER,
  detectProvider,
  lockFile,
  NEW_FILE_TEMPLATE,
  parseMembers,
  readConfigCleartext,
  readSecretFile,
  readSecrets,
  resolveAgeRecipients,
  SecretsError,
  type SecretsOptions,
  summarizeSecrets,
  writeConfig,
  writeSecretFile,
} from "../core/secrets/providers.ts";
import { FileLockedError } from "../core/model/errors.ts";
import { dec, runOk, sshKeygen, withGnupgHome, withTempDir } from "./secrets_test_helpers.ts";

interface Member {
  recipient: string;
  identity: AgeIdentitySource;
}

async function x25519Member(label: string): Promise<Member> {
  const key = await generateX25519Identity();
  return { recipient: await identityToRecipient(key), identity: identitiesFromStrings(label, [key]) };
}

/** An environment dir `<dir>/environments/test` plus options that collect log lines. */
async function env(dir: string): Promise<{ envDir: string; logs: string[]; opts: (ids: Member[]) => SecretsOptions }> {
  const envDir = `${dir}/environments/test`;
  await Deno.mkdir(envDir, { recursive: true });
  await Deno.writeTextFile(`${envDir}/environment.cfg`, "[environment]\n");
  const logs: string[] = [];
  return {
    envDir,
    logs,
    opts: (ids) => ({ identities: ids.map((m) => m.identity), log: (m) => logs.push(m) }),
  };
}

function config(provider: string | null, members: string[], body = ""): string {
  return "[batou]\n" + (provider ? `secret_provider = ${provider}\n` : "") +
    `members = ${members.join(",\n    ")}\n` + body;
}

const BODY = "\n[component:hello]\n# a comment that survives\nmagic_word = deploy often\n" +
  "password = abc #not a comment\n\n[host:web1]\ndata-role = primary\nplain = kept\n";

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("layout detection: none, one provider, several, invalid, stray secret files", async () => {
  await withTempDir(async (dir) => {
    const { envDir } = await env(dir);
    assert.equal((await detectProvider(envDir)).provider, "none");
    assert.equal((await detectProvider(`${dir}/missing`)).provider, "none");
    await Deno.writeFile(`${envDir}/secrets.cfg.age`, new Uint8Array(0));
    await Deno.writeFile(`${envDir}/secret-foo.yaml.age`, new Uint8Array(0));
    await Deno.writeFile(`${envDir}/secret-x.age.swp`, new Uint8Array(0));
    const layout = await detectProvider(envDir);
    assert.equal(layout.provider, "age");
    assert.equal(layout.configPath, `${envDir}/secrets.cfg.age`);
    assert.deepEqual(layout.secretFiles, { "foo.yaml": `${envDir}/secret-foo.yaml.age` });

    await Deno.writeFile(`${envDir}/secret-other.gpg`, new Uint8Array(0));
    await assert.rejects(
      detectProvider(envDir),
      /Secret files that do not belong to the age secret provider of environment test: secret-other\.gpg/,
    );
    await Deno.remove(`${envDir}/secret-other.gpg`);

    await Deno.writeFile(`${envDir}/secrets.cfg.gpg`, new Uint8Array(0));
    await assert.rejects(
      detectProvider(envDir),
      (e: unknown) =>
        e instanceof SecretsError &&
        e.message.startsWith(
          "Multiple secret providers found for environment test: secrets.cfg.age, secrets.cfg.gpg. Cannot continue",
        ),
    );
    await Deno.remove(`${envDir}/secrets.cfg.gpg`);
    await Deno.rename(`${envDir}/secrets.cfg.age`, `${envDir}/secrets.cfg.age.old`);
    await assert.rejects(
      detectProvider(envDir),
      /Invalid secret provider \.age\.old \(file .*secrets\.cfg\.age\.old\)/,
    );
  });
});

Deno.test("members are split on commas and newlines", () => {
  assert.deepEqual(parseMembers("\na, b,\n  c\n\n,d"), ["a", "b", "c", "d"]);
  assert.deepEqual(parseMembers(""), []);
  assert.deepEqual(parseMembers(undefined), []);
});

Deno.test("age: first write creates the files; reading gives overrides, host data, files, words", async () => {
  await withTempDir(async (dir) => {
    const { envDir, logs, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const sshKey = await sshKeygen(dir, "id_ed25519", "ed25519");
    const sshPub = (await Deno.readTextFile(`${sshKey}.pub`)).trim();
    const o = opts([alice]);

    const result = await writeConfig(envDir, config(null, [alice.recipient, sshPub], BODY), o);
    assert.equal(result.provider, "age");
    assert.equal(result.changedFrom, "none");
    assert.ok(logs.includes("Setting secret provider to age."));
    assert.ok(logs.some((l) => l.startsWith("WARNING: The age encryption public-key metadata file does not exist!")));
    assert.deepEqual(await listDir(envDir), ["age_keys.txt", "environment.cfg", "secrets.cfg.age"]);
    assert.equal(
      await Deno.readTextFile(`${envDir}/age_keys.txt`),
      AGE_KEYS_BANNER + `# plain age public key\n${alice.recipient}\n# plain ssh public key\n${sshPub}\n`,
    );
    const raw = await Deno.readFile(`${envDir}/secrets.cfg.age`);
    assert.ok(dec(raw.subarray(0, 22)) === "age-encryption.org/v1\n");
    assert.ok(!dec(raw).includes("deploy often"), "no cleartext on disk");
    // the real age binary decrypts it with the ssh key
    const cleartext = dec(await runOk("age", ["-d", "-i", sshKey, `${envDir}/secrets.cfg.age`]));
    assert.equal(
      cleartext,
      config(null, [alice.recipient, sshPub]) + "secret_provider = age\n" + BODY,
    );

    assert.equal(await writeSecretFile(envDir, "foo.yaml", "user: x\npassword: hunter2\n\n", o), true);
    assert.ok(await Deno.stat(`${envDir}/secret-foo.yaml.age`));

    const data = await readSecrets(envDir, o);
    assert.equal(data.provider, "age");
    assert.deepEqual(data.members, [alice.recipient, sshPub]);
    assert.deepEqual(data.overrides, { hello: { magic_word: "deploy often", password: "abc #not a comment" } });
    assert.deepEqual(data.hostData, { web1: { role: "primary", plain: "kept" } });
    assert.deepEqual(data.secretFiles, { "foo.yaml": "user: x\npassword: hunter2\n\n" });
    assert.deepEqual(
      [...data.secretWords].sort(),
      ["#not", "a", "abc", "comment", "deploy", "often", "password: hunter2", "user: x"].sort(),
    );
    assert.equal(await readConfigCleartext(envDir, o), cleartext);
    assert.equal(dec((await readSecretFile(envDir, "foo.yaml", o))!), "user: x\npassword: hunter2\n\n");
    assert.equal(await readSecretFile(envDir, "nope", o), null);
    assert.deepEqual(await summarizeSecrets(envDir, o), {
      provider: "age",
      members: [alice.recipient, sshPub],
      secretFiles: ["foo.yaml"],
    });

    // and with the ssh identity from a file
    const viaSsh = await readSecrets(envDir, { identities: await loadIdentities({ paths: [sshKey] }) });
    assert.equal(viaSsh.secretFiles["foo.yaml"], "user: x\npassword: hunter2\n\n");
  });
});

Deno.test("age: unchanged writes keep ciphertexts; key changes and --force re-encrypt everything", async () => {
  await withTempDir(async (dir) => {
    const { envDir, logs, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const bob = await x25519Member("bob");
    const o = opts([alice, bob]);
    const text = config("age", [alice.recipient], BODY);
    await writeConfig(envDir, text, o);
    await writeSecretFile(envDir, "a", "one\n", o);
    const snapshot = async () => ({
      cfg: await Deno.readFile(`${envDir}/secrets.cfg.age`),
      a: await Deno.readFile(`${envDir}/secret-a.age`),
    });
    const first = await snapshot();

    logs.length = 0;
    let r = await writeConfig(envDir, text, o);
    assert.equal(r.keysChanged, false);
    assert.deepEqual(r.written, []);
    assert.deepEqual(await snapshot(), first, "nothing changes when nothing changed");
    assert.equal(logs.length, 0);
    assert.equal(await writeSecretFile(envDir, "a", "one\n", o), false);

    r = await writeConfig(envDir, text.replace("deploy often", "deploy daily"), o);
    assert.deepEqual(r.written, [`${envDir}/secrets.cfg.age`]);
    const second = await snapshot();
    assert.notDeepEqual(second.cfg, first.cfg);
    assert.deepEqual(second.a, first.a, "secret files untouched when keys are the same");

    // bob cannot read yet; adding him changes age_keys.txt, which re-encrypts everything
    await assert.rejects(readSecrets(envDir, { identities: [bob.identity] }), /Could not decrypt/);
    r = await writeConfig(envDir, config("age", [alice.recipient, bob.recipient], BODY), o);
    assert.equal(r.keysChanged, true);
    assert.ok(logs.some((l) => l.startsWith("WARNING: The age encryption public-key metadata file has changed!")));
    assert.deepEqual(r.written.sort(), [`${envDir}/secret-a.age`, `${envDir}/secrets.cfg.age`]);
    const asBob = await readSecrets(envDir, { identities: [bob.identity] });
    assert.equal(asBob.secretFiles.a, "one\n");

    const third = await snapshot();
    r = await writeConfig(envDir, config("age", [alice.recipient, bob.recipient], BODY), {
      ...o,
      forceReencrypt: true,
    });
    assert.equal(r.keysChanged, false);
    const fourth = await snapshot();
    assert.notDeepEqual(fourth.cfg, third.cfg);
    assert.notDeepEqual(fourth.a, third.a);
  });
});

Deno.test("write errors: missing/empty members, no recipients, secret file without configuration", async () => {
  await withTempDir(async (dir) => {
    const { envDir, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const o = opts([alice]);
    await assert.rejects(
      writeSecretFile(envDir, "x", "y", o),
      /^SecretsError: Cannot edit secret files for environment without secret configuration\.$/,
    );
    await assert.rejects(
      writeConfig(envDir, "[batou]\nsecret_provider = age\n", o),
      /^SecretsError: Please add a 'batou\.members' section to the secrets file\.$/,
    );
    await assert.rejects(
      writeConfig(envDir, NEW_FILE_TEMPLATE, o),
      /^SecretsError: Please add at least one recipient to the secrets file\.$/,
    );
    await assert.rejects(writeConfig(envDir, config("rot13", [alice.recipient]), o), /Invalid secret provider rot13\./);
    await assert.rejects(
      writeConfig(envDir, config("age", ["somebody@example.com"]), o),
      /No recipients found for environment\. Please add a 'batou\.members' section to the secrets file\./,
    );
    assert.deepEqual(await listDir(envDir), ["age_keys.txt", "environment.cfg"], "no secrets file left behind");
  });
});

Deno.test("age recipients: https key files (sorted), http refused, unknown types warned about", async () => {
  await withTempDir(async (dir) => {
    const { envDir, logs, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const fetched: string[] = [];
    const o: SecretsOptions = {
      ...opts([alice]),
      fetchText: (url) => {
        fetched.push(url);
        return Promise.resolve("ssh-rsa BBBB second\r\necdsa-sha2-nistp256 CCCC skipped\nssh-ed25519 AAAA first\n");
      },
    };
    const r = await resolveAgeRecipients(
      [alice.recipient, "https://example.com/u.keys", "bogus"],
      envDir,
      o,
    );
    assert.deepEqual(fetched, ["https://example.com/u.keys"]);
    assert.deepEqual(r.recipients, [alice.recipient, "ssh-ed25519 AAAA first", "ssh-rsa BBBB second"]);
    assert.equal(
      await Deno.readTextFile(`${envDir}/age_keys.txt`),
      AGE_KEYS_BANNER + `# plain age public key\n${alice.recipient}\n` +
        "# ssh key file from https://example.com/u.keys\nssh-ed25519 AAAA first\nssh-rsa BBBB second\n",
    );
    assert.ok(logs.includes("WARNING: Unknown key type for bogus\nWill be ignored!"));
    assert.equal(r.keysChanged, true);
    assert.equal(
      (await resolveAgeRecipients([alice.recipient, "https://example.com/u.keys", "bogus"], envDir, o))
        .keysChanged,
      false,
    );
    await assert.rejects(
      resolveAgeRecipients(["http://example.com/u.keys"], envDir, o),
      /^SecretsError: Downloading public keys over http is insecure!$/,
    );
  });
});

Deno.test("age-diffable: values encrypted one by one, multi-line values, minimal rewrites", async () => {
  await withTempDir(async (dir) => {
    const { envDir, opts } = await env(dir);
    const sshKey = await sshKeygen(dir, "id_ed25519", "ed25519");
    const sshPub = (await Deno.readTextFile(`${sshKey}.pub`)).trim();
    const o: SecretsOptions = { ...opts([]), identities: await loadIdentities({ paths: [sshKey] }) };
    const body = "\n[hello]\nsingle = one value\nmulti = first line\n    second line\n\n    after blank\n" +
      "other = x\n";
    const text = config("age-diffable", [sshPub], body);
    await writeConfig(envDir, text, o);
    const stored = await Deno.readTextFile(`${envDir}/secrets.cfg.age-diffable`);
    assert.ok(stored.startsWith(`[batou]\nsecret_provider = age-diffable\nmembers = ${sshPub}\n`), stored);
    assert.ok(!stored.includes("one value") && !stored.includes("second line"), "values are encrypted");
    const lines = stored.split("\n");
    const value = (k: string) => lines.find((l) => l.startsWith(`${k} = `))!.slice(k.length + 3);
    // each value is base64 of a binary age file the age binary can decrypt
    await Deno.writeFile(`${dir}/multi.age`, fromBase64(value("multi")));
    assert.equal(
      dec(await runOk("age", ["-d", "-i", sshKey, `${dir}/multi.age`])),
      "first line\nsecond line\n\nafter blank",
    );

    assert.equal(await readConfigCleartext(envDir, o), text);
    const data = await readSecrets(envDir, o);
    assert.deepEqual(data.overrides.hello, {
      single: "one value",
      multi: "first line\nsecond line\n\nafter blank",
      other: "x",
    });

    // change one value: only its line changes
    await writeConfig(envDir, text.replace("other = x", "other = y"), o);
    const after = (await Deno.readTextFile(`${envDir}/secrets.cfg.age-diffable`)).split("\n");
    const changed = after.filter((l, i) => l !== lines[i]);
    assert.equal(changed.length, 1);
    assert.ok(changed[0].startsWith("other = "));
    // summary reads members from the cleartext [batou] section
    assert.deepEqual((await summarizeSecrets(envDir, { identities: [] })).members, [sshPub]);
  });
});

Deno.test("provider switch age -> gpg -> age-diffable moves the config and all secret files", async () => {
  await withGnupgHome(async (home, dir) => {
    const { envDir, logs, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const o: SecretsOptions = { ...opts([alice]), gpg: { gnupgHome: home } };
    await writeConfig(envDir, config("age", [alice.recipient], BODY), o);
    await writeSecretFile(envDir, "foo.yaml", "foo: 1\n", o);

    let r = await writeConfig(envDir, config("gpg", ["a@example.com"], BODY), o);
    assert.equal(r.changedFrom, "age");
    assert.deepEqual(r.removed.sort(), [`${envDir}/secret-foo.yaml.age`, `${envDir}/secrets.cfg.age`]);
    assert.ok(logs.includes("Changing secret provider from age to gpg."));
    assert.deepEqual(await listDir(envDir), [
      "age_keys.txt",
      "environment.cfg",
      "secret-foo.yaml.gpg",
      "secrets.cfg.gpg",
    ]);
    const viaGpg = dec(
      await runOk("gpg", ["--batch", "--decrypt", `${envDir}/secret-foo.yaml.gpg`], { env: { GNUPGHOME: home } }),
    );
    assert.equal(viaGpg, "foo: 1\n");
    const data = await readSecrets(envDir, o);
    assert.equal(data.provider, "gpg");
    assert.equal(data.overrides.hello.magic_word, "deploy often");

    // gpg: same keys -> no rewrite; another member -> re-encrypt config and files
    const before = await Deno.readFile(`${envDir}/secret-foo.yaml.gpg`);
    r = await writeConfig(envDir, config("gpg", ["a@example.com"], BODY), o);
    assert.equal(r.keysChanged, false);
    assert.deepEqual(r.written, []);
    r = await writeConfig(envDir, config("gpg", ["a@example.com", "b@example.com"], BODY), o);
    assert.equal(r.keysChanged, true);
    assert.notDeepEqual(await Deno.readFile(`${envDir}/secret-foo.yaml.gpg`), before);

    r = await writeConfig(envDir, config("age-diffable", [alice.recipient], BODY), o);
    assert.equal(r.changedFrom, "gpg");
    assert.deepEqual(await listDir(envDir), [
      "age_keys.txt",
      "environment.cfg",
      "secret-foo.yaml.age",
      "secrets.cfg.age-diffable",
    ]);
    const back = await readSecrets(envDir, o);
    assert.equal(back.provider, "age-diffable");
    assert.deepEqual(back.secretFiles, { "foo.yaml": "foo: 1\n" });
    assert.equal(back.overrides.hello.password, "abc #not a comment");
  });
});

Deno.test("locks: a held exclusive lock makes readers fail with FileLockedError; lockHeld skips locking", async () => {
  await withTempDir(async (dir) => {
    const { envDir, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const o = opts([alice]);
    await writeConfig(envDir, config("age", [alice.recipient], BODY), o);
    const path = `${envDir}/secrets.cfg.age`;
    const lock = await lockFile(path, { exclusive: true });
    try {
      await assert.rejects(
        readSecrets(envDir, o),
        (e: unknown) => e instanceof FileLockedError && e.message === `File already locked: ${path}`,
      );
      await assert.rejects(lockFile(path, { exclusive: false }), FileLockedError);
      // the lock holder (e.g. the editor) writes with lockHeld
      await writeConfig(envDir, config("age", [alice.recipient], BODY + "\n[more]\nx = 1\n"), { ...o, lockHeld: true });
    } finally {
      lock.release();
    }
    assert.deepEqual((await readSecrets(envDir, o)).overrides.more, { x: "1" });
    // shared locks coexist
    const a = await lockFile(path, { exclusive: false });
    const b = await lockFile(path, { exclusive: false });
    a.release();
    b.release();
    // a placeholder created for locking a new file is removed if nothing was written
    const placeholder = await lockFile(`${envDir}/secret-new.age`, { exclusive: true, create: true });
    assert.ok(await Deno.stat(`${envDir}/secret-new.age`));
    placeholder.release();
    await assert.rejects(Deno.stat(`${envDir}/secret-new.age`), Deno.errors.NotFound);
  });
});

Deno.test("reading: same key in [hello] and [component:hello] is an error; an empty config too", async () => {
  await withTempDir(async (dir) => {
    const { envDir, opts } = await env(dir);
    const alice = await x25519Member("alice");
    const o = opts([alice]);
    await writeConfig(envDir, config("age", [alice.recipient], "[hello]\na = 1\n[component:hello]\na = 2\nb = 3\n"), o);
    await assert.rejects(readSecrets(envDir, o), /hello\.a is set in both \[hello\] and \[component:hello\]/);
    // Issue 16: an empty (truncated) secrets.cfg.age is not "no secrets".
    await Deno.writeFile(`${envDir}/secrets.cfg.age`, new Uint8Array(0));
    await assert.rejects(readSecrets(envDir, o), /secrets\.cfg\.age is empty \(0 bytes\): restore it, or remove it/);
  });
});

Deno.test("no secrets: empty data", async () => {
  await withTempDir(async (dir) => {
    const { envDir } = await env(dir);
    const data = await readSecrets(envDir, { identities: [] });
    assert.equal(data.provider, "none");
    assert.deepEqual(data.overrides, {});
    assert.equal(await readConfigCleartext(envDir, { identities: [] }), null);
    assert.equal(data.secretWords.size, 0);
  });
});
