/**
 * A target host of an environment.
 *
 * @module
 */

/** One host: its name, fully qualified name, data from `data-*` keys and connection settings. */
export class Host {
  /** `data-<key>` values from `[host:x]` in environment.cfg and the secrets. */
  data: Record<string, string> = {};
  /** The platform name (host's own, else the environment's). */
  platform: string | null = null;
  /** `!host` in `[hosts]` or `ignore = true`: configured, but never connected or deployed. */
  ignore = false;
  /** Run the agent as this user (through sudo when the login user differs). */
  serviceUser: string | null = null;
  /** Whether to use sudo (null: detect). */
  requireSudo: boolean | null = null;

  constructor(readonly name: string, readonly fqdn: string) {}

  toString(): string {
    return this.name;
  }
}
