/**
 * `batou completions bash|zsh|fish`: shell completion scripts. Environment
 * names are completed from the `environments/` folder of the current project.
 *
 * @module
 */

const COMMANDS = ["deploy", "secrets", "init", "graph", "update", "completions"];
const DEPLOY_OPTS = [
  "--predict-only",
  "--consistency-only",
  "--local",
  "--dirty",
  "--jobs",
  "--timeout",
  "--platform",
  "--debug",
  "--report",
  "--hosts",
  "-P",
  "-c",
  "-L",
  "-D",
  "-j",
  "-t",
  "-p",
  "-d",
];
const SECRETS = ["edit", "summary", "add", "remove", "reencrypt", "decrypttostdout"];

/** Lists environment names in the shell: directories with environment.cfg and *.cfg files. */
const ENVS_SH = `( cd environments 2>/dev/null && for e in */environment.cfg *.cfg; do ` +
  `[ -e "$e" ] && { e=\${e%/environment.cfg}; echo "\${e%.cfg}"; }; done )`;

function bash(): string {
  return `# batou completion for bash: eval "$(batou completions bash)"
_batou() {
  local cur prev words cword
  cur="\${COMP_WORDS[COMP_CWORD]}"
  local cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${COMMANDS.join(" ")} --help --version" -- "$cur") ); return
  fi
  case "$cmd" in
    deploy|graph)
      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "${DEPLOY_OPTS.join(" ")} --format" -- "$cur") );
      else COMPREPLY=( $(compgen -W "$(${ENVS_SH})" -- "$cur") ); fi ;;
    secrets)
      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "${SECRETS.join(" ")}" -- "$cur") );
      else COMPREPLY=( $(compgen -W "$(${ENVS_SH})" -- "$cur") ); fi ;;
    completions) COMPREPLY=( $(compgen -W "bash zsh fish" -- "$cur") ) ;;
    init) COMPREPLY=( $(compgen -d -- "$cur") ) ;;
  esac
}
complete -F _batou batou
`;
}

function zsh(): string {
  return `#compdef batou
# batou completion for zsh: batou completions zsh > "\${fpath[1]}/_batou"
_batou_envs() { local -a envs; envs=(\${(f)"$(${ENVS_SH})"}); _describe environment envs; }
_batou() {
  local -a commands; commands=(${COMMANDS.map((c) => `'${c}'`).join(" ")})
  if (( CURRENT == 2 )); then _describe command commands; return; fi
  case "$words[2]" in
    deploy|graph) _arguments '*:environment:_batou_envs' ${
    DEPLOY_OPTS.filter((o) => o.startsWith("--")).map((o) => `'${o}'`).join(" ")
  } ;;
    secrets) if (( CURRENT == 3 )); then local -a s; s=(${
    SECRETS.join(" ")
  }); _describe subcommand s; else _batou_envs; fi ;;
    completions) local -a sh; sh=(bash zsh fish); _describe shell sh ;;
    init) _files -/ ;;
  esac
}
_batou "$@"
`;
}

function fish(): string {
  const lines = [
    "# batou completion for fish: batou completions fish > ~/.config/fish/completions/batou.fish",
    `function __batou_envs; ${ENVS_SH}; end`,
    `complete -c batou -f -n __fish_use_subcommand -a "${COMMANDS.join(" ")}"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from deploy graph" -a "(__batou_envs)"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from secrets" -a "${SECRETS.join(" ")} (__batou_envs)"`,
    `complete -c batou -f -n "__fish_seen_subcommand_from completions" -a "bash zsh fish"`,
  ];
  for (const o of DEPLOY_OPTS.filter((o) => o.startsWith("--"))) {
    lines.push(`complete -c batou -n "__fish_seen_subcommand_from deploy" -l ${o.slice(2)}`);
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
