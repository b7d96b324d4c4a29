import { assertEquals } from "./support/assert.ts";
import { describeRpcLine, traceRpc } from "../remote/transport/rpc_trace.ts";
import { RpcPeer } from "../remote/contract/protocol.ts";

Deno.test("describeRpcLine: calls and answers by method name and size, never their params or results", () => {
  const methods = new Map<number, string>();
  const call = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "configure", params: { maskValues: ["s3cr3t"] } });
  assertEquals(describeRpcLine("send", call, methods), `rpc → configure (${call.length + 1} bytes)`);
  const notification = JSON.stringify({ jsonrpc: "2.0", method: "output", params: { text: "s3cr3t" } });
  assertEquals(describeRpcLine("recv", notification, methods), null);
  const answer = JSON.stringify({ jsonrpc: "2.0", id: 7, result: { errors: [] } });
  assertEquals(describeRpcLine("recv", answer, methods), `rpc ← configure ok (${answer.length + 1} bytes)`);
  assertEquals(methods.size, 0);
  const failing = JSON.stringify({ jsonrpc: "2.0", id: 8, method: "deploy", params: { root: "app" } });
  describeRpcLine("send", failing, methods);
  const error = JSON.stringify({ jsonrpc: "2.0", id: 8, error: { code: -32000, message: "s3cr3t" } });
  assertEquals(describeRpcLine("recv", error, methods), `rpc ← deploy error (${error.length + 1} bytes)`);
  // An answer to a call we did not see, and calls of the other side, are not described.
  assertEquals(describeRpcLine("recv", answer, methods), null);
  assertEquals(describeRpcLine("recv", call, methods), null);
});

Deno.test("traceRpc: a real peer pair traces the calls of one side (and keeps an existing trace)", async () => {
  const toAgent = new TransformStream<Uint8Array, Uint8Array>();
  const toController = new TransformStream<Uint8Array, Uint8Array>();
  const agent = new RpcPeer(toAgent.readable, toController.writable, { hello: (p) => ({ got: p.word }) });
  const controller = new RpcPeer(toController.readable, toAgent.writable);
  const raw: string[] = [];
  controller.trace = (direction) => raw.push(direction);
  const lines: string[] = [];
  traceRpc(controller, "host1", (l) => lines.push(l));
  assertEquals(await controller.call("hello", { word: "s3cr3t" }), { got: "s3cr3t" });
  assertEquals(lines.map((l) => l.replace(/\d+ bytes/, "N bytes")), [
    "host1: rpc → hello (N bytes)",
    "host1: rpc ← hello ok (N bytes)",
  ]);
  assertEquals(raw, ["send", "recv"]);
  await controller.close();
  await agent.close();
  await Promise.all([controller.closed, agent.closed]);
});
