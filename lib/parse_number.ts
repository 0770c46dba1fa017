/**
 * The one number parser of the tool: every numeric command-line flag (cli/options.ts wraps it for the
 * CLI's flag parser), the web page's settings form and the bench scripts read numbers typed by people with
 * it, so `1e2`, `0x10` or `2.5` mean the same (or are refused the same way) everywhere. Integers
 * are digits only; other numbers are decimals with an optional exponent. Browser-safe.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseNumber } from "./parse_number.ts";
 * parseNumber("256", "integer", 1); // 256
 * parseNumber("1e-2", "number", 0, true); // 0.01
 * try {
 *   parseNumber("0x12", "integer", 1, false, "--depth 0x12");
 *   assert.fail("expected a throw");
 * } catch (e) {
 *   assert.equal((e as Error).message, "--depth 0x12: give a positive integer");
 * }
 * ```
 * @module
 */
import { InputError } from "./errors.ts";

/** What {@linkcode parseNumber} accepts: digits only, or any decimal number. */
export type NumberKind = "integer" | "number";

const FORMS: Readonly<Record<NumberKind, RegExp>> = {
  integer: /^\s*\d+\s*$/,
  number: /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i,
};

/**
 * `text` as a number: a decimal (integers: digits only), finite, and at least `min` (or above it
 * when `exclusive`). Throws an {@linkcode InputError} saying what to give, after `where` (e.g.
 * `--lr 0`) when given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseNumber } from "./parse_number.ts";
 * parseNumber("0.05", "number", 0, true); // 0.05
 * parseNumber("7", "integer", 0); // 7
 * try {
 *   parseNumber("2.5", "integer", 1);
 *   assert.fail("expected a throw");
 * } catch (e) {
 *   assert.equal((e as Error).message, "give a positive integer");
 * }
 * ```
 */
export function parseNumber(
  text: string,
  kind: NumberKind,
  min: number,
  exclusive = false,
  where?: string,
): number {
  const n = Number(text);
  const ok = FORMS[kind].test(text) && Number.isFinite(n) && (exclusive ? n > min : n >= min) &&
    (kind === "number" || Number.isSafeInteger(n));
  if (ok) return n;
  const what = kind === "integer"
    ? (min >= 1 || (min === 0 && exclusive) ? "a positive integer" : "a non-negative integer")
    : (exclusive && min === 0 ? "a positive number such as 0.05" : `a number of at least ${min}`);
  throw new InputError(`${where ? `${where}: ` : ""}give ${what}`);
}
