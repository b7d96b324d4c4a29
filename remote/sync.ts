/**
 * Project sync between controller and agent (placeholder until the sync module lands).
 *
 * @module
 */
import type { RpcHandler } from "./protocol.ts";

/** The agent's sync methods. */
export function syncHandlers(_base: () => string): Record<string, RpcHandler> {
  return {};
}
