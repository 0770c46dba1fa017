/**
 * Ops that a backend may run as one kernel, and that every other backend composes from tfjs' own:
 * training-mode BatchNorm (optionally followed by ReLU), a convolution with its bias, the residual
 * add with the ReLU after it, and the SGD update. A backend that
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

/** tfjs' padding of a 2-D convolution: "valid", "same" or explicit NHWC pairs. */
export type ConvPad = "valid" | "same" | [[0, 0], [number, number], [number, number], [0, 0]];

/**
 * Kernel name of a 2-D convolution plus a per-channel bias, NHWC/HWIO. Inputs `x`, `filter`,
 * `bias`; attributes `strides`, `pad` and `inputIsData` (the input needs no gradient: the images).
 * A backend that registers it also registers its gradient: the filter and bias gradients from one
 * pass over the output gradient, and no input gradient for data.
 */
export const CONV2D_BIAS = "ResNetConv2dBias";

/**
 * `conv2d(x, filter) + bias` with PyTorch's padding given as tfjs' `pad`. Where the backend has
 * {@linkcode CONV2D_BIAS} it is that one kernel; elsewhere tfjs' fused convolution, or for data
 * (`inputIsData`) a plain convolution and an add, so that no input gradient is computed.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs"; // the cpu backend and every gradient
 * import { conv2dBias } from "./fused.ts";
 * const y = conv2dBias(tf.ones([1, 3, 3, 1]), tf.ones([3, 3, 1, 2]), tf.tensor1d([0, 1]), 1, "valid");
 * console.log(await y.data()); // [9, 10]
 * ```
 */
export function conv2dBias(
  x: tf.Tensor4D,
  filter: tf.Tensor,
  bias: tf.Tensor,
  strides: number,
  pad: ConvPad,
  inputIsData = false,
): tf.Tensor4D {
  if (tf.getKernel(CONV2D_BIAS, tf.getBackend()) && x.dtype === "float32") {
    return tf.engine().runKernel(
      CONV2D_BIAS,
      { x, filter, bias },
      { strides, pad: pad as unknown as tf.NamedAttrMap["pad"], inputIsData },
    ) as tf.Tensor4D;
  }
  const f = filter as tf.Tensor4D;
  if (inputIsData) return tf.add(tf.conv2d(x, f, strides, pad), bias);
  return tf.fused.conv2d({ x, filter: f, strides, pad, bias });
}

/**
 * Kernel name of `relu(a + b)` for two tensors of one shape (the end of a residual block). Inputs
 * `a`, `b`; output the sum's ReLU. Its gradient needs only the output: `dy` where it is positive.
 */
export const ADD_RELU = "ResNetAddRelu";

/**
 * `relu(a + b)`: one kernel where the backend registers {@linkcode ADD_RELU} (one pass instead of
 * two, and the sum is never kept for the gradient), tfjs' add and relu elsewhere.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs"; // the cpu backend and every gradient
 * import { addRelu } from "./fused.ts";
 * console.log(await addRelu(tf.tensor1d([1, -3]), tf.tensor1d([1, 2])).data()); // [2, 0]
 * ```
 */
export function addRelu<T extends tf.Tensor>(a: T, b: T): T {
  if (tf.getKernel(ADD_RELU, tf.getBackend()) && a.dtype === "float32") {
    return tf.engine().runKernel(ADD_RELU, { a, b }) as T;
  }
  return tf.relu(tf.add(a, b));
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
