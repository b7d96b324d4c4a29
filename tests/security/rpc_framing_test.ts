/**
 * Untrusted peers (issue 15): the JSON-RPC framing reads each byte once however a message is split, a message above
 * the limit ends the connection with a clear reason instead of filling memory, and a request being served does not
 * stop the reading (an immediate method and the end of the connection are seen meanwhile).
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { ConnectionLost, RpcPeer } from "../../remote/contract/protocol.ts";

/** A peer whose input is `chunks` (then the end), and what it answers. */
function feed(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, peer?: (p: RpcPeer) => void) {
  const readable = ReadableStream.from(chunks);
  const sent: string[] = [];
  const writable = new WritableStream<Uint8Array>({ write: (c) => void sent.push(new TextDecoder().decode(c)) });
  const p = new RpcPeer(readable, writable, {});
  peer?.(p);
  return { peer: p, sent };
}

function* split(text: string, size: number): Generator<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

Deno.test("a 20 MB message in 1 KiB chunks is read whole, and so are many small ones in one chunk", async () => {
  const big = "x".repeat(20 * 1024 * 1024);
  const got: string[] = [];
  const text = JSON.stringify({ jsonrpc: "2.0", method: "output", params: { text: big } }) + "\n" +
    Array.from({ length: 1000 }, (_, i) => JSON.stringify({ jsonrpc: "2.0", method: "line", params: { i } })).join(
      "\n",
    ) + "\n";
  const readable = ReadableStream.from(split(text, 1024));
  const peer = new RpcPeer(readable, new WritableStream(), {}, (method, params) => {
    got.push(method === "output" ? `output:${String(params.text).length}` : `line:${params.i}`);
  });
  await peer.closed;
  assertEquals(got.length, 1001);
  assertEquals(got[0], `output:${big.length}`);
  assertEquals(got[1000], "line:999");
  assertEquals(peer.stats.bytesReceived, new TextEncoder().encode(text).length);
});

Deno.test("a message above the limit ends the connection with the reason; pending calls fail with it", async () => {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const peer = new RpcPeer(readable, new WritableStream(), {});
  peer.maxMessageBytes = 1024 * 1024;
  const call = peer.call("deploy", {});
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  // The peer stops reading at the limit: what a hostile agent sends beyond it is never buffered.
  for (let i = 0; i < 100; i++) {
    try {
      await writer.write(chunk);
    } catch {
      break;
    }
  }
  let error: unknown = null;
  try {
    await call;
  } catch (e) {
    error = e;
  }
  assert(error instanceof ConnectionLost);
  assertMatch((error as Error).message, /message of more than 1 MiB \(the limit per message\), during deploy/);
  await peer.closed;
});

Deno.test("while a request is served, an immediate method is answered and the end of the input is seen", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  const order: string[] = [];
  const lines = [
    { jsonrpc: "2.0", id: 1, method: "deploy", params: {} },
    { jsonrpc: "2.0", id: 2, method: "stop", params: {} },
  ].map((m) => new TextEncoder().encode(JSON.stringify(m) + "\n"));
  const { peer, sent } = feed(lines, (p) => {
    p.immediate.add("stop");
    p.handlers.deploy = async () => {
      order.push("deploy started");
      await held;
      order.push("deploy done");
      return {};
    };
    p.handlers.stop = () => {
      order.push("stop");
      return {};
    };
  });
  await peer.closed; // the input ended although deploy is still running
  assertEquals(order, ["deploy started", "stop"]);
  release();
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(order, ["deploy started", "stop", "deploy done"]);
  assert(sent.some((l) => l.includes('"id":2')));
});

/** A reader like `Deno.stdin` that hands out `size` bytes per read into the caller's (reused) buffer. */
function byteReader(text: string, size: number) {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(size, buffer.length, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("from a Deno reader (the agent's stdin), lines split across reads of one reused buffer arrive whole", async () => {
  const got: number[] = [];
  const text = Array.from({ length: 500 }, (_, i) => JSON.stringify({ jsonrpc: "2.0", method: "line", params: { i } }))
    .join("\n") + "\n";
  const written: string[] = [];
  const writer = {
    // Writes at most 5 bytes per call, as a pipe may take only part of a write.
    write: (data: Uint8Array) => {
      written.push(new TextDecoder().decode(data.subarray(0, 5)));
      return Promise.resolve(Math.min(5, data.length));
    },
    close: () => {},
  };
  const peer = new RpcPeer(byteReader(text, 7), writer, {}, (_method, params) => void got.push(Number(params.i)));
  await peer.closed;
  assertEquals(got, Array.from({ length: 500 }, (_, i) => i));
  peer.notify("done", { ok: true });
  await peer.close();
  assertEquals(written.join(""), JSON.stringify({ jsonrpc: "2.0", method: "done", params: { ok: true } }) + "\n");
});
