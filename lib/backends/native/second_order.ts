/**
 * Gradients of the `native` backend's own gradient kernels, so that a gradient of a gradient (a
 * Hessian-vector product, a gradient penalty) runs through them as it does through tfjs' ops:
 * `NativeSquareGrad` (`2 x dy`), `NativeReluGrad` (`dy` where `x > 0`) and `NativeBatchNormGradX`
 * (`dy scale / sqrt(variance + eps)` per channel, the last axis).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { secondOrderGradients } from "./second_order.ts";
 * assert.deepEqual(secondOrderGradients().map((g) => g.kernelName), [
 *   "NativeSquareGrad",
 *   "NativeReluGrad",
 *   "NativeBatchNormGradX",
 * ]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { NATIVE_BN_GRAD_X, NATIVE_RELU_GRAD, NATIVE_SQUARE_GRAD } from "./kernels/names.ts";

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;

const one = (dy: tf.Tensor | tf.Tensor[]) => (Array.isArray(dy) ? dy[0] : dy);

/** `dx = 2 x dy`: linear in each input. */
const squareGrad: tf.GradConfig = {
  kernelName: NATIVE_SQUARE_GRAD,
  inputsToSave: ["dy", "x"],
  gradFunc: (g, [dy, x]) => ({
    dy: () => tf.mul(one(g), tf.mul(x, 2)),
    x: () => tf.mul(one(g), tf.mul(dy, 2)),
  }),
};

/** `dx = dy step(x)`: the step's own gradient is zero, as tfjs' Relu gradient has it. */
const reluGrad: tf.GradConfig = {
  kernelName: NATIVE_RELU_GRAD,
  inputsToSave: ["x"],
  gradFunc: (g, [x]) => ({
    dy: () => run(NATIVE_RELU_GRAD, { dy: one(g), x }),
    x: () => tf.zerosLike(x),
  }),
};

/** `dx = dy scale rsqrt(variance + eps)`, per channel (the last axis). */
const batchNormGradX: tf.GradConfig = {
  kernelName: NATIVE_BN_GRAD_X,
  inputsToSave: ["dy", "variance", "scale"],
  gradFunc: (g, [dy, variance, scale], attrs) => {
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const gy = one(g);
    const outer = dy.shape.slice(0, -1).map((_, i) => i);
    // sum(g dy) per channel: what scale and variance receive, each times its own factor.
    const gdy = () => tf.sum(tf.mul(gy, dy), outer);
    const rs = () => tf.rsqrt(tf.add(variance, eps));
    return {
      dy: () => run(NATIVE_BN_GRAD_X, { dy: gy, variance, scale }, { varianceEpsilon: eps }),
      scale: () => tf.mul(gdy(), rs()),
      variance: () => tf.mul(gdy(), tf.mul(tf.mul(scale, -0.5), tf.pow(rs(), 3))),
    };
  },
};

/** The gradient configurations above, for ./gradients.ts to register. */
export function secondOrderGradients(): tf.GradConfig[] {
  return [squareGrad, reluGrad, batchNormGradX];
}
