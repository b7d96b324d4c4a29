/**
 * The first secrets of an environment: the template `batou secrets edit ENV` opens for an environment without
 * secrets, and the secrets file that `batou secrets add KEY --environments ENV` creates for it.
 *
 * @example
 * ```ts
 * newSecretsTemplate("prod"); // "# Secrets of environment prod ...\n[batou]\nsecret_provider = age\nmembers =\n"
 * ```
 * @module
 */

/** What the template's last lines are: `[batou]` with age and no members yet. */
const TEMPLATE_TAIL = "[batou]\nsecret_provider = age\nmembers =\n";

/**
 * The text `batou secrets edit ENV` starts from when ENV has no secrets yet: comments that explain `members` and
 * the `[component:NAME]` sections, then `[batou]` with `secret_provider = age` and an empty `members =` (the last
 * line, so that a member can be written right after it). The comments are kept in the encrypted file.
 */
export function newSecretsTemplate(environment: string): string {
  return `# The secrets of environment ${environment}, encrypted with age for its members.
#
# members: who can read and change them, comma-separated (several lines are fine), one of
#   - an ssh public key:   ssh-ed25519 AAAA... (the line of ~/.ssh/id_ed25519.pub; read with ~/.ssh/id_*)
#   - a URL of ssh keys:   https://github.com/USER.keys
#   - an age public key:   age1... (age-keygen -y FILE; read with BATOU_AGE_IDENTITIES=FILE)
# Put your own key first, or you cannot read these secrets again.
# Later members: batou secrets add KEY --environments ${environment}
#
# [component:NAME] sections override attributes of component NAME, as in environment.cfg, e.g.
#   [component:myapp]
#   db_password = s3cret
${TEMPLATE_TAIL}`;
}

/** Whether `text` is the template of `environment` as it was opened (nothing filled in). */
export function isUnchangedTemplate(text: string, environment: string): boolean {
  return text.replace(/\s+$/, "") === newSecretsTemplate(environment).replace(/\s+$/, "");
}

/**
 * The secrets configuration `batou secrets add KEY --environments ENV` writes for an environment without secrets:
 * the template with `member` as its only member.
 */
export function firstSecretsConfig(environment: string, member: string): string {
  const template = newSecretsTemplate(environment);
  return template.slice(0, template.length - TEMPLATE_TAIL.length) +
    `[batou]\nsecret_provider = age\nmembers = ${member}\n`;
}
