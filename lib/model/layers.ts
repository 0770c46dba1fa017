/**
 * The layers d2l's ResNet is built from, with PyTorch's semantics and d2l's initialisation:
 * {@linkcode Conv2d}, {@linkcode BatchNorm2d} and {@linkcode Linear}. Each adds its variables to a
 * shared {@linkcode ParamStore} under PyTorch-like names (`b2.0.conv1.weight`); constructors take
 * keyword options, as d2l's and torchvision's do.
 *
 * Tensors are NHWC (tfjs' layout); conv weights are HWIO (`[kh, kw, in, out]`), dense weights
 * `[in, out]`. Padding is PyTorch's symmetric padding, never TensorFlow's "same".
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import { Conv2d, type ParamStore } from "./layers.ts";
 * import assert from "node:assert/strict";
 * import { mulberry32 } from "../rng.ts";
 * const store: ParamStore = new Map();
 * const conv = new Conv2d({
 *   name: "c", store, rand: mulberry32(0), inChannels: 1, outChannels: 4, kernel: 3, padding: 1,
 * });
 * assert.deepEqual(conv.apply(tf.zeros([2, 8, 8, 1]) as tf.Tensor4D).shape, [2, 8, 8, 4]);
 * assert.deepEqual([...store.keys()], ["c.weight", "c.bias"]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  batchNormRunning,
  batchNormTrain,
  conv2dBias,
  convBnInference,
  type ConvPad,
  groupedConv2d,
} from "./fused.ts";

/** BatchNorm epsilon, as PyTorch's default. */
export const BN_EPS = 1e-5;
/** BatchNorm momentum in PyTorch's convention: running = (1 - m) running + m batch. */
export const BN_MOMENTUM = 0.1;

/** A named tensor store shared by the layers of one network; insertion order is PyTorch's. */
export type ParamStore = Map<string, tf.Variable>;

function uniform(rand: () => number, shape: number[], limit: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (rand() * 2 - 1) * limit;
  return tf.tensor(v, shape, "float32");
}

/** Normal samples N(0, std^2) by Box-Muller from `rand` (two uniforms per pair of samples). */
function normal(rand: () => number, shape: number[], std: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())), t = 2 * Math.PI * rand();
    v[i] = r * Math.cos(t) * std;
    if (i + 1 < n) v[i + 1] = r * Math.sin(t) * std;
  }
  return tf.tensor(v, shape, "float32");
}

/** What `add` is told for a buffer: saved and loaded, never trained. */
const BUFFER = { trainable: false };

/** A parameter (trained) or, with {@linkcode BUFFER}, a buffer (running statistics). */
function add(
  store: ParamStore,
  name: string,
  value: tf.Tensor,
  opts: { trainable: boolean } = { trainable: true },
): tf.Variable {
  if (store.has(name)) throw new Error(`duplicate parameter ${name}`);
  // No tf.variable name: tfjs names are global, and two networks must coexist.
  const v = tf.variable(value, opts.trainable);
  value.dispose();
  store.set(name, v);
  return v;
}

/** What every layer is given: its name prefix and the network's parameter store. */
export interface LayerOptions {
  /** Parameter name prefix, e.g. `b2.0.conv1`. */
  name: string;
  /** The network's parameter store; receives `<name>.weight`, `<name>.bias`, ... */
  store: ParamStore;
}

/** Options of {@linkcode Conv2d} (PyTorch's `nn.Conv2d` keyword arguments). */
export interface Conv2dOptions extends LayerOptions {
  /** Initialisation randomness (consumed for the weight, then the bias). */
  rand: () => number;
  /** Input channels. */
  inChannels: number;
  /** Output channels (filters). */
  outChannels: number;
  /** Square kernel size. */
  kernel: number;
  /** Stride in height and width (default 1). */
  stride?: number;
  /** Zero padding on each side of height and width, as PyTorch's `padding` (default 0). */
  padding?: number;
  /**
   * Groups, as PyTorch's `groups` (default 1): output channels `g * out / groups` onwards see
   * only input channels `g * in / groups` onwards; the filter is `[k, k, in / groups, out]`.
   */
  groups?: number;
  /** Whether the layer has a bias (default true, d2l's; torchvision's ResNet convs have none). */
  bias?: boolean;
  /**
   * The weight's initialisation: `"xavier"` (d2l's `init_weights`: Xavier-uniform, the default)
   * or `"kaiming"` (torchvision's ResNet: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
   */
  init?: "xavier" | "kaiming";
}

/** Options of {@linkcode Conv2d.apply}. */
export interface ConvApplyOptions {
  /**
   * The input needs no gradient (the images): its input gradient, the costliest of the network's,
   * is then never computed.
   */
  inputIsData?: boolean;
}

/**
 * A 2-D convolution (optionally grouped, optionally without bias) with PyTorch's symmetric zero
 * padding. Weights are HWIO (`[kh, kw, in / groups, out]`), Xavier-uniform as d2l's
 * `init_weights` or Kaiming-normal as torchvision's; the bias keeps PyTorch's default
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Fans are PyTorch's: fan_in `in / groups * k * k`, fan_out
 * `out * k * k`.
 */
export class Conv2d {
  /** Parameter name prefix. */
  readonly name: string;
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Square kernel size. */
  readonly kernel: number;
  /** Stride. */
  readonly stride: number;
  /** Symmetric zero padding. */
  readonly padding: number;
  /** Groups (1: an ordinary convolution). */
  readonly groups: number;
  /** HWIO filter `[kernel, kernel, inChannels / groups, outChannels]`, named `<name>.weight`. */
  readonly weight: tf.Variable;
  /** Bias `[outChannels]`, named `<name>.bias`; null for a convolution without bias. */
  readonly bias: tf.Variable | null;
  /** Creates and initialises the layer's variables and adds them to `opts.store`. */
  constructor(opts: Conv2dOptions) {
    const { name, store, rand, inChannels, outChannels, kernel } = opts;
    this.name = name;
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernel = kernel;
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const g = this.groups = opts.groups ?? 1;
    if (!(Number.isInteger(g) && g > 0 && inChannels % g === 0 && outChannels % g === 0)) {
      throw new RangeError(`${name}: ${g} groups do not divide ${inChannels} -> ${outChannels}`);
    }
    const shape = [kernel, kernel, inChannels / g, outChannels];
    const fanIn = (inChannels / g) * kernel * kernel, fanOut = outChannels * kernel * kernel;
    this.weight = add(
      store,
      `${name}.weight`,
      opts.init === "kaiming"
        ? normal(rand, shape, Math.sqrt(2 / fanOut))
        : uniform(rand, shape, Math.sqrt(6 / (fanIn + fanOut))),
    );
    this.bias = opts.bias === false
      ? null
      : add(store, `${name}.bias`, uniform(rand, [outChannels], 1 / Math.sqrt(fanIn)));
  }
  /**
   * Convolves an NHWC batch and adds the bias: one ../model/fused.ts `conv2dBias` for an
   * ungrouped convolution with bias (d2l's), `groupedConv2d` (then the bias) otherwise.
   */
  apply(x: tf.Tensor4D, opts: ConvApplyOptions = {}): tf.Tensor4D {
    const p = this.padding;
    const pad: ConvPad = p === 0 ? "valid" : [[0, 0], [p, p], [p, p], [0, 0]];
    if (this.groups === 1 && this.bias) {
      return conv2dBias(x, this.weight, this.bias, this.stride, pad, opts.inputIsData ?? false);
    }
    const y = groupedConv2d(x, this.weight as tf.Tensor4D, this.stride, pad, this.groups);
    return this.bias ? tf.add(y, this.bias) : y;
  }
}

/** Options of {@linkcode BatchNorm2d} (PyTorch's `nn.BatchNorm2d` keyword arguments). */
export interface BatchNorm2dOptions extends LayerOptions {
  /** Channels normalised (the last NHWC axis). */
  channels: number;
  /** Added to the variance before the square root (default {@linkcode BN_EPS}). */
  eps?: number;
  /** Weight of the batch statistics in the running update (default {@linkcode BN_MOMENTUM}). */
  momentum?: number;
}

/** Options of {@linkcode BatchNorm2d.apply}. */
export interface BatchNormApplyOptions {
  /** Training mode: normalise with the batch's statistics and update the running ones. */
  training: boolean;
  /** Apply ReLU to the result (one fused kernel where the backend has one). Default false. */
  relu?: boolean;
}

/**
 * BatchNorm over NHWC channels with PyTorch's semantics: training mode normalises with the biased
 * batch variance and updates the running variance with the unbiased one (n / (n - 1)).
 */
export class BatchNorm2d {
  /** Parameter name prefix. */
  readonly name: string;
  /** Channels normalised. */
  readonly channels: number;
  /** Added to the variance before the square root. */
  readonly eps: number;
  /** Weight of the batch statistics in the running update. */
  readonly momentum: number;
  /** Scale (gamma) `[channels]`, initially ones; named `<name>.weight`. */
  readonly weight: tf.Variable;
  /** Shift (beta) `[channels]`, initially zeros; named `<name>.bias`. */
  readonly bias: tf.Variable;
  /** Running mean `[channels]` (not trainable), initially zeros; `<name>.running_mean`. */
  readonly runningMean: tf.Variable;
  /** Running unbiased variance `[channels]` (not trainable), initially ones; `<name>.running_var`. */
  readonly runningVar: tf.Variable;
  /** Creates the layer's variables and adds them to `opts.store`. */
  constructor(opts: BatchNorm2dOptions) {
    const { name, store, channels } = opts;
    this.name = name;
    this.channels = channels;
    this.eps = opts.eps ?? BN_EPS;
    this.momentum = opts.momentum ?? BN_MOMENTUM;
    this.weight = add(store, `${name}.weight`, tf.ones([channels]));
    this.bias = add(store, `${name}.bias`, tf.zeros([channels]));
    this.runningMean = add(store, `${name}.running_mean`, tf.zeros([channels]), BUFFER);
    this.runningVar = add(store, `${name}.running_var`, tf.ones([channels]), BUFFER);
  }
  /**
   * Normalises, then applies ReLU when `opts.relu` is set; in training mode (`opts.training`)
   * with the batch's statistics, and also updates the running ones (as PyTorch does).
   */
  apply(x: tf.Tensor4D, opts: BatchNormApplyOptions): tf.Tensor4D {
    const { training, relu = false } = opts;
    if (!training) {
      const y = tf.batchNorm4d(
        x,
        this.runningMean as tf.Tensor1D,
        this.runningVar as tf.Tensor1D,
        this.bias as tf.Tensor1D,
        this.weight as tf.Tensor1D,
        this.eps,
      );
      // y is this layer's own and read by nothing else: the ReLU may write over it (`donate`,
      // where the backend can: the test pass at 96x96 then needs one stem-sized buffer fewer).
      return relu ? tf.engine().runKernel(tf.Relu, { x: y }, { donate: true }) as tf.Tensor4D : y;
    }
    const { y, mean, variance } = batchNormTrain(x, this.weight, this.bias, this.eps, relu);
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    const m = this.momentum;
    // Running statistics are not differentiated: assign() is outside the gradient tape's view.
    tf.tidy(() => {
      const [runningMean, runningVar] = batchNormRunning(
        this.runningMean,
        this.runningVar,
        mean,
        variance,
        m,
        n,
      );
      this.runningMean.assign(runningMean);
      this.runningVar.assign(runningVar);
    });
    return y;
  }
}

/**
 * `bn(conv(x))`, then ReLU when `opts.relu`: in inference one convolution with the BatchNorm
 * folded into its weights where the backend has that kernel (../model/fused.ts `convBnInference`;
 * on the native backend, measured on the Zen 5: BatchNorm and ReLU were 2.5 of about 18 ms of
 * oneDNN time in a 28x28 batch-64 test step of ResNet-18, and 26 of its 95 kernels), else the two
 * layers in a row.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts";
 * import assert from "node:assert/strict";
 * import { BatchNorm2d, Conv2d, convBn } from "./layers.ts";
 * const store = new Map();
 * const conv = new Conv2d({ name: "c", store, rand: Math.random, inChannels: 1, outChannels: 2, kernel: 3, padding: 1 });
 * const bn = new BatchNorm2d({ name: "bn", store, channels: 2 });
 * const y = convBn(conv, bn, tf.ones([1, 4, 4, 1]), { training: false, relu: true });
 * assert.deepEqual(y.shape, [1, 4, 4, 2]);
 * assert.ok((await y.data()).every((v) => v >= 0)); // the ReLU
 * ```
 */
export function convBn(
  conv: Conv2d,
  bn: BatchNorm2d,
  x: tf.Tensor4D,
  opts: BatchNormApplyOptions,
): tf.Tensor4D {
  if (!opts.training && conv.groups === 1) {
    const p = conv.padding;
    const pad: ConvPad = p === 0 ? "valid" : [[0, 0], [p, p], [p, p], [0, 0]];
    const folded = { gamma: bn.weight, beta: bn.bias, eps: bn.eps };
    const stats = { mean: bn.runningMean, variance: bn.runningVar };
    const y = convBnInference(
      x,
      conv.weight,
      conv.bias,
      { ...folded, ...stats },
      conv.stride,
      pad,
      opts.relu ?? false,
    );
    if (y) return y;
  }
  return bn.apply(conv.apply(x), opts);
}

/** Options of {@linkcode Linear} (PyTorch's `nn.Linear` keyword arguments). */
export interface LinearOptions extends LayerOptions {
  /** Initialisation randomness (consumed for the weight, then the bias). */
  rand: () => number;
  /** Input features. */
  inFeatures: number;
  /** Output features. */
  outFeatures: number;
  /** The weight's initialisation: `"xavier"` (d2l's, the default) or `"torch"` (nn.Linear's). */
  init?: "xavier" | "torch";
}

/**
 * A fully connected layer; weight `[in, out]`, Xavier-uniform (d2l's) or PyTorch's default
 * U(-1/sqrt(in), 1/sqrt(in)) (`init: "torch"`, torchvision's), PyTorch-default bias.
 */
export class Linear {
  /** Parameter name prefix. */
  readonly name: string;
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Weight `[inFeatures, outFeatures]`, named `<name>.weight`. */
  readonly weight: tf.Variable;
  /** Bias `[outFeatures]`, named `<name>.bias`. */
  readonly bias: tf.Variable;
  /** Creates and initialises the layer's variables and adds them to `opts.store`. */
  constructor(opts: LinearOptions) {
    const { name, store, rand, inFeatures, outFeatures } = opts;
    this.name = name;
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = add(
      store,
      `${name}.weight`,
      uniform(
        rand,
        [inFeatures, outFeatures],
        opts.init === "torch"
          ? 1 / Math.sqrt(inFeatures)
          : Math.sqrt(6 / (inFeatures + outFeatures)),
      ),
    );
    this.bias = add(store, `${name}.bias`, uniform(rand, [outFeatures], 1 / Math.sqrt(inFeatures)));
  }
  /** Maps `[n, in]` to `[n, out]`. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.weight as tf.Tensor2D, bias: this.bias }) as tf.Tensor2D;
  }
}
