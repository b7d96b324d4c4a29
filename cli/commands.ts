/**
 * The one table of `batou`'s commands and options. It feeds the parsing (cli/parse.ts, node:util `parseArgs`), the
 * usage lines and `--help` texts (cli/usage.ts), the shell completions (cli/completions.ts) and the early reading of
 * `batou deploy` (cli/deploy_args.ts). This module imports nothing, so that it is cheap to load before `batou deploy`
 * starts its ssh connections.
 *
 * Adding a command is one entry in {@link COMMANDS} (its name, a summary, its arguments, its options) plus its
 * `case` in main.ts, which calls {@linkcode parseCommand} of cli/parse.ts with the entry:
 *
 * @example
 * ```ts
 * // in COMMANDS:
 * check: {
 *   name: "check",
 *   summary: "check an environment without deploying",
 *   args: [{ name: "ENV", help: "the environment", complete: "environment" }],
 *   options: {},
 * },
 * ```
 * @module
 */

/** What a shell completes for an option's value or an argument. */
export type Completion =
  | "environment"
  | "file"
  | "directory"
  | "command"
  | { readonly choices: readonly string[] };

/** One option: `--name` (and `-s`), a flag or one that takes a value. */
export interface OptionSpec {
  /** `boolean`: a flag; `string`: takes a value (`--jobs 4`, `--jobs=4`, `-j 4`). */
  readonly type: "boolean" | "string";
  /** The one-letter short form (without `-`). */
  readonly short?: string;
  /** The option may be given more than once; its values are collected in a list. */
  readonly multiple?: boolean;
  /** The name of the value in the usage (`N`, `FILE`); only for `string` options. */
  readonly value?: string;
  /** One line (or a few, joined with `\n`) explaining the option in `--help`. */
  readonly help: string;
  /** What to complete for the value of a `string` option. */
  readonly complete?: Completion;
}

/** The options of a command by long name (without `--`). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** A positional argument. */
export interface ArgSpec {
  /** Its name in the usage (`ENV`, `DIR`). */
  readonly name: string;
  /** What it is, for `--help`. */
  readonly help: string;
  /** May be left out (shown as `[NAME]`). */
  readonly optional?: boolean;
  /** Takes all remaining arguments (shown as `NAME...`); only the last argument. */
  readonly rest?: boolean;
  /** Only after `--` (e.g. a command to run): shown as `-- NAME...`. */
  readonly afterDashes?: boolean;
  /** What to complete for it. */
  readonly complete?: Completion;
}

/** A command (or a subcommand of `secrets`). */
export interface CommandSpec {
  /** The word that selects it. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** More text for `--help`, after the usage line. */
  readonly description?: string;
  /** The positional arguments, in order. */
  readonly args: readonly ArgSpec[];
  /** Its own options; {@link COMMON_OPTIONS} are added to every command. */
  readonly options: OptionTable;
  /** Subcommands (`batou secrets edit ...`): then `args` and `options` are those before the subcommand. */
  readonly subcommands?: Readonly<Record<string, CommandSpec>>;
  /** Not listed in help or completions (`agent`). */
  readonly hidden?: boolean;
}

/** Options every command takes. */
export const COMMON_OPTIONS = {
  debug: { type: "boolean", short: "d", help: "show debug output and stack traces" },
  help: { type: "boolean", short: "h", help: "show this help" },
} as const satisfies OptionTable;

const ENV_ARG: ArgSpec = {
  name: "ENV",
  help: "the environment (environments/ENV/environment.cfg or environments/ENV.cfg)",
  complete: "environment",
};

/** The options of `batou deploy` (without {@link COMMON_OPTIONS}). */
export const DEPLOY_OWN_OPTIONS = {
  "predict-only": { type: "boolean", short: "P", help: "only predict what would change; changes nothing" },
  "consistency-only": {
    type: "boolean",
    short: "c",
    help: "only configure the model on all hosts (no deployment)",
  },
  local: { type: "boolean", short: "L", help: "with -c or -P: configure/predict on this machine only" },
  dirty: { type: "boolean", short: "D", help: "allow uncommitted or unpushed changes in the repository" },
  jobs: { type: "string", short: "j", value: "N", help: "deploy at most N hosts in parallel" },
  timeout: {
    type: "string",
    short: "t",
    value: "S",
    help: "timeout (seconds) for components and connections",
  },
  platform: { type: "string", short: "p", value: "P", help: "override the platform" },
  report: {
    type: "string",
    value: "FILE",
    help: "write a JSON record of the run to FILE (also when the run fails)",
    complete: "file",
  },
  hosts: {
    type: "string",
    multiple: true,
    value: "H[,H...]",
    help: "only these hosts (names or globs such as 'web*'; repeatable); the model is still\n" +
      "configured as a whole, so resources from other hosts are resolved as usual",
  },
} as const satisfies OptionTable;

const ENVIRONMENTS_OPTION = {
  type: "string",
  value: "a,b",
  help: "only these environments (comma-separated; default: all)",
  complete: "environment",
} as const satisfies OptionSpec;

/** The subcommands of `batou secrets`. */
export const SECRETS_COMMANDS = {
  edit: {
    name: "edit",
    summary: "edit the secrets of ENV (or its secret file FILE)",
    description:
      "Decrypts the secrets of environment ENV (environments/ENV/secrets.cfg.*), opens them in EDITOR and\n" +
      "encrypts the result again. With FILE, edits the secret file environments/ENV/secret-FILE.<age|gpg>\n" +
      "instead. A new environment gets a template that explains the format (age encryption; put your public\n" +
      "key into `members`).",
    args: [
      { name: "ENV", help: "the environment", complete: "environment" },
      { name: "FILE", help: "the secret file's name (as used in environment.secretFiles)", optional: true },
    ],
    options: {
      editor: {
        type: "string",
        short: "e",
        value: "EDITOR",
        help: "the editor command (default: $EDITOR, else vi)",
        complete: "command",
      },
    },
  },
  summary: {
    name: "summary",
    summary: "show members and secret files of every environment",
    description: "Exit code 1 if something could not be decrypted.",
    args: [],
    options: {},
  },
  add: {
    name: "add",
    summary: "add a member to environments (default: all)",
    description: "Adds member KEY to the environments and re-encrypts their secrets. An environment named in\n" +
      "--environments that has no secrets yet gets its secrets file (age), with KEY as its only member.",
    args: [{
      name: "KEY",
      help: "an age1... or ssh public key, an https:// URL of a key file, or a gpg key id or e-mail address",
    }],
    options: { environments: ENVIRONMENTS_OPTION },
  },
  remove: {
    name: "remove",
    summary: "remove a member from environments (default: all)",
    description: "Removes member KEY from the environments and re-encrypts their secrets.",
    args: [{ name: "KEY", help: "the member, as listed by `batou secrets summary`" }],
    options: { environments: ENVIRONMENTS_OPTION },
  },
  reencrypt: {
    name: "reencrypt",
    summary: "re-encrypt when the members' keys changed (or always: -f)",
    description: "Re-encrypts the secrets of the environments if the members' keys changed (age: keys downloaded\n" +
      "from https:// members, recorded in age_keys.txt; gpg: the key ids).",
    args: [],
    options: {
      environments: ENVIRONMENTS_OPTION,
      force: { type: "boolean", short: "f", help: "re-encrypt everything, changed or not" },
    },
  },
  decrypttostdout: {
    name: "decrypttostdout",
    summary: "decrypt one file to stdout (git diff textconv)",
    description: "Writes the decrypted content of FILE to stdout. Meant for git:\n" +
      '  git config diff.batou.textconv "batou secrets decrypttostdout"\n' +
      '  echo "*.gpg diff=batou\\n*.age diff=batou\\n*.age-diffable diff=batou" >> .gitattributes',
    args: [{ name: "FILE", help: "an .age, .gpg or .age-diffable file", complete: "file" }],
    options: {},
  },
} as const satisfies Record<string, CommandSpec>;

/** Every command of `batou`, in the order of the help. */
export const COMMANDS = {
  deploy: {
    name: "deploy",
    summary: "deploy an environment",
    args: [ENV_ARG],
    options: DEPLOY_OWN_OPTIONS,
  },
  secrets: {
    name: "secrets",
    summary: "manage encrypted secrets",
    args: [],
    options: {},
    subcommands: SECRETS_COMMANDS,
  },
  init: {
    name: "init",
    summary: "create a new deployment project",
    description: "Creates components/, environments/ (from environments.example) and .gitignore in DIR.",
    args: [{
      name: "DIR",
      help: "the project directory (default: the current directory)",
      optional: true,
      complete: "directory",
    }],
    options: {},
  },
  graph: {
    name: "graph",
    summary: "draw the root components and their dependencies",
    description: "Configures the model on this machine and prints the root components per host and which\n" +
      "provides a resource to which.",
    args: [ENV_ARG],
    options: {
      format: {
        type: "string",
        short: "f",
        value: "FORMAT",
        help: "dot (Graphviz, the default) or mermaid",
        complete: { choices: ["dot", "mermaid"] },
      },
    },
  },
  run: {
    name: "run",
    summary: "run a command on the environment's hosts (--hosts to select)",
    description: "Runs CMD (a /bin/sh command line) on the environment's hosts, as a deployment's agent (and\n" +
      "service_user) would, in the project's directory on each target (target_directory), and prints each output\n" +
      "line as `host: line`. Ends with `host: exit N` per host; exits 0 when every command exited 0, else 1.",
    args: [ENV_ARG, { name: "CMD", help: "the command line (its words are joined with spaces)", afterDashes: true }],
    options: {
      hosts: { ...DEPLOY_OWN_OPTIONS.hosts, help: "only these hosts (names or globs such as 'web*'; repeatable)" },
      jobs: {
        type: "string",
        short: "j",
        value: "N",
        help: "run on at most N hosts in parallel (default: all at once, or jobs = in [environment])",
      },
      timeout: { type: "string", short: "t", value: "S", help: "timeout (seconds) for connections" },
    },
  },
  check: {
    name: "check",
    summary: "type-check the component files (with deno check)",
    description: "Type-checks the component files (components/*/component.ts) with a TypeScript checker\n" +
      "(deno check) and reports type errors with their file:line. Exit status 1 when there are errors or no\n" +
      "checker is available.",
    args: [ENV_ARG],
    options: {},
  },
  update: {
    name: "update",
    summary: "update this batou binary",
    description: "Replaces this batou binary with a signed release: downloads the binary for this platform, checks\n" +
      "its SHA-256 against the release's SHA256SUMS and that file's OpenPGP signature against the release key\n" +
      "built into batou, then swaps it in atomically (the previous binary is kept as batou.old).\n" +
      "BATOU_UPDATE_TRUSTED_KEY_FILE=FILE replaces the built-in release key (meant for tests and private mirrors).",
    args: [],
    options: {
      check: { type: "boolean", help: "only say whether there is an update (and verify the release's signature)" },
      version: {
        type: "string",
        value: "V",
        help: "go to version V (default: the version pinned in .batou.json, else the latest release)",
      },
      from: {
        type: "string",
        value: "URL",
        help: "a mirror instead of the GitHub releases (http(s):// or file:// directory with the same\n" +
          "layout: download/v<V>/..., latest/download/...)",
      },
      target: { type: "string", value: "FILE", help: "replace FILE instead of this binary", complete: "file" },
    },
  },
  completions: {
    name: "completions",
    summary: "print a completion script",
    description: 'bash: eval "$(batou completions bash)"; zsh: source <(batou completions zsh);\n' +
      "fish: batou completions fish > ~/.config/fish/completions/batou.fish",
    args: [{ name: "SHELL", help: "bash, zsh or fish", complete: { choices: ["bash", "zsh", "fish"] } }],
    options: {},
  },
  agent: {
    name: "agent",
    summary: "(internal) run as the remote agent on stdin/stdout",
    args: [],
    options: {},
    hidden: true,
  },
} as const satisfies Record<string, CommandSpec>;

/** The names of the commands a user sees (the internal `agent` left out), in the order of the help. */
export function visibleCommands(): CommandSpec[] {
  return (Object.values(COMMANDS) as CommandSpec[]).filter((c) => !c.hidden);
}

/** The command at `path` (`["secrets", "edit"]`), or null for `batou` itself or an unknown path. */
export function specAt(path: readonly string[]): CommandSpec | null {
  let spec: CommandSpec | null = null;
  let table: Readonly<Record<string, CommandSpec>> | undefined = COMMANDS;
  for (const word of path) {
    spec = table && Object.hasOwn(table, word) ? table[word] : null;
    if (spec === null) return null;
    table = spec.subcommands;
  }
  return spec;
}

/** A command's own options and {@link COMMON_OPTIONS}, as one table. */
export function allOptions(spec: CommandSpec): OptionTable {
  return { ...spec.options, ...COMMON_OPTIONS };
}
