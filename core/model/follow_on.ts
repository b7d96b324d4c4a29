/**
 * One mistake, one error: which configure errors only follow from others, and the short note that replaces them.
 *
 * A root component whose `configure()` fails provides nothing, so the roots that require its resources report them
 * unsatisfied, and the configure loop ends with every one of them "remaining unconfigured". Those errors say nothing
 * the first one does not: they are follow-ons. Rules:
 *
 * - {@linkcode NonConvergingWorkingSet} follows from any other error (the roots left over are the ones that failed
 *   or waited for them).
 * - {@linkcode UnsatisfiedResources} follows from an error of a component's own (not from unused resources or a
 *   dependency cycle): the failed component may be the provider.
 *
 * Follow-ons are not counted as errors; {@linkcode followOnNote} names what they would add: the roots left
 * unconfigured that have no error of their own, and what they wait for.
 *
 * @example
 * ```ts
 * import { followOnNote, isFollowOn } from "./follow_on.ts";
 * const main = errors.filter((e) => !isFollowOn(e, errors));
 * for (const line of followOnNote(errors)) output.line(line);
 * ```
 * @module
 */
import {
  ConfigurationError,
  CycleErrorDetected,
  NonConvergingWorkingSet,
  type ReportingError,
  UnsatisfiedResources,
  UnusedResources,
} from "./errors.ts";

/** Errors that are about the whole model rather than one component's own mistake. */
function isModelWide(e: ReportingError): boolean {
  return e instanceof NonConvergingWorkingSet || e instanceof UnsatisfiedResources || e instanceof UnusedResources ||
    e instanceof CycleErrorDetected;
}

/** Whether `error` only follows from the other errors in `all` (see the module documentation). */
export function isFollowOn(error: ReportingError, all: readonly ReportingError[]): boolean {
  if (error instanceof NonConvergingWorkingSet) {
    return all.some((e) => e !== error && !(e instanceof NonConvergingWorkingSet));
  }
  if (error instanceof UnsatisfiedResources) return all.some((e) => !isModelWide(e));
  return false;
}

/** The root components that errors in `all` name as their own (root names, lower case). */
function failedRoots(all: readonly ReportingError[]): Set<string> {
  const out = new Set<string>();
  for (const e of all) {
    if (isModelWide(e)) continue;
    const rootName = (e as { rootName?: unknown }).rootName;
    if (typeof rootName === "string" && rootName) out.add(rootName);
    if (e instanceof ConfigurationError && e.componentRootName) out.add(e.componentRootName);
    const crumbs = (e as { componentBreadcrumbs?: unknown }).componentBreadcrumbs;
    if (typeof crumbs === "string" && crumbs) out.add(crumbs.split(" > ")[0].toLowerCase());
  }
  return out;
}

/**
 * The lines that replace the follow-on errors of `all`: the roots left unconfigured without an error of their own,
 * each with the resources it waits for. Empty when there are none.
 */
export function followOnNote(all: readonly ReportingError[]): string[] {
  const followOns = all.filter((e) => isFollowOn(e, all));
  if (!followOns.length) return [];
  const failed = failedRoots(all);
  // Roots that a reported unsatisfied requirement already explains.
  for (const e of all) {
    if (e instanceof UnsatisfiedResources && !isFollowOn(e, all)) {
      for (const [, , roots] of e.unsatisfied) for (const r of roots) failed.add(r);
    }
  }
  const waiting = new Map<string, Set<string>>();
  for (const e of followOns) {
    if (e instanceof NonConvergingWorkingSet) {
      for (const name of e.rootNames.split(", ")) if (name && !failed.has(name)) waiting.set(name, new Set());
    }
  }
  for (const e of followOns) {
    if (!(e instanceof UnsatisfiedResources)) continue;
    for (const [key, , roots] of e.unsatisfied) {
      for (const r of roots) if (!failed.has(r)) (waiting.get(r) ?? waiting.set(r, new Set()).get(r)!).add(key);
    }
  }
  if (!waiting.size) return [];
  const names = [...waiting.keys()].sort().map((name) => {
    const keys = [...waiting.get(name)!].sort();
    return keys.length ? `${name} (waits for ${keys.map((k) => `"${k}"`).join(", ")})` : name;
  });
  return [
    `Not configured because of the error${all.length - followOns.length > 1 ? "s" : ""} above: ${names.join(", ")}`,
  ];
}
