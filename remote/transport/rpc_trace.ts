/**
 * The `--debug` trace of the controller <-> agent protocol: one line per call and per answer with the method
 * name and the size of the message, e.g. `host1: rpc → configure (2817 bytes)` and
 * `host1: rpc ← configure ok (64 bytes)`. Parameters and results are never printed: they carry the decrypted
 * secrets (`configure`) and file contents (sync). Notifications (the agent's output lines) are not traced.
 *
 * @module
 */
import type { RpcPeer } from "../contract/protocol.ts";

/** The start of a serialized message, as `RpcPeer` writes it (`JSON.stringify` keeps the key order). */
const CALL = /^\{"jsonrpc":"2\.0","id":(\d+),"method":"([^"\\]{1,100})"/;
const ANSWER = /^\{"jsonrpc":"2\.0","id":(\d+),"(result|error)"/;

/**
 * Describes one raw protocol line without its content: calls we send and answers we receive give a line,
 * everything else (notifications, calls of the other side) gives null. `methods` remembers the method of each
 * pending call id, so that its answer can be named.
 */
export function describeRpcLine(
  direction: "send" | "recv",
  line: string,
  methods: Map<number, string>,
): string | null {
  const head = line.slice(0, 160);
  const bytes = new TextEncoder().encode(line).length + 1;
  if (direction === "send") {
    const call = CALL.exec(head);
    if (!call) return null;
    methods.set(Number(call[1]), call[2]);
    return `rpc → ${call[2]} (${bytes} bytes)`;
  }
  const answer = ANSWER.exec(head);
  if (!answer) return null;
  const id = Number(answer[1]);
  const method = methods.get(id);
  if (method === undefined) return null;
  methods.delete(id);
  return `rpc ← ${method} ${answer[2] === "result" ? "ok" : "error"} (${bytes} bytes)`;
}

/** Prints `<label>: <description>` through `print` for every call and answer on `peer` (keeps an existing trace). */
export function traceRpc(peer: RpcPeer, label: string, print: (line: string) => void): void {
  const methods = new Map<number, string>();
  const previous = peer.trace;
  peer.trace = (direction, line) => {
    previous?.(direction, line);
    const text = describeRpcLine(direction, line, methods);
    if (text !== null) print(`${label}: ${text}`);
  };
}
