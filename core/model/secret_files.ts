/**
 * An agent's `environment.secretFiles`: every secret file of the environment is known by name (names are not
 * secret), but only the contents the controller sent are there. A component that reads a known name whose content
 * has not come yet is not configurable yet, as with a missing resource: the name is recorded, the configure loop
 * retries the root, and the controller sends the file in the next configure round (issue 15: a host receives only
 * the secret files its own roots read in configure). An unknown name reads as `undefined`, as before.
 *
 * @example
 * ```ts
 * const files = new SecretFiles(["app.key"], {}, () => true);
 * files.view["app.key"]; // throws SilentConfigurationError; files.wanted is now ["app.key"]
 * files.receive({ "app.key": "KEY" });
 * files.view["app.key"]; // "KEY"
 * ```
 * @module
 */
import { ConfigurationError, SilentConfigurationError } from "./errors.ts";

/** The secret files one environment knows, and which of their contents it has. */
export class SecretFiles {
  readonly #names: ReadonlySet<string>;
  readonly #contents: Record<string, string> = {};
  readonly #wanted = new Set<string>();
  /** What components read as `environment.secretFiles`. */
  readonly view: Record<string, string>;

  /**
   * `names`: every secret file of the environment; `contents`: those sent so far; `configuring`: whether a configure
   * runs now (a file first read after configure cannot come any more: that read is an error naming the file).
   */
  constructor(names: Iterable<string>, contents: Record<string, string>, configuring: () => boolean) {
    this.#names = new Set(names);
    this.receive(contents);
    const pending = (p: string | symbol): p is string =>
      typeof p === "string" && this.#names.has(p) && !Object.hasOwn(this.#contents, p);
    this.view = new Proxy(this.#contents, {
      get: (target, p, receiver) => {
        if (!pending(p)) return Reflect.get(target, p, receiver);
        if (!configuring()) {
          throw new ConfigurationError(
            `The secret file ${p} was read after configure: a host receives only the secret files its roots read` +
              " in configure(), read it there",
          );
        }
        this.#wanted.add(p);
        throw new SilentConfigurationError(`secret file ${p}`);
      },
      has: (target, p) => pending(p) || Reflect.has(target, p),
      ownKeys: (target) => [...new Set([...Reflect.ownKeys(target), ...this.#names])],
      getOwnPropertyDescriptor: (target, p) =>
        pending(p)
          ? { configurable: true, enumerable: true, writable: false, value: undefined }
          : Reflect.getOwnPropertyDescriptor(target, p),
    });
  }

  /** Adds contents the controller sent (names it does not know are ignored). */
  receive(contents: Record<string, string>): void {
    for (const [name, content] of Object.entries(contents)) {
      if (this.#names.has(name) && typeof content === "string") this.#contents[name] = content;
    }
  }

  /** The known names read during configure whose contents have not come, sorted. */
  get wanted(): string[] {
    return [...this.#wanted].filter((n) => !Object.hasOwn(this.#contents, n)).sort();
  }
}
