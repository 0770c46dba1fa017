/**
 * Seeded uniform random numbers (mulberry32): the same seed gives the same sequence on every
 * machine and backend, so initial weights, every epoch's shuffling order and every batch's
 * augmentations are reproducible; {@linkcode mixSeed} derives one seed from several keys. It sits
 * at the root of lib/ because the model (initial weights) and the data (shuffling, augmentation)
 * both use it, and neither may import the other's folder upwards.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mulberry32 } from "./rng.ts";
 * const rand = mulberry32(42);
 * const a = rand(), b = mulberry32(42)();
 * assert.equal(a, b);
 * assert.ok(a >= 0 && a < 1);
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

/**
 * Mixes two 32-bit keys into one seed (splitmix32-style), so that nearby keys (epochs, batches)
 * give unrelated streams; chain it for more keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mixSeed, mulberry32 } from "./rng.ts";
 * const rand = mulberry32(mixSeed(mixSeed(0, 3), 17)); // seed 0, epoch 3, batch 17
 * assert.notEqual(mixSeed(0, 1), mixSeed(0, 2));
 * ```
 */
export function mixSeed(seed: number, key: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(key >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
