import assert from "node:assert/strict";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bcryptPbkdf, piFractionWords } from "../core/secrets/bcrypt_pbkdf.ts";
import {
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

Deno.test("Blowfish constants are the hex digits of pi", () => {
  const w = piFractionWords(18 + 1024);
  assert.deepStrictEqual(w[0], 0x243f6a88);
  assert.deepStrictEqual(w[1], 0x85a308d3);
  assert.deepStrictEqual(w[17], 0x8979fb1b); // last P-array word
  assert.deepStrictEqual(w[18], 0xd1310ba6); // S-box 0, word 0
  assert.deepStrictEqual(w[18 + 1023], 0x3ac372e6); // S-box 3, word 255
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
