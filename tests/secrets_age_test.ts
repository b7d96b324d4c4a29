/** age encryption: our implementation against the real `age` binary (X25519, ssh-ed25519, ssh-rsa). */
import assert from "node:assert/strict";
import { Encrypter } from "age-encryption";
import {
  AgeDecryptError,
  AgeRecipientError,
  decryptAge,
  encryptAge,
  loadIdentities,
  loadIdentityFile,
  parseAgeRecipient,
  sshKeyTag,
} from "../core/secrets/age.ts";
import { parseSshPublicKey } from "../core/secrets/openssh.ts";
import { dec, enc, moduleUrl, run, runDenoChild, runOk, sshKeygen, withTempDir } from "./secrets_test_helpers.ts";

const PASS = "correct horse";
const MESSAGE = "[component:hello]\npassword = s3cr3t ünïcödé\n";

/** `age -d -i <identity>` on bytes; returns the plaintext. */
async function ageDecrypt(dir: string, ciphertext: Uint8Array, identity: string): Promise<string> {
  const file = `${dir}/ct-${crypto.randomUUID()}.age`;
  await Deno.writeFile(file, ciphertext);
  return dec(await runOk("age", ["-d", "-i", identity, file]));
}

/** `age -e -r/-R ...` on a string; returns the binary ciphertext. */
function ageEncrypt(plaintext: string, args: string[]): Promise<Uint8Array> {
  return runOk("age", ["-e", ...args], { stdin: enc(plaintext) });
}

/** A copy of a passphrase-protected ssh key without passphrase (for feeding `age -d`, which wants a TTY). */
async function unprotectedCopy(path: string): Promise<string> {
  const copy = `${path}.nopass`;
  await Deno.copyFile(path, copy);
  await runOk("ssh-keygen", ["-q", "-p", "-P", PASS, "-N", "", "-f", copy]);
  return copy;
}

Deno.test("age binary is installed (the interop tests need it)", async () => {
  const r = await run("age", ["--version"]);
  assert.equal(r.code, 0);
});

Deno.test("X25519: ours -> age -d, age -e -r -> ours", async () => {
  await withTempDir(async (dir) => {
    await runOk("age-keygen", ["-o", `${dir}/key.txt`]);
    const recipient = dec(await runOk("age-keygen", ["-y", `${dir}/key.txt`])).trim();
    assert.match(recipient, /^age1/);

    const ct = await encryptAge(enc(MESSAGE), [recipient]);
    assert.ok(dec(ct.subarray(0, 22)).startsWith("age-encryption.org/v1\n"), "binary, not armored");
    assert.equal(await ageDecrypt(dir, ct, `${dir}/key.txt`), MESSAGE);

    const theirs = await ageEncrypt(MESSAGE, ["-r", recipient]);
    const ids = await loadIdentities({ paths: [`${dir}/key.txt`] });
    assert.equal(dec(await decryptAge(theirs, ids)), MESSAGE);
  });
});

for (const type of ["ed25519", "rsa"] as const) {
  for (const pass of ["", PASS]) {
    const label = `ssh-${type}${pass ? " with passphrase" : ""}`;
    Deno.test(`${label}: ours -> age -d -i, age -e -R -> ours`, async () => {
      await withTempDir(async (dir) => {
        const key = await sshKeygen(dir, `id_${type}`, type, pass);
        const pubLine = (await Deno.readTextFile(`${key}.pub`)).trim();

        // ours -> age
        const ct = await encryptAge(enc(MESSAGE), [pubLine]);
        const stanza = dec(ct).split("\n")[1];
        assert.ok(stanza.startsWith(`-> ssh-${type} ${sshKeyTag(parseSshPublicKey(pubLine))}`), stanza);
        const ageKey = pass ? await unprotectedCopy(key) : key;
        assert.equal(await ageDecrypt(dir, ct, ageKey), MESSAGE);

        // age -> ours
        const theirs = await ageEncrypt(MESSAGE, ["-R", `${key}.pub`]);
        let asked = 0;
        const ids = await loadIdentities({
          paths: [key],
          passphrase: (path) => {
            asked++;
            assert.equal(path, key);
            return Promise.resolve(PASS);
          },
        });
        assert.equal(dec(await decryptAge(theirs, ids)), MESSAGE);
        assert.equal(dec(await decryptAge(ct, ids)), MESSAGE);
        assert.equal(asked, pass ? 1 : 0, "passphrase asked once, and only for protected keys");
      });
    });
  }
}

Deno.test("one file for several recipients: each identity decrypts it with age and with us", async () => {
  await withTempDir(async (dir) => {
    await runOk("age-keygen", ["-o", `${dir}/key.txt`]);
    const x25519 = dec(await runOk("age-keygen", ["-y", `${dir}/key.txt`])).trim();
    const ed = await sshKeygen(dir, "id_ed25519", "ed25519");
    const rsa = await sshKeygen(dir, "id_rsa", "rsa");
    const recipients = [x25519, await Deno.readTextFile(`${ed}.pub`), await Deno.readTextFile(`${rsa}.pub`)];
    const ct = await encryptAge(enc(MESSAGE), recipients);
    for (const identity of [`${dir}/key.txt`, ed, rsa]) {
      assert.equal(await ageDecrypt(dir, ct, identity), MESSAGE);
      assert.equal(dec(await decryptAge(ct, await loadIdentities({ paths: [identity] }))), MESSAGE);
    }
  });
});

Deno.test("large and empty plaintexts round-trip through age", async () => {
  await withTempDir(async (dir) => {
    const key = await sshKeygen(dir, "id_ed25519", "ed25519");
    const pub = await Deno.readTextFile(`${key}.pub`);
    const big = "x".repeat(200_000) + "\n";
    assert.equal(await ageDecrypt(dir, await encryptAge(enc(big), [pub]), key), big);
    const empty = await encryptAge(new Uint8Array(0), [pub]);
    assert.equal(await ageDecrypt(dir, empty, key), "");
    assert.equal((await decryptAge(empty, await loadIdentities({ paths: [key] }))).length, 0);
  });
});

Deno.test("no matching identity: clear error naming the file and the identities tried", async () => {
  await withTempDir(async (dir) => {
    const a = await sshKeygen(dir, "a", "ed25519");
    const b = await sshKeygen(dir, "b", "ed25519");
    const ec = await sshKeygen(dir, "ec", "ecdsa");
    const ct = await encryptAge(enc(MESSAGE), [await Deno.readTextFile(`${a}.pub`)]);
    const ids = await loadIdentities({ paths: [b, ec] });
    await assert.rejects(decryptAge(ct, ids, { path: "environments/x/secrets.cfg.age" }), (err: unknown) => {
      assert.ok(err instanceof AgeDecryptError);
      assert.equal(
        err.message.split("\n")[0],
        `Could not decrypt environments/x/secrets.cfg.age with any of the identities ${JSON.stringify([b, ec])}`,
      );
      assert.match(err.message, /unsupported SSH key type ecdsa-sha2-nistp256/);
      return true;
    });
    // the unusable ecdsa key does not stop a usable key from working
    assert.equal(dec(await decryptAge(ct, await loadIdentities({ paths: [ec, a] }))), MESSAGE);
  });
});

Deno.test("wrong passphrase is reported as such", async () => {
  await withTempDir(async (dir) => {
    const key = await sshKeygen(dir, "id_ed25519", "ed25519", PASS);
    const ct = await ageEncrypt(MESSAGE, ["-R", `${key}.pub`]);
    const ids = await loadIdentities({ paths: [key], passphrase: () => Promise.resolve("wrong horse") });
    await assert.rejects(
      decryptAge(ct, ids, { path: "f.age" }),
      /Could not decrypt f\.age[^\n]*\n.*incorrect passphrase/,
    );
  });
});

Deno.test("BATOU_AGE_IDENTITY_PASSPHRASE and BATOU_AGE_IDENTITIES / ~/.ssh defaults", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/.ssh`);
    const key = await sshKeygen(`${dir}/.ssh`, "id_ed25519", "ed25519", PASS);
    await sshKeygen(`${dir}/.ssh`, "id_ecdsa", "ecdsa");
    const other = await sshKeygen(dir, "other", "ed25519");
    await Deno.writeFile(`${dir}/ct.age`, await ageEncrypt(MESSAGE, ["-R", `${key}.pub`]));
    const code = `import { decryptAge, identityPaths, loadIdentities } from ${
      JSON.stringify(moduleUrl("core/secrets/age.ts"))
    };
console.log(JSON.stringify(await identityPaths()));
const pt = await decryptAge(await Deno.readFile(${JSON.stringify(`${dir}/ct.age`)}), await loadIdentities());
console.log(JSON.stringify(new TextDecoder().decode(pt)));
`;
    const defaults = await runDenoChild(dir, code, {
      HOME: dir,
      BATOU_AGE_IDENTITIES: undefined,
      BATOU_AGE_IDENTITY_PASSPHRASE: PASS,
    });
    assert.equal(defaults.code, 0, defaults.stderr);
    assert.deepEqual(dec(defaults.stdout).trim().split("\n").map((l) => JSON.parse(l)), [
      [`${dir}/.ssh/id_ecdsa`, `${dir}/.ssh/id_ed25519`],
      MESSAGE,
    ]);

    const listed = await runDenoChild(dir, code, {
      HOME: `${dir}/nowhere`,
      BATOU_AGE_IDENTITIES: ` ${other} , ${dir}/missing,~/../.ssh/id_ed25519`,
      BATOU_AGE_IDENTITY_PASSPHRASE: PASS,
    });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(dec(listed.stdout).trim().split("\n").map((l) => JSON.parse(l)), [
      [other, `${dir}/nowhere/../.ssh/id_ed25519`],
      MESSAGE,
    ]);
  });
});

Deno.test("age identity files: comments, several keys, passphrase-encrypted identity file", async () => {
  await withTempDir(async (dir) => {
    await runOk("age-keygen", ["-o", `${dir}/k1.txt`]);
    await runOk("age-keygen", ["-o", `${dir}/k2.txt`]);
    const r2 = dec(await runOk("age-keygen", ["-y", `${dir}/k2.txt`])).trim();
    const both = (await Deno.readTextFile(`${dir}/k1.txt`)) + (await Deno.readTextFile(`${dir}/k2.txt`));
    await Deno.writeTextFile(`${dir}/both.txt`, both);
    const ct = await ageEncrypt(MESSAGE, ["-r", r2]);
    assert.equal(dec(await decryptAge(ct, await loadIdentities({ paths: [`${dir}/both.txt`] }))), MESSAGE);

    const e = new Encrypter();
    e.setPassphrase("identity pass");
    e.setScryptWorkFactor(10);
    await Deno.writeFile(`${dir}/both.txt.age`, await e.encrypt(both));
    const src = await loadIdentityFile(`${dir}/both.txt.age`, () => Promise.resolve("identity pass"));
    assert.equal(dec(await decryptAge(ct, [src])), MESSAGE);

    await Deno.writeTextFile(`${dir}/junk`, "hello world\n");
    const junk = await loadIdentityFile(`${dir}/junk`);
    assert.equal(junk.identities.length, 0);
    assert.match(junk.error ?? "", /not an SSH private key or age identity file/);
  });
});

Deno.test("recipient parsing rejects unknown and too small keys", async () => {
  assert.throws(() => parseAgeRecipient("foo@example.com"), AgeRecipientError);
  assert.throws(() => parseAgeRecipient("ssh-ed25519 notbase64!"), AgeRecipientError);
  await assert.rejects(encryptAge(enc("x"), ["age1notakey"]), AgeRecipientError);
  await assert.rejects(encryptAge(enc("x"), []), AgeRecipientError);
  await withTempDir(async (dir) => {
    const small = `${dir}/small`;
    await runOk("ssh-keygen", ["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", small]);
    assert.throws(() => parseAgeRecipient(Deno.readTextFileSync(`${small}.pub`)), /RSA key size is too small/);
  });
  await assert.rejects(decryptAge(enc("not age"), [], { path: "x" }), /x is not an age-encrypted file/);
});

Deno.test("without BATOU_AGE_IDENTITY_PASSPHRASE the passphrase is asked on the terminal, without echo", async () => {
  await withTempDir(async (dir) => {
    const key = await sshKeygen(dir, "id_ed25519", "ed25519", PASS);
    await Deno.writeFile(`${dir}/ct.age`, await ageEncrypt(MESSAGE, ["-R", `${key}.pub`]));
    const ageModule = moduleUrl("core/secrets/age.ts");
    await Deno.writeTextFile(
      `${dir}/child.ts`,
      `import { decryptAge, loadIdentities } from ${JSON.stringify(ageModule)};
const ids = await loadIdentities({ paths: [${JSON.stringify(key)}] });
const pt = await decryptAge(await Deno.readFile(${JSON.stringify(`${dir}/ct.age`)}), ids);
console.log("PLAINTEXT:" + JSON.stringify(new TextDecoder().decode(pt)));
`,
    );
    // python's pty gives the child a real terminal; we type the passphrase when asked
    const driver = `
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while b"Enter passphrase for" not in out:
    chunk = os.read(fd, 1024)
    if not chunk: break
    out += chunk
os.write(fd, b${JSON.stringify(PASS)} + b"\\r")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk: break
    out += chunk
os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
`;
    const env = { ...Deno.env.toObject(), NO_COLOR: "1" };
    delete (env as Record<string, string>).BATOU_AGE_IDENTITY_PASSPHRASE;
    const config = new URL("../deno.json", import.meta.url).pathname;
    const out = dec(
      await runOk("python3", ["-c", driver, Deno.execPath(), "run", "-A", "--config", config, `${dir}/child.ts`], {
        env,
      }),
    );
    assert.ok(out.includes(`Enter passphrase for "${key}": `), out);
    assert.ok(out.includes(`PLAINTEXT:${JSON.stringify(MESSAGE)}`), out);
    assert.ok(!out.includes(PASS), "the passphrase is not echoed");
  });
});

Deno.test("without passphrase variable and without a terminal the error says what to do", async () => {
  await withTempDir(async (dir) => {
    const key = await sshKeygen(dir, "id_ed25519", "ed25519", PASS);
    await Deno.writeFile(`${dir}/ct.age`, await ageEncrypt(MESSAGE, ["-R", `${key}.pub`]));
    const r = await runDenoChild(
      dir,
      `import { decryptAge, loadIdentities } from ${JSON.stringify(moduleUrl("core/secrets/age.ts"))};
const ids = await loadIdentities({ paths: [${JSON.stringify(key)}] });
try { await decryptAge(await Deno.readFile(${JSON.stringify(`${dir}/ct.age`)}), ids, { path: "ct.age" }); }
catch (e) { console.log((e as Error).message); }
`,
      { BATOU_AGE_IDENTITY_PASSPHRASE: undefined },
    );
    const out = dec(r.stdout);
    assert.match(out, /^Could not decrypt ct\.age with any of the identities/);
    assert.ok(out.includes(`The identity ${key} is protected by a passphrase: set BATOU_AGE_IDENTITY_PASSPHRASE`), out);
  });
});
