/**
 * batou's output primitives: lines, sections, steps, errors and the deferred
 * "buffer" that prints a component's breadcrumb only when something happens.
 *
 * Output goes to a pluggable {@linkcode OutputBackend}: a terminal on the
 * controller, a JSON-RPC channel on the agent, or a recorder in tests.
 *
 * @example
 * ```ts
 * import { output } from "./output.ts";
 * output.section("Preparing");
 * output.step("main", "Loading environment `dev`...", { icon: "📦" });
 * ```
 * @module
 */

/** Text attributes understood by every backend. */
export interface Format {
  bold?: boolean;
  red?: boolean;
  green?: boolean;
  yellow?: boolean;
  cyan?: boolean;
  purple?: boolean;
}

/** Options of {@linkcode Output.line}: an icon prefix, debug-only lines and text attributes. */
export interface LineOptions extends Format {
  /** `undefined`/`false`: no prefix; `null`: three spaces; a string: `"<icon> "`. */
  icon?: string | null | false;
  /** Only shown with `--debug`. */
  debug?: boolean;
}

/** Where formatted output ends up. */
export interface OutputBackend {
  /** Writes one complete line (without the trailing newline). */
  line(text: string, fmt: Format): void;
  /** Writes a separator line with a centred title. */
  sep(char: string, title: string, fmt: Format): void;
  /** Shows a transient status line below the output (terminals only; others ignore it). */
  status?(text: string): void;
  /** Resolves when everything written so far has reached the writer (backends that queue writes). */
  drain?(): Promise<void>;
}

const ANSI: Record<keyof Format, string> = {
  bold: "1",
  red: "31",
  green: "32",
  yellow: "33",
  purple: "35",
  cyan: "36",
};

/** Wraps `text` in ANSI escapes for the attributes set in `fmt`. */
export function colorize(text: string, fmt: Format): string {
  const codes = (Object.keys(ANSI) as (keyof Format)[]).filter((k) => fmt[k]).map((k) => ANSI[k]);
  if (codes.length === 0) return text;
  return `\x1b[${codes.join(";")}m${text}\x1b[0m`;
}

/** Builds batou's separator line: `=== title ===` centred in `width` columns. */
export function separatorLine(char: string, title: string, width = 80): string {
  if (width < 40) width = 80;
  if (!title) return char.repeat(width);
  const n = Math.max(Math.floor((width - title.length - 2) / 2), 1);
  let line = `${char.repeat(n)} ${title} ${char.repeat(n)}`;
  if (line.length + char.length <= width) line += char;
  return line;
}

/** Decides whether colour escapes are written: only on a TTY, never with NO_COLOR or TERM=dumb. */
export function wantsColor(isTty: boolean): boolean {
  const env = (name: string) => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  };
  if (env("NO_COLOR") !== undefined) return false;
  const forced = env("BATOU_COLOR");
  if (forced === "1") return true;
  if (forced === "0") return false;
  return isTty && env("TERM") !== "dumb";
}

/** Writes to a Deno writer (stdout by default), with colour only where {@linkcode wantsColor} allows. */
export class TerminalBackend implements OutputBackend {
  #encoder = new TextEncoder();
  #color: boolean;
  #writer: { writeSync(p: Uint8Array): number };
  #width: number;
  #tty: boolean;
  #status = "";

  constructor(writer: { writeSync(p: Uint8Array): number; isTerminal?(): boolean } = Deno.stdout) {
    this.#writer = writer;
    const tty = writer.isTerminal?.() ?? false;
    this.#tty = tty && Deno.env.get("TERM") !== "dumb";
    this.#color = wantsColor(tty);
    let width = 80;
    if (tty) {
      try {
        width = Deno.consoleSize().columns;
      } catch { /* not a console */ }
    } else {
      const cols = Number(Deno.env.get("COLUMNS"));
      if (cols) width = cols;
    }
    this.#width = width < 40 ? 80 : width;
  }

  line(text: string, fmt: Format): void {
    const clear = this.#status ? "\r\x1b[K" : "";
    this.#write(clear + (this.#color ? colorize(text, fmt) : text) + "\n" + this.#statusText());
  }

  sep(char: string, title: string, fmt: Format): void {
    this.line(separatorLine(char, title, this.#width), fmt);
  }

  /** On a terminal, (re)draws one status line below the output; an empty text removes it. */
  status(text: string): void {
    if (!this.#tty || text === this.#status) return;
    this.#status = text;
    this.#write("\r\x1b[K" + this.#statusText());
  }

  #statusText(): string {
    if (!this.#status) return "";
    const text = this.#status.length > this.#width - 1 ? this.#status.slice(0, this.#width - 2) + "…" : this.#status;
    return this.#color ? colorize(text, { cyan: true }) : text;
  }

  #async: { write(p: Uint8Array): Promise<number> } | null = null;
  #queue: string[] = [];
  #flushing: Promise<void> | null = null;

  /**
   * From now on writes are queued and written asynchronously (when the writer can), so that a slow terminal does
   * not stop the caller: the controller keeps reading its agents' RPC streams while the terminal catches up, and no
   * agent waits for it (issue 17). Call {@linkcode drain} before the process exits.
   */
  decouple(): void {
    const w = this.#writer as { write?(p: Uint8Array): Promise<number> };
    if (typeof w.write === "function") this.#async = w as { write(p: Uint8Array): Promise<number> };
  }

  /** Resolves when the queued writes are written. */
  drain(): Promise<void> {
    return this.#flushing ?? Promise.resolve();
  }

  #write(s: string) {
    if (this.#async) {
      this.#queue.push(s);
      this.#flushing ??= this.#flush(this.#async);
      return;
    }
    this.#writeSync(s);
  }

  #writeSync(s: string) {
    const data = this.#encoder.encode(s);
    let off = 0;
    while (off < data.length) off += this.#writer.writeSync(data.subarray(off));
  }

  async #flush(writer: { write(p: Uint8Array): Promise<number> }): Promise<void> {
    try {
      while (this.#queue.length) {
        const data = this.#encoder.encode(this.#queue.join(""));
        this.#queue.length = 0;
        let off = 0;
        while (off < data.length) off += await writer.write(data.subarray(off));
      }
    } catch {
      // The terminal went away (a closed pipe): what is left is dropped, later writes fail where they are made.
      this.#queue.length = 0;
      this.#async = null;
    } finally {
      this.#flushing = null;
    }
  }
}

/** Records output as plain text lines; used by tests and to capture reports. */
export class RecordingBackend implements OutputBackend {
  /** Every line written, in order. Separators are recorded as `=== title ===`. */
  lines: string[] = [];

  line(text: string): void {
    this.lines.push(text);
  }

  sep(_char: string, title: string): void {
    this.lines.push(`=== ${title} ===`);
  }

  /** All lines joined with newlines. */
  get text(): string {
    return this.lines.map((l) => l + "\n").join("");
  }
}

type Buffered = { text: string | (() => string); opts: LineOptions };

/** Words whose appearance in any output is replaced by `*****`. */
const MASK = "*****";

/** The output front end: formats batou's primitives and hands lines to the backend. */
export class Output {
  backend: OutputBackend;
  /** Whether lines marked `debug` are shown (`--debug`). */
  enableDebug = false;
  #buffer: Buffered[] = [];
  #secrets: string[] = [];

  constructor(backend: OutputBackend = new RecordingBackend()) {
    this.backend = backend;
  }

  /** Registers secret values that must never be printed; they are masked in every line. */
  setSecrets(words: Iterable<string>): void {
    this.#secrets = [...new Set([...words].filter((w) => w.length >= 3))].sort((a, b) => b.length - a.length);
  }

  /** Replaces every registered secret value in `text` with `*****`. */
  mask(text: string): string {
    for (const s of this.#secrets) {
      if (text.includes(s)) text = text.split(s).join(MASK);
    }
    return text;
  }

  /** Prints one line; see {@linkcode LineOptions}. */
  line(message: string, opts: LineOptions = {}): void {
    if (opts.debug && !this.enableDebug) return;
    this.flushBuffer();
    let prefix = "";
    if (opts.icon === null) prefix = "   ";
    else if (typeof opts.icon === "string") prefix = opts.icon + " ";
    let text = prefix + message;
    if (text.trim() === "") text = "";
    const { icon: _i, debug: _d, ...fmt } = opts;
    for (const l of this.mask(text).split("\n")) this.backend.line(l, fmt);
  }

  /** Same as {@linkcode line}. */
  annotate(message: string, opts: LineOptions = {}): void {
    this.line(message, opts);
  }

  /** `key.rjust(15) + ": " + value`. */
  tabular(key: string, value: string, opts: LineOptions & { separator?: string } = {}): void {
    const { separator = ": ", ...rest } = opts;
    this.line(key.padStart(15) + separator + value, rest);
  }

  /** `ctx: msg` in bold, prefixed with an icon (three spaces by default). */
  step(context: string, message: string, opts: LineOptions = {}): void {
    this.line(`${context}: ${message}`, { icon: null, bold: true, ...opts });
  }

  /** A separator line with a centred title. */
  section(title: string, fmt: Format = {}): void {
    this.flushBuffer();
    this.backend.sep("=", this.mask(title), { bold: true, ...fmt });
  }

  /** `ERROR: msg` in bold red. */
  error(message: string, opts: LineOptions = {}): void {
    this.line(`ERROR: ${message}`, { red: true, bold: true, ...opts });
  }

  /** `   WARN: msg` in bold yellow. */
  warn(message: string, opts: LineOptions = {}): void {
    this.line(`   WARN: ${message}`, { yellow: true, bold: true, ...opts });
  }

  /** Debug-only line. */
  debug(message: string, opts: LineOptions = {}): void {
    this.line(message, { ...opts, debug: true });
  }

  /** Defers a line (or a function making it, called only to print it) until the next output call (or drops it on {@linkcode clearBuffer}). */
  buffer(message: string | (() => string), opts: LineOptions = {}): void {
    this.#buffer.push({ text: message, opts });
  }

  /** Prints the deferred lines. */
  flushBuffer(): void {
    const pending = this.#buffer;
    this.#buffer = [];
    for (const b of pending) this.line(typeof b.text === "function" ? b.text() : b.text, b.opts);
  }

  /** Resolves when the backend has written everything (see {@linkcode TerminalBackend.decouple}). */
  drain(): Promise<void> {
    return this.backend.drain?.() ?? Promise.resolve();
  }

  /** Shows (or with "" removes) the transient status line, where the backend supports one. */
  status(text: string): void {
    this.backend.status?.(this.mask(text));
  }

  /** Drops the deferred lines. */
  clearBuffer(): void {
    // Every component's deploy ends here: no new array when nothing was deferred (issue 17).
    if (this.#buffer.length) this.#buffer = [];
  }
}

/** The process-wide output, as in batou. The CLI and the agent install their backend on it. */
export const output: Output = new Output(new TerminalBackend());
