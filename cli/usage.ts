/**
 * Usage lines and `--help` texts, made from the command table (cli/commands.ts).
 *
 * @example
 * ```ts
 * import { COMMANDS } from "./commands.ts";
 * usageLine(["graph"], COMMANDS.graph); // "usage: batou graph ENV [-f|--format FORMAT] [-d|--debug]"
 * ```
 * @module
 */
import { allOptions, type CommandSpec, COMMON_OPTIONS, type OptionSpec, specAt, visibleCommands } from "./commands.ts";
import { VERSION } from "../core/runtime/version.ts";

const WIDTH = 110;

function optionWord(name: string, o: OptionSpec): string {
  const flag = o.short ? `-${o.short}|--${name}` : `--${name}`;
  return `[${flag}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}]`;
}

function argWord(a: CommandSpec["args"][number]): string {
  const word = a.rest || a.afterDashes ? `${a.name}...` : a.name;
  const dashed = a.afterDashes ? `-- ${word}` : word;
  return a.optional ? `[${dashed}]` : dashed;
}

/** `batou deploy` for the path `["deploy"]`. */
export function commandName(path: readonly string[]): string {
  return ["batou", ...path].join(" ");
}

/** The usage line(s) of a command: its arguments and every option, wrapped below the command name. */
export function usageLine(path: readonly string[], spec: CommandSpec): string {
  const head = `usage: ${commandName(path)}`;
  if (spec.subcommands) return `${head} <command> [options]`;
  const options = { ...spec.options, debug: COMMON_OPTIONS.debug };
  const before = spec.args.filter((a) => !a.afterDashes).map(argWord);
  const after = spec.args.filter((a) => a.afterDashes).map(argWord);
  const words = [...before, ...Object.entries(options).map(([n, o]) => optionWord(n, o)), ...after];
  const lines: string[] = [];
  let line = head;
  for (const word of words) {
    if (line.length + 1 + word.length > WIDTH && line.trim() !== "") {
      lines.push(line);
      line = " ".repeat(head.length);
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.join("\n");
}

function table(rows: [string, string][]): string[] {
  const width = Math.min(28, Math.max(...rows.map(([left]) => left.length)) + 2);
  return rows.flatMap(([left, right]) => {
    const [first, ...more] = right.split("\n");
    const pad = left.length + 2 > width ? `\n  ${" ".repeat(width)}` : " ".repeat(width - left.length);
    return [`  ${left}${pad}${first}`, ...more.map((m) => `  ${" ".repeat(width)}${m}`)];
  });
}

function optionRows(spec: CommandSpec): [string, string][] {
  return Object.entries(allOptions(spec)).map(([name, o]) => {
    const value = o.type === "string" ? ` ${o.value ?? "VALUE"}` : "";
    return [`${o.short ? `-${o.short}, ` : ""}--${name}${value}`, o.help];
  });
}

/** The `--help` text of a command: its usage line, what it does, and every argument and option explained. */
export function helpText(path: readonly string[], spec: CommandSpec): string {
  const parts = [usageLine(path, spec), "", spec.summary.charAt(0).toUpperCase() + spec.summary.slice(1) + "."];
  if (spec.description) parts.push("", spec.description);
  if (spec.subcommands) {
    parts.push("", "commands:");
    parts.push(...table(Object.values(spec.subcommands).map((s) => [commandWords(s), s.summary])));
    parts.push("", "options:", ...table(optionRows(spec)));
    parts.push("", `Run \`${commandName(path)} <command> --help\` for details.`);
    return parts.join("\n") + "\n";
  }
  if (spec.args.length > 0) {
    parts.push("", "arguments:");
    parts.push(...table(spec.args.map((a) => [a.afterDashes ? `-- ${a.name}...` : a.name, a.help])));
  }
  parts.push("", "options:", ...table(optionRows(spec)));
  return parts.join("\n") + "\n";
}

/** `edit ENV [FILE]`: a command with its arguments, for a list of commands. */
function commandWords(spec: CommandSpec): string {
  if (spec.subcommands) return `${spec.name} <command>`;
  return [spec.name, ...spec.args.map(argWord)].join(" ");
}

/** `batou --help`: the version, the commands and the global options. */
export function globalHelp(): string {
  const rows: [string, string][] = visibleCommands().map((c) => [commandWords(c), c.summary]);
  return `batou v${VERSION}: multi-(host|component|environment|version|platform) deployment

usage: batou [-d] <command> [options]

commands:
${table(rows).join("\n")}

options:
${
    table([
      ["-d, --debug", "show debug output and stack traces"],
      ["-h, --help", "show help (also after a command: batou deploy --help)"],
      ["--version", "show the version"],
    ]).join("\n")
  }
`;
}

/** What a usage error shows below its message: the command's usage line and where to find more. */
export function usageHint(path: readonly string[]): string {
  const spec = specAt(path);
  if (spec === null) return globalHelp();
  return `${usageLine(path, spec)}\nRun \`${commandName(path)} --help\` to see ${
    spec.subcommands ? "its commands" : "every option explained"
  }.\n`;
}
