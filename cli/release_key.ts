/**
 * Where batou's releases are published and the key they are signed with: the trust anchor of `batou update`.
 *
 * The public key below is the only key `batou update` trusts (see docs/releasing.md). It is replaced only by a
 * reviewed commit, never at build or run time; the single exception is the environment variable
 * `BATOU_UPDATE_TRUSTED_KEY_FILE` (tests and private mirrors), which `batou update` announces on every use.
 *
 * @module
 */

/**
 * The project's GitHub releases. A release `v<V>` serves its files at `<RELEASES_URL>/download/v<V>/<file>`;
 * `<RELEASES_URL>/latest/download/<file>` redirects to the newest release.
 */
export const RELEASES_URL = "https://github.com/batou-deno/batou/releases";

/**
 * The armored OpenPGP public key that signs `SHA256SUMS` of every release.
 *
 * Empty until the maintainers create the release key (`deno run -A tools/release.ts keygen`, see
 * docs/releasing.md) and commit its public half here: until then `batou update` refuses to install anything,
 * because there is nothing to verify a release against.
 */
export const RELEASE_PUBLIC_KEY = "";
