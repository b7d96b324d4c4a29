/** GPG: our OpenPGP.js encryption and key-id reading against the real `gpg` in a temporary GNUPGHOME. */
import assert from "node:assert/strict";
import {
  encryptGpg,
  GPGCallError,
  gpgDecrypt,
  gpgDecryptFile,
  gpgKeysChanged,
  GpgRecipientError,
  memberKeyIds,
  messageKeyIds,
} from "../core/secrets/gpg.ts";
import { dec, enc, moduleUrl, run, runDenoChild, runOk, withGnupgHome, withTempDir } from "./secrets_test_helpers.ts";

const MESSAGE = "[component:hello]\npassword = s3cr3t ünïcödé\n";

/** Encryption subkey ids as gpg lists them. */
async function gpgSubkeyIds(home: string, member: string): Promise<string[]> {
  const out = dec(await runOk("gpg", ["--with-colons", "--list-keys", member], { env: { GNUPGHOME: home } }));
  return out.split("\n").filter((l) => l.startsWith("sub:") && l.split(":")[11].includes("e")).map((l) =>
    l.split(":")[4]
  );
}

Deno.test("gpg binary is installed (the interop tests need it)", async () => {
  assert.equal((await run("gpg", ["--version"])).code, 0);
});

Deno.test("ours -> gpg --decrypt, gpg --encrypt -> ours (via gpg), key ids agree with gpg", async () => {
  await withGnupgHome(async (home, dir) => {
    const opts = { gnupgHome: home };
    const ct = await encryptGpg(enc(MESSAGE), ["a@example.com", "b@example.com"], opts);
    assert.notEqual(ct[0], "-".charCodeAt(0), "binary, not armored");
    await Deno.writeFile(`${dir}/secrets.cfg.gpg`, ct);
    const viaGpg = dec(
      await runOk("gpg", ["--batch", "--decrypt", `${dir}/secrets.cfg.gpg`], { env: { GNUPGHOME: home } }),
    );
    assert.equal(viaGpg, MESSAGE);
    assert.equal(dec(await gpgDecryptFile(`${dir}/secrets.cfg.gpg`, opts)), MESSAGE);

    const expected = [...await gpgSubkeyIds(home, "a@example.com"), ...await gpgSubkeyIds(home, "b@example.com")];
    assert.deepEqual((await messageKeyIds(ct))?.sort(), expected.sort());
    assert.deepEqual(await memberKeyIds("a@example.com", opts), await gpgSubkeyIds(home, "a@example.com"));

    const theirs = await runOk("gpg", ["--batch", "--trust-model", "always", "--encrypt", "-r", "b@example.com"], {
      stdin: enc(MESSAGE),
      env: { GNUPGHOME: home },
    });
    assert.equal(dec(await gpgDecrypt(theirs, opts)), MESSAGE);
    assert.deepEqual(await messageKeyIds(theirs), await gpgSubkeyIds(home, "b@example.com"));
  });
});

Deno.test("key change detection compares message key ids with the members' keys", async () => {
  await withGnupgHome(async (home) => {
    const opts = { gnupgHome: home };
    const ct = await encryptGpg(enc(MESSAGE), ["a@example.com"], opts);
    assert.equal(await gpgKeysChanged(ct, ["a@example.com"], opts), false);
    assert.equal(await gpgKeysChanged(ct, ["Alice"], opts), false, "any name gpg resolves works");
    assert.equal(await gpgKeysChanged(ct, ["a@example.com", "b@example.com"], opts), true);
    assert.equal(await gpgKeysChanged(ct, ["b@example.com"], opts), true);
    assert.equal(await gpgKeysChanged(ct, ["nobody@example.com"], opts), true);
    assert.equal(await gpgKeysChanged(null, ["a@example.com"], opts), true);
    assert.equal(await gpgKeysChanged(enc("garbage"), ["a@example.com"], opts), true);
  });
});

Deno.test("errors: unknown recipient, no secret key (GPGCallError with command, exit code, message)", async () => {
  await withGnupgHome(async (home, dir) => {
    await assert.rejects(
      encryptGpg(enc(MESSAGE), ["a@example.com", "nobody@example.com"], { gnupgHome: home }),
      (err: unknown) =>
        err instanceof GpgRecipientError && /No public key found for nobody@example\.com/.test(err.message),
    );
    const ct = await encryptGpg(enc(MESSAGE), ["a@example.com"], { gnupgHome: home });
    await Deno.writeFile(`${dir}/x.gpg`, ct);
    const empty = `${dir}/empty-home`;
    await Deno.mkdir(empty, { mode: 0o700 });
    try {
      await assert.rejects(gpgDecryptFile(`${dir}/x.gpg`, { gnupgHome: empty }), (err: unknown) => {
        assert.ok(err instanceof GPGCallError);
        assert.equal(err.command, `gpg --decrypt ${dir}/x.gpg`);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /^Error while calling GPG\ncommand: gpg --decrypt .*\nexit code: 2\nmessage:\n/);
        assert.match(err.output, /No secret key/);
        return true;
      });
    } finally {
      await run("gpgconf", ["--kill", "gpg-agent"], { env: { GNUPGHOME: empty } });
    }
  });
});

Deno.test("missing gpg binary gives batou's message", async () => {
  await withTempDir(async (dir) => {
    const r = await runDenoChild(
      dir,
      `import { findGpg } from ${JSON.stringify(moduleUrl("core/secrets/gpg.ts"))};
try { await findGpg(); console.log("found"); } catch (e) { console.log((e as Error).message); }
`,
      { PATH: `${dir}/no-bin` },
    );
    assert.equal(
      dec(r.stdout).trim(),
      "Could not find gpg binary. Is GPG installed? I tried looking for: `gpg`, `gpg2`",
    );
  });
});
