/**
 * Everything a component file can import from `"batou"`: the core API and the component library.
 *
 * @example
 * ```ts
 * import { Component, File } from "batou";
 * export class Hello extends Component {
 *   override configure() {
 *     this.add(new File("hello", { content: "Hello world\n" }));
 *   }
 * }
 * ```
 * @module
 */
export * from "../core/mod.ts";
export * from "./file.ts";
export * from "./command.ts";
export * from "./download.ts";
export * from "./archive.ts";
export * from "./git.ts";
export * from "./cron.ts";
export * from "./service.ts";
export * from "./supervisor.ts";
export * from "./logrotate.ts";
export * from "./python.ts";
export * from "./packages.ts";
export { Clone as HgClone, hg, type HgCloneOptions } from "./mercurial.ts";
export * from "./svn.ts";
export * from "./cmmi.ts";
export * from "./debian.ts";

import { Clone as HgCloneClass } from "./mercurial.ts";

/**
 * Names that a `"batou/lib/<family>"` import sees before the rest of `"batou"` (core/model/loader.ts), where a
 * family's name differs from the top-level one: `import { Clone } from "batou/lib/mercurial"` is mercurial's.
 */
export const LIBRARY_FAMILIES: Record<string, Record<string, unknown>> = {
  mercurial: { Clone: HgCloneClass },
};
