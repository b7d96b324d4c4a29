/**
 * `batou completions bash|zsh|fish`: shell completion scripts. Commands, `deploy`/`graph` options (from
 * {@link DEPLOY_OPTIONS}), `secrets` subcommands and environment names (the `environments/` folder of the project
 * in the current directory) are completed. Each shell gets its own syntax: the environment lister is a shell
 * function in bash and zsh (globs with zsh's `(N)` qualifier) and a fish function in fish.
 *
 * @module
 */
import { DEPLOY_OPTIONS } from "./deploy_args.ts";

/** The commands `batou` takes (the internal `agent` left out). */
export const COMMANDS: readonly string[] = ["deploy", "secrets", "init", "graph", "check", "update", "completions"];
/** `batou secrets` subcommands. */
export const SECRETS: readonly string[] = ["edit", "summary", "add", "remove", "reencrypt", "decrypttostdout"];

/** `deploy`'s long options (`--predict-only`, ...). */
function longOptions(): string[] {
  return Object.keys(DEPLOY_OPTIONS).map((name) => `--${name}`);
}

/** `deploy`'s long and short options. */
function allOptions(): string[] {
  const short = Object.values(DEPLOY_OPTIONS).flatMap((o) => "short" in o ? [`-${o.short}`] : []);
  return [...longOptions(), ...short];
}

function bash(): string {
  return `# batou completion for bash: eval "$(batou completions bash)"
_batou_envs() {
  local e
  for e in environments/*/environment.cfg environments/*.cfg; do
    [ -e "$e" ] || continue
    e=\${e#environments/}; e=\${e%/environment.cfg}; echo "\${e%.cfg}"
  done
}
_batou() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${COMMANDS.join(" ")} --help --version --debug" -- "$cur") ); return
  fi
  case "$cmd" in
    deploy|graph)
      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${allOptions().join(" ")} --format" -- "$cur") )
      else COMPREPLY=( $(compgen -W "$(_batou_envs)" -- "$cur") ); fi ;;
    secrets)
      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "${SECRETS.join(" ")}" -- "$cur") )
      else COMPREPLY=( $(compgen -W "$(_batou_envs)" -- "$cur") ); fi ;;
    completions) COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") ) ;;
    init) COMPREPLY=( $(compgen -d -- "$cur") ) ;;
  esac
}
complete -F _batou batou
`;
}

function zsh(): string {
  const opts = longOptions().map((o) => `'${o}'`).join(" ");
  return `#compdef batou
# batou completion for zsh: batou completions zsh > "\${fpath[1]}/_batou" (or: source <(batou completions zsh))
_batou_envs() {
  local -a envs
  envs=(environments/*/environment.cfg(N:h:t) environments/*.cfg(N:t:r))
  _describe environment envs
}
_batou() {
  local -a commands; commands=(${COMMANDS.map((c) => `'${c}'`).join(" ")})
  if (( CURRENT == 2 )); then _describe command commands; return; fi
  case "$words[2]" in
    deploy|graph) _arguments ${opts} '*:environment:_batou_envs' ;;
    secrets) if (( CURRENT == 3 )); then local -a s; s=(${
    SECRETS.join(" ")
  }); _describe subcommand s; else _batou_envs; fi ;;
    completions) local -a sh; sh=(bash zsh fish); _describe shell sh ;;
    init) _files -/ ;;
  esac
}
if [ "$funcstack[1]" = "_batou" ]; then _batou "$@"; else compdef _batou batou; fi
`;
}

function fish(): string {
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
    `complete -c batou -f -n __fish_use_subcommand -a "${COMMANDS.join(" ")}"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from deploy graph" -a "(__batou_envs)"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from secrets; and not __fish_seen_subcommand_from ${
      SECRETS.join(" ")
    }" -a "${SECRETS.join(" ")}"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from ${SECRETS.join(" ")}" -a "(__batou_envs)"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from completions" -a "bash zsh fish"`,
  ];
  for (const [name, o] of Object.entries(DEPLOY_OPTIONS)) {
    const short = "short" in o ? ` -s ${o.short}` : "";
    const arg = o.type === "string" ? " -r" : "";
    lines.push(`complete -c batou -n "__fish_seen_subcommand_from deploy graph" -l ${name}${short}${arg}`);
  }
  return lines.join("\n") + "\n";
}

/** The completion script for `shell`, or null for an unknown shell. */
export function completionScript(shell: string): string | null {
  if (shell === "bash") return bash();
  if (shell === "zsh") return zsh();
  if (shell === "fish") return fish();
  return null;
}
