/**
 * Text from a target host made safe for the operator's terminal: a host is untrusted input, and control characters
 * in its output could set the window title (OSC), write the clipboard (OSC 52), clear the screen, move the cursor,
 * overwrite the `host:` prefix with `\r`, or reorder text (bidirectional overrides). Every such character is shown
 * as a visible escape instead; line feeds and tabs stay.
 *
 * ```ts
 * import { neutralizeControls } from "./terminal_text.ts";
 * neutralizeControls("\x1b]0;pwned\x07ok\r"); // "\\x1b]0;pwned\\x07ok\\r"
 * ```
 *
 * @module
 */

// C0 controls but tab and line feed, DEL, C1 controls, and the bidirectional embedding/override/isolate marks.
// deno-lint-ignore no-control-regex -- matching control characters is what this module is for
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character except `\n` and `\t` written as a visible escape (`\x1b`, `\r`, `\u202e`). */
export function neutralizeControls(text: string): string {
  return text.replace(CONTROLS, (ch) => {
    if (ch === "\r") return "\\r";
    const code = ch.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
