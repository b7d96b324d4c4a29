/**
 * The batou version a deployment project pins in `.batou.json`: `{"batou": {"version": "0.1.0"}}`.
 * `batou init` writes it; `batou deploy` warns when another version runs; `batou update` without arguments goes
 * to it.
 *
 * @module
 */
import { join } from "../core/runtime/path.ts";
// Not from release_files.ts: that module loads openpgp, which `batou deploy` does not need.
import { VERSION_RE } from "../core/runtime/version.ts";

/** The pin file's name in the project directory. */
export const PIN_FILE = ".batou.json";

/** A project's pin. */
export interface Pin {
  version: string;
  /** The file it came from. */
  path: string;
}

/** The text of a new pin file for `version`. */
export function pinFileText(version: string): string {
  return JSON.stringify({ batou: { version } }, null, 2) + "\n";
}

/**
 * Reads `<dir>/.batou.json`. Returns null when there is none or it pins nothing; throws an Error naming the file
 * when it is malformed.
 */
export async function readPin(dir: string): Promise<Pin | null> {
  const path = join(dir, PIN_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${(e as Error).message})`);
  }
  const version = (data as { batou?: { version?: unknown } })?.batou?.version;
  if (version === undefined) return null;
  if (typeof version !== "string" || !VERSION_RE.test(version)) {
    throw new Error(`${path}: batou.version must be a version like "0.1.0", not ${JSON.stringify(version)}`);
  }
  return { version, path };
}

/**
 * The warning for a deployment run by a batou other than the pinned one, or null when they agree (or nothing is
 * pinned). A malformed pin file is a warning too: it must not stop a deployment.
 */
export async function pinWarning(dir: string, running: string): Promise<string | null> {
  let pin: Pin | null;
  try {
    pin = await readPin(dir);
  } catch (e) {
    return `${(e as Error).message}; the pinned batou version is not checked.`;
  }
  if (!pin || pin.version === running) return null;
  return `This project pins batou ${pin.version} in ${PIN_FILE}, but this is batou ${running}. ` +
    `Run \`batou update\` to switch to ${pin.version}, or change the pin.`;
}
