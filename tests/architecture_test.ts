/**
 * The layering of docs/architecture.md, checked on every module's imports (static, dynamic and type-only): each
 * folder has one role and imports only from the folders below it.
 */
import { assertEquals } from "./support/assert.ts";
import { dirname, join, normalize, relative } from "../core/runtime/path.ts";

const REPO = normalize(join(import.meta.dirname!, ".."));

/** Each layer and the layers it may import (besides itself). */
const MAY_IMPORT: Record<string, string[]> = {
  "core/formats": [],
  "core/runtime": [],
  "core/model": ["core/formats", "core/runtime"],
  "core/mod.ts": ["core/model", "core/formats", "core/runtime"],
  "core/secrets": ["core/model", "core/formats", "core/runtime"],
  "lib": ["core/mod.ts", "core/model", "core/formats", "core/runtime"],
  "mod.ts": ["lib"],
  "remote/contract": ["core/model", "core/formats", "core/runtime"],
  "remote/agent": ["remote/contract", "mod.ts", "lib", "core/mod.ts", "core/model", "core/formats", "core/runtime"],
  // The controller's side never imports the agent's code: what both share is the contract (issue 15).
  "remote/transport": ["remote/contract", "core/model", "core/formats", "core/runtime"],
  "remote/controller": [
    "remote/transport",
    "remote/contract",
    "core/secrets",
    "core/model",
    "core/formats",
    "core/runtime",
  ],
  "cli": ["remote/transport", "core/secrets", "core/model", "core/formats", "core/runtime"],
  "main.ts": [
    "cli",
    "remote/controller",
    "remote/agent",
    "mod.ts",
    "core/secrets",
    "core/model",
    "core/runtime",
  ],
};

function layerOf(path: string): string | null {
  for (const layer of Object.keys(MAY_IMPORT).sort((a, b) => b.length - a.length)) {
    if (path === layer || path.startsWith(layer + "/")) return layer;
  }
  return null;
}

function* modules(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(join(REPO, dir))) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory && ["core", "lib", "remote", "cli"].some((d) => path === d || path.startsWith(d + "/"))) {
      yield* modules(path);
    } else if (entry.isFile && entry.name.endsWith(".ts") && layerOf(path)) yield path;
  }
}

const SPECIFIER = /(?:from|import)\s*\(?\s*"(\.\.?\/[^"]+)"/g;

Deno.test("every module imports only from its own layer or the layers below it", () => {
  const violations: string[] = [];
  let checked = 0;
  for (const path of modules("")) {
    const layer = layerOf(path)!;
    const text = Deno.readTextFileSync(join(REPO, path)).replace(/^\s*(\*|\/\/).*$/gm, "");
    for (const [, spec] of text.matchAll(SPECIFIER)) {
      const target = relative(REPO, normalize(join(REPO, dirname(path), spec)));
      const targetLayer = layerOf(target);
      checked++;
      if (targetLayer === layer) continue;
      if (!targetLayer || !MAY_IMPORT[layer].includes(targetLayer)) violations.push(`${path} imports ${target}`);
    }
  }
  assertEquals(violations, []);
  if (checked < 300) throw new Error(`only ${checked} imports found: the test no longer reads the modules`);
});
