/**
 * The merged configure error report of several agents: identical errors become one with their affected hosts, and
 * "Not reporting" names only agents that configured what the error concerns (an agent that configured only its
 * own host's roots is not expected to report another host's error).
 */
import { assert, assertEquals } from "./support/assert.ts";
import { ConfigurationError, type ReportingError } from "../core/model/errors.ts";
import { mergeErrors } from "../remote/controller/deploy.ts";
import { reportText } from "./core_test_helpers.ts";

function hostError(host: string, message = "broken"): ConfigurationError {
  const e = ConfigurationError.create(message);
  e.affectedHostname = host;
  return e;
}

Deno.test("merge: an error of host c from the reference and from c itself needs nobody else", () => {
  // a configured everything; b and c only their own roots.
  const perHost = new Map<string, ReportingError[]>([["a", [hostError("c")]], ["b", []], ["c", [hostError("c")]]]);
  const configured = new Map<string, string[] | null>([["a", null], ["b", ["b"]], ["c", ["c"]]]);
  const merged = mergeErrors(perHost, configured);
  assertEquals(merged.groups.length, 1);
  assertEquals(merged.groups[0].hosts, ["c"]);
  assertEquals(merged.groups[0].reporting, ["a", "c"]);
  const text = reportText(merged);
  assert(!text.includes("Not reporting"), text);
});

Deno.test("merge: an agent that configured the host but did not report its error is named", () => {
  const perHost = new Map<string, ReportingError[]>([["a", [hostError("c")]], ["b", []], ["c", []]]);
  const configured = new Map<string, string[] | null>([["a", null], ["b", ["b"]], ["c", ["c"]]]);
  const text = reportText(mergeErrors(perHost, configured));
  assert(/Reporting hosts.*a/.test(text), text);
  assert(/Not reporting.*c/.test(text) && !/Not reporting.*b/.test(text), text);
});

Deno.test("merge: without scopes every agent is expected to report every error (all configured everything)", () => {
  const perHost = new Map<string, ReportingError[]>([["a", [hostError("c")]], ["b", []], ["c", [hostError("c")]]]);
  const text = reportText(mergeErrors(perHost));
  assert(/Not reporting.*b/.test(text), text);
});

Deno.test("merge: an error of no host is expected from the agents that configured everything", () => {
  const global = () => ConfigurationError.create("global trouble");
  const perHost = new Map<string, ReportingError[]>([["a", [global()]], ["b", []], ["c", [hostError("c")]]]);
  const configured = new Map<string, string[] | null>([["a", null], ["b", ["b"]], ["c", ["c"]]]);
  const merged = mergeErrors(perHost, configured);
  const globalGroup = merged.groups.find((g) => g.hosts.length === 0)!;
  assertEquals(globalGroup.expected, ["a"]);
  const cGroup = merged.groups.find((g) => g.hosts[0] === "c")!;
  // a configured c's roots too but did not report c's error: that difference is shown.
  assertEquals(cGroup.expected, ["a", "c"]);
});
