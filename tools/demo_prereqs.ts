/**
 * What `deno task demo [EXAMPLE]` needs on this machine, checked before anything is created: the commands an
 * example runs (pyapp: a Python with `venv`, and supervisord or systemd) and a free port. batou's npm packages are
 * not checked here: `deno task` downloads them before any task runs (once), and names the package when it cannot.
 *
 * @module
 */
import { findOnPath, pathDirs } from "../core/runtime/program.ts";

/** The demos and what each needs, as the README says. */
export const DEMOS: Record<string, string> = {
  "hello-world": "deno only",
  "multi": "deno only",
  "pyapp": "python3 with venv (Debian: python3-venv), supervisord (Debian: supervisor) unless systemd runs, port 8085",
};

/** What the checks look at; {@linkcode currentMachine} gives the real one. */
export interface Machine {
  /** The directories of PATH. */
  pathDirs: string[];
  /** Whether systemd runs this machine (`/run/systemd/system` exists, as `sd_booted()` checks). */
  systemd: boolean;
}

/** The machine this runs on. */
export function currentMachine(): Machine {
  let systemd = false;
  try {
    systemd = Deno.statSync("/run/systemd/system").isDirectory;
  } catch { /* not booted with systemd */ }
  return {
    pathDirs: pathDirs(),
    systemd,
  };
}

async function pythonHasVenv(python: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(python, {
      args: ["-c", "import venv, ensurepip"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** What is missing for the demo `example` on `machine`, each with what to do about it; empty when it can run. */
export async function checkDemo(example: string, machine: Machine): Promise<string[]> {
  const problems: string[] = [];
  if (!(example in DEMOS)) {
    problems.push(`there is no demo \`${example}\` (demos: ${Object.keys(DEMOS).join(", ")})`);
    return problems;
  }
  if (example === "pyapp") {
    const python = findOnPath("python3", machine.pathDirs);
    if (!python) problems.push("python3 is not on PATH: install Python 3 (Debian: apt-get install python3-venv)");
    else if (!(await pythonHasVenv(python))) {
      problems.push(`${python} cannot create virtualenvs (no venv/ensurepip): Debian: apt-get install python3-venv`);
    }
    if (machine.systemd) {
      if (!findOnPath("systemctl", machine.pathDirs)) problems.push("systemd runs, but systemctl is not on PATH");
    } else if (!findOnPath("supervisord", machine.pathDirs) || !findOnPath("supervisorctl", machine.pathDirs)) {
      problems.push(
        "supervisord is not on PATH (without systemd the demo runs the app under supervisord): " +
          "Debian: apt-get install supervisor (or pip install supervisor)",
      );
    }
    if (!portFree(8085)) {
      problems.push(
        "port 8085 on 127.0.0.1 is in use (an earlier pyapp demo? stop it with " +
          "supervisorctl -c <its project dir>/work/pyapp/etc/supervisord.conf shutdown)",
      );
    }
  }
  return problems;
}
