/**
 * JSON-RPC 2.0 over a byte stream, one JSON message per line (the controller <-> agent protocol).
 *
 * Both sides are an {@linkcode RpcPeer}: the controller calls methods of the
 * agent and receives `output` notifications while a call runs; the agent
 * serves methods and sends notifications.
 *
 * @example
 * ```ts
 * const peer = new RpcPeer(child.stdout, child.stdin, {}, (method, params) => console.log(method, params));
 * const hello = await peer.call("hello", { protocol: PROTOCOL_VERSION });
 * ```
 * @module
 */
import type { ErrorJSON } from "../../core/model/errors.ts";
import { normalizeStack } from "../../core/runtime/script.ts";

/** Bumped whenever a message shape changes; controller and agent must agree. */
export const PROTOCOL_VERSION = 1;

/** A method handler of the serving side. */
export type RpcHandler = (params: Record<string, unknown>) => unknown | Promise<unknown>;

/** An error answer; `data.errors` carries batou's reports. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: { errors?: ErrorJSON[]; stack?: string };
}

/** A failed call, with the serialized batou errors of the other side. */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(readonly code: number, message: string, readonly errors: ErrorJSON[] = [], readonly remoteStack = "") {
    super(message);
  }
}

/** The connection to the other side was lost before an answer arrived. */
export class ConnectionLost extends Error {
  override name = "ConnectionLost";
}

/**
 * A message from the other side that breaks the contract (remote/contract/methods.ts); the message names the host and
 * what was wrong. A call whose answer is invalid fails with it; an invalid notification ends the connection with it.
 */
export class InvalidMessage extends Error {
  override name = "InvalidMessage";
}

/**
 * The other side did not answer in time (see remote/transport/liveness.ts): `host2: the agent stopped responding`,
 * or a configure that did not finish. Every call waiting for an answer fails with it.
 */
export class AgentUnresponsive extends Error {
  override name = "AgentUnresponsive";
}

/** The default limit of one message: sync batches are at most ~6 MB of JSON, configure parameters far less. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

class MessageTooLarge extends Error {}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/** The first `length` bytes of `parts`, joined (no copy for a single part). */
function concatBytes(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * A byte source an {@linkcode RpcPeer} reads without web streams, such as `Deno.stdin`: the agent reads its stdin
 * this way, because `Deno.stdin.readable` loads Deno's streams implementation (~8-10 ms CPU per process start).
 */
export interface ByteReader {
  read(buffer: Uint8Array): Promise<number | null>;
}

/** A byte sink an {@linkcode RpcPeer} writes without web streams, such as `Deno.stdout`. */
export interface ByteWriter {
  write(data: Uint8Array): Promise<number>;
  close(): void;
}

/** Bytes per read from a {@linkcode ByteReader}. */
const READ_BUFFER_BYTES = 256 * 1024;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string };

/** Statistics of one peer (for `--debug` and benchmarks). */
export interface RpcStats {
  bytesSent: number;
  bytesReceived: number;
  calls: number;
}

/** One end of a newline-delimited JSON-RPC 2.0 connection. */
export class RpcPeer {
  #write: (data: Uint8Array) => Promise<void>;
  #closeWriter: () => Promise<void>;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #encoder = new TextEncoder();
  #closed: Promise<void>;
  #closedReason: Error | null = null;
  #writeChain: Promise<void> = Promise.resolve();
  /** Encoded lines waiting for the next write, and that write (null when none is waiting). */
  #queued: Uint8Array[] = [];
  #batch: Promise<void> | null = null;
  /** The requests being served, one after another (reading goes on meanwhile). */
  #serving: Promise<void> = Promise.resolve();
  /**
   * Methods served as soon as they arrive instead of after the requests before them (e.g. the agent's `stop`, which
   * must reach a deployment that is running).
   */
  readonly immediate = new Set<string>();
  /** The largest message accepted, in bytes; a longer one ends the connection with a clear reason. */
  maxMessageBytes: number = MAX_MESSAGE_BYTES;
  /** Traffic counters. */
  readonly stats: RpcStats = { bytesSent: 0, bytesReceived: 0, calls: 0 };
  /** Called with every raw message line when set (debug tracing). */
  trace: ((direction: "send" | "recv", line: string) => void) | null = null;
  /** Checks each answer to a call of ours before it is delivered: an error makes the call fail with it. */
  checkReply: ((method: string, reply: { result?: unknown; error?: unknown }) => Error | null) | null = null;
  /** Checks each notification before it is delivered: an error ends the connection with it. */
  checkNotification: ((method: string, params: unknown) => Error | null) | null = null;
  /** `performance.now()` when the other side last sent anything. */
  lastReceivedAt: number = performance.now();
  /** Called with every notification after `onNotification` (e.g. a liveness watch). */
  readonly notificationListeners: Set<(method: string, params: Record<string, unknown>) => void> = new Set();

  /** `readable`/`writable`: web streams (a child process's pipes) or a Deno reader and writer (`Deno.stdin`/`stdout`). */
  constructor(
    readable: ReadableStream<Uint8Array> | ByteReader,
    writable: WritableStream<Uint8Array> | ByteWriter,
    readonly handlers: Record<string, RpcHandler> = {},
    readonly onNotification: (method: string, params: Record<string, unknown>) => void = () => {},
  ) {
    // Duck-typed: naming `WritableStream`/`ReadableStream` here would make Deno load its streams implementation.
    if ("getWriter" in writable) {
      const writer = writable.getWriter();
      this.#write = (data) => writer.write(data);
      this.#closeWriter = () => writer.close();
    } else {
      this.#write = async (data) => {
        for (let done = 0; done < data.length;) done += await writable.write(data.subarray(done));
      };
      this.#closeWriter = () => Promise.resolve(writable.close());
    }
    this.#closed = this.#readLoop("getReader" in readable ? streamChunks(readable) : readerChunks(readable));
  }

  /** Resolves when the other side closed the connection (requests received before may still be being served). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Resolves when every request received so far has been served and its answer written. */
  async served(): Promise<void> {
    for (let current = this.#serving;; current = this.#serving) {
      await current;
      if (current === this.#serving) return;
    }
  }

  /** The methods of our calls still waiting for an answer, oldest first. */
  pendingMethods(): string[] {
    return [...this.#pending.values()].map((p) => p.method);
  }

  /**
   * Gives up on the other side: every call waiting for an answer fails with `error`, and so does every later call.
   * The connection itself is left to its owner to close.
   */
  fail(error: Error): void {
    if (!this.#closedReason) this.#closedReason = error;
    for (const [, p] of this.#pending) p.reject(error);
    this.#pending.clear();
  }

  /** Calls `method` and waits for its answer. */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.#closedReason) return Promise.reject(this.#closedReason);
    const id = this.#nextId++;
    this.stats.calls++;
    const p = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
    });
    this.#send({ jsonrpc: "2.0", id, method, params }).catch((e) => {
      const pending = this.#pending.get(id);
      this.#pending.delete(id);
      pending?.reject(new ConnectionLost(`connection lost while sending ${method}: ${(e as Error).message}`));
    });
    return p;
  }

  /** Sends a notification (no answer). Errors writing are ignored: the connection is going away. */
  notify(method: string, params: Record<string, unknown> = {}): void {
    this.#send({ jsonrpc: "2.0", method, params }).catch(() => {});
  }

  /** Sends a notification and resolves once it is written (errors writing are ignored, as with `notify`). */
  notifyWritten(method: string, params: Record<string, unknown> = {}): Promise<void> {
    return this.#send({ jsonrpc: "2.0", method, params }).catch(() => {});
  }

  /**
   * Sends one line that is not a JSON-RPC message, in order with the messages (the agent bootstrap talks to the
   * start script this way before the agent runs).
   */
  sendLine(line: string): Promise<void> {
    const data = this.#encoder.encode(line + "\n");
    this.stats.bytesSent += data.length;
    this.#queued.push(data);
    // Lines sent while a write is under way go out together in the next write: one write per output line made
    // a first deploy of 8,000 files spend ~17 s of the agent's time in stdout writes (issue 17).
    if (!this.#batch) {
      this.#batch = this.#writeChain.then(() => {
        const lines = this.#queued;
        this.#queued = [];
        this.#batch = null;
        let length = 0;
        for (const l of lines) length += l.length;
        return this.#write(concatBytes(lines, length));
      });
      this.#writeChain = this.#batch;
    }
    return this.#batch;
  }

  /** Closes our sending side. */
  async close(): Promise<void> {
    try {
      await this.#writeChain;
      await this.#closeWriter();
    } catch { /* already closed */ }
  }

  #send(message: unknown): Promise<void> {
    const line = JSON.stringify(message);
    this.trace?.("send", line);
    return this.sendLine(line);
  }

  async #readLoop(chunks: ChunkSource): Promise<void> {
    // Linear framing: each chunk is searched for newlines once; the bytes of an unfinished line wait in `parts`
    // until its newline comes (a line split over many chunks costs no rescan), up to `maxMessageBytes`.
    const decoder = new TextDecoder();
    let parts: Uint8Array[] = [];
    let pendingBytes = 0;
    try {
      for (;;) {
        const chunk = await chunks.next();
        if (!chunk) break;
        this.stats.bytesReceived += chunk.length;
        this.lastReceivedAt = performance.now();
        let start = 0;
        for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
          parts.push(chunk.subarray(start, nl));
          const line = decoder.decode(concatBytes(parts, pendingBytes + nl - start)).trim();
          parts = [];
          pendingBytes = 0;
          start = nl + 1;
          if (line) await this.#dispatch(line);
        }
        if (start < chunk.length) {
          // A reader's buffer is reused by the next read: keep a copy of an unfinished line's bytes.
          parts.push(chunks.reused ? chunk.slice(start) : chunk.subarray(start));
          pendingBytes += chunk.length - start;
          if (pendingBytes > this.maxMessageBytes) {
            throw new MessageTooLarge(
              `the other side sent a message of more than ${formatBytes(this.maxMessageBytes)} (the limit per message)`,
            );
          }
        }
      }
      this.#closedReason ??= new ConnectionLost("connection closed");
    } catch (e) {
      this.#closedReason ??= e instanceof MessageTooLarge
        ? new ConnectionLost(e.message)
        : new ConnectionLost(`connection lost: ${(e as Error).message}`);
      chunks.cancel();
    }
    for (const [, p] of this.#pending) {
      p.reject(
        !(this.#closedReason instanceof ConnectionLost)
          ? this.#closedReason
          : this.#closedReason.message === "connection closed" ||
              !this.#closedReason.message.startsWith("the other side")
          ? new ConnectionLost(`connection lost during ${p.method}`)
          : new ConnectionLost(`${this.#closedReason.message}, during ${p.method}`),
      );
    }
    this.#pending.clear();
  }

  async #dispatch(line: string): Promise<void> {
    this.trace?.("recv", line);
    let msg: {
      id?: number;
      method?: string;
      params?: Record<string, unknown>;
      result?: unknown;
      error?: RpcErrorObject;
    };
    try {
      msg = JSON.parse(line);
    } catch {
      this.onNotification("garbage", { line });
      return;
    }
    if (!msg || typeof msg !== "object") {
      this.onNotification("garbage", { line });
      return;
    }
    if (msg.method !== undefined) {
      if (msg.id === undefined) {
        const invalid = this.checkNotification?.(String(msg.method), msg.params ?? {});
        if (invalid) {
          this.fail(invalid);
          return;
        }
        const params = msg.params ?? {};
        this.onNotification(msg.method, params);
        for (const listener of this.notificationListeners) listener(msg.method, params);
        return;
      }
      // Requests are served one after another, in order (one deploy at a time per agent), while reading goes on: a
      // notification, an immediate method or the end of the connection is seen while a request is being served.
      const { id, method } = msg, params = msg.params ?? {};
      if (this.immediate.has(method)) await this.#serve(id, method, params);
      else this.#serving = this.#serving.then(() => this.#serve(id, method, params));
      return;
    }
    if (msg.id === undefined) return;
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    const invalid = this.checkReply?.(
      pending.method,
      msg.error !== undefined ? { error: msg.error } : { result: msg.result },
    );
    if (invalid) {
      pending.reject(invalid);
      return;
    }
    if (msg.error) {
      pending.reject(
        new RpcError(msg.error.code, msg.error.message, msg.error.data?.errors ?? [], msg.error.data?.stack ?? ""),
      );
    } else pending.resolve(msg.result);
  }

  async #serve(id: number, method: string, params: Record<string, unknown>): Promise<void> {
    const handler = this.handlers[method];
    if (!handler) {
      await this.#send({ jsonrpc: "2.0", id, error: { code: -32601, message: `Unknown method ${method}` } })
        .catch(() => {});
      return;
    }
    try {
      const result = await handler(params);
      await this.#send({ jsonrpc: "2.0", id, result: result ?? null });
    } catch (e) {
      await this.#send({ jsonrpc: "2.0", id, error: errorObject(e) }).catch(() => {});
    }
  }
}

/** Turns a thrown value into a JSON-RPC error carrying batou's reports. */
export function errorObject(e: unknown): RpcErrorObject {
  const errors: ErrorJSON[] = [];
  const list = e instanceof AggregateReport ? e.errors : [e];
  for (const err of list) {
    if (err && typeof (err as { toJSON?: unknown }).toJSON === "function" && "sortKey" in (err as object)) {
      errors.push((err as { toJSON(): ErrorJSON }).toJSON());
    } else {
      const error = err instanceof Error ? err : new Error(String(err));
      errors.push({
        type: "UnexpectedError",
        fields: {
          message: error.message,
          errorType: error.name === "Error" ? error.constructor.name : error.name,
          traceback: normalizeStack(error.stack ?? ""),
        },
      });
    }
  }
  const first = list[0];
  return {
    code: -32000,
    message: first instanceof Error ? first.message : String(first),
    data: { errors },
  };
}

/** Several errors reported at once (configure errors of a host). */
export class AggregateReport extends Error {
  override name = "AggregateReport";
  constructor(readonly errors: unknown[]) {
    super(`${errors.length} errors`);
  }
}

/** What {@linkcode RpcPeer} reads from: chunks until null; `reused` when a chunk's bytes are overwritten later. */
interface ChunkSource {
  next(): Promise<Uint8Array | null>;
  cancel(): void;
  reused: boolean;
}

function streamChunks(readable: ReadableStream<Uint8Array>): ChunkSource {
  const reader = readable.getReader();
  return {
    reused: false,
    next: async () => {
      const { value, done } = await reader.read();
      return done ? null : value;
    },
    cancel: () => void reader.cancel().catch(() => {}),
  };
}

function readerChunks(source: ByteReader): ChunkSource {
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  return {
    reused: true,
    next: async () => {
      const n = await source.read(buffer);
      return n === null ? null : buffer.subarray(0, n);
    },
    cancel: () => {},
  };
}
