/**
 * The library's error types. Every message is one line that says what is wrong, where, and how to
 * fix it; callers decide how to show it (the CLI prints it and picks the exit code from the type).
 *
 * - {@linkcode UserError}: a failure the user can fix outside the program's input (missing data,
 *   no GPU adapter, a file that cannot be written).
 * - {@linkcode InputError}: the input itself is wrong (an option value, a malformed file given as
 *   input, an architecture that does not fit the weights).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorText, InputError, UserError } from "./errors.ts";
 * const e = new InputError("--size 0: give a positive integer");
 * assert.ok(e instanceof UserError);
 * assert.equal(errorText(e), "--size 0: give a positive integer");
 * ```
 * @module
 */

/** A failure the user can fix (missing data, no adapter, an unwritable path); one-line message. */
export class UserError extends Error {
  /** Always `"UserError"` unless a subclass says otherwise. */
  override name = "UserError";
}

/** Input that is wrong as given: an option value, a malformed input file, a mismatched network. */
export class InputError extends UserError {
  /** Always `"InputError"` unless a subclass says otherwise. */
  override name = "InputError";
}

/**
 * The first line of an error's message (or of any thrown value), for one-line reports.
 *
 * @example
 * ```ts
 * import { errorText } from "./errors.ts";
 * errorText(new Error("disk full\n    at write")); // "disk full"
 * ```
 */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0];
}

/** Names a model option in a message: its field (the library's words) or a flag (the CLI's). */
export type FieldNamer = (field: string) => string;

/** What a {@linkcode ConfigError} refuses, as data. */
export interface ConfigProblem {
  /** The option (a `ResNetOptions` field such as `stages`, or `size`). */
  field: string;
  /** Its value as given. */
  value: unknown;
  /** The message, each option it names named by the given {@linkcode FieldNamer}. */
  wording: (name: FieldNamer) => string;
}

/**
 * An invalid model option (depth, stages, width, input size); a kind of {@linkcode InputError}.
 * Its message names the options by their fields; a caller with other names for them (the CLI's
 * flags) words {@linkcode ConfigError.problem} itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./errors.ts";
 * const e = new ConfigError({
 *   field: "width",
 *   value: 0,
 *   wording: (name) => `invalid ${name("width")} 0: give a positive integer`,
 * });
 * assert.equal(e.message, "invalid width 0: give a positive integer");
 * assert.equal(e.problem.wording((f) => `--${f}`), "invalid --width 0: give a positive integer");
 * ```
 */
export class ConfigError extends InputError {
  /** Always `"ConfigError"`. */
  override name = "ConfigError";
  /** @param problem The option refused, its value and the message's wording. */
  constructor(readonly problem: ConfigProblem) {
    super(problem.wording((field) => field));
  }
}
