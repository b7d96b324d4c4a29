import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  bcryptPbkdf,
  formatSshPublicKey,
  IncorrectPassphraseError,
  parseSshPrivateKeyFile,
  parseSshPublicKey,
  rsaModulusBits,
  rsaOaepPrivateKey,
  rsaOaepPublicKey,
  SshKeyError,
  type SshPrivateKey,
} from "../core/secrets/openssh.ts";
import { enc, runOk, sshKeygen, withTempDir } from "./secrets_test_helpers.ts";

const PASS = "correct horse";

Deno.test("bcrypt_pbkdf: known answers (the published vector, and outputs checked before the switch to the package)", () => {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  // pyca/bcrypt's kdf test vector
  assert.equal(
    hex(bcryptPbkdf(enc("password"), enc("salt"), 32, 4)),
    "5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9",
  );
  // from the previous implementation (core/secrets/bcrypt_pbkdf.ts), which read ssh-keygen's passphrase keys
  const known: [string, string, number, number, string][] = [
    [
      "password",
      "salt",
      48,
      2,
      "7578cf09f03644188b58dd336812168396e59d5dc35b5af7c6c3c90f520caf33dadc94033068763458bbc95f8ecdbe2d",
    ],
    [
      "correct horse",
      "0123456789abcdef",
      48,
      16,
      "a1c2879278f7e16f30578823fd9fb40348ed786a6e23033da5c7a193b7732d71bfa8e1cd182c9aa0d87c3ef53911eb76",
    ],
    [
      "pässwörd",
      "\x00\x01\x02",
      64,
      1,
      "fb13b2805f4081d49ee2d2924d977775d2ebc1b9143f9fd7e3d5e60dbd881a0e2c99280515d113d79477a96e7570418a77ae46a5d9e2ac3437b1a4113e99eb36",
    ],
  ];
  for (const [pass, salt, length, rounds, expected] of known) {
    assert.equal(hex(bcryptPbkdf(enc(pass), enc(salt), length, rounds)), expected, `${pass}/${rounds}`);
  }
  // OpenBSD's bcrypt_pbkdf refuses an empty passphrase (an unencrypted key needs none)
  assert.throws(() => bcryptPbkdf(enc(""), enc("salt"), 32, 4), SshKeyError);
});

Deno.test("bcrypt_pbkdf is deterministic and depends on every input", () => {
  const a = bcryptPbkdf(enc("password"), enc("salt"), 48, 2);
  assert.deepStrictEqual(a.length, 48);
  assert.deepStrictEqual(bcryptPbkdf(enc("password"), enc("salt"), 48, 2), a);
  assert.ok(bcryptPbkdf(enc("passwore"), enc("salt"), 48, 2).some((b, i) => b !== a[i]));
  assert.ok(bcryptPbkdf(enc("password"), enc("salu"), 48, 2).some((b, i) => b !== a[i]));
  assert.ok(bcryptPbkdf(enc("password"), enc("salt"), 48, 3).some((b, i) => b !== a[i]));
  // shorter outputs are not prefixes (the output is interleaved over the blocks)
  assert.deepStrictEqual(bcryptPbkdf(enc("password"), enc("salt"), 32, 2).length, 32);
});

function assertMatchesPub(key: SshPrivateKey, pubLine: string) {
  const pub = parseSshPublicKey(pubLine);
  assert.deepStrictEqual(key.type, pub.type);
  assert.deepStrictEqual(
    formatSshPublicKey({ ...key.publicKey, comment: "" }),
    formatSshPublicKey({ ...pub, comment: "" }),
  );
}

Deno.test("OpenSSH ed25519 keys (plain and passphrase-protected) from ssh-keygen", async () => {
  await withTempDir(async (dir) => {
    for (const pass of ["", PASS]) {
      const path = await sshKeygen(dir, `ed${pass ? "_enc" : ""}`, "ed25519", pass);
      const pubLine = await Deno.readTextFile(`${path}.pub`);
      const file = parseSshPrivateKeyFile(await Deno.readTextFile(path));
      assert.deepStrictEqual(file.encrypted, pass !== "");
      assert.deepStrictEqual(file.publicKey?.type, "ssh-ed25519");
      if (pass) {
        assert.throws(() => file.decrypt(), IncorrectPassphraseError);
        assert.throws(() => file.decrypt("wrong horse"), IncorrectPassphraseError);
      }
      const key = file.decrypt(pass || undefined);
      assertMatchesPub(key, pubLine);
      assert.deepStrictEqual(key.comment, `ed${pass ? "_enc" : ""}@test`);
      if (key.type !== "ssh-ed25519") throw new Error("type");
      // the seed really belongs to the public key
      assert.deepStrictEqual(ed25519.getPublicKey(key.seed), parseSshPublicKey(pubLine).ed25519);
    }
  });
});

Deno.test("OpenSSH RSA key with passphrase works for RSA-OAEP-SHA256 both ways", async () => {
  await withTempDir(async (dir) => {
    const path = await sshKeygen(dir, "rsa", "rsa", PASS);
    const pubLine = await Deno.readTextFile(`${path}.pub`);
    const key = parseSshPrivateKeyFile(await Deno.readTextFile(path)).decrypt(PASS);
    assertMatchesPub(key, pubLine);
    if (key.type !== "ssh-rsa") throw new Error("type");
    assert.deepStrictEqual(rsaModulusBits(key.n), 2048);
    const label = enc("age-encryption.org/v1/ssh-rsa");
    const ct = await crypto.subtle.encrypt(
      { name: "RSA-OAEP", label },
      await rsaOaepPublicKey(parseSshPublicKey(pubLine)),
      enc("file key 16 byte"),
    );
    const pt = await crypto.subtle.decrypt({ name: "RSA-OAEP", label }, await rsaOaepPrivateKey(key), ct);
    assert.deepStrictEqual(new TextDecoder().decode(pt), "file key 16 byte");
  });
});

Deno.test("aes256-gcm@openssh.com and aes256-cbc protected keys", async () => {
  await withTempDir(async (dir) => {
    for (const cipher of ["aes256-gcm@openssh.com", "aes256-cbc"]) {
      const path = await sshKeygen(dir, `k${cipher.slice(0, 9)}`, "ed25519", PASS, ["-Z", cipher, "-a", "4"]);
      const file = parseSshPrivateKeyFile(await Deno.readTextFile(path));
      assert.throws(() => file.decrypt("nope nope"), IncorrectPassphraseError);
      assertMatchesPub(file.decrypt(PASS), await Deno.readTextFile(`${path}.pub`));
    }
  });
});

Deno.test("PEM RSA keys (ssh-keygen -m PEM), plain and encrypted", async () => {
  await withTempDir(async (dir) => {
    for (const pass of ["", PASS]) {
      const path = await sshKeygen(dir, `pem${pass ? "_enc" : ""}`, "rsa", pass, ["-m", "PEM"]);
      const file = parseSshPrivateKeyFile(await Deno.readTextFile(path));
      assert.deepStrictEqual(file.format, "pem");
      assert.deepStrictEqual(file.encrypted, pass !== "");
      if (pass) assert.throws(() => file.decrypt("wrong horse"), IncorrectPassphraseError);
      assertMatchesPub(file.decrypt(pass || undefined), await Deno.readTextFile(`${path}.pub`));
    }
  });
});

Deno.test("unsupported key types and malformed input give SshKeyError", async () => {
  await withTempDir(async (dir) => {
    const path = await sshKeygen(dir, "ec", "ecdsa");
    const file = parseSshPrivateKeyFile(await Deno.readTextFile(path));
    assert.deepStrictEqual(file.publicKey?.type, "ecdsa-sha2-nistp256");
    assert.throws(() => file.decrypt(), /unsupported SSH key type ecdsa-sha2-nistp256/);
    // public key of an unknown type parses (type and wire only)
    const pub = parseSshPublicKey(await Deno.readTextFile(`${path}.pub`));
    assert.deepStrictEqual(pub.type, "ecdsa-sha2-nistp256");
  });
  assert.throws(() => parseSshPublicKey("ssh-ed25519"), SshKeyError);
  assert.throws(
    () => parseSshPublicKey("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"),
    SshKeyError,
  );
  assert.throws(() => parseSshPrivateKeyFile("hello"), SshKeyError);
  assert.throws(
    () => parseSshPrivateKeyFile("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"),
    SshKeyError,
  );
});

Deno.test("ssh-keygen can read back what it wrote (sanity of the fixture helper)", async () => {
  await withTempDir(async (dir) => {
    const path = await sshKeygen(dir, "x", "ed25519", PASS);
    const pub = new TextDecoder().decode(await runOk("ssh-keygen", ["-y", "-P", PASS, "-f", path]));
    assertMatchesPub(parseSshPrivateKeyFile(await Deno.readTextFile(path)).decrypt(PASS), pub);
  });
});
