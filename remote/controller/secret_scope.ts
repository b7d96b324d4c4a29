/**
 * What of the environment's secrets one host's agent may receive: the overrides of the roots it configures, the
 * secret host data of its own hosts and the masking words of those values (issue 15); what other hosts' roots
 * provide reaches it through the resource broker (broker.ts), never their secrets. Secret files are read by name in
 * a component's code, so the controller cannot tell which roots use them: an agent gets their names only, asks for
 * those its roots read (configure's `secretFiles` answer) and receives them, with their masking words, in the next
 * round ({@linkcode secretFilesFor}).
 *
 * @module
 */
import type { Environment, SecretsData } from "../../core/model/environment.ts";
import { secretValues } from "../../core/secrets/load.ts";

/** The secret-bearing parts of the agent's `configure` parameters. */
export interface ScopedSecrets {
  overrides: Record<string, Record<string, string>>;
  hostData: Record<string, Record<string, string>>;
  secretData: string[];
  maskValues: string[];
}

/**
 * The overrides, host data and masking words for an agent that configures the roots of `hosts` only. Plain
 * (environment.cfg) overrides and host data of other hosts are kept: every host receives the project anyway.
 */
export function scopedSecrets(
  env: Environment,
  secrets: SecretsData | null,
  hosts: ReadonlySet<string>,
  files: ReadonlySet<string> = new Set(),
): ScopedSecrets {
  const roots = new Set(env.rootComponents.filter((r) => hosts.has(r.host.name)).map((r) => r.name));
  const foreign = (component: string) => !roots.has(component) && secrets?.overrides[component] !== undefined;
  const overrides: Record<string, Record<string, string>> = {};
  for (const [component, values] of Object.entries(env.overrides)) {
    if (!foreign(component)) overrides[component] = values;
    else overrides[component] = withoutKeys(values, secrets!.overrides[component]);
  }
  const hostData: Record<string, Record<string, string>> = {};
  for (const [name, h] of env.hosts) {
    const secret = secrets?.hostData[name];
    hostData[name] = hosts.has(name) || !secret ? h.data : withoutKeys(h.data, secret);
  }
  if (!secrets) return { overrides, hostData, secretData: [...env.secretData], maskValues: [] };
  const scoped = {
    overrides: Object.fromEntries(Object.entries(secrets.overrides).filter(([c]) => roots.has(c))),
    hostData: Object.fromEntries(Object.entries(secrets.hostData).filter(([h]) => hosts.has(h))),
    secretFiles: Object.fromEntries(Object.entries(secrets.secretFiles).filter(([name]) => files.has(name))),
  };
  const maskValues = secretValues(scoped);
  const all = new Set(secretValues(secrets));
  const kept = new Set(maskValues);
  const words = (values: Iterable<string>) => [...values].flatMap((v) => v.split(/\s+/));
  const lines = (texts: string[]) => texts.flatMap((t) => t.split(/\r\n|\n|\r/));
  const ownWords = new Set([
    ...words(maskValues),
    ...words(Object.values(scoped.secretFiles)),
    ...lines(Object.values(scoped.secretFiles)),
  ]);
  // Secret file lines are masking words as they are (untrimmed): part of the file, not of its trimmed lines.
  const allTexts = [...all, ...Object.values(secrets.secretFiles)];
  // A masking word goes to the host when it belongs to its own secrets (or to no secret value at all).
  const secretData = [...env.secretData].filter((w) => ownWords.has(w) || kept.has(w) || !isPartOf(w, allTexts));
  return { overrides, hostData, secretData, maskValues };
}

/**
 * The secret files `added` for the agent of `hosts`, which has `before` already: their contents and the masking
 * values and words they add to what that agent masks (only those of these files, never of others).
 */
export function secretFilesFor(
  env: Environment,
  secrets: SecretsData | null,
  hosts: ReadonlySet<string>,
  before: ReadonlySet<string>,
  added: readonly string[],
): { contents: Record<string, string>; maskValues: string[]; secretData: string[] } {
  const contents: Record<string, string> = {};
  for (const name of added) if (Object.hasOwn(env.secretFiles, name)) contents[name] = env.secretFiles[name];
  const was = scopedSecrets(env, secrets, hosts, before);
  const now = scopedSecrets(env, secrets, hosts, new Set([...before, ...added]));
  const newOnly = (list: string[], old: string[]) => {
    const seen = new Set(old);
    return list.filter((v) => !seen.has(v));
  };
  return {
    contents,
    maskValues: newOnly(now.maskValues, was.maskValues),
    secretData: newOnly(now.secretData, was.secretData),
  };
}

/** `values` without the keys of `drop` whose value is the same (a plain value set in environment.cfg stays). */
function withoutKeys(values: Record<string, string>, drop: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).filter(([k, v]) => drop[k] !== v));
}

function isPartOf(word: string, values: Iterable<string>): boolean {
  for (const v of values) if (v.includes(word)) return true;
  return false;
}
