/**
 * Parses a command's arguments by its entry in the command table (cli/commands.ts) with node:util's `parseArgs`,
 * and turns every mistake into a {@link UsageError} in plain words that names the command (`unknown option --bogus
 * for batou deploy (did you mean --dirty?)`), never parseArgs' own text.
 *
 * @example
 * ```ts
 * import { COMMANDS } from "./commands.ts";
 * const parsed = await parseCommand(["graph"], COMMANDS.graph, ["prod", "-f", "mermaid"]);
 * if (parsed === null) Deno.exit(0); // --help was given and printed
 * parsed.values.format; // "mermaid"
 * ```
 * @module
 */
import { allOptions, type CommandSpec, type COMMON_OPTIONS, type OptionTable, visibleCommands } from "./commands.ts";
import { closestName } from "../core/formats/suggest.ts";
import { commandName, helpText } from "./usage.ts";

/** A wrong command line: main.ts prints the message and the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command's words after `batou` (`["secrets", "edit"]`); empty for `batou` itself. */
  readonly path: readonly string[];
  /** For an unknown option: the option as typed (`--bogus`, `-x`), else undefined. */
  readonly option?: string;

  /** Creates the error for the command at `path`; `option`: the unknown option it is about, if it is one. */
  constructor(message: string, path: readonly string[], option?: string) {
    super(message);
    this.path = path;
    this.option = option;
  }
}

/** The parsed values of an option table: booleans, strings, and lists for `multiple` options. */
export type OptionValues<O extends OptionTable> = {
  -readonly [K in keyof O]?: O[K] extends { readonly type: "boolean" } ? boolean
    : O[K] extends { readonly multiple: true } ? string[]
    : string;
};

/** What {@link parseCommand} read. */
export interface ParsedCommand<O extends OptionTable> {
  /** The options given (absent ones are undefined), the command's own and `debug`/`help`. */
  values: OptionValues<O & typeof COMMON_OPTIONS>;
  /** The positional arguments (before `--` when the command has an argument that comes after `--`). */
  positionals: string[];
  /** The arguments after `--` for a command with an `afterDashes` argument, else empty. */
  afterDashes: string[];
}

/** Whether `value` given to a string option is really the next option (a value missing), not a negative number. */
function looksLikeOption(value: string): boolean {
  return value.startsWith("-") && !/^-\d/.test(value);
}

/**
 * Parses `args` (the words after the command) by `spec`. With `-h`/`--help` anywhere before `--` it prints the
 * command's help to stdout and returns null. Throws {@link UsageError} for an unknown option, a missing or
 * unexpected option value, and too few or too many arguments.
 */
export async function parseCommand<S extends CommandSpec>(
  path: readonly string[],
  spec: S,
  args: string[],
): Promise<ParsedCommand<S["options"]> | null> {
  const { parseArgs } = await import("node:util");
  const options = allOptions(spec);
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const command = commandName(path);
  const terminator = tokens.find((t) => t.kind === "option-terminator")?.index ?? Infinity;
  if (tokens.some((t) => t.kind === "option" && t.name === "help" && t.index < terminator)) {
    await Deno.stdout.write(new TextEncoder().encode(helpText(path, spec)));
    return null;
  }
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  const afterDashes: string[] = [];
  const splitAtDashes = spec.args.some((a) => a.afterDashes);
  for (const token of tokens) {
    if (token.kind === "positional") {
      (splitAtDashes && token.index > terminator ? afterDashes : positionals).push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const o = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (o === undefined) {
      const guess = token.rawName.startsWith("--") ? closestName(token.name, Object.keys(options)) : null;
      throw new UsageError(
        `unknown option ${token.rawName} for ${command}${guess ? ` (did you mean --${guess}?)` : ""}`,
        path,
        token.rawName,
      );
    }
    const shown = o.short ? `-${o.short}/--${token.name}` : `--${token.name}`;
    if (o.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(`option ${shown} of ${command} takes no value (got ${args[token.index]})`, path);
      }
      values[token.name] = true;
      continue;
    }
    if (token.value === undefined || (!token.inlineValue && looksLikeOption(token.value))) {
      throw new UsageError(`option ${shown} of ${command} needs a value (${o.value ?? "VALUE"})`, path);
    }
    const choices = typeof o.complete === "object" ? o.complete.choices : null;
    if (choices && !choices.includes(token.value)) {
      throw new UsageError(
        `option ${shown} of ${command} takes ${choices.join(" or ")} (got ${JSON.stringify(token.value)})`,
        path,
      );
    }
    if (o.multiple) values[token.name] = [...(values[token.name] as string[] | undefined ?? []), token.value];
    else values[token.name] = token.value;
  }
  const plain = spec.args.filter((a) => !a.afterDashes);
  const required = plain.filter((a) => !a.optional && !a.rest);
  if (positionals.length < required.length) {
    const missing = required[positionals.length];
    throw new UsageError(`missing ${missing.name} for ${command}: ${missing.help}`, path);
  }
  if (!plain.some((a) => a.rest) && positionals.length > plain.length) {
    const takes = plain.length === 0 ? "no arguments" : plain.map((a) => a.name).join(" ");
    throw new UsageError(
      `unexpected argument \`${positionals[plain.length]}\` for ${command} (it takes ${takes})`,
      path,
    );
  }
  plain.forEach((a, i) => {
    const choices = typeof a.complete === "object" ? a.complete.choices : null;
    if (choices && i < positionals.length && !choices.includes(positionals[i])) {
      throw new UsageError(
        `unknown ${a.name} \`${positionals[i]}\` for ${command} (one of ${choices.join(", ")})`,
        path,
      );
    }
  });
  const dashed = spec.args.find((a) => a.afterDashes);
  if (dashed && !dashed.optional && afterDashes.length === 0) {
    throw new UsageError(`missing -- ${dashed.name}... for ${command}: ${dashed.help}`, path);
  }
  return { values: values as OptionValues<S["options"] & typeof COMMON_OPTIONS>, positionals, afterDashes };
}

/**
 * The subcommand of a command with subcommands (`batou secrets edit`): its spec and the words after it. Throws a
 * {@link UsageError} when it is missing or unknown (with a did-you-mean); `--help` in place of it gives null (the
 * command's help is printed).
 */
export async function subcommand(
  path: readonly string[],
  spec: CommandSpec,
  args: string[],
): Promise<{ name: string; spec: CommandSpec; rest: string[] } | null> {
  const subs = spec.subcommands ?? {};
  const [word, ...rest] = args;
  const command = commandName(path);
  if (word === "-h" || word === "--help" || word === "help") {
    await Deno.stdout.write(new TextEncoder().encode(helpText(path, spec)));
    return null;
  }
  if (word === undefined) {
    throw new UsageError(`missing command for ${command} (one of ${Object.keys(subs).join(", ")})`, path);
  }
  if (word.startsWith("-")) throw new UsageError(`unknown option ${word} for ${command}`, path, word);
  if (!Object.hasOwn(subs, word)) {
    const guess = closestName(word, Object.keys(subs));
    throw new UsageError(
      `unknown command \`${word}\` for ${command}${
        guess ? ` (did you mean ${guess}?)` : ` (one of ${Object.keys(subs).join(", ")})`
      }`,
      path,
    );
  }
  return { name: word, spec: subs[word], rest };
}

/** The usage error for an unknown command word after `batou`, with a did-you-mean (else the list of commands). */
export function unknownCommand(word: string): UsageError {
  const names = visibleCommands().map((c) => c.name);
  const guess = closestName(word, names);
  return new UsageError(
    `unknown command \`${word}\`` + (guess ? ` (did you mean ${guess}?)` : ` (one of ${names.join(", ")})`),
    [],
  );
}
