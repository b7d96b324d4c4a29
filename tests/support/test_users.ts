/**
 * Local Unix accounts and sudo rules for the end-to-end tests. Needs root.
 *
 * Everything here is idempotent and safe when several test files (run with `--parallel`) ask for the same
 * accounts at the same time: accounts are created once and reused across runs.
 */
import { createHash } from "node:crypto";
import { runCommand, toolPath } from "./tools.ts";

/** A local account as seen in the passwd database. */
export interface UserAccount {
  user: string;
  uid: number;
  gid: number;
  home: string;
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Looks `user` up in the passwd database; undefined when there is no such account. */
export async function lookupUser(user: string): Promise<UserAccount | undefined> {
  const result = await runCommand(toolPath("getent"), ["passwd", user], { check: false });
  if (result.code !== 0) return undefined;
  const fields = result.stdout.trim().split(":");
  return { user, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `attempt` until it reports success; useradd and usermod fail while another process holds the lock on
 * /etc/passwd or /etc/shadow, so a concurrent test file can make one try fail.
 */
async function retry(what: string, attempt: () => Promise<string | undefined>): Promise<void> {
  let lastError = "";
  for (let i = 0; i < 30; i++) {
    const error = await attempt();
    if (error === undefined) return;
    lastError = error;
    await sleep(50 + Math.floor(Math.random() * 200));
  }
  throw new Error(`${what} failed repeatedly: ${lastError}`);
}

async function passwordField(user: string): Promise<string | undefined> {
  const shadow = await Deno.readTextFile("/etc/shadow");
  for (const line of shadow.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === user) return fields[1];
  }
  return undefined;
}

/** Lock file that serializes account changes: concurrent `useradd` of one name can give it two uids. */
const USERS_LOCK = "/run/batoutest-users.lock";

async function withUsersLock<T>(body: () => Promise<T>): Promise<T> {
  const file = await Deno.open(USERS_LOCK, { create: true, write: true, mode: 0o600 });
  try {
    await file.lock(true);
    return await body();
  } finally {
    file.close();
  }
}

/**
 * Makes sure the account `user` exists with a home directory and an unlocked (but unusable) password, so that
 * sshd (with `UsePAM no`) accepts public key logins. Creates it with `useradd -m -s /bin/sh` when missing.
 * Account changes are serialized through a lock file shared by all test processes.
 */
export async function ensureUser(user: string): Promise<UserAccount> {
  if (!USER_NAME.test(user)) throw new Error(`invalid test user name: ${JSON.stringify(user)}`);
  return await withUsersLock(async () => {
    await retry(`useradd ${user}`, async () => {
      if (await lookupUser(user) !== undefined) return undefined;
      const result = await runCommand(toolPath("useradd"), ["-m", "-s", "/bin/sh", user], { check: false });
      if (result.code === 0 || await lookupUser(user) !== undefined) return undefined;
      return result.stderr.trim();
    });
    await retry(`usermod -p '*' ${user}`, async () => {
      if (await passwordField(user) === "*") return undefined;
      const result = await runCommand(toolPath("usermod"), ["-p", "*", user], { check: false });
      return result.code === 0 ? undefined : result.stderr.trim();
    });
    const account = await lookupUser(user);
    if (account === undefined) throw new Error(`user ${user} vanished after creating it`);
    try {
      await Deno.stat(account.home);
    } catch {
      await Deno.mkdir(account.home, { recursive: true, mode: 0o755 });
      await Deno.chown(account.home, account.uid, account.gid);
    }
    return account;
  });
}

/**
 * Installs sudo rules. The file is named after a hash of its content (`/etc/sudoers.d/<prefix>-<hash>`), so that
 * fixtures running at the same time with different rules do not overwrite each other, and the same rules map to
 * the same file on every run. It is checked with `visudo -cf` before it is moved into place, and left installed.
 * Returns the path of the installed file.
 */
export async function installSudoers(lines: string[], prefix: string): Promise<string> {
  const content = lines.join("\n") + "\n";
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 12);
  const path = `/etc/sudoers.d/${prefix}-${hash}`;
  // sudo ignores files in sudoers.d whose name contains a dot, so the temporary file is never active.
  const temp = `/etc/sudoers.d/.${prefix}-${hash}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temp, content, { mode: 0o440 });
  try {
    await Deno.chmod(temp, 0o440);
    const check = await runCommand(toolPath("visudo"), ["-cf", temp], { check: false });
    if (check.code !== 0) {
      throw new Error(`invalid sudoers lines ${JSON.stringify(lines)}: ${check.stderr.trim()} ${check.stdout.trim()}`);
    }
    await Deno.rename(temp, path);
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
  return path;
}
