/**
 * `batou completions bash|zsh|fish`: shell completion scripts, made from the command table (cli/commands.ts):
 * commands, every command's options (with their help in zsh and fish), option values and arguments by their
 * completion kind (environment names from the `environments/` folder of the project in the current directory,
 * files, directories, commands, fixed choices), and `secrets` subcommands. Each shell gets its own syntax: the
 * environment lister is a shell function in bash and zsh (globs with zsh's `(N)` qualifier) and a fish function in
 * fish.
 *
 * @module
 */
import {
  allOptions,
  type ArgSpec,
  type CommandSpec,
  type Completion,
  type OptionSpec,
  visibleCommands,
} from "./commands.ts";

/** The long and short option words of a command (`--predict-only`, `-P`, ...). */
function optionWords(spec: CommandSpec): string[] {
  const options = Object.entries(allOptions(spec));
  return [...options.map(([name]) => `--${name}`), ...options.flatMap(([, o]) => o.short ? [`-${o.short}`] : [])];
}

/** The argument whose kind is completed for positional words: the first one that says what to complete. */
function completedArg(spec: CommandSpec): ArgSpec | undefined {
  return spec.args.find((a) => a.complete !== undefined);
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

// ---------------------------------------------------------------------------------------------------------------
// bash

function bashReply(kind: Completion | undefined): string {
  if (kind === undefined) return "COMPREPLY=()";
  if (typeof kind === "object") return `COMPREPLY=( $(compgen -W "${kind.choices.join(" ")}" -- "$cur") )`;
  const how = { environment: `-W "$(_batou_envs)"`, file: "-f", directory: "-d", command: "-c" }[kind];
  return `COMPREPLY=( $(compgen ${how} -- "$cur") )`;
}

/** The bash completion of one (sub)command's words after its name. */
function bashCommand(spec: CommandSpec, indent: string, depth: number): string[] {
  if (spec.subcommands) {
    const subs = Object.values(spec.subcommands);
    return [
      `${indent}if [ "$COMP_CWORD" -eq ${depth + 1} ]; then`,
      `${indent}  COMPREPLY=( $(compgen -W "${subs.map((s) => s.name).join(" ")} --help" -- "$cur") ); return`,
      `${indent}fi`,
      `${indent}case "\${COMP_WORDS[${depth + 1}]}" in`,
      ...subs.flatMap((
        s,
      ) => [`${indent}  ${s.name})`, ...bashCommand(s, indent + "    ", depth + 1), `${indent}    ;;`]),
      `${indent}esac`,
    ];
  }
  const valued = Object.entries(allOptions(spec)).filter(([, o]) => o.type === "string");
  const lines: string[] = [];
  if (valued.length > 0) {
    lines.push(`${indent}case "$prev" in`);
    for (const [name, o] of valued) {
      lines.push(
        `${indent}  ${[`--${name}`, ...(o.short ? [`-${o.short}`] : [])].join("|")}) ${
          bashReply(o.complete)
        }; return ;;`,
      );
    }
    lines.push(`${indent}esac`);
  }
  lines.push(
    `${indent}if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${optionWords(spec).join(" ")}" -- "$cur") )`,
    `${indent}else ${bashReply(completedArg(spec)?.complete)}; fi`,
  );
  return lines;
}

function bash(): string {
  const commands = visibleCommands();
  return `# batou completion for bash: eval "$(batou completions bash)"
_batou_envs() {
  local e
  for e in environments/*/environment.cfg environments/*.cfg; do
    [ -e "$e" ] || continue
    e=\${e#environments/}; e=\${e%/environment.cfg}; echo "\${e%.cfg}"
  done
}
_batou() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.map((c) => c.name).join(" ")} --help --version --debug" -- "$cur") ); return
  fi
  case "$cmd" in
${commands.map((c) => [`    ${c.name})`, ...bashCommand(c, "      ", 1), "      ;;"].join("\n")).join("\n")}
  esac
}
complete -F _batou batou
`;
}

// ---------------------------------------------------------------------------------------------------------------
// zsh

/** Text for inside a single-quoted zsh `_arguments` spec: no quotes, brackets or colons. */
function zshText(text: string): string {
  return firstLine(text).replace(/['[\]:\\]/g, "");
}

function zshAction(kind: Completion | undefined): string {
  if (kind === undefined) return " ";
  if (typeof kind === "object") return `(${kind.choices.join(" ")})`;
  return { environment: "_batou_envs", file: "_files", directory: "_files -/", command: "_command_names" }[kind];
}

function zshOption(name: string, o: OptionSpec): string[] {
  const star = o.multiple ? "*" : "";
  const help = `[${zshText(o.help)}]`;
  const value = o.type === "string" ? `:${zshText(o.value ?? "value")}:${zshAction(o.complete)}` : "";
  const forms = [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]; // the value as the next word, as in bash
  return forms.map((f) => `'${star}${f}${help}${value}'`);
}

function zshArg(a: ArgSpec): string {
  const colons = a.rest ? "*:" : a.optional ? "::" : ":";
  return `'${colons}${zshText(a.name.toLowerCase())}:${zshAction(a.complete)}'`;
}

function zshCommand(spec: CommandSpec, indent: string): string[] {
  if (spec.subcommands) {
    const subs = Object.values(spec.subcommands);
    return [
      `${indent}if (( CURRENT == 2 )); then`,
      `${indent}  local -a subs; subs=(${subs.map((s) => `'${s.name}:${zshText(s.summary)}'`).join(" ")})`,
      `${indent}  _describe subcommand subs; return`,
      `${indent}fi`,
      `${indent}shift words; (( CURRENT-- ))`,
      `${indent}case "$words[1]" in`,
      ...subs.flatMap((s) => [`${indent}  ${s.name})`, ...zshCommand(s, indent + "    "), `${indent}    ;;`]),
      `${indent}esac`,
    ];
  }
  const specs = [
    ...Object.entries(allOptions(spec)).flatMap(([n, o]) => zshOption(n, o)),
    ...spec.args.filter((a) => !a.afterDashes).map(zshArg),
  ];
  return [`${indent}_arguments -s ${specs.join(" ")}`];
}

function zsh(): string {
  const commands = visibleCommands();
  return `#compdef batou
# batou completion for zsh: batou completions zsh > "\${fpath[1]}/_batou" (or: source <(batou completions zsh))
_batou_envs() {
  local -a envs
  envs=(environments/*/environment.cfg(N:h:t) environments/*.cfg(N:t:r))
  _describe environment envs
}
_batou() {
  local -a commands; commands=(${commands.map((c) => `'${c.name}:${zshText(c.summary)}'`).join(" ")})
  if (( CURRENT == 2 )); then _describe command commands; return; fi
  shift words; (( CURRENT-- ))
  case "$words[1]" in
${commands.map((c) => [`    ${c.name})`, ...zshCommand(c, "      "), "      ;;"].join("\n")).join("\n")}
  esac
}
if [ "$funcstack[1]" = "_batou" ]; then _batou "$@"; else compdef _batou batou; fi
`;
}

// ---------------------------------------------------------------------------------------------------------------
// fish

/** A single-quoted fish string. */
function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

function fishArgs(kind: Completion | undefined): string {
  if (kind === undefined) return "";
  if (typeof kind === "object") return ` -a ${fishQuote(kind.choices.join(" "))}`;
  return {
    environment: ` -a "(__batou_envs)"`,
    file: " -F",
    directory: ` -a "(__fish_complete_directories)"`,
    command: ` -a "(__fish_complete_command)"`,
  }[kind];
}

/** ` -f` (no file names) unless files are what is completed. */
function noFiles(kind: Completion | undefined): string {
  return kind === "file" ? "" : " -f";
}

/** The fish lines of a (sub)command; `condition` selects the words after it. */
function fishCommand(spec: CommandSpec, condition: string): string[] {
  if (spec.subcommands) {
    const subs = Object.values(spec.subcommands);
    const names = subs.map((s) => s.name).join(" ");
    return [
      ...subs.map((s) =>
        `complete -c batou -f -n "${condition}; and not __fish_seen_subcommand_from ${names}" -a ${s.name} -d ${
          fishQuote(s.summary)
        }`
      ),
      ...subs.flatMap((s) => fishCommand(s, `${condition}; and __fish_seen_subcommand_from ${s.name}`)),
    ];
  }
  const lines: string[] = [];
  const arg = completedArg(spec);
  if (arg) lines.push(`complete -c batou${noFiles(arg.complete)} -n "${condition}"${fishArgs(arg.complete)}`);
  for (const [name, o] of Object.entries(allOptions(spec))) {
    const short = o.short ? ` -s ${o.short}` : "";
    const value = o.type === "string" ? ` -r${fishArgs(o.complete)}` : "";
    lines.push(
      `complete -c batou${noFiles(o.complete)} -n "${condition}" -l ${name}${short}${value} -d ${
        fishQuote(firstLine(o.help))
      }`,
    );
  }
  return lines;
}

function fish(): string {
  const commands = visibleCommands();
  const lines = [
    "# batou completion for fish: batou completions fish > ~/.config/fish/completions/batou.fish",
    "function __batou_envs",
    "    for e in environments/*/environment.cfg",
    "        basename (dirname $e)",
    "    end",
    "    for e in environments/*.cfg",
    "        basename $e .cfg",
    "    end",
    "end",
    ...commands.map((c) => `complete -c batou -f -n __fish_use_subcommand -a ${c.name} -d ${fishQuote(c.summary)}`),
    ...commands.flatMap((c) => fishCommand(c, `__fish_seen_subcommand_from ${c.name}`)),
  ];
  return lines.join("\n") + "\n";
}

/** The completion script for `shell`, or null for an unknown shell. */
export function completionScript(shell: string): string | null {
  if (shell === "bash") return bash();
  if (shell === "zsh") return zsh();
  if (shell === "fish") return fish();
  return null;
}
