/**
 * The public API of batou's core, as component files see it through `import ... from "batou"`.
 *
 * @module
 */
export {
  type CmdOptions,
  Component,
  type ComponentClass,
  platform,
  type RequireOptions,
  RootComponent,
  statTime,
} from "./component.ts";
export { attribute, type AttributeOptions, convertValue, parseBoolean, parseList, parseNumber } from "./attribute.ts";
export {
  CmdExecutionError,
  ComponentUsageError,
  ConfigurationError,
  DeploymentError,
  ReportingError,
  SilentConfigurationError,
  UpdateNeeded,
} from "./errors.ts";
export { Address, NetLoc, resolve, resolveV6 } from "./address.ts";
export { output } from "./output.ts";
export { Host } from "./host.ts";
export type { Environment } from "./environment.ts";
export { parseLiteral } from "./literal.ts";
export { type CmdResult, joinCommand, runCmd, shellQuote } from "./cmd.ts";
