/**
 * The nunjucks parts batou uses, with their types; imported through {@linkcode "./lazy.ts"} only, so that a bundle
 * evaluates nunjucks (and the `node:fs` it requires) on first use.
 *
 * @module
 */
import nunjucks from "nunjucks";

/** A nunjucks environment (the parts its templates and the compiler read). */
export interface NunjucksEnvironment {
  opts: Record<string, unknown>;
  asyncFilters: unknown[];
  extensionsList: unknown[];
}

/** A nunjucks template. */
export interface NunjucksTemplate {
  render(context: Record<string, unknown>): string;
}

/** What a template is made from: its source, or the functions its compiled code returns. */
export type TemplateSource = string | { type: "code"; obj: unknown };

/** nunjucks' `Environment`. */
export const Environment: new (
  loaders: null,
  opts: { autoescape?: boolean; throwOnUndefined?: boolean },
) => NunjucksEnvironment = nunjucks.Environment;

/** nunjucks' `Template` (compiled on first render when made from source). */
export const Template: new (src: TemplateSource, env: NunjucksEnvironment) => NunjucksTemplate = nunjucks.Template;

/** nunjucks' compiler: the JavaScript of a template's source, as `Template` compiles it. */
export const compile: (
  src: string,
  asyncFilters: unknown[],
  extensions: unknown[],
  name: string | undefined,
  opts: Record<string, unknown>,
) => string = nunjucks.compiler.compile;
