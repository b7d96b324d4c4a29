/**
 * `batou deploy ENV --hosts web1,web*`: which of an environment's hosts a run connects and deploys. Patterns are
 * host names or shell globs (`*`, `?`, `[abc]`, `[!abc]`), matched against a host's name and its fully qualified
 * name; several may be given, separated by commas or by repeating the option.
 *
 * @example
 * ```ts
 * import { hostPatterns, matchHostPattern } from "./host_selection.ts";
 * hostPatterns(["web1,db*", "cache"]); // ["web1", "db*", "cache"]
 * matchHostPattern("db*", "db2"); // true
 * ```
 * @module
 */

/** The patterns of one or more `--hosts` values (comma separated, blanks dropped). */
export function hostPatterns(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(",")).map((p) => p.trim()).filter((p) => p !== "");
}

const compiled = new Map<string, RegExp>();

/** A shell glob as an anchored regular expression. */
function globRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (re) return re;
  let src = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") src += ".*";
    else if (c === "?") src += ".";
    else if (c === "[" && pattern.indexOf("]", i + 2) > i) {
      const end = pattern.indexOf("]", i + 2);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith("!");
      if (negate) body = body.slice(1);
      src += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  re = new RegExp(`^${src}$`);
  compiled.set(pattern, re);
  return re;
}

/** Whether `name` matches `pattern` (a plain name or a shell glob). */
export function matchHostPattern(pattern: string, name: string): boolean {
  return pattern === name || globRegExp(pattern).test(name);
}

/** A host as selection sees it. */
export interface SelectableHost {
  readonly name: string;
  readonly fqdn: string;
}

/** The result of {@linkcode selectHosts}: the selected host names, and the patterns that matched no host. */
export interface HostSelection {
  selected: Set<string>;
  unmatched: string[];
}

/** The hosts (by name) that any of `patterns` matches by name or fully qualified name. */
export function selectHosts(hosts: Iterable<SelectableHost>, patterns: readonly string[]): HostSelection {
  const all = [...hosts];
  const selected = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const hits = all.filter((h) => matchHostPattern(pattern, h.name) || matchHostPattern(pattern, h.fqdn));
    if (!hits.length) unmatched.push(pattern);
    for (const h of hits) selected.add(h.name);
  }
  return { selected, unmatched };
}
