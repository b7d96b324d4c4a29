/**
 * The reference workload W1, shared by every tool of the benchmark.
 *
 * On each host one root component deploys into its work dir: 10 directories `d0..d9`; 100 files `f000..f099`
 * (10 per directory), each about 1 KiB rendered from one template with the host name and the file name, only
 * `f000` also depending on an overridable `greeting`; mode 0600 on every fifth file (`f000`, `f005`, ...);
 * 5 symlinks `l0..l4` to `f000..f004`.
 *
 * The template is written once, with placeholders for its three variables, and instantiated per tool (batou's
 * template context, Ansible's Jinja2 variables), so that every tool renders byte-identical files. The same text is
 * rendered here in TypeScript for the rsync floor and for checking what the tools produced.
 *
 * @module
 */
import { join } from "node:path";

/**
 * The size of the workload: W1 is 100 files in 10 directories and 5 symlinks; W2 (issue 17) is N files, 10 per
 * directory, no symlinks ({@linkcode setShape}). Every function here follows the current shape.
 */
export const shape: { files: number; links: number } = { files: 100, links: 5 };

/** Sets the workload's size: `files` files (10 per directory) and `links` symlinks (at most 10). */
export function setShape(files: number, links: number): void {
  shape.files = files;
  shape.links = Math.min(links, 10);
}

/** Directories of the current shape (10 files each). */
function dirCount(): number {
  return Math.ceil(shape.files / 10);
}

/** The name of file `i`: `f000`..`f099` (W1), on to `f7999` (W2); `f000` is the one using the greeting. */
function fileName(i: number): string {
  return `f${String(i).padStart(3, "0")}`;
}

/** One managed file of W1. */
export interface W1File {
  /** `f000`..`f099`. */
  name: string;
  /** `d0/f000`, relative to the work directory. */
  path: string;
  /** 0o600 for every fifth file, else null (the tool's default). */
  mode: number | null;
}

/** The files of the workload (W1: 100). */
export function w1Files(): W1File[] {
  return Array.from({ length: shape.files }, (_, i) => {
    const name = fileName(i);
    return { name, path: `d${Math.floor(i / 10)}/${name}`, mode: i % 5 === 0 ? 0o600 : null };
  });
}

/** The default `greeting`. */
export const DEFAULT_GREETING = "Hello";

/** How a tool spells the template's variables. */
interface Spelling {
  host: string;
  name: string;
  greeting: string;
}

const LINE_COUNT = 12;

/** The W1 template with the variables spelled for one tool (Jinja2 syntax). */
function template(v: Spelling): string {
  const lines = [
    `# {{ ${v.name} }} on {{ ${v.host} }} -- managed by the W1 benchmark, do not edit`,
    `greeting = {{ ${v.greeting} if ${v.name} == "f000" else "none" }}`,
    `[{{ ${v.name} }}]`,
  ];
  for (let i = 1; i <= LINE_COUNT; i++) {
    const n = String(i).padStart(2, "0");
    lines.push(
      `key${n} = {{ ${v.host} }}/{{ ${v.name} }}/value-${n} lorem ipsum dolor sit amet, consectetur adipiscing elit`,
    );
  }
  return lines.join("\n") + "\n";
}

/** The template as batou's component renders it (`host.name`, `args.name`, `component.greeting`). */
export const BATOU_TEMPLATE: string = template({
  host: "host.name",
  name: "args.name",
  greeting: "component.greeting",
});

/** The template as the Ansible playbook renders it (`inventory_hostname`, `item.name`, `greeting`). */
export const ANSIBLE_TEMPLATE: string = template({
  host: "inventory_hostname",
  name: "item.name",
  greeting: "greeting",
});

/** W1's file `name` on `host` rendered in TypeScript (what every tool must produce). */
export function renderW1(host: string, name: string, greeting: string): string {
  const lines = [
    `# ${name} on ${host} -- managed by the W1 benchmark, do not edit`,
    `greeting = ${name === "f000" ? greeting : "none"}`,
    `[${name}]`,
  ];
  for (let i = 1; i <= LINE_COUNT; i++) {
    const n = String(i).padStart(2, "0");
    lines.push(`key${n} = ${host}/${name}/value-${n} lorem ipsum dolor sit amet, consectetur adipiscing elit`);
  }
  return lines.join("\n") + "\n";
}

/** The batou component of the workload (`components/w1/component.ts`). */
export function batouComponent(): string {
  return `import { attribute, Component, Directory, File, Symlink } from "batou";

/** The W1/W2 benchmark workload. */
export class W1 extends Component {
  greeting = attribute(String, "${DEFAULT_GREETING}");

  override configure() {
    for (let d = 0; d < ${dirCount()}; d++) this.add(new Directory("d" + d));
    for (let i = 0; i < ${shape.files}; i++) {
      const name = "f" + String(i).padStart(3, "0");
      const options: Record<string, unknown> = { source: "file.j2", templateArgs: { name } };
      if (i % 5 === 0) options.mode = 0o600;
      this.add(new File("d" + Math.floor(i / 10) + "/" + name, options));
    }
    for (let i = 0; i < ${shape.links}; i++) this.add(new Symlink("l" + i, { source: "d0/f00" + i }));
  }
}
`;
}

/** environment.cfg of the batou project for `hosts`. */
export function batouEnvironment(hosts: string[], greeting: string, targetDirectory: string): string {
  return [
    "[environment]",
    "connect_method = ssh",
    `target_directory = ${targetDirectory}`,
    "",
    "[hosts]",
    ...hosts.map((h) => `${h} = w1`),
    "",
    "[component:w1]",
    `greeting = ${greeting}`,
    "",
  ].join("\n");
}

/** Writes a batou project for W1 into `dir`: component, template, environment `bench` and the ssh config. */
export async function writeBatouProject(
  dir: string,
  opts: { hosts: string[]; sshConfig: string; greeting: string; targetDirectory: string },
): Promise<void> {
  await Deno.mkdir(join(dir, "components/w1"), { recursive: true });
  await Deno.mkdir(join(dir, "environments/bench"), { recursive: true });
  await Deno.writeTextFile(join(dir, "components/w1/component.ts"), batouComponent());
  await Deno.writeTextFile(join(dir, "components/w1/file.j2"), BATOU_TEMPLATE);
  await Deno.writeTextFile(join(dir, "ssh_config"), await Deno.readTextFile(opts.sshConfig));
  await setBatouGreeting(dir, opts.hosts, opts.greeting, opts.targetDirectory);
}

/** Rewrites the batou project's environment with another greeting (or other hosts). */
export async function setBatouGreeting(
  dir: string,
  hosts: string[],
  greeting: string,
  targetDirectory: string,
): Promise<void> {
  await Deno.writeTextFile(
    join(dir, "environments/bench/environment.cfg"),
    batouEnvironment(hosts, greeting, targetDirectory),
  );
}

/** The Ansible playbook of W1: the file and template modules, as a competent user writes it. */
export function ansiblePlaybook(): string {
  const files = w1Files().map((f) =>
    `      - { name: ${f.name}, dir: ${f.path.split("/")[0]}${f.mode ? `, mode: "0${f.mode.toString(8)}"` : ""} }`
  );
  return [
    "- name: W1",
    "  hosts: w1",
    "  gather_facts: false",
    "  vars:",
    `    greeting: ${DEFAULT_GREETING}`,
    "    files:",
    ...files,
    "  tasks:",
    "    - name: Directories",
    "      ansible.builtin.file:",
    '        path: "{{ base }}/d{{ item }}"',
    "        state: directory",
    `      loop: "{{ range(${dirCount()}) | list }}"`,
    "",
    "    - name: Files",
    "      ansible.builtin.template:",
    "        src: file.j2",
    '        dest: "{{ base }}/{{ item.dir }}/{{ item.name }}"',
    '        mode: "{{ item.mode | default(omit) }}"',
    '      loop: "{{ files }}"',
    "",
    "    - name: Symlinks",
    "      ansible.builtin.file:",
    '        src: "{{ base }}/d0/f00{{ item }}"',
    '        dest: "{{ base }}/l{{ item }}"',
    "        state: link",
    `      loop: "{{ range(${shape.links}) | list }}"`,
    "",
  ].join("\n");
}

/**
 * Writes the Ansible project into `dir`: playbook, template, inventory (`base` per host) and ansible.cfg
 * (pipelining on, facts off, forks = number of hosts, the private sshd's client config).
 */
export async function writeAnsibleProject(
  dir: string,
  opts: { hosts: { name: string; base: string }[]; sshConfig: string },
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "w1.yml"), ansiblePlaybook());
  await Deno.writeTextFile(join(dir, "file.j2"), ANSIBLE_TEMPLATE);
  await Deno.writeTextFile(
    join(dir, "inventory.ini"),
    ["[w1]", ...opts.hosts.map((h) => `${h.name} base=${h.base}`), ""].join("\n"),
  );
  await Deno.writeTextFile(
    join(dir, "ansible.cfg"),
    [
      "[defaults]",
      "inventory = inventory.ini",
      `forks = ${Math.max(5, opts.hosts.length)}`,
      "interpreter_python = /usr/bin/python3",
      "retry_files_enabled = False",
      "",
      "[ssh_connection]",
      "pipelining = True",
      // Ansible's default ssh_args plus the private sshd's client config.
      `ssh_args = -F ${opts.sshConfig} -C -o ControlMaster=auto -o ControlPersist=60s`,
      "",
    ].join("\n"),
  );
}

/** Writes the pre-rendered W1 tree of one host for the rsync floor; symlinks point to `remoteBase`. */
export async function writeRenderedTree(
  dir: string,
  host: string,
  greeting: string,
  remoteBase: string,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (let d = 0; d < dirCount(); d++) await Deno.mkdir(join(dir, `d${d}`), { recursive: true });
  for (const f of w1Files()) {
    await Deno.writeTextFile(join(dir, f.path), renderW1(host, f.name, greeting));
    await Deno.chmod(join(dir, f.path), f.mode ?? 0o644);
  }
  for (let i = 0; i < shape.links; i++) {
    await Deno.remove(join(dir, `l${i}`)).catch(() => {});
    await Deno.symlink(join(remoteBase, `d0/f00${i}`), join(dir, `l${i}`));
  }
}

/**
 * Checks a deployed W1 tree: every file's content and (for 0600 files) mode, the symlinks. Returns a list of
 * problems (empty when the tree is right).
 */
export async function checkTree(base: string, host: string, greeting: string): Promise<string[]> {
  const problems: string[] = [];
  for (const f of w1Files()) {
    const path = join(base, f.path);
    try {
      const text = await Deno.readTextFile(path);
      if (text !== renderW1(host, f.name, greeting)) problems.push(`${path}: content differs`);
      const mode = (await Deno.stat(path)).mode! & 0o777;
      if (f.mode !== null && mode !== f.mode) problems.push(`${path}: mode ${mode.toString(8)}`);
    } catch (e) {
      problems.push(`${path}: ${(e as Error).message}`);
    }
  }
  for (let i = 0; i < shape.links; i++) {
    try {
      const target = await Deno.readLink(join(base, `l${i}`));
      if (target !== join(base, `d0/f00${i}`)) problems.push(`l${i} -> ${target}`);
    } catch (e) {
      problems.push(`l${i}: ${(e as Error).message}`);
    }
  }
  return problems;
}
