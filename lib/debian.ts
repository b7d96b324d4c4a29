/**
 * batou's Debian platform components (`batou.lib.debian`), registered when the library loads and active on hosts
 * whose platform is `debian` (`platform = debian` in `[environment]` or `[host:x]`):
 *
 * - every {@linkcode Service} gets a `CronJob` that starts `<root workdir>/<executable>` `@reboot`, its output to
 *   syslog (`logger -t <root>`); the host needs a {@linkcode CronTab} to install it.
 *
 * A project can replace it with its own `platform("debian", Service)(MyStarter)`.
 *
 * @module
 */
import { join } from "../core/runtime/path.ts";
import { Component, platform } from "../core/model/component.ts";
import { CronJob } from "./cron.ts";
import { Service } from "./service.ts";

/** On Debian: starts the parent {@linkcode Service} at boot through cron (batou's `RebootCronjob`). */
export class RebootCronjob extends Component {
  override configure(): void {
    const service = this.parent as Service;
    this.add(new CronJob(join(this.root.workdir, service.executable), { timing: "@reboot", logger: this.root.name }));
  }
}

platform("debian", Service)(RebootCronjob);
