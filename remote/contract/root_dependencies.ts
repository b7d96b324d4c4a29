/**
 * The schedule's input as both sides compute it: every root with the roots it waits for.
 *
 * @module
 */
import type { Environment } from "../../core/model/environment.ts";
import type { RootDependency } from "./methods.ts";

/**
 * Every root of `env` with the roots it waits for (from the resources its configure used; none for an environment
 * whose roots use no resources, also one not configured at all).
 */
export function rootDependencyList(env: Environment): RootDependency[] {
  const out: RootDependency[] = [];
  for (const [root, deps] of env.rootDependencies()) {
    out.push({
      host: root.host.name,
      root: root.name,
      ignore: root.ignore,
      hostIgnore: root.host.ignore,
      dependencies: [...deps].map((d) => [d.host.name, d.name]),
    });
  }
  return out;
}
