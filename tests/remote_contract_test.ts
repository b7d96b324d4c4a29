/**
 * The RPC contract (remote/contract/methods.ts, check.ts) and the liveness watch (remote/transport/liveness.ts),
 * with two real RpcPeers connected by in-memory streams.
 */
import { assert, assertEquals } from "./support/assert.ts";
import { rejects as assertRejects } from "node:assert/strict";
import { list, num, object, optional, str, tuple } from "../remote/contract/check.ts";
import {
  AGENT_METHODS,
  callAgent,
  enforceAgentContract,
  notificationProblem,
  replyProblem,
} from "../remote/contract/methods.ts";
import { AgentUnresponsive, InvalidMessage, type RpcHandler, RpcPeer } from "../remote/contract/protocol.ts";
import { Agent } from "../remote/agent/agent.ts";
import { watchAgent } from "../remote/transport/liveness.ts";

/** A controller peer and an agent peer serving `handlers`, connected in memory. */
function pair(handlers: Record<string, RpcHandler>): { controller: RpcPeer; agent: RpcPeer; close(): Promise<void> } {
  const up = new TransformStream<Uint8Array, Uint8Array>();
  const down = new TransformStream<Uint8Array, Uint8Array>();
  const agent = new RpcPeer(up.readable, down.writable, handlers);
  agent.immediate.add("ping");
  const controller = new RpcPeer(down.readable, up.writable);
  enforceAgentContract(controller, "host3");
  return {
    controller,
    agent,
    async close() {
      await controller.close();
      await agent.close();
      await Promise.all([controller.closed, agent.closed]);
    },
  };
}

/**
 * Keeps the event loop alive: the watch's timer is unref'd (in batou the agent's process keeps the loop alive), and
 * in-memory streams alone do not.
 */
function keepAlive(): () => void {
  const timer = setInterval(() => {}, 1000);
  return () => clearInterval(timer);
}

Deno.test("checks say what is wrong, with the field's path", () => {
  const c = object({ a: list(object({ b: tuple(str, num) })), c: optional(str) });
  assertEquals(c({ a: [{ b: ["x", 1] }] }, ""), null);
  assertEquals(c(null, ""), "the result must be an object, not null");
  assertEquals(c({ a: [{ b: ["x", "1"] }] }, ""), "a[0].b[1] must be a number, not a string");
  assertEquals(c({ a: [], c: 5 }, ""), "c must be a string, not a number");
  assertEquals(c({ a: [{ b: ["x"] }] }, ""), "a[0].b must be a list of 2, not a list of 1");
});

Deno.test("replies: configure's errors are checked deeply; undeclared methods have no valid answer", () => {
  assertEquals(replyProblem("configure", { result: { errors: [], configuredHosts: null } }), null);
  assertEquals(
    replyProblem("configure", { result: { errors: [{ type: "ConfigurationError", fields: null }] } }),
    "errors[0].fields must be an object, not null",
  );
  assertEquals(replyProblem("configure", { result: null }), "the result must be an object, not null");
  // The secret files its roots asked for: names (the controller checks them against the environment's).
  assertEquals(
    replyProblem("reconfigure", { result: { errors: [], configuredHosts: null, secretFiles: ["a"] } }),
    null,
  );
  assertEquals(
    replyProblem("configure", { result: { errors: [], configuredHosts: null, secretFiles: [1] } }),
    "secretFiles[0] must be a string, not a number",
  );
  // The broker's publication: its entries' shape is the contract's (what they say is checked by the broker).
  const provided = { host: "h1", root: "a", key: "k", count: 1, values: [1], display: "[1]" };
  const required = { host: "h1", root: "a", key: "k", strict: true, onHost: null, reverse: false, dirty: false };
  const configured = (resources: unknown) => ({ result: { errors: [], configuredHosts: null, resources } });
  assertEquals(replyProblem("configure", configured({ provides: [provided], requires: [required] })), null);
  assertEquals(
    replyProblem("configure", configured({ provides: [{ ...provided, key: 7 }], requires: [] })),
    "resources.provides[0].key must be a string, not a number",
  );
  assertEquals(
    replyProblem("reconfigure", configured({ provides: [], requires: [{ ...required, onHost: 1 }] })),
    "resources.requires[0].onHost must be a string, not a number",
  );
  assertEquals(
    replyProblem("configure", configured({ provides: null, requires: [] })),
    "resources.provides must be a list, not null",
  );
  assertEquals(replyProblem("deploy", { error: { code: 1, message: "m" } }), null);
  assertEquals(replyProblem("deploy", { error: "boom" }), "the error must be an object, not a string");
  assertEquals(replyProblem("nosuch", { result: {} }), "remote/contract/methods.ts declares no method nosuch");
  assertEquals(notificationProblem("output", { text: 1 }), "params.text must be a string, not a number");
  assertEquals(notificationProblem("unknown", 1), null);
});

Deno.test("the agent serves exactly the methods of the contract", () => {
  const served = Object.keys(new Agent({}, "0").handlers()).sort();
  assertEquals(served, Object.keys(AGENT_METHODS).sort());
});

Deno.test("an invalid answer fails the call naming the host and the method", async () => {
  const p = pair({ deploy: () => ({ changed: "yes" }) });
  try {
    await assertRejects(
      callAgent(p.controller, "deploy", { root: "r", predictOnly: false }),
      (e: Error) =>
        e instanceof InvalidMessage &&
        e.message === "host3: the agent sent an invalid reply to deploy (changed must be a boolean, not a string)",
    );
  } finally {
    await p.close();
  }
});

Deno.test("liveness: a call answered late is fine while pings are answered; silence fails every waiting call", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  let pings = 0;
  const p = pair({
    deploy: async () => {
      await held;
      return { changed: false };
    },
    ping: () => {
      pings++;
      return { alive: true };
    },
  });
  const watch = watchAgent(p.controller, "host3", 1);
  const done = keepAlive();
  try {
    const call = callAgent(p.controller, "deploy", { root: "r", predictOnly: false });
    // Wait for three pings (more than the 1 s timeout), then let the call finish: it succeeds.
    while (pings < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    assertEquals(await call, { changed: false });
  } finally {
    watch.stop();
    await p.close();
  }

  const silent = pair({ deploy: () => new Promise(() => {}) });
  silent.agent.immediate.delete("ping");
  silent.agent.handlers.ping = () => new Promise(() => {}); // an agent that reads but never answers
  let reported: Error | null = null;
  const watch2 = watchAgent(silent.controller, "host3", 1, (e) => reported = e);
  try {
    await assertRejects(
      callAgent(silent.controller, "deploy", { root: "r", predictOnly: false }),
      (e: Error) => e instanceof AgentUnresponsive && e.message === "host3: the agent stopped responding",
    );
    assert(reported !== null);
    await assertRejects(callAgent(silent.controller, "stats", {}), AgentUnresponsive);
  } finally {
    watch2.stop();
    done();
    await silent.controller.close();
  }
});

Deno.test("liveness: a configure that goes on past the timeout names the root announced last", async () => {
  const p = pair({
    configure: async () => {
      await p.agent.notifyWritten("configuring", { host: "host3", root: "slow" });
      return await new Promise(() => {});
    },
    ping: () => ({ alive: true }),
  });
  const watch = watchAgent(p.controller, "host3", 1);
  const done = keepAlive();
  try {
    await assertRejects(
      callAgent(p.controller, "configure", {} as never),
      (e: Error) => e.message === "host3: configure of component slow did not finish within 1 s",
    );
  } finally {
    watch.stop();
    done();
    await p.controller.close();
  }
});
