/**
 * `batou deploy ENV --report FILE.json`: a machine-readable record of one run, written atomically (temporary
 * file beside it, then rename) when the run ends, whether it succeeded or not. Secret values are masked in it as
 * in the output.
 *
 * ```json
 * {
 *   "batou": "0.1.0", "environment": "dev", "action": "deploy", "local": false,
 *   "started": "2025-01-01T10:00:00.000Z", "finished": "...", "duration": 1.52,
 *   "success": true, "exitCode": 0, "failedStep": null, "interrupted": null,
 *   "hosts": [{ "name": "web1", "fqdn": "web1.example.com", "ignored": false, "connected": true }],
 *   "roots": [{ "host": "web1", "root": "hello", "status": "ok", "changed": true, "duration": 0.31 }],
 *   "changedComponents": [{ "host": "web1", "breadcrumbs": "Hello > File('work/hello/hello.txt')" }],
 *   "steps": [{ "name": "load", "status": "ok", "duration": 0.05 }, ...],
 *   "errors": [{ "type": "ConfigurationError", "message": "...", "host": "web1" }]
 * }
 * ```
 *
 * `action` is `deploy`, `predict` or `consistency-check`; a root's `status` is `ok`, `failed`, `skipped`
 * (ignored component or host), `interrupted` (it was being deployed when the run was stopped) or `not-run` (the run
 * stopped before it); `interrupted` names the signal that stopped the run (exit code 130); durations are in seconds.
 *
 * @module
 */
import { compareStrings } from "../../core/runtime/compare.ts";
import type { Environment } from "../../core/model/environment.ts";
import { writeFileAtomic } from "../../core/runtime/fsops.ts";
import { ReportingError, reportWithPlace, UnexpectedError } from "../../core/model/errors.ts";
import { type Format, Output, output, type OutputBackend, RecordingBackend } from "../../core/model/output.ts";

/** One error in the report. */
export interface ReportedError {
  type: string;
  message: string;
  host: string | null;
}

/** One root component in the report. */
export interface ReportedRoot {
  host: string;
  root: string;
  status: "ok" | "failed" | "skipped" | "interrupted" | "not-run";
  changed: boolean | null;
  duration: number | null;
}

/** The whole report (see the module documentation). */
export interface DeployReport {
  batou: string;
  environment: string;
  action: "deploy" | "predict" | "consistency-check";
  local: boolean;
  started: string;
  finished: string;
  duration: number;
  success: boolean;
  exitCode: number;
  failedStep: string | null;
  interrupted: string | null;
  hosts: { name: string; fqdn: string; ignored: boolean; connected: boolean }[];
  roots: ReportedRoot[];
  changedComponents: { host: string; breadcrumbs: string }[];
  steps: { name: string; status: "ok" | "failed"; duration: number }[];
  errors: ReportedError[];
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** The text of an error's batou report, without the `ERROR: ` of its first line. */
function reportText(e: ReportingError): string {
  const rec = new RecordingBackend();
  try {
    reportWithPlace(e, new Output(rec));
  } catch { /* fall back to the message */ }
  const text = rec.lines.map((l) => l.replace(/^ERROR: /, "")).join("\n").trim();
  return text || e.message;
}

function errorHost(e: ReportingError): string | null {
  if (e instanceof UnexpectedError && e.hostName) return e.hostName;
  return e.affectedHostname && e.affectedHostname !== "<HOSTNAME>" ? e.affectedHostname : null;
}

/** Flattens reported errors into `{type, message, host}`; merged configure errors give one entry per host. */
export function reportedErrors(errors: unknown[]): ReportedError[] {
  const out: ReportedError[] = [];
  for (const raw of errors) {
    const groups = (raw as { groups?: { error: ReportingError; hosts: string[] }[] })?.groups;
    if (raw instanceof ReportingError && Array.isArray(groups)) {
      for (const g of groups) {
        const base = { type: g.error.name, message: output.mask(reportText(g.error)) };
        if (g.hosts.length) { for (const host of g.hosts) out.push({ ...base, host }); }
        else out.push({ ...base, host: errorHost(g.error) });
      }
      continue;
    }
    const e = raw instanceof ReportingError ? raw : UnexpectedError.wrap(raw);
    out.push({ type: e.name, message: output.mask(reportText(e)), host: errorHost(e) });
  }
  return out;
}

/** Writes `data` as JSON to `path` atomically (its folder must exist: a mistyped path creates nothing). */
export async function writeJsonAtomic(path: string, data: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(data, null, 2) + "\n"), { follow: true });
}

/** Collects what a deployment run does, for {@linkcode DeployReport}. */
export class ReportRecorder {
  readonly started = new Date();
  #t0 = performance.now();
  #steps: DeployReport["steps"] = [];
  #errors: ReportedError[] = [];
  #failedStep: string | null = null;
  #interrupted: string | null = null;
  #roots = new Map<string, ReportedRoot & { t0?: number }>();
  #changed: DeployReport["changedComponents"] = [];
  #connected = new Set<string>();
  #backend: OutputBackend | null = null;

  constructor(
    readonly info: { version: string; environment: string; action: DeployReport["action"]; local: boolean },
  ) {}

  /** Starts collecting the `🚀 host: breadcrumbs` lines of changed components from the output. */
  tapOutput(): void {
    if (this.#backend) return;
    const inner = output.backend;
    this.#backend = inner;
    const changed = this.#changed;
    output.backend = {
      line(text: string, fmt: Format): void {
        const m = /^🚀 ([^:\s]+): (.+)$/u.exec(text);
        if (m) changed.push({ host: m[1], breadcrumbs: m[2] });
        inner.line(text, fmt);
      },
      sep(char: string, title: string, fmt: Format): void {
        inner.sep(char, title, fmt);
      },
    };
  }

  /** Stops collecting output. */
  untapOutput(): void {
    if (this.#backend) output.backend = this.#backend;
    this.#backend = null;
  }

  /** A step ended. */
  step(name: string, ms: number, ok: boolean): void {
    this.#steps.push({ name, status: ok ? "ok" : "failed", duration: seconds(ms) });
    if (!ok && !this.#failedStep) this.#failedStep = name;
  }

  /** Errors that were reported. */
  errors(errors: unknown[]): void {
    this.#errors.push(...reportedErrors(errors));
  }

  /** An error outside the steps (e.g. the local lock). */
  error(type: string, message: string, host: string | null = null): void {
    this.#errors.push({ type, message: output.mask(message), host });
  }

  /** A host's agent is connected. */
  connected(host: string): void {
    this.#connected.add(host);
  }

  /** The roots that the deploy step will schedule. */
  setRoots(roots: { host: string; root: string }[]): void {
    for (const r of roots) {
      this.#roots.set(`${r.host}\0${r.root}`, {
        host: r.host,
        root: r.root,
        status: "not-run",
        changed: null,
        duration: null,
      });
    }
  }

  /** A root started (`running`) or ended. */
  root(host: string, root: string, status: ReportedRoot["status"] | "running", changed?: boolean): void {
    const key = `${host}\0${root}`;
    const r = this.#roots.get(key) ?? { host, root, status: "not-run", changed: null, duration: null };
    this.#roots.set(key, r);
    if (status === "running") {
      r.t0 = performance.now();
      return;
    }
    r.status = status;
    if (changed !== undefined) r.changed = changed;
    if (r.t0 !== undefined) r.duration = seconds(performance.now() - r.t0);
  }

  /** The run was stopped by `signal`. */
  interrupted(signal: string): void {
    this.#interrupted = signal;
  }

  /** The report of the run so far. */
  build(env: Environment | null, exitCode: number): DeployReport {
    const hosts = env ? [...env.hosts.values()] : [];
    return {
      batou: this.info.version,
      environment: this.info.environment,
      action: this.info.action,
      local: this.info.local,
      started: this.started.toISOString(),
      finished: new Date().toISOString(),
      duration: seconds(performance.now() - this.#t0),
      success: exitCode === 0,
      exitCode,
      failedStep: this.#failedStep,
      interrupted: this.#interrupted,
      hosts: hosts.sort((a, b) => compareStrings(a.name, b.name)).map((h) => ({
        name: h.name,
        fqdn: h.fqdn,
        ignored: !!h.ignore,
        connected: this.#connected.has(h.name),
      })),
      roots: [...this.#roots.values()].map(({ t0: _t0, ...r }) => r),
      changedComponents: [...this.#changed],
      steps: [...this.#steps],
      errors: [...this.#errors],
    };
  }
}
