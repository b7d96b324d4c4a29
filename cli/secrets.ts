/**
 * `batou secrets ...`: edit, summary, add, remove, reencrypt, decrypttostdout (batou 2.x's secrets commands).
 *
 * Every subcommand is also exported as a function that takes its streams and secrets options explicitly
 * ({@link SecretsCliOptions}), so that it can be driven without a terminal; {@link secretsCommand} is the
 * command line front end that parses arguments and reads `EDITOR` and the age/gpg settings from the process
 * environment.
 *
 * @module
 */
import { COMMANDS, type CommandSpec, SECRETS_COMMANDS } from "./commands.ts";
import { parseCommand, subcommand } from "./parse.ts";
import { firstSecretsConfig, isUnchangedTemplate, newSecretsTemplate } from "./secrets_new.ts";
import { extname, join, relative, resolve } from "../core/runtime/path.ts";
import { ConfigDocument } from "../core/formats/configparser.ts";
import { shellQuote } from "../core/model/cmd.ts";
import { AgeDecryptError } from "../core/secrets/age.ts";
import { Environment, environmentNames } from "../core/model/environment.ts";
import {
  decryptFile,
  detectProvider,
  lockFile,
  parseMembers,
  readConfigCleartext,
  readSecretFile,
  secretFilePath,
  SecretsError,
  type SecretsLayout,
  type SecretsLock,
  type SecretsOptions,
  writeConfig,
  writeSecretFile,
} from "../core/secrets/providers.ts";

// ---------------------------------------------------------------------------------------------------------------
// streams

/** Where a secrets command writes and reads. */
export interface SecretsIO {
  /** Writes text or raw bytes to standard output, as they are. */
  write(data: string | Uint8Array): void;
  /** Writes text to standard error, as it is. */
  writeErr(text: string): void;
  /** Shows `prompt` and reads one line (without its line ending); null at the end of the input. */
  readLine(prompt: string): Promise<string | null>;
}

/** Options of the secrets subcommands. */
export interface SecretsCliOptions extends SecretsOptions {
  /** Streams; default: the process's stdin, stdout and stderr. */
  io?: SecretsIO;
  /** Show stack traces and the editor command line. */
  debug?: boolean;
}

const encoder = new TextEncoder();

function writeAll(writer: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  try {
    let off = 0;
    while (off < data.length) off += writer.writeSync(data.subarray(off));
  } catch (err) {
    if (!(err instanceof Deno.errors.BrokenPipe)) throw err;
  }
}

/** Reads lines from the process's stdin on demand (nothing is read before the first prompt). */
class StdinLines {
  #buffer = new Uint8Array(0);
  #eof = false;

  async next(): Promise<string | null> {
    for (;;) {
      const nl = this.#buffer.indexOf(10);
      if (nl >= 0) {
        const line = new TextDecoder().decode(this.#buffer.subarray(0, nl));
        this.#buffer = this.#buffer.slice(nl + 1);
        return line.replace(/\r$/, "");
      }
      if (this.#eof) {
        if (this.#buffer.length === 0) return null;
        const rest = new TextDecoder().decode(this.#buffer);
        this.#buffer = new Uint8Array(0);
        return rest;
      }
      const chunk = new Uint8Array(4096);
      const n = await Deno.stdin.read(chunk);
      if (n === null) {
        this.#eof = true;
        continue;
      }
      const joined = new Uint8Array(this.#buffer.length + n);
      joined.set(this.#buffer);
      joined.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = joined;
    }
  }
}

/** The process's stdin, stdout and stderr. */
export function processIO(): SecretsIO {
  const lines = new StdinLines();
  return {
    write(data) {
      writeAll(Deno.stdout, typeof data === "string" ? encoder.encode(data) : data);
    },
    writeErr(text) {
      writeAll(Deno.stderr, encoder.encode(text));
    },
    async readLine(prompt) {
      writeAll(Deno.stdout, encoder.encode(prompt));
      return await lines.next();
    },
  };
}

interface Ctx {
  io: SecretsIO;
  out: (line: string) => void;
  err: (line: string) => void;
  debug: boolean;
  secrets: SecretsOptions;
}

function context(opts: SecretsCliOptions): Ctx {
  const io = opts.io ?? processIO();
  const out = (line: string) => io.write(line + "\n");
  const { io: _io, debug, ...secrets } = opts;
  return {
    io,
    out,
    err: (line: string) => io.writeErr(line + "\n"),
    debug: debug ?? false,
    secrets: { ...secrets, log: secrets.log ?? out },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function reportError(ctx: Ctx, error: unknown): void {
  ctx.err(errorText(error));
  if (ctx.debug && error instanceof Error && error.stack) ctx.err(error.stack);
}

// ---------------------------------------------------------------------------------------------------------------
// environments

/** `--environments a,b` names none of the project's environments. */
export class UnknownEnvironmentError extends Error {
  override name = "UnknownEnvironmentError";
  /** The unknown names, in the order given. */
  names: string[];

  /** Creates the error for `names`. */
  constructor(names: string[]) {
    super(`Unknown environment(s): ${names.join(", ")}`);
    this.names = names;
  }
}

/**
 * The environments a command works on: all of the project's (`environments/<x>/environment.cfg` and
 * `environments/<x>.cfg`, sorted) when `filter` is null or empty, else the named ones in project order.
 * Throws {@link UnknownEnvironmentError} naming the unknown ones.
 */
export function selectEnvironments(baseDir: string, filter: string[] | null): string[] {
  const all = environmentNames(baseDir);
  if (filter === null || filter.length === 0) return all;
  const wanted = [...new Set(filter)];
  const unknown = wanted.filter((n) => !all.includes(n));
  if (unknown.length > 0) throw new UnknownEnvironmentError(unknown);
  return all.filter((n) => wanted.includes(n));
}

function envDirOf(baseDir: string, name: string): string {
  return join(baseDir, "environments", name);
}

function splitEnvironments(value: string | undefined): string[] | null {
  if (value === undefined) return null;
  return value.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

function pythonList(names: string[]): string {
  return `[${names.map((n) => `'${n}'`).join(", ")}]`;
}

// ---------------------------------------------------------------------------------------------------------------
// edit

/** Options of {@link editSecrets}. */
export interface EditOptions extends SecretsCliOptions {
  /** The editor command; run as `/bin/sh -c "<editor> <tempfile>"`. */
  editor: string;
  /** Edit secret file `secret-<file>.<age|gpg>` instead of the configuration. */
  file?: string | null;
  /** Directory for the cleartext temporary file; default: the system temp dir. */
  tempDir?: string;
}

/** The menu batou shows after a failed edit or encryption. */
export const EDIT_MENU: string = "Your changes are still available. You can try:\n" +
  "\tedit       -- opens editor with current data again\n" +
  "\tencrypt    -- tries to encrypt current data again\n" +
  "\tquit       -- quits and loses your changes";

/**
 * Whether `exec` can be put in front of the editor command (no lists, pipes, groups, keywords or leading
 * variable assignments), so that the shell is replaced by the editor and signals sent to batou's child reach it.
 */
function isSimpleCommand(command: string): boolean {
  return !/[;&|(){}\n]/.test(command) && !/^\s*([A-Za-z_][A-Za-z0-9_]*=|(if|for|while|until|case|!)\s)/.test(command);
}

const SIGNAL_EXIT: Partial<Record<Deno.Signal, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/**
 * Removes the cleartext temp file and releases the lock if batou is interrupted. While the editor runs,
 * Ctrl-C belongs to the editor; SIGTERM/SIGHUP are passed on to it before cleaning up.
 */
class InterruptGuard {
  editor: Deno.ChildProcess | null = null;
  tempFile: string | null = null;
  #cleanups: (() => void)[] = [];
  #listeners: [Deno.Signal, () => void][] = [];

  constructor(private readonly ctx: Ctx) {}

  install(): void {
    for (const signal of Object.keys(SIGNAL_EXIT) as Deno.Signal[]) {
      const listener = () => void this.#onSignal(signal);
      try {
        Deno.addSignalListener(signal, listener);
        this.#listeners.push([signal, listener]);
      } catch {
        // signal not supported on this platform
      }
    }
  }

  uninstall(): void {
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
    this.#listeners = [];
  }

  onInterrupt(cleanup: () => void): void {
    this.#cleanups.push(cleanup);
  }

  async #onSignal(signal: Deno.Signal): Promise<void> {
    if (this.editor && signal === "SIGINT") return;
    if (this.editor) {
      try {
        this.editor.kill(signal);
      } catch { /* already gone */ }
      await this.editor.status.catch(() => {});
    }
    if (this.tempFile) {
      try {
        Deno.removeSync(this.tempFile);
      } catch { /* already gone */ }
    }
    for (const cleanup of this.#cleanups) {
      try {
        cleanup();
      } catch { /* best effort */ }
    }
    this.ctx.err(`\nInterrupted (${signal}): changes not saved.`);
    Deno.exit(SIGNAL_EXIT[signal] ?? 1);
  }
}

function decodeText(data: Uint8Array, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new SecretsError(`${what} is not UTF-8 text and cannot be edited.`);
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * `batou secrets edit ENV [FILE]`: decrypts the environment's secrets configuration (or secret file FILE),
 * lets the user edit it in a temporary file (mode 0600, removed afterwards) and encrypts the result again.
 * Unchanged text is not written. The file being edited stays locked exclusively for the whole session. On an
 * error the user chooses between `edit`, `encrypt` and `quit`. Returns the exit code: 0 when saved or
 * unchanged, 1 when the setup failed or the user quit after an error.
 */
export async function editSecrets(baseDir: string, environment: string, opts: EditOptions): Promise<number> {
  const ctx = context(opts);
  const file = opts.file ?? null;
  if (!/^[A-Za-z0-9_.-]+$/.test(environment) || Environment.configPath(baseDir, environment) === null) {
    ctx.err(`Environment ${environment} does not exist.`);
    const known = environmentNames(baseDir);
    if (known.length > 0) ctx.err(`Existing environments: ${known.join(", ")}`);
    return 1;
  }
  const envDir = envDirOf(baseDir, environment);
  let layout: SecretsLayout;
  let lock: SecretsLock | null = null;
  let path: string | null;
  try {
    layout = await detectProvider(envDir);
    if (file !== null) {
      if (layout.provider === "none") {
        throw new SecretsError("Cannot edit secret files for environment without secret configuration.");
      }
      path = Object.hasOwn(layout.secretFiles, file)
        ? layout.secretFiles[file]
        : secretFilePath(envDir, layout.provider, file);
      lock = await lockFile(path, { exclusive: true, create: true });
    } else {
      path = layout.configPath;
      if (path !== null) lock = await lockFile(path, { exclusive: true });
    }
  } catch (err) {
    reportError(ctx, err);
    return 1;
  }

  const guard = new InterruptGuard(ctx);
  if (lock) guard.onInterrupt(() => lock.release());
  guard.install();
  try {
    let original: string | null;
    let current: string;
    try {
      // like batou, everything must be decryptable before editing (a key change re-encrypts all files)
      for (const p of [layout.configPath, ...Object.values(layout.secretFiles)]) {
        if (p !== null && p !== path) await decryptFile(p, ctx.secrets);
      }
      const isNew = path === null || !((await sizeOf(path)) ?? 0);
      original = isNew ? null : decodeText(await decryptFile(path!, ctx.secrets), path!);
      current = original ?? (file !== null ? "" : newSecretsTemplate(environment));
    } catch (err) {
      reportError(ctx, err);
      return 1;
    }

    const suffix = file !== null ? extname(file) : ".cfg";
    const runEditor = async (text: string): Promise<string> => {
      const tmp = await Deno.makeTempFile({ dir: opts.tempDir, prefix: "edit", suffix });
      guard.tempFile = tmp;
      try {
        await Deno.chmod(tmp, 0o600);
        await Deno.writeTextFile(tmp, text);
        const command = `${opts.editor} ${shellQuote(tmp)}`;
        if (ctx.debug) ctx.out(`Running editor with command: ${command}`);
        const child = new Deno.Command("/bin/sh", {
          args: ["-c", isSimpleCommand(opts.editor) ? `exec ${command}` : command],
          stdin: "inherit",
          stdout: "inherit",
          stderr: "inherit",
        }).spawn();
        guard.editor = child;
        let status: Deno.CommandStatus;
        try {
          status = await child.status;
        } finally {
          guard.editor = null;
        }
        if (!status.success) {
          throw new Error(
            `The editor command \`${command}\` failed with exit code ${status.code}` +
              (status.signal ? ` (signal ${status.signal})` : "") + ".",
          );
        }
        return await Deno.readTextFile(tmp);
      } finally {
        await Deno.remove(tmp).catch(() => {});
        guard.tempFile = null;
      }
    };

    const encrypt = async (): Promise<void> => {
      if (current === original) {
        ctx.out("No changes from original cleartext. Not updating.");
        return;
      }
      if (original === null && file === null && isUnchangedTemplate(current, environment)) {
        ctx.out(`Nothing filled in: ${environment} still has no secrets. Not creating them.`);
        return;
      }
      if (file !== null) {
        await writeSecretFile(envDir, file, current, { ...ctx.secrets, lockHeld: true });
      } else {
        await Deno.mkdir(envDir, { recursive: true });
        await writeConfig(envDir, current, { ...ctx.secrets, lockHeld: lock !== null });
      }
      original = current;
    };

    let command = "edit";
    for (;;) {
      try {
        if (command === "edit") {
          current = await runEditor(current);
          await encrypt();
        } else if (command === "encrypt") {
          await encrypt();
        } else if (command === "") {
          throw new Error("empty command");
        } else {
          throw new Error(`unknown command \`${command}\``);
        }
        return 0;
      } catch (err) {
        ctx.out("");
        ctx.out("");
        ctx.out(`An error occurred: ${errorText(err)}`);
        if (ctx.debug && err instanceof Error && err.stack) ctx.out(`Traceback:\n${err.stack}`);
        ctx.out("");
        ctx.out(EDIT_MENU);
        const answer = await ctx.io.readLine("> ");
        if (answer === null) {
          ctx.out("");
          return 1;
        }
        command = answer.trim();
        if (command === "quit") return 1;
      }
    }
  } finally {
    guard.uninstall();
    lock?.release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// summary

/**
 * `batou secrets summary`: for every environment its name, then its members and secret files (or
 * `\tNo secrets found.`), then a blank line. Everything is decrypted, as batou does, so the summary also shows
 * whether you have access: a decryption error is printed on stderr and makes the exit code 1.
 */
export async function secretsSummary(baseDir: string, opts: SecretsCliOptions = {}): Promise<number> {
  const ctx = context(opts);
  let code = 0;
  const names = environmentNames(baseDir);
  if (names.length === 0) ctx.err(`No environments found in ${join(baseDir, "environments")}.`);
  for (const name of names) {
    ctx.out(name);
    try {
      const envDir = envDirOf(baseDir, name);
      const layout = await detectProvider(envDir);
      if (layout.configPath === null) {
        ctx.out("\tNo secrets found.");
        ctx.out("");
        continue;
      }
      const text = (await readConfigCleartext(envDir, ctx.secrets)) ?? "";
      const files = Object.keys(layout.secretFiles).sort();
      for (const f of files) await readSecretFile(envDir, f, ctx.secrets);
      const doc = ConfigDocument.parse(text, layout.configPath, { inlineComments: false });
      const members = parseMembers(doc.get("batou", "members"));
      ctx.out("\t members");
      for (const m of members) ctx.out(`\t\t- ${m}`);
      if (members.length === 0) ctx.out("\t\t(none)");
      ctx.out("\t secret files");
      for (const f of files) ctx.out(`\t\t- ${f}`);
      if (files.length === 0) ctx.out("\t\t(none)");
      ctx.out("");
    } catch (err) {
      reportError(ctx, err);
      code = 1;
    }
  }
  return code;
}

// ---------------------------------------------------------------------------------------------------------------
// add / remove / reencrypt

/**
 * Runs `fn` for each selected environment that has secrets, holding the exclusive lock on its configuration
 * and passing the decrypted configuration and the environment's layout (`layouts[i]` for `names[i]` when the
 * caller has them, else detected here). Environments without secrets are reported and skipped. Errors are
 * printed and make the result 1; the other environments are still processed.
 */
async function forEachSecretsConfig(
  baseDir: string,
  names: string[],
  ctx: Ctx,
  fn: (name: string, envDir: string, cleartext: string, layout: SecretsLayout) => Promise<void>,
  withoutSecrets: ((name: string, envDir: string) => Promise<void>) | null = null,
  layouts: SecretsLayout[] | null = null,
): Promise<number> {
  let code = 0;
  for (const [i, name] of names.entries()) {
    const envDir = envDirOf(baseDir, name);
    try {
      const layout = layouts?.[i] ?? await detectProvider(envDir);
      if (layout.configPath === null) {
        if (withoutSecrets) await withoutSecrets(name, envDir);
        else ctx.out(`${name}: No secrets found. Skipped.`);
        continue;
      }
      const lock = await lockFile(layout.configPath, { exclusive: true });
      try {
        const text = (await readConfigCleartext(envDir, { ...ctx.secrets, lockHeld: true })) ?? "";
        await fn(name, envDir, text, layout);
      } finally {
        lock.release();
      }
    } catch (err) {
      ctx.err(`${name}: ${errorText(err)}`);
      if (ctx.debug && err instanceof Error && err.stack) ctx.err(err.stack);
      code = 1;
    }
  }
  return code;
}

function checkMember(key: string): string {
  const member = key.trim();
  if (member === "" || /[,\n\r]/.test(member)) {
    throw new SecretsError(`Invalid member ${JSON.stringify(key)}: it must be non-empty without commas or newlines.`);
  }
  return member;
}

/** Whether `member` is a kind of key an age environment can use (age1..., ssh-... or an https:// key list). */
function isAgeMember(member: string): boolean {
  return /^(age1[0-9a-z]+|ssh-[a-z0-9-]+ \S+.*|https:\/\/\S+)$/.test(member);
}

/**
 * `batou secrets add KEY` / `remove KEY`: adds `key` to (or removes it from) `[batou] members` of the given
 * environments (all when `environments` is null or empty), keeping the rest of the file as it is, and
 * re-encrypts with the new members. Returns the exit code.
 */
export async function changeMembers(
  baseDir: string,
  action: "add" | "remove",
  key: string,
  environments: string[] | null,
  opts: SecretsCliOptions = {},
): Promise<number> {
  const ctx = context(opts);
  let names: string[];
  let member: string;
  let layouts: SecretsLayout[];
  try {
    member = checkMember(key);
    names = selectEnvironments(baseDir, environments);
    layouts = await Promise.all(names.map((n) => detectProvider(envDirOf(baseDir, n))));
    // With no secrets anywhere yet, a new environment would get age: a key that age cannot use is refused now
    // (not only once some environment has age secrets).
    if (action === "add" && layouts.every((l) => l.provider === "none") && !isAgeMember(member)) {
      throw new SecretsError(`${invalidAgeMember(member)} (New secrets are encrypted with age.)`);
    }
  } catch (err) {
    reportError(ctx, err);
    return 1;
  }
  const named = environments !== null && environments.length > 0;
  // Environments named with --environments that have no secrets yet get them, with this member.
  const create = action === "add" && named
    ? async (name: string, envDir: string) => {
      if (!isAgeMember(member)) {
        throw new SecretsError(
          `${invalidAgeMember(member)} (New secrets are encrypted with age.)`,
        );
      }
      await Deno.mkdir(envDir, { recursive: true });
      const result = await writeConfig(envDir, firstSecretsConfig(name, member), ctx.secrets);
      ctx.out(`${name}: had no secrets: created ${
        result.written.map((p) => relative(baseDir, p)).join(", ")
      } with member ${member}.`);
      ctx.out(`${name}: add secrets with: batou secrets edit ${name}`);
    }
    : null;
  const code = await forEachSecretsConfig(
    baseDir,
    names,
    ctx,
    async (name, envDir, text, layout) => {
      const doc = ConfigDocument.parse(text, "secrets.cfg", { inlineComments: false });
      const members = parseMembers(doc.get("batou", "members"));
      const present = members.includes(member);
      if (action === "add" ? present : !present) {
        ctx.out(`${name}: ${member} is ${action === "add" ? "already" : "not"} a member. Nothing to do.`);
        return;
      }
      if (action === "add" && layout.provider === "age" && !isAgeMember(member)) {
        throw new SecretsError(invalidAgeMember(member));
      }
      const updated = action === "add" ? [...members, member] : members.filter((m) => m !== member);
      doc.set("batou", "members", updated.join(",\n"));
      await writeConfig(envDir, doc.toString(), { ...ctx.secrets, lockHeld: true });
      ctx.out(`${name}: ${action === "add" ? "added" : "removed"} ${member}.`);
    },
    create,
    layouts,
  );
  if (action === "add" && !named && names.length > 0 && layouts.every((l) => l.provider === "none")) {
    ctx.out(`No environment has secrets yet. To start those of one: batou secrets add KEY --environments ENV`);
  }
  return code;
}

function invalidAgeMember(member: string): string {
  return `Invalid member ${JSON.stringify(member)}: an age member is an age1... or ssh-... public key ` +
    `or an https:// URL of ssh keys.`;
}

/**
 * `batou secrets reencrypt`: re-encrypts the configuration and secret files of the given environments (all when
 * `environments` is null or empty) if their recipients' keys changed (age: `age_keys.txt`, gpg: key ids), or
 * always with `force`. Returns the exit code.
 */
export async function reencryptSecrets(
  baseDir: string,
  environments: string[] | null,
  force: boolean,
  opts: SecretsCliOptions = {},
): Promise<number> {
  const ctx = context(opts);
  let names: string[];
  try {
    names = selectEnvironments(baseDir, environments);
  } catch (err) {
    reportError(ctx, err);
    return 1;
  }
  ctx.out(`Re-encrypting environments ${pythonList(names)}`);
  return await forEachSecretsConfig(baseDir, names, ctx, async (name, envDir, text) => {
    const result = await writeConfig(envDir, text, { ...ctx.secrets, lockHeld: true, forceReencrypt: force });
    if (result.written.length === 0) {
      ctx.out(`${name}: keys unchanged, nothing re-encrypted.`);
    } else {
      ctx.out(`${name}: re-encrypted ${result.written.length} file(s).`);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// decrypttostdout

/**
 * `batou secrets decrypttostdout FILE` (a git `textconv` filter): writes the decrypted bytes of FILE
 * (`.age`, `.gpg` or `.age-diffable`, relative to `baseDir`) to stdout, or `(unable to decrypt content)` when
 * there is nothing to show, including when decryption fails (the reason goes to stderr), so that `git diff`
 * keeps working for people without access. Exit code 0, or 1 when the file cannot be read at all or is not
 * encrypted (garbage, a plain file).
 */
export async function decryptToStdout(baseDir: string, file: string, opts: SecretsCliOptions = {}): Promise<number> {
  const ctx = context(opts);
  const path = resolve(baseDir, file);
  let lock: SecretsLock;
  try {
    if (!/\.(age|gpg|age-diffable)$/.test(path)) {
      throw new SecretsError(`Unknown encrypted file type for ${path} (expected .age, .gpg or .age-diffable).`);
    }
    lock = await lockFile(path, { exclusive: false });
  } catch (err) {
    reportError(ctx, err);
    return 1;
  }
  let data: Uint8Array;
  try {
    data = await decryptFile(path, ctx.secrets);
  } catch (err) {
    reportError(ctx, err);
    // Not encrypted at all: a wrong file, not a missing key (for which git diff must keep working).
    if (err instanceof AgeDecryptError && err.notAge) return 1;
    data = new Uint8Array(0);
  } finally {
    lock.release();
  }
  if (data.length > 0) ctx.io.write(data);
  else ctx.out("(unable to decrypt content)");
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// command line

/**
 * The `batou secrets` command line; `args` are the arguments after `secrets`, `baseDir` is the project.
 * Reads `EDITOR` and the age/gpg settings (`BATOU_AGE_IDENTITIES`, `BATOU_AGE_IDENTITY_PASSPHRASE`,
 * `GNUPGHOME`) from the environment. Returns the exit code: 0 success, 1 failure; throws a {@link UsageError}
 * (exit code 2 in main.ts) for a wrong command line.
 */
export async function secretsCommand(args: string[], baseDir: string, debug: boolean): Promise<number> {
  const io = processIO();
  const chosen = await subcommand(["secrets"], COMMANDS.secrets, args);
  if (chosen === null) return 0;
  const sub = chosen.name as keyof typeof SECRETS_COMMANDS;
  const parsed = await parseCommand(["secrets", sub], SECRETS_COMMANDS[sub] as CommandSpec, chosen.rest);
  if (parsed === null) return 0;
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;
  const opts: SecretsCliOptions = { io, debug: debug || values.debug === true };
  switch (sub) {
    case "edit":
      return await editSecrets(baseDir, positionals[0].replace(/\.cfg$/, ""), {
        ...opts,
        file: positionals[1] ?? null,
        editor: (values.editor as string | undefined) || Deno.env.get("EDITOR") || "vi",
      });
    case "summary":
      return await secretsSummary(baseDir, opts);
    case "add":
    case "remove":
      return await changeMembers(
        baseDir,
        sub,
        positionals[0],
        splitEnvironments(values.environments as string | undefined),
        opts,
      );
    case "reencrypt":
      return await reencryptSecrets(
        baseDir,
        splitEnvironments(values.environments as string | undefined),
        values.force === true,
        opts,
      );
    default:
      return await decryptToStdout(baseDir, positionals[0], opts);
  }
}
