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
const folds = new WeakMap<object, FoldedWeights>();

/** The copy slot of the weights stored under `dataId`; undefined while a tape records. */
export function weightsCopy(dataId: object): WeightsCopy | undefined {
  if (taping()) return undefined;
  let copy = copies.get(dataId);
  if (!copy) copies.set(dataId, copy = { values: null, by: null });
  return copy;
}

/** Drops the copies of `dataId`'s weights (its data was disposed or replaced). */
export function forgetWeightsCopy(dataId: object): void {
  copies.delete(dataId);
  folds.delete(dataId);
}

/**
 * A convolution's weights and bias with the BatchNorm after it folded in (the native backend's
 * `CONV_BN` kernel), made from the tensors whose data ids are `from`.
 */
export interface FoldedWeights {
  /** The data ids of the filter, bias (or null), gamma, beta, mean and variance, and eps. */
  readonly from: readonly unknown[];
  /** The folded bias `[out]`. */
  readonly bias: Float32Array;
  /**
   * The folded weights in HWIO, or null while {@linkcode copy} holds them in the layout of the
   * last primitive that ran them (they are folded again for a primitive with another layout).
   */
  plain: Float32Array | null;
  /** Their copy in the forward primitive's layout. */
  readonly copy: WeightsCopy;
}

/**
 * The folded weights of the filter stored under `from[0]` for the inputs `from` (data ids and
 * eps), made by `fold` when there are none or they were made from other values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { foldedWeights } from "./weights_copies.ts";
 * const filter = {}, gamma = {};
 * const fold = () => ({ plain: new Float32Array(4), bias: new Float32Array(1) });
 * const f = foldedWeights([filter, gamma, 1e-5], fold);
 * assert.equal(foldedWeights([filter, gamma, 1e-5], fold), f);
 * assert.notEqual(foldedWeights([filter, {}, 1e-5], fold), f); // another gamma: folded anew
 * ```
 */
export function foldedWeights(
  from: readonly unknown[],
  fold: () => { plain: Float32Array; bias: Float32Array },
): FoldedWeights {
  const id = from[0] as object, known = folds.get(id);
  if (known && known.from.every((v, i) => v === from[i])) return known;
  const f = fold();
  const made = { from, ...f, copy: { values: null, by: null } };
  folds.set(id, made);
  return made;
}
