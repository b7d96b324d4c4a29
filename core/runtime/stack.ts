/**
 * Reading V8 stack traces: the frames that have a place (`file:line:column`), and which of them belong to batou
 * itself rather than to the user's project. Used for the short "where" lines of error reports and warnings.
 *
 * @module
 */
import { normalizeStack } from "./script.ts";

/** One frame of a stack trace that names a place. */
export interface StackFrame {
  /** The frame's text, trimmed (`at f (file:///x.ts:3:7)`). */
  text: string;
  /** The function, without `async` (null for top-level code). */
  fn: string | null;
  /** The file as written in the trace (may be a `file://` URL). */
  file: string;
  /** The file as a path (`file://` removed). */
  path: string;
  line: number;
}

const FRAME = /^at (?:async )?(?:(.*?) \()?(.+?):(\d+):\d+\)?$/;

/**
 * The frames of `stack` that name a place, innermost first (the message line is skipped). Frames of component files
 * read as from `node:vm` (see {@linkcode normalizeStack}).
 */
export function stackFrames(stack: string | undefined): StackFrame[] {
  const frames: StackFrame[] = [];
  for (const raw of normalizeStack(stack ?? "").split("\n").slice(1)) {
    const text = raw.trim();
    const m = FRAME.exec(text);
    if (!m) continue;
    frames.push({ text, fn: m[1] || null, file: m[2], path: m[2].replace(/^file:\/\//, ""), line: Number(m[3]) });
  }
  return frames;
}

/** Whether `path` is one of batou's own modules (core/, lib/, remote/), not a project's component file. */
export function isBatouModule(path: string): boolean {
  return /\/(core|lib|remote)\/(?:[^/]+\/)*[^/]+\.ts/.test(path) && !/\/components\//.test(path);
}

/** `  <file>:<line>, in <fn>` (or without the function), the place form of batou's reports. */
export function formatPlace(file: string, line: number, fn: string | null): string {
  return `  ${file}:${line}${fn ? `, in ${fn}` : ""}`;
}
