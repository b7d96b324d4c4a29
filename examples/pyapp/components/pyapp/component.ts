import {
  attribute,
  Component,
  CronJob,
  CronTab,
  File,
  Program,
  Supervisor,
  SystemdUnit,
  UpdateNeeded,
  VirtualEnv,
} from "batou";

/** Whether systemd runs this host (the check `sd_booted()` makes). */
function systemdRunning(): boolean {
  try {
    return Deno.statSync("/run/systemd/system").isDirectory;
  } catch {
    return false;
  }
}

/**
 * A small Python web app: a virtualenv, the app, its config from a template, a service that
 * keeps it running, and a nightly cron job.
 *
 * The service is a systemd unit when systemd runs the host (a system unit as root, else a user
 * unit), and a Program under a private supervisord otherwise (containers, CI).
 */
export class PyApp extends Component {
  greeting = attribute(String, "Hello from pyapp");
  port = attribute(Number, 8085);
  /** Install the crontab: it replaces the deploying user's whole crontab, so it is opt-in. */
  installCrontab = attribute(Boolean, false);
  /** "auto" (systemd when it runs), "systemd" or "supervisor". */
  service = attribute(String, "auto");

  override configure() {
    const venv = this.add(new VirtualEnv("3", { path: "venv" }));
    const app = this.add(new File("app.py", { source: "app.py", isTemplate: false }));
    const config = this.add(new File("pyapp.conf", { source: "pyapp.conf.j2" }));
    const command = `${venv.python} ${app.path} ${config.path}`;

    const useSystemd = this.service === "systemd" || (this.service === "auto" && systemdRunning());
    if (useSystemd) {
      this.add(
        new SystemdUnit("pyapp", {
          unit: { Description: "pyapp demo web app", After: "network.target" },
          service: { ExecStart: command, WorkingDirectory: this.workdir, Restart: "always" },
          dependencies: [venv, app, config],
        }),
      );
    } else {
      this.add(new Supervisor());
      this.add(
        new Program("pyapp", {
          command: venv.python,
          args: `${app.path} ${config.path}`,
          options: { startsecs: 2 },
          dependencies: [venv, app, config],
        }),
      );
    }
    this.add(new Answers(`http://127.0.0.1:${this.port}/`, { expected: this.greeting }));

    this.add(
      new CronJob(`find ${this.workdir}/var/log -name '*.log.*' -mtime +14 -delete`, {
        timing: "17 3 * * *",
        logger: "pyapp",
      }),
    );
    this.add(new CronTab({ install: this.installCrontab }));
  }
}

/** Checks that the app answers with the greeting (fails the deployment otherwise). */
class Answers extends Component {
  static override namevar = "url";
  url = "";
  expected = "";

  override async verify() {
    let last = "";
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const body = await (await fetch(this.url)).text();
        if (body.includes(this.expected)) return;
        last = `unexpected answer: ${body}`;
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${this.url} does not answer as expected (${last})`);
  }

  override update() {
    throw new UpdateNeeded("never reached");
  }
}
