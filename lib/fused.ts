/**
 * Training-mode BatchNorm (optionally followed by ReLU) as one op. A backend that registers the
 * kernel {@linkcode BATCH_NORM_TRAIN} (the `native` one does) runs it in two passes forward and two
 * backward; every other backend gets the same result from tfjs' composite of `tf.moments`,
 * `tf.batchNorm` and `tf.relu` (about twenty passes over the activation with their gradients).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { batchNormTrain } from "./fused.ts";
 * const x = tf.tensor4d([1, 2, 3, 4], [4, 1, 1, 1]);
 * const { y, mean, variance } = batchNormTrain(x, tf.ones([1]), tf.zeros([1]), 1e-5, true);
 * console.log(await y.data(), await mean.data(), await variance.data()); // [0, 0, 0.447, 1.342], [2.5], [1.25]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/**
 * Kernel name of training-mode BatchNorm over the last axis. Inputs `x`, `scale`, `offset`
 * (per channel); attributes `varianceEpsilon` and `relu` (apply ReLU to the result); outputs `y`,
 * the batch `mean` and the biased batch `variance` (per channel).
 */
export const BATCH_NORM_TRAIN = "ResNetBatchNormTrain";

/** The outputs of {@linkcode batchNormTrain}. */
export interface BatchNormTrainResult {
  /** The normalised (and, with `relu`, rectified) batch. */
  y: tf.Tensor4D;
  /** Per-channel batch mean. */
  mean: tf.Tensor1D;
  /** Per-channel biased batch variance (divided by n, as the normalisation uses). */
  variance: tf.Tensor1D;
}

/**
 * Normalises an NHWC batch with its own per-channel statistics, `scale` and `offset`, then applies
 * ReLU when `relu` is set; differentiable with respect to `x`, `scale` and `offset`.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  scale: tf.Tensor,
  offset: tf.Tensor,
  eps: number,
  relu: boolean,
): BatchNormTrainResult {
  if (tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) && x.dtype === "float32") {
    const [y, mean, variance] = tf.engine().runKernel(
      BATCH_NORM_TRAIN,
      { x, scale, offset },
      { varianceEpsilon: eps, relu },
    ) as tf.Tensor[];
    return {
      y: y as tf.Tensor4D,
      mean: mean as tf.Tensor1D,
      variance: variance as tf.Tensor1D,
    };
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  const normed = tf.batchNorm4d(
    x,
    mean as tf.Tensor1D,
    variance as tf.Tensor1D,
    offset as tf.Tensor1D,
    scale as tf.Tensor1D,
    eps,
  );
  return {
    y: relu ? tf.relu(normed) : normed,
    mean: mean as tf.Tensor1D,
    variance: variance as tf.Tensor1D,
  };
}
