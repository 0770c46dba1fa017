/**
 * Shared command-line plumbing: option parsers that reject bad values with one clear line, and
 * the error classes whose messages the CLI prints without a stack trace.
 *
 * @example
 * ```ts
 * import { parsePositiveInt } from "./options.ts";
 * parsePositiveInt("256"); // 256
 * ```
 * @module
 */
import { InvalidArgumentError } from "commander";

/** A bad command-line value or combination; the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the user can fix outside the command line (missing data, no adapter); exit 1. */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Parses a positive integer option value. */
export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError("give a positive integer.");
  }
  return n;
}

/** Parses a non-negative integer option value (e.g. a seed). */
export function parseNonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError("give a non-negative integer.");
  }
  return n;
}

/** Parses a positive finite number (e.g. a learning rate). */
export function parsePositiveFloat(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError("give a positive number such as 0.05.");
  }
  return n;
}

/** Parses a comma-separated list of four positive integers, e.g. `2,2,2,2`. */
export function parseStages(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 4 || !parts.every((s) => /^\d+$/.test(s)) || nums.some((n) => n <= 0)) {
    throw new InvalidArgumentError(
      "give four positive integers separated by commas, e.g. 2,2,2,2.",
    );
  }
  return nums;
}

/** Parses a depth; the allowed values come from the model's depth table. */
export function parseDepth(allowed: readonly number[]): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!allowed.includes(n)) {
      throw new InvalidArgumentError(
        `allowed are ${allowed.join(", ")} (or any four stage depths with --stages a,b,c,d).`,
      );
    }
    return n;
  };
}

/** Collects a repeatable option into an array. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
