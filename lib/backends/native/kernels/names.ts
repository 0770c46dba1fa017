/**
 * Names of the kernels that exist only on `native`: the pieces of single-pass gradients that
 * ../gradients.ts asks for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NATIVE_RELU_GRAD } from "./names.ts";
 * assert.equal(NATIVE_RELU_GRAD, "NativeReluGrad");
 * ```
 * @module
 */

/** BatchNorm's input gradient (inputs dy, variance, scale). */
export const NATIVE_BN_GRAD_X = "NativeBatchNormGradX";
/** Per-channel `sum(dy)`, or `sum(dy * (x - mean))` given x and mean. */
export const NATIVE_CHANNEL_SUMS = "NativeChannelSums";
/**
 * The gradients of `BATCH_NORM_TRAIN` (inputs dy, x, y, mean, variance, scale, offset, and
 * oneDNN's ReLU mask `workspace` when the forward pass made one; attributes varianceEpsilon, relu;
 * outputs dx, dscale, doffset).
 */
export const NATIVE_BN_TRAIN_GRAD = "NativeBatchNormTrainGrad";
/**
 * The filter and bias gradients of `CONV2D_BIAS` in one call (inputs x, dy; attributes strides,
 * pad, filterShape; outputs dw, db).
 */
export const NATIVE_CONV_FILTER_BIAS_GRAD = "NativeConv2dFilterBiasGrad";
/** ReLU's gradient (inputs dy, x; x may be ReLU's output, whose sign is the same). */
export const NATIVE_RELU_GRAD = "NativeReluGrad";
/** The gradient of `square`, `2 x dy` (inputs dy, x). */
export const NATIVE_SQUARE_GRAD = "NativeSquareGrad";
