/**
 * Loading an environment's secrets for a deployment (decrypted on the controller only).
 *
 * @module
 */
import { join } from "../runtime/path.ts";
import type { Environment } from "../model/environment.ts";
import { output } from "../model/output.ts";
import type { SecretsData } from "./providers.ts";

/**
 * Whether `envDir` may hold secrets: any file named `secrets.cfg*` or `secret-*` (the providers decide what they
 * are, and which are errors). Without any, there is nothing to decrypt and the providers are not even loaded.
 */
async function mayHoldSecrets(envDir: string): Promise<boolean> {
  try {
    for await (const e of Deno.readDir(envDir)) {
      if (e.name.startsWith("secrets.cfg") || e.name.startsWith("secret-")) return true;
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    return true; // let the providers report it
  }
  return false;
}

/** Decrypts the secrets of `env`, or returns null when the environment has none. */
export async function loadEnvironmentSecrets(env: Environment): Promise<SecretsData | null> {
  const envDir = join(env.baseDir, "environments", env.name);
  if (!(await mayHoldSecrets(envDir))) return null;
  // Loaded on demand: the providers bring age and OpenPGP, which most runs (and every agent) never need.
  const { readSecrets } = await import("./providers.ts");
  const data = await readSecrets(envDir, {
    log: (message: string) => output.line(message),
  });
  return data.provider === "none" ? null : data;
}

/**
 * The values that must never appear in any output: every secret override value
 * (whole, and each of its lines), secret host data and every non-blank line of
 * the secret files.
 */
export function secretValues(data: {
  overrides: Record<string, Record<string, string>>;
  hostData: Record<string, Record<string, string>>;
  secretFiles: Record<string, string>;
}): string[] {
  const out = new Set<string>();
  const add = (v: string) => {
    for (const s of [v, ...v.split("\n")]) if (s.trim().length >= 3) out.add(s.trim());
  };
  for (const section of [...Object.values(data.overrides), ...Object.values(data.hostData)]) {
    for (const v of Object.values(section)) add(v);
  }
  for (const text of Object.values(data.secretFiles)) for (const line of text.split("\n")) add(line);
  return [...out];
}
