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
} from "./model/component.ts";
export {
  attribute,
  type AttributeOptions,
  convertValue,
  parseBoolean,
  parseList,
  parseNumber,
} from "./model/attribute.ts";
export {
  CmdExecutionError,
  ComponentUsageError,
  ConfigurationError,
  DeploymentError,
  ReportingError,
  SilentConfigurationError,
  UpdateNeeded,
} from "./model/errors.ts";
export { Address, NetLoc, resolve, resolveV6 } from "./model/address.ts";
export { output } from "./model/output.ts";
export { Host } from "./model/host.ts";
export type { Environment } from "./model/environment.ts";
export { parseLiteral } from "./formats/literal.ts";
export { type CmdResult, joinCommand, runCmd, shellQuote } from "./model/cmd.ts";
