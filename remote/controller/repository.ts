/**
 * Checks on the deployment repository before a remote deployment: uncommitted
 * or unpushed changes stop the deployment unless `--dirty` is given, as in batou.
 * Local deployments (`connect_method = local`) deploy the working copy as it is.
 *
 * @module
 */
import type { Environment } from "../../core/model/environment.ts";
import { DeploymentError, type ReportingError } from "../../core/model/errors.ts";
import { output } from "../../core/model/output.ts";
import { runCmd } from "../../core/model/cmd.ts";

async function git(args: string, cwd: string) {
  return await runCmd(`LANG=C LC_ALL=C git ${args}`, { cwd, ignoreReturnCode: true });
}

/** Verifies the repository; returns the errors that stop the deployment (empty when fine). */
export async function verifyRepository(env: Environment, dirty: boolean): Promise<ReportingError[]> {
  if (env.connectMethod === "local") return [];
  if (dirty) {
    output.annotate(
      "You are running a dirty deployment. This can cause inconsistencies -- continuing on your own risk!",
      { red: true },
    );
    return [];
  }
  const top = await git("rev-parse --show-toplevel", env.baseDir);
  if (top.code !== 0) {
    output.annotate(
      "The project is not in a git repository. This is a non-verifying deployment -- continuing on your own risk!",
      { red: true },
    );
    return [];
  }
  const status = await git("status --porcelain", env.baseDir);
  if (status.stdout.trim()) {
    output.error("Your repository has uncommitted changes.");
    output.annotate(
      "I am refusing to deploy in this situation as the results will be unpredictable.\n" +
        "Please commit and push first (or use --dirty).",
      { red: true },
    );
    output.annotate(status.stdout.trimEnd(), { red: true });
    return [new DeploymentError()];
  }
  const branch = env.branch ?? (await git("rev-parse --abbrev-ref HEAD", env.baseDir)).stdout.trim();
  const upstream = await git(`rev-parse --abbrev-ref ${branch}@{upstream}`, env.baseDir);
  if (upstream.code !== 0) return [];
  const outgoing = await git(`log ${upstream.stdout.trim()}..${branch} --pretty=oneline`, env.baseDir);
  if (outgoing.stdout.trim()) {
    output.error(
      `Your repository has outgoing changes on branch ${branch}:\n\n${outgoing.stdout.trimEnd()}\n\n` +
        "I am refusing to deploy in this situation as the results will be unpredictable.\n" +
        "Please push first (or use --dirty).",
    );
    return [new DeploymentError()];
  }
  return [];
}
