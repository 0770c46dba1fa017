/**
 * Seeded uniform random numbers (mulberry32): the same seed gives the same sequence on every
 * machine and backend, so initial weights and every epoch's shuffling order are reproducible.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./rng.ts";
 * const rand = mulberry32(42);
 * const a = rand(), b = mulberry32(42)();
 * console.log(a === b, a >= 0 && a < 1); // true true
 * ```
 * @module
 */

/** A generator of uniform numbers in [0, 1) from a 32-bit `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
