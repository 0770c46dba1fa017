/**
 * The one number parser (lib/parse_number.ts): what the CLI's flags, the web page's form and the
 * bench scripts accept, and the one-line InputError for what they refuse.
 */
import assert from "node:assert/strict";
import { parseNumber } from "../lib/parse_number.ts";
import { InputError } from "../lib/errors.ts";

Deno.test("parseNumber: integers are digits only; numbers are decimals with an exponent", () => {
  assert.equal(parseNumber("256", "integer", 1), 256);
  assert.equal(parseNumber(" 7 ", "integer", 0), 7);
  assert.equal(parseNumber("0", "integer", 0), 0);
  assert.equal(parseNumber("1e-2", "number", 0, true), 0.01);
  assert.equal(parseNumber(".5", "number", 0, true), 0.5);
  assert.equal(parseNumber("-1.5", "number", -2), -1.5);
  for (const text of ["0x12", "1e2", "2.5", "18.0", "", " ", "-1", "+3", "Infinity", "1_000"]) {
    assert.throws(() => parseNumber(text, "integer", 1), InputError, text);
  }
  for (const text of ["0x1", "", "NaN", "Infinity", "1e999", "1,5", "0"]) {
    assert.throws(() => parseNumber(text, "number", 0, true), InputError, text);
  }
  assert.throws(() => parseNumber(String(2 ** 53), "integer", 0), InputError, "not a safe integer");
});

Deno.test("parseNumber: one line saying what to give, after where it was given", () => {
  const cases: [() => number, string][] = [
    [() => parseNumber("0", "integer", 1), "give a positive integer"],
    [() => parseNumber("-1", "integer", 0), "give a non-negative integer"],
    [
      () => parseNumber("0", "number", 0, true, "--lr 0"),
      "--lr 0: give a positive number such as 0.05",
    ],
    [() => parseNumber("0.5", "number", 1), "give a number of at least 1"],
    [
      () => parseNumber("0x12", "integer", 1, false, "--depth 0x12"),
      "--depth 0x12: give a positive integer",
    ],
  ];
  for (const [f, message] of cases) {
    assert.throws(f, (e) => e instanceof InputError && e.message === message, message);
  }
});
