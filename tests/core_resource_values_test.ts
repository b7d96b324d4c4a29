/**
 * Resource values crossing hosts (issue 15): plain data as it is, Address/NetLoc/Host by identity, a provided
 * component as a read-only snapshot of its public attributes; anything else a clear error naming where it is.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { decodeResourceValue, encodeResourceValue, NotPlainData } from "../core/model/resource_values.ts";
import { Address, NetLoc } from "../core/model/address.ts";
import { Host } from "../core/model/host.ts";
import { Component } from "../core/model/component.ts";

const hosts = new Map([["db", new Host("db", "db.example.com")]]);
const roundTrip = (v: unknown) =>
  decodeResourceValue(JSON.parse(JSON.stringify(encodeResourceValue(v))), (n) => hosts.get(n) ?? null);

Deno.test("resource values: plain data crosses as it is, frozen; user keys that look like tags stay data", () => {
  const value = { name: "app", port: 5432, on: true, none: null, list: [1, "two", { three: 3 }], $o: "mine" };
  const back = roundTrip(value) as Record<string, unknown>;
  deepStrictEqual(back, value);
  ok(Object.isFrozen(back) && Object.isFrozen(back.list), "a value from another host is read-only");
  strictEqual(roundTrip(undefined), undefined);
  deepStrictEqual(roundTrip(["a", undefined]), ["a", undefined]);
});

Deno.test("resource values: Address, NetLoc and Host cross by identity", () => {
  const address = roundTrip(new Address("db.example.com", 5432, { requireV4: "optional", requireV6: true }));
  ok(address instanceof Address);
  strictEqual(String(address.connect), "db.example.com:5432");
  strictEqual(address.requireV4, "optional");
  strictEqual(address.requireV6, true);
  const netloc = roundTrip(new NetLoc("10.0.0.1", 80));
  ok(netloc instanceof NetLoc);
  strictEqual(String(netloc), "10.0.0.1:80");
  strictEqual(roundTrip(new Host("db", "db.example.com")), hosts.get("db"));
  strictEqual(roundTrip(new Host("elsewhere", "elsewhere")), "elsewhere");
});

Deno.test("resource values: what cannot cross is an error naming the place in the value", () => {
  const cases: [unknown, string][] = [
    [{ connect: () => 1 }, "value.connect is a function"],
    [[1, new Map()], "value[1] is a Map"],
    [{ n: NaN }, "value.n is the number NaN"],
    [{ big: 1n }, "value.big is a bigint"],
  ];
  for (const [value, message] of cases) {
    throws(() => encodeResourceValue(value), (e: Error) => e instanceof NotPlainData && e.message === message);
  }
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  throws(() => encodeResourceValue(circular), /value\.self is a circular reference/);
  // The same object twice is no cycle.
  const shared = { k: 1 };
  deepStrictEqual(roundTrip([shared, shared]), [{ k: 1 }, { k: 1 }]);
});

Deno.test("resource values: a component crosses as a snapshot of its public fields, without methods or children", () => {
  class Sub extends Component {}
  class Db extends Component {
    port = 5432;
    names = ["a"];
    _private = "kept home";
    child = new Sub();
    helper = () => "no";
    override get host(): Host {
      return hosts.get("db")!;
    }
  }
  const back = roundTrip(new Db()) as Record<string, unknown>;
  deepStrictEqual(Object.keys(back).sort(), ["host", "names", "port"]);
  strictEqual(back.port, 5432);
  strictEqual(back.host, hosts.get("db"));
  ok(Object.isFrozen(back));
  strictEqual(String(back), "<Db (db), a snapshot from another host>");
});
