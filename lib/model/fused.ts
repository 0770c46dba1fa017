/**
 * Ops that a backend may run as one kernel, and that every other backend composes from tfjs' own:
 * training-mode BatchNorm (optionally followed by ReLU) and the SGD update. A backend that
 * registers {@linkcode BATCH_NORM_TRAIN} (the `native` one does) runs BatchNorm in two passes
 * forward and two backward, where tfjs' composite of `tf.moments`, `tf.batchNorm` and `tf.relu`
 * takes about twenty passes over the activation with their gradients; one that registers
 * {@linkcode SGD_UPDATE} updates each variable in one pass instead of two (`tf.train.sgd`'s
 * multiply, then add). On a CPU these loops are bound by memory traffic, so passes are the cost.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs"; // the cpu backend and every gradient
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
 * the batch `mean` and the biased batch `variance` (per channel), and optionally whatever else the
 * backend's gradient needs (callers ignore it).
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
    const [y, mean, variance, ...rest] = tf.engine().runKernel(
      BATCH_NORM_TRAIN,
      { x, scale, offset },
      { varianceEpsilon: eps, relu },
    ) as tf.Tensor[];
    // A backend may return more (oneDNN's ReLU mask); the gradient tape keeps its own copy.
    tf.dispose(rest);
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

/**
 * Kernel name of the SGD update `value - lr * gradient`. Inputs `value`, `gradient`; attribute
 * `lr`; output the new value.
 */
export const SGD_UPDATE = "ResNetSgdUpdate";

/**
 * `tf.train.sgd` whose update is one {@linkcode SGD_UPDATE} kernel per variable where the backend
 * registers it (the same arithmetic, in one pass), and tfjs' own update elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs"; // the cpu backend and every gradient
 * import { SGD } from "./fused.ts";
 * const v = tf.variable(tf.scalar(1));
 * new SGD(0.5).minimize(() => tf.square(v) as tf.Scalar);
 * console.log(await v.data()); // [0]: 1 - 0.5 * 2
 * ```
 */
export class SGD extends tf.SGDOptimizer {
  /**
   * `value -= learningRate * gradient` for each named variable, through {@linkcode SGD_UPDATE}
   * when the current backend registers it (tfjs' own update otherwise); counts one iteration.
   */
  override applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    if (!tf.getKernel(SGD_UPDATE, tf.getBackend())) return super.applyGradients(grads);
    const list = Array.isArray(grads)
      ? grads.map((g) => [g.name, g.tensor] as const)
      : Object.entries(grads);
    for (const [name, gradient] of list) {
      if (gradient == null) continue;
      const value = tf.engine().registeredVariables[name];
      if (value.dtype !== "float32" || gradient.dtype !== "float32") {
        tf.tidy(() => value.assign(tf.add(tf.mul(-this.learningRate, gradient), value)));
        continue;
      }
      tf.tidy(() =>
        value.assign(
          tf.engine().runKernel(SGD_UPDATE, { value, gradient }, {
            lr: this.learningRate,
          }) as tf.Tensor,
        )
      );
    }
    this.incrementIterations();
  }
}
