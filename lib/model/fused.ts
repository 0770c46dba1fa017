/**
 * Ops that a backend may run as one kernel, and that every other backend composes from tfjs' own:
 * training-mode BatchNorm (optionally followed by ReLU), a convolution with its bias, a grouped
 * convolution (ResNeXt's), the residual add with the ReLU after it, and the SGD update. A backend that
 * registers {@linkcode BATCH_NORM_TRAIN} (the `native` one does) runs BatchNorm in two passes
 * forward and two backward, where tfjs' composite of `tf.moments`, `tf.batchNorm` and `tf.relu`
 * takes about twenty passes over the activation with their gradients; one that registers
 * {@linkcode SGD_UPDATE} updates each variable in one pass instead of two (`tf.train.sgd`'s
 * multiply, then add). On a CPU these loops are bound by memory traffic, so passes are the cost.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import assert from "node:assert/strict";
 * import { batchNormTrain } from "./fused.ts";
 * const x = tf.tensor4d([1, 2, 3, 4], [4, 1, 1, 1]);
 * const { y, mean, variance } = batchNormTrain(x, tf.ones([1]), tf.zeros([1]), 1e-5, true);
 * const round = (a: ArrayLike<number>) => Array.from(a, (v) => Math.round(v * 1000) / 1000);
 * assert.deepEqual(round(await y.data()), [0, 0, 0.447, 1.342]); // ReLU of (x - 2.5) / sqrt(1.25)
 * assert.deepEqual([...await mean.data(), ...await variance.data()], [2.5, 1.25]);
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
 * Kernel name of {@linkcode batchNormRunning}: inputs `runningMean`, `runningVar`, `mean`,
 * `variance`; attributes `momentum` and `count` (values per channel); outputs the new running mean
 * and variance.
 */
export const BATCH_NORM_RUNNING = "ResNetBatchNormRunning";

/**
 * BatchNorm's running statistics after a training batch, PyTorch's update:
 * `(1 - m) running + m batch`, the variance made unbiased (`count / (count - 1)`) first. One
 * kernel where the backend registers {@linkcode BATCH_NORM_RUNNING} (the same float32 arithmetic,
 * step by step), tfjs' ops elsewhere: seven tiny kernels per BatchNorm, 119 of a ResNet-18
 * training step's 779, whose dispatch cost more than their arithmetic (Zen 5, `bench --profile`
 * at 28x28 batch 64: Multiply 3.8 ms in 89 calls and Add 2.0 ms in 43, of which 85 and 34 were
 * these; with one kernel the step went from 80.4 to 74.2 ms, median of three alternated runs).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts";
 * import assert from "node:assert/strict";
 * import { batchNormRunning } from "./fused.ts";
 * const [mean, variance] = batchNormRunning(tf.zeros([1]), tf.ones([1]), tf.tensor1d([2]),
 *   tf.tensor1d([3]), 0.5, 4);
 * assert.deepEqual([...await mean.data(), ...await variance.data()], [1, 2.5]); // 0.5 + 0.5 * 4
 * ```
 */
export function batchNormRunning(
  runningMean: tf.Tensor,
  runningVar: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  momentum: number,
  count: number,
): [tf.Tensor, tf.Tensor] {
  if (tf.getKernel(BATCH_NORM_RUNNING, tf.getBackend())) {
    return tf.engine().runKernel(
      BATCH_NORM_RUNNING,
      { runningMean, runningVar, mean, variance },
      { momentum, count },
    ) as [tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const m = momentum;
    const unbiased = tf.mul(variance, count > 1 ? count / (count - 1) : 1);
    return [
      tf.add(tf.mul(runningMean, 1 - m), tf.mul(mean, m)),
      tf.add(tf.mul(runningVar, 1 - m), tf.mul(unbiased, m)),
    ];
  });
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
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import assert from "node:assert/strict";
 * import { conv2dBias } from "./fused.ts";
 * const y = conv2dBias(tf.ones([1, 3, 3, 1]), tf.ones([3, 3, 1, 2]), tf.tensor1d([0, 1]), 1, "valid");
 * assert.deepEqual([...await y.data()], [9, 10]);
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
 * Kernel name of an inference convolution with a BatchNorm (running statistics) and optionally a
 * ReLU after it, run as one convolution whose weights and bias fold the BatchNorm in (PyTorch's
 * `fuse_conv_bn_eval`). Inputs `x`, `filter`, `bias` (optional), `gamma`, `beta`, `mean`,
 * `variance`; attributes `strides`, `pad`, `eps`, `relu`. No gradient: only for the test pass.
 */
export const CONV_BN = "ResNetConvBn";

/** The BatchNorm after a convolution, as {@linkcode convBnInference} takes it. */
export interface FoldedBatchNorm {
  gamma: tf.Tensor;
  beta: tf.Tensor;
  mean: tf.Tensor;
  variance: tf.Tensor;
  eps: number;
}

/**
 * `relu?(batchNorm(conv2d(x, filter) + bias))` with the BatchNorm's running statistics, as one
 * {@linkcode CONV_BN} kernel where the backend has it and no tape records; null elsewhere (the
 * caller runs the layers one by one). The fold rounds differently from the three ops in a row:
 * `w * s` and `(bias - mean) * s + beta` with `s = gamma / sqrt(variance + eps)`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts";
 * import assert from "node:assert/strict";
 * import { convBnInference } from "./fused.ts";
 * const one = tf.ones([1]), zero = tf.zeros([1]);
 * const bn = { gamma: one, beta: zero, mean: zero, variance: one, eps: 0 };
 * const y = convBnInference(tf.ones([1, 3, 3, 1]), tf.ones([3, 3, 1, 1]), null, bn, 1, "valid", true);
 * assert.equal(y, null); // the cpu backend has no such kernel: the caller runs the layers
 * ```
 */
export function convBnInference(
  x: tf.Tensor4D,
  filter: tf.Tensor,
  bias: tf.Tensor | null,
  bn: FoldedBatchNorm,
  strides: number,
  pad: ConvPad,
  relu: boolean,
): tf.Tensor4D | null {
  const depth = (tf.engine() as unknown as { state: { gradientDepth: number } }).state
    .gradientDepth;
  if (depth > 0 || x.dtype !== "float32" || x.size === 0) return null;
  if (!tf.getKernel(CONV_BN, tf.getBackend())) return null;
  const inputs: tf.NamedTensorMap = { x, filter, gamma: bn.gamma, beta: bn.beta };
  Object.assign(inputs, { mean: bn.mean, variance: bn.variance });
  if (bias) inputs.bias = bias;
  return tf.engine().runKernel(CONV_BN, inputs, {
    strides,
    pad: pad as unknown as tf.NamedAttrMap["pad"],
    eps: bn.eps,
    relu,
  }) as tf.Tensor4D;
}

/**
 * Kernel name of a grouped 2-D convolution, NHWC/HWIO, without bias (tfjs' conv2d has no groups).
 * Inputs `x` `[n, h, w, inChannels]` and `filter` `[kh, kw, inChannels / groups, outChannels]`;
 * attributes `strides` (one number for both axes), `pad` ({@linkcode ConvPad}) and `groups`
 * (> 1; it divides both channel counts). Output channels `g * outChannels / groups` up to
 * `(g + 1) * outChannels / groups` are computed from input channels `g * inChannels / groups` up
 * to `(g + 1) * inChannels / groups` only, with filter columns of those same output channels:
 * PyTorch's grouping, so a PyTorch weight `[out, in / groups, kh, kw]` transposed to
 * `[kh, kw, in / groups, out]` is this filter (and oneDNN's `G x OC/G x IC/G x KH x KW` is its
 * reshape). A backend that registers it also registers its gradient (with respect to `x` and
 * `filter`).
 */
export const GROUPED_CONV2D = "ResNetGroupedConv2d";

/**
 * A grouped convolution (PyTorch's `groups`; see {@linkcode GROUPED_CONV2D} for the contract):
 * that kernel where the backend registers it; elsewhere `x` split into `groups` along its
 * channels, `filter` split into `groups` along its last axis, each pair convolved and the results
 * concatenated (tfjs differentiates that composite). `groups === 1` is plain `tf.conv2d`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import assert from "node:assert/strict";
 * import { groupedConv2d } from "./fused.ts";
 * // Two groups of one channel: output 0 sees input 0 only (x 1), output 1 input 1 only (x 10).
 * const x = tf.tensor4d([1, 2], [1, 1, 1, 2]), f = tf.tensor4d([1, 10], [1, 1, 1, 2]);
 * assert.deepEqual([...await groupedConv2d(x, f, 1, "valid", 2).data()], [1, 20]);
 * ```
 */
export function groupedConv2d(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number,
  pad: ConvPad,
  groups: number,
): tf.Tensor4D {
  if (groups === 1) return tf.conv2d(x, filter, strides, pad);
  const [inC, outC] = [x.shape[3], filter.shape[3]];
  if (inC !== filter.shape[2] * groups || outC % groups !== 0) {
    throw new RangeError(
      `groupedConv2d: ${groups} groups need input channels ${filter.shape[2]} x ${groups} ` +
        `(got ${inC}) and output channels divisible by ${groups} (got ${outC})`,
    );
  }
  if (tf.getKernel(GROUPED_CONV2D, tf.getBackend()) && x.dtype === "float32") {
    return tf.engine().runKernel(
      GROUPED_CONV2D,
      { x, filter },
      { strides, pad: pad as unknown as tf.NamedAttrMap["pad"], groups },
    ) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const xs = tf.split(x, groups, 3) as tf.Tensor4D[];
    const fs = tf.split(filter, groups, 3) as tf.Tensor4D[];
    return tf.concat(xs.map((xg, g) => tf.conv2d(xg, fs[g], strides, pad)), 3) as tf.Tensor4D;
  });
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
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import assert from "node:assert/strict";
 * import { addRelu } from "./fused.ts";
 * assert.deepEqual([...await addRelu(tf.tensor1d([1, -3]), tf.tensor1d([1, 2])).data()], [2, 0]);
 * ```
 */
export function addRelu<T extends tf.Tensor>(a: T, b: T): T {
  if (tf.getKernel(ADD_RELU, tf.getBackend()) && a.dtype === "float32") {
    return tf.engine().runKernel(ADD_RELU, { a, b }) as T;
  }
  return tf.relu(tf.add(a, b));
}

/**
 * Kernel name of {@linkcode maxPoolTrain}: input `x`; attributes `filterSize`, `strides`, `pad`
 * (numbers, as `tf.maxPool`'s) and `inShape` (x's shape); outputs `y` and the argmax (oneDNN's
 * workspace), which is all its gradient keeps.
 */
export const MAX_POOL_TRAIN = "ResNetMaxPoolTrain";

/**
 * `tf.maxPool(x, filterSize, strides, pad)` in a training pass. Where the backend has the kernel
 * (`native` on oneDNN) the gradient keeps only the argmax, not the input and output that tfjs'
 * MaxPool keeps: at 96x96 the input is the stem's largest activation (144 MiB at batch 256).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { maxPoolTrain } from "./fused.ts";
 * import assert from "node:assert/strict";
 * const y = maxPoolTrain(tf.tensor4d([1, 4, 2, 3], [1, 2, 2, 1]), 2, 2, 0);
 * assert.deepEqual([...await y.data()], [4]);
 * ```
 */
export function maxPoolTrain(
  x: tf.Tensor4D,
  filterSize: number,
  strides: number,
  pad: number,
): tf.Tensor4D {
  if (tf.getKernel(MAX_POOL_TRAIN, tf.getBackend()) && x.dtype === "float32" && x.size > 0) {
    const attrs = { filterSize, strides, pad, inShape: x.shape };
    const [y, workspace] = tf.engine().runKernel(MAX_POOL_TRAIN, { x }, attrs) as tf.Tensor4D[];
    workspace.dispose(); // the gradient tape keeps its own copy
    return y;
  }
  return tf.maxPool(x, filterSize, strides, pad);
}

/**
 * Kernel name of {@linkcode fork}: input `x`, two outputs that are `x` (its data, shared).
 */
export const FORK = "ResNetFork";

/**
 * `x` for two consumers (a block's branch and its shortcut), as two tensors. Where the backend
 * has the kernel (`native`), the two gradients meet in its own gradient, which frees them once
 * summed; tfjs' tape would instead keep the second one until the whole backward pass ends (its
 * accumulation never frees what it adds), one activation-sized gradient per residual block.
 * Elsewhere it returns `[x, x]`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { fork } from "./fused.ts";
 * import assert from "node:assert/strict";
 * const x = tf.tensor1d([1, 2]);
 * const [a, b] = fork(x);
 * assert.deepEqual([...await a.data()], [...await b.data()]);
 * ```
 */
export function fork<T extends tf.Tensor>(x: T): [T, T] {
  if (tf.getKernel(FORK, tf.getBackend()) && x.dtype === "float32") {
    const [a, b] = tf.engine().runKernel(FORK, { x }) as T[];
    return [a, b];
  }
  return [x, x];
}

/**
 * Kernel name of the SGD update of `torch.optim.SGD` (dampening 0). Inputs `value`, `gradient`
 * and, when `momentum > 0`, `buffer` (the momentum buffer); attributes `lr`, `momentum`, `nesterov`
 * and `weightDecay`, and `donate` (the caller replaces value and buffer by the outputs: the kernel
 * may write over them). Outputs the new value, and with momentum the new buffer:
 * `g = gradient + weightDecay * value`; `b = momentum * buffer + g`;
 * `d = nesterov ? g + momentum * b : b` (`d = g` without momentum); `value - lr * d`. With
 * neither momentum nor weight decay it is PyTorch's `value.add_(gradient, alpha=-lr)`, one rounding
 * of `value + fround(-lr) * gradient` (`tf.train.sgd` rounds the product first).
 */
export const SGD_UPDATE = "ResNetSgdUpdate";

/** Options of {@linkcode SGD}: `torch.optim.SGD`'s arguments (dampening is always 0). */
export interface SGDOptions {
  /** Momentum factor (default 0: plain SGD, no buffers). */
  momentum?: number;
  /** Nesterov momentum (default false; needs `momentum > 0`). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient, `g += weightDecay * w`, before momentum (default 0). */
  weightDecay?: number;
  /**
   * Which variables weight decay applies to. Default: those of rank 2 or more (convolution and
   * dense weights), not the biases nor BatchNorm's scale and shift, which are vectors: decaying
   * them only restricts the network (common practice since Goyal et al., 2017).
   */
  decays?: (v: tf.Variable) => boolean;
}

/** Weight decay's default target: variables of rank 2 or more (no biases, no BatchNorm). */
const decaysByRank = (v: tf.Variable) => v.rank > 1;

/**
 * `torch.optim.SGD` (momentum, Nesterov, weight decay; dampening 0) over tfjs' `tf.train.sgd`.
 * Each variable's update is one {@linkcode SGD_UPDATE} kernel where the backend registers it, and
 * tfjs ops elsewhere; without momentum and weight decay it is `tf.train.sgd` exactly on backends
 * without the kernel (its own update), and PyTorch's `add_` rounding with it. Momentum buffers start at zero (PyTorch's first step
 * copies the gradient into the buffer: the same values) and are kept per variable; read and
 * restore them with {@linkcode SGD.momentumOf} and {@linkcode SGD.setMomentum}.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import assert from "node:assert/strict";
 * import { SGD } from "./fused.ts";
 * const v = tf.variable(tf.scalar(1));
 * new SGD(0.5).minimize(() => tf.square(v) as tf.Scalar);
 * assert.deepEqual([...await v.data()], [0]); // 1 - 0.5 * 2
 * const w = tf.variable(tf.tensor1d([1])), opt = new SGD(0.1, { momentum: 0.9 });
 * for (let i = 0; i < 2; i++) opt.minimize(() => tf.sum(w) as tf.Scalar);
 * const [wv] = await w.data(), [bv] = await opt.momentumOf(w)!.data();
 * assert.deepEqual([wv, bv].map((x) => Math.round(x * 1e5) / 1e5), [0.71, 1.9]); // b = 0.9 + 1
 * ```
 */
export class SGD extends tf.SGDOptimizer {
  /** Momentum factor. */
  readonly momentum: number;
  /** Whether the momentum is Nesterov's. */
  readonly nesterov: boolean;
  /** Weight decay (L2 penalty on the gradient). */
  readonly weightDecay: number;
  readonly #decays: (v: tf.Variable) => boolean;
  /** Momentum buffers by variable name. */
  readonly #buffers = new Map<string, tf.Variable>();

  /**
   * @param learningRate The step size (change it with `setLearningRate`).
   * @param opts Momentum, Nesterov and weight decay; see {@linkcode SGDOptions}.
   */
  constructor(learningRate: number, opts: SGDOptions = {}) {
    super(learningRate);
    this.momentum = opts.momentum ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    this.#decays = opts.decays ?? decaysByRank;
    if (!(this.momentum >= 0) || !(this.weightDecay >= 0)) {
      throw new RangeError(`SGD: momentum and weight decay must be >= 0`);
    }
    if (this.nesterov && this.momentum === 0) {
      throw new RangeError("SGD: Nesterov momentum needs a momentum above 0");
    }
  }

  /** The learning rate in use. */
  get lr(): number {
    return this.learningRate;
  }

  /** The momentum buffer of `v` (undefined before its first update or without momentum). */
  momentumOf(v: tf.Variable): tf.Variable | undefined {
    return this.#buffers.get(v.name);
  }

  /** Sets the momentum buffer of `v` (zeros when `values` is null), e.g. from a checkpoint. */
  setMomentum(v: tf.Variable, values: Float32Array | null): void {
    if (this.momentum === 0) throw new RangeError("SGD: no momentum buffers without momentum");
    const init = values ? tf.tensor(values, v.shape, "float32") : tf.zerosLike(v);
    const b = this.#buffers.get(v.name);
    if (b) b.assign(init);
    else this.#buffers.set(v.name, tf.variable(init, false));
    init.dispose();
  }

  /** One update of each named variable (see {@linkcode SGD_UPDATE}); counts one iteration. */
  override applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void {
    const fused = !!tf.getKernel(SGD_UPDATE, tf.getBackend());
    if (!fused && this.momentum === 0 && this.weightDecay === 0) {
      return super.applyGradients(grads); // tf.train.sgd, bit for bit
    }
    const list = Array.isArray(grads)
      ? grads.map((g) => [g.name, g.tensor] as const)
      : Object.entries(grads);
    for (const [name, gradient] of list) {
      if (gradient == null) continue;
      const value = tf.engine().registeredVariables[name];
      if (this.momentum > 0 && !this.#buffers.has(name)) this.setMomentum(value, null);
      const f32 = value.dtype === "float32" && gradient.dtype === "float32";
      tf.tidy(() => (fused && f32 ? this.#fused : this.#composite)(value, gradient));
    }
    this.incrementIterations();
  }

  /** The update as one kernel. */
  #fused = (value: tf.Variable, gradient: tf.Tensor): void => {
    const buffer = this.#buffers.get(value.name);
    const inputs: tf.NamedTensorMap = buffer ? { value, gradient, buffer } : { value, gradient };
    const out = tf.engine().runKernel(SGD_UPDATE, inputs, {
      lr: this.learningRate,
      momentum: this.momentum,
      nesterov: this.nesterov,
      weightDecay: this.#decays(value) ? this.weightDecay : 0,
      donate: true, // both are replaced by the outputs below: the kernel may write over them
    }) as tf.Tensor | tf.Tensor[];
    const [v, b] = Array.isArray(out) ? out : [out];
    value.assign(v);
    if (buffer) buffer.assign(b);
  };

  /** The update from tfjs ops, in the kernel's order (the last step as tf.train.sgd's). */
  #composite = (value: tf.Variable, gradient: tf.Tensor): void => {
    let g = gradient;
    if (this.weightDecay > 0 && this.#decays(value)) g = tf.add(g, tf.mul(this.weightDecay, value));
    const buffer = this.#buffers.get(value.name);
    if (buffer) {
      const b = tf.add(tf.mul(this.momentum, buffer), g);
      buffer.assign(b);
      g = this.nesterov ? tf.add(g, tf.mul(this.momentum, b)) : b;
    }
    value.assign(tf.add(tf.mul(this.c, g), value));
  };

  /** Frees the learning-rate scalar and the momentum buffers. */
  override dispose(): void {
    for (const b of this.#buffers.values()) b.dispose();
    this.#buffers.clear();
    super.dispose();
  }
}
