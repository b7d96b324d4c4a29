/**
 * The nunjucks classes batou uses; imported through {@linkcode "./lazy.ts"} only, so that a bundle evaluates
 * nunjucks (and the `node:fs` it requires) on first use.
 *
 * @module
 */
import nunjucks from "nunjucks";

/** nunjucks' `Environment`. */
export const Environment: typeof nunjucks.Environment = nunjucks.Environment;
/** nunjucks' `Template`. */
export const Template: typeof nunjucks.Template = nunjucks.Template;
