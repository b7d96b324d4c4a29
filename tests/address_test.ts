import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import {
  Address,
  GetAddressInfoError,
  getResolverOverrides,
  IPAddressConfigurationError,
  NetLoc,
  resolve,
  resolveV6,
  selectV6Address,
  setResolverDebug,
  setResolverOverrides,
} from "../core/model/address.ts";

/** Runs `fn` with the given resolver overrides and restores the previous ones afterwards. */
async function withOverrides(
  v4: Record<string, string>,
  v6: Record<string, string>,
  fn: () => Promise<void>,
): Promise<void> {
  const previous = getResolverOverrides();
  setResolverOverrides(v4, v6);
  try {
    await fn();
  } finally {
    setResolverOverrides(previous.v4, previous.v6);
  }
}

// ---- NetLoc

Deno.test("NetLoc: string forms", () => {
  strictEqual(String(new NetLoc("127.0.0.1")), "127.0.0.1");
  strictEqual(String(new NetLoc("127.0.0.1", 80)), "127.0.0.1:80");
  strictEqual(String(new NetLoc("::1", 80)), "[::1]:80");
  strictEqual(String(new NetLoc("::1")), "::1");
  strictEqual(new NetLoc("h", 80).port, "80");
  strictEqual(new NetLoc("h").port, undefined);
});

Deno.test("NetLoc: repr via Deno.inspect", () => {
  strictEqual(Deno.inspect(new NetLoc("127.0.0.5", "80")), "<NetLoc `127.0.0.5:80`>");
  strictEqual(Deno.inspect(new NetLoc("127.0.0.5")), "<NetLoc `127.0.0.5`>");
});

Deno.test("NetLoc: ordering and equality by string", () => {
  const a1 = new NetLoc("127.0.0.5");
  const a2 = new NetLoc("127.0.0.5", "80");
  const a3 = new NetLoc("asdf");
  const a4 = new NetLoc("asdf", "90");
  deepStrictEqual([a3, a2, a4, a1].sort(NetLoc.compare), [a1, a2, a3, a4]);
  ok(a2.equals("127.0.0.5:80"));
  ok(a2.equals(new NetLoc("127.0.0.5", 80)));
  ok(!a2.equals(a1));
});

// ---- resolve / resolveV6

Deno.test("resolve: localhost resolves to 127.0.0.1 via /etc/hosts", async () => {
  strictEqual(await resolve("localhost"), "127.0.0.1");
});

Deno.test("resolve / resolveV6: overrides win and are reported as debug lines", async () => {
  const lines: string[] = [];
  setResolverDebug((l) => lines.push(l));
  try {
    await withOverrides({ "foo.example.com": "1.2.3.4" }, { "foo.example.com": "::27" }, async () => {
      strictEqual(await resolve("foo.example.com"), "1.2.3.4");
      strictEqual(await resolveV6("foo.example.com"), "::27");
    });
    strictEqual(await resolve("localhost"), "127.0.0.1");
  } finally {
    setResolverDebug(null);
  }
  deepStrictEqual(lines, [
    "resolved (v4) `foo.example.com` to 1.2.3.4 (override)",
    "resolved (v6) `foo.example.com` to ::27 (override)",
    "resolving (v4) `localhost`",
    'resolved (v4) `localhost` to ["127.0.0.1"]',
    "selected (v4) localhost, 127.0.0.1",
  ]);
});

Deno.test("resolve: an unknown name raises a resolver error", async () => {
  await rejects(resolve("does-not-exist.invalid"), (e: unknown) => {
    ok(e instanceof Error);
    strictEqual((e as Error & { code?: string }).code, "ENOTFOUND");
    return true;
  });
});

Deno.test("resolveV6: an IPv4-only name or literal is a resolver error", async () => {
  await rejects(resolveV6("127.0.0.5"), (e: unknown) => typeof (e as { code?: unknown }).code === "string");
});

Deno.test("selectV6Address skips link-local addresses", () => {
  throws(() => selectV6Address("foo.example.com", ["fe80::feaa:14ff:fe8f:94ba"]), {
    message: "No valid address found for `foo.example.com`.",
  });
  strictEqual(selectV6Address("foo.example.com", ["fe80::feaa:14ff:fe8f:94ba", "2a02::1"]), "2a02::1");
});

// ---- Address construction

Deno.test("Address: requires a port, implicit or explicit", () => {
  throws(() => new Address("localhost"), { message: "Need port for service address." });
  strictEqual(new Address("localhost:8080").connect.port, "8080");
  strictEqual(String(new Address("localhost", 8080).connect), "localhost:8080");
  // A port in the string wins over the argument.
  strictEqual(String(new Address("localhost:8080", 9000)), "localhost:8080");
  strictEqual(String(new Address("[::1]:80").connect), "[::1]:80");
  throws(() => new Address("a:b:c"), /Invalid service address/);
});

Deno.test("Address: neither v4 nor v6 is invalid", () => {
  throws(() => new Address("asdf", 1, { requireV4: false, requireV6: false }), {
    message: "At least one of `require_v4` or `require_v6` is required. None were selected.",
  });
});

Deno.test("Address: class-level defaults apply when options are unset", () => {
  const saved = [Address.requireV4, Address.requireV6] as const;
  try {
    Address.requireV4 = "optional";
    Address.requireV6 = true;
    const a = new Address("localhost:1");
    strictEqual(a.requireV4, "optional");
    strictEqual(a.requireV6, true);
    strictEqual(new Address("localhost:1", null, { requireV6: false }).requireV6, false);
    Address.requireV4 = false;
    Address.requireV6 = false;
    throws(() => new Address("localhost:1"), /At least one of/);
  } finally {
    [Address.requireV4, Address.requireV6] = saved;
  }
  const b = new Address("localhost:1");
  strictEqual(b.requireV4, true);
  strictEqual(b.requireV6, false);
});

// ---- Address listen addresses

Deno.test("Address: resolves the listen address", async () => {
  const address = await Address.create("localhost:8080");
  strictEqual(String(address.listen), "127.0.0.1:8080");
  strictEqual(String(address.connect), "localhost:8080");
  strictEqual(address.listen?.host, "127.0.0.1");
  strictEqual(address.listen?.port, "8080");
  strictEqual(address.connect.host, "localhost");
  strictEqual(address.requireV4, true);
});

Deno.test("Address: format with port", async () => {
  strictEqual(String((await Address.create("127.0.0.1:8080")).listen), "127.0.0.1:8080");
});

Deno.test("Address: reading listen before resolving looks it up synchronously (as batou's lazy listen)", async () => {
  const address = new Address("localhost:8080");
  strictEqual(String(address.listen), "127.0.0.1:8080");
  await address.resolveAddresses();
  await address.resolveAddresses(); // idempotent
  strictEqual(String(address.listen), "127.0.0.1:8080");
  const missing = new Address("no-such-host.invalid:80");
  throws(() => missing.listen, /Error while resolving no-such-host.invalid:80/);
});

Deno.test("Address: ordering and equality by connect string", () => {
  const a1 = new Address("127.0.0.5:8080");
  const a2 = new Address("localhost:8080");
  const a3 = new Address("127.10.1.5:8080");
  const a4 = new Address("127.122.122.133:8080");
  deepStrictEqual([a1, a2, a3, a4].sort(Address.compare), [a1, a3, a4, a2]);
  ok(a2.equals(new Address("localhost", "8080")));
  ok(!a2.equals(a1));
});

Deno.test("Address: v6 only (override)", async () => {
  await withOverrides({}, { "v6only.invalid": "::346" }, async () => {
    const defaults = await Address.create("v6only.invalid", 1234);
    throws(() => defaults.listen, GetAddressInfoError);
    const address = await Address.create("v6only.invalid", 1234, { requireV4: false, requireV6: true });
    strictEqual(address.listenV6?.host, "::346");
    strictEqual(String(address.listenV6), "[::346]:1234");
    strictEqual(address.requireV6, true);
  });
});

Deno.test("Address: contains the v6 address if available", async () => {
  await withOverrides({}, { localhost: "::1" }, async () => {
    const address = await Address.create("localhost:8080", null, { requireV6: true });
    strictEqual(address.listenV6?.host, "::1");
    strictEqual(String(address.listen), "127.0.0.1:8080");
  });
});

Deno.test("Address: lookup failures raise GetAddressInfoError on access", async () => {
  const v4 = await Address.create("does-not-exist.invalid:1234");
  throws(() => v4.listen, (e: unknown) => {
    ok(e instanceof GetAddressInfoError);
    strictEqual(e.hostname, "does-not-exist.invalid:1234");
    ok(e.message.startsWith("Error while resolving does-not-exist.invalid:1234: "), e.message);
    deepStrictEqual(e.reportLines().slice(0, 3), [
      "ERROR: Error while resolving hostname",
      "       hostname: does-not-exist.invalid:1234",
      "        message:",
    ]);
    strictEqual(e.reportLines()[3], e.error);
    return true;
  });

  const v6 = await Address.create("does-not-exist.invalid:1234", null, { requireV4: false, requireV6: true });
  throws(() => v6.listenV6, GetAddressInfoError);

  const both = await Address.create("does-not-exist.invalid:1234", null, { requireV4: true, requireV6: true });
  throws(() => both.listen, GetAddressInfoError);
  throws(() => both.listenV6, GetAddressInfoError);
});

Deno.test("Address: optional families give null when the name cannot be looked up", async () => {
  const a = await Address.create("does-not-exist.invalid:1234", null, { requireV4: "optional", requireV6: "optional" });
  strictEqual(a.listen, null);
  strictEqual(a.listenV6, null);
});

Deno.test("Address: an IPv4 literal has no v6 listen address (optional gives null)", async () => {
  const a = await Address.create("127.0.0.1:1", null, { requireV4: true, requireV6: "optional" });
  strictEqual(String(a.listen), "127.0.0.1:1");
  strictEqual(a.listenV6, null);
  const required = await Address.create("127.0.0.1:1", null, { requireV6: true });
  throws(() => required.listenV6, GetAddressInfoError);
});

Deno.test("Address: unconfigured families raise IPAddressConfigurationError", async () => {
  const v6only = await Address.create("localhost", 22, { requireV4: false, requireV6: "optional" });
  throws(() => v6only.listen, (e: unknown) => {
    ok(e instanceof IPAddressConfigurationError);
    strictEqual(e.message, "Trying to access address family IPv4 which is not configured for localhost:22.");
    deepStrictEqual(e.reportLines(), [
      "ERROR: Trying to access address family IPv4 which is not configured for localhost:22.",
      "           Hint: Use `require_v4=True` when instantiating the Address object.",
    ]);
    return true;
  });

  const v4only = await Address.create("localhost", 22, { requireV4: true, requireV6: false });
  throws(() => v4only.listenV6, {
    name: "IPAddressConfigurationError",
    message: "Trying to access address family IPv6 which is not configured for localhost:22.",
  });
  // Even unresolved addresses report the configuration error first.
  throws(() => new Address("does-not-exist.example.com:1234").listenV6, IPAddressConfigurationError);
});
