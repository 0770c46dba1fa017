/**
 * Copies of convolution weights in the layout oneDNN's forward primitive takes, one per weight
 * tensor, made while no gradient tape records (a test pass, `predict`, `eval`): the weights are
 * reordered on the first batch and read as they are on every later one. While training, the
 * weights change every step and each forward pass reorders them as before. A tensor's values never
 * change under its data id (an SGD step makes new tensors), so the copy lives as long as that id:
 * the backend forgets it when it disposes or moves the data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forgetWeightsCopy, weightsCopy } from "./weights_copies.ts";
 * const id = {};
 * const copy = weightsCopy(id)!; // no tape records here
 * assert.equal(weightsCopy(id), copy);
 * forgetWeightsCopy(id);
 * assert.notEqual(weightsCopy(id), copy);
 * ```
 * @module
 */
import type { WeightsCopy } from "./dnnl/conv2d.ts";
import { taping } from "./kernels/kernel.ts";

const copies = new WeakMap<object, WeightsCopy>();

/** The copy slot of the weights stored under `dataId`; undefined while a tape records. */
export function weightsCopy(dataId: object): WeightsCopy | undefined {
  if (taping()) return undefined;
  let copy = copies.get(dataId);
  if (!copy) copies.set(dataId, copy = { values: null, by: null });
  return copy;
}

/** Drops the copy of `dataId`'s weights (its data was disposed or replaced). */
export function forgetWeightsCopy(dataId: object): void {
  copies.delete(dataId);
}
