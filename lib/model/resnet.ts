/**
 * d2l's ResNet (chapter "Modern Convolutional Neural Networks") as plain functions over tfjs tensors.
 *
 * The structure mirrors d2l's PyTorch code and torchvision's resnet.py: a {@linkcode Residual}
 * block, {@linkcode resnetBlock} (d2l's `resnet_block`, torchvision's `_make_layer`) and the
 * five-stage {@linkcode ResNet} whose stage depths come from {@linkcode DEPTHS} or any list.
 *
 * Tensors are NHWC inside (tfjs' native layout); weights are stored in tfjs layouts (conv HWIO,
 * dense [in, out]) under PyTorch-like names (`b2.0.conv1.weight`, `b1.1.running_mean`,
 * `fc.bias`), which map one to one onto d2l's `state_dict()` keys (see {@linkcode torchKey}).
 * Padding is PyTorch's symmetric padding, never TensorFlow's "same".
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { ResNet } from "./resnet.ts";
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([2, 96, 96, 1]), { training: false }));
 * console.log(logits.shape); // [2, 10]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's node build registers no gradients; the union package registers them all on the
// same tfjs-core instance (it requires @tensorflow/tfjs-core 4.22.0 like we do).
import "@tensorflow/tfjs";
import { batchNormTrain } from "./fused.ts";

/** Four stage depths (residual blocks per stage b2..b5). */
export type Stages = [number, number, number, number];

/** The depth table: d2l's ResNet-18 and ResNet-34 (torchvision's `resnet18`/`resnet34` layouts). */
export const DEPTHS: Readonly<Record<number, Stages>> = Object.freeze({
  18: [2, 2, 2, 2] as Stages,
  34: [3, 4, 6, 3] as Stages,
});

/** BatchNorm epsilon, as PyTorch's default. */
export const BN_EPS = 1e-5;
/** BatchNorm momentum in PyTorch's convention: running = (1 - m) running + m batch. */
export const BN_MOMENTUM = 0.1;

/** An error in a user-supplied model option; the CLI prints its message as one line. */
export class ConfigError extends Error {
  /** Always `"ConfigError"`, so callers can tell it apart from other errors. */
  override name = "ConfigError";
}

/** Options of {@linkcode ResNet}. `depth` and `stages` are alternatives; default depth 18. */
export interface ResNetOptions {
  /** A key of {@linkcode DEPTHS} (18 or 34). */
  depth?: number;
  /** Any four positive stage depths, e.g. `[1, 1, 1, 1]`; wins over `depth`. */
  stages?: readonly number[];
  /** Input channels (1 for Fashion-MNIST). */
  inChannels?: number;
  /** Output classes. */
  numClasses?: number;
  /** Channels of b1 and b2; b3..b5 have 2x, 4x, 8x (d2l: 64). */
  width?: number;
  /** Seed of the Xavier-uniform initialisation (same seed, same weights, on every backend). */
  seed?: number;
}

/** A fully resolved architecture, as stored with checkpoints. */
export interface ResNetConfig {
  /** 18 or 34 when `stages` equals that row of {@linkcode DEPTHS}, else null. */
  depth: number | null;
  /** Residual blocks in each of the stages b2..b5. */
  stages: Stages;
  /** Input channels (1 for Fashion-MNIST). */
  inChannels: number;
  /** Output classes (the dense layer's width). */
  numClasses: number;
  /** Channels of b1 and b2; b3..b5 have 2x, 4x and 8x. */
  width: number;
}

/**
 * Resolves `depth`/`stages` and the other options into a {@linkcode ResNetConfig}, validating
 * each; throws {@linkcode ConfigError} with a one-line message saying what is allowed.
 *
 * @example
 * ```ts
 * resolveConfig({ depth: 34 }).stages; // [3, 4, 6, 3]
 * resolveConfig({ stages: [1, 1, 1, 1], width: 8 }).depth; // null
 * ```
 */
export function resolveConfig(opts: ResNetOptions = {}): ResNetConfig {
  let stages: Stages;
  if (opts.stages !== undefined) {
    const s = opts.stages;
    if (s.length !== 4 || !s.every((n) => Number.isInteger(n) && n > 0)) {
      throw new ConfigError(
        `invalid stages ${JSON.stringify(s)}: give four positive integers, e.g. --stages 2,2,2,2`,
      );
    }
    stages = [s[0], s[1], s[2], s[3]];
  } else {
    const depth = opts.depth ?? 18;
    const row = DEPTHS[depth];
    if (!row) {
      throw new ConfigError(
        `unknown depth ${depth}: allowed are ${
          Object.keys(DEPTHS).join(", ")
        } (or any four stage depths with --stages a,b,c,d)`,
      );
    }
    stages = [...row];
  }
  const positive = (name: string, v: number | undefined, dflt: number) => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n <= 0) {
      throw new ConfigError(`invalid ${name} ${v}: give a positive integer`);
    }
    return n;
  };
  const depth = Object.entries(DEPTHS).find(([, row]) => row.every((n, i) => n === stages[i]));
  return {
    depth: depth ? Number(depth[0]) : null,
    stages,
    inChannels: positive("inChannels", opts.inChannels, 1),
    numClasses: positive("numClasses", opts.numClasses, 10),
    width: positive("width", opts.width, 64),
  };
}

/** Whether a forward pass uses batch statistics (and updates the running ones). */
export interface ApplyOptions {
  /** Training mode: BatchNorm uses batch statistics and updates its running statistics. */
  training: boolean;
  /** Called with each named intermediate output (NHWC), e.g. for the shape table. */
  trace?: (name: string, y: tf.Tensor) => void;
}

/** A named tensor store shared by the layers of one network; insertion order is PyTorch's. */
export type ParamStore = Map<string, tf.Variable>;

/** Seeded uniform numbers (mulberry32), so initial weights do not depend on the backend. */
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

function uniform(rand: () => number, shape: number[], limit: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (rand() * 2 - 1) * limit;
  return tf.tensor(v, shape, "float32");
}

function add(store: ParamStore, name: string, value: tf.Tensor, trainable = true): tf.Variable {
  if (store.has(name)) throw new Error(`duplicate parameter ${name}`);
  // No tf.variable name: tfjs names are global, and two networks must coexist.
  const v = tf.variable(value, trainable);
  value.dispose();
  store.set(name, v);
  return v;
}

/**
 * A 2-D convolution with bias and PyTorch's symmetric zero padding. Weights are HWIO
 * (`[kh, kw, in, out]`), Xavier-uniform as d2l's `init_weights`; the bias keeps PyTorch's default
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 */
export class Conv2d {
  /** HWIO filter `[kernel, kernel, inChannels, outChannels]`, named `<name>.weight`. */
  readonly weight: tf.Variable;
  /** Bias `[outChannels]`, named `<name>.bias`. */
  readonly bias: tf.Variable;
  /**
   * Creates and initialises the layer's variables and adds them to `store`.
   *
   * @param name Parameter name prefix, e.g. `b2.0.conv1`.
   * @param store The network's parameter store; receives `<name>.weight` and `<name>.bias`.
   * @param rand Initialisation randomness (consumed for the weight, then the bias).
   * @param inChannels Input channels.
   * @param outChannels Output channels (filters).
   * @param kernel Square kernel size.
   * @param stride Stride in height and width.
   * @param padding Zero padding on each side of height and width, as PyTorch's `padding`.
   */
  constructor(
    readonly name: string,
    store: ParamStore,
    rand: () => number,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly stride = 1,
    readonly padding = 0,
  ) {
    const fanIn = inChannels * kernel * kernel, fanOut = outChannels * kernel * kernel;
    this.weight = add(
      store,
      `${name}.weight`,
      uniform(rand, [kernel, kernel, inChannels, outChannels], Math.sqrt(6 / (fanIn + fanOut))),
    );
    this.bias = add(store, `${name}.bias`, uniform(rand, [outChannels], 1 / Math.sqrt(fanIn)));
  }
  /**
   * Convolves an NHWC batch. `inputIsData` marks an input that needs no gradient (the images):
   * tfjs' fused convolution computes every gradient eagerly, so that layer is a plain convolution
   * plus a bias add, whose input gradient is skipped (the stem's is the costliest of the net).
   */
  apply(x: tf.Tensor4D, inputIsData = false): tf.Tensor4D {
    const p = this.padding;
    const pad: "valid" | [[0, 0], [number, number], [number, number], [0, 0]] = p === 0
      ? "valid"
      : [[0, 0], [p, p], [p, p], [0, 0]];
    const filter = this.weight as tf.Tensor4D;
    if (inputIsData) return tf.add(tf.conv2d(x, filter, this.stride, pad), this.bias);
    return tf.fused.conv2d({ x, filter, strides: this.stride, pad, bias: this.bias });
  }
}

/**
 * BatchNorm over NHWC channels with PyTorch's semantics: training mode normalises with the biased
 * batch variance and updates the running variance with the unbiased one (n / (n - 1)).
 */
export class BatchNorm2d {
  /** Scale (gamma) `[channels]`, initially ones; named `<name>.weight`. */
  readonly weight: tf.Variable;
  /** Shift (beta) `[channels]`, initially zeros; named `<name>.bias`. */
  readonly bias: tf.Variable;
  /** Running mean `[channels]` (not trainable), initially zeros; `<name>.running_mean`. */
  readonly runningMean: tf.Variable;
  /**
   * Running unbiased variance `[channels]` (not trainable), initially ones;
   * `<name>.running_var`.
   */
  readonly runningVar: tf.Variable;
  /**
   * Creates the layer's variables and adds them to `store`.
   *
   * @param name Parameter name prefix, e.g. `b2.0.bn1`.
   * @param store The network's parameter store.
   * @param channels Channels normalised (the last NHWC axis).
   * @param eps Added to the variance before the square root.
   * @param momentum Weight of the batch statistics in the running update (PyTorch's convention).
   */
  constructor(
    readonly name: string,
    store: ParamStore,
    readonly channels: number,
    readonly eps = BN_EPS,
    readonly momentum = BN_MOMENTUM,
  ) {
    this.weight = add(store, `${name}.weight`, tf.ones([channels]));
    this.bias = add(store, `${name}.bias`, tf.zeros([channels]));
    this.runningMean = add(store, `${name}.running_mean`, tf.zeros([channels]), false);
    this.runningVar = add(store, `${name}.running_var`, tf.ones([channels]), false);
  }
  /**
   * Normalises, then applies ReLU when `relu` is set; in training mode also updates the running
   * statistics (as PyTorch does).
   */
  apply(x: tf.Tensor4D, training: boolean, relu = false): tf.Tensor4D {
    if (!training) {
      const y = tf.batchNorm4d(
        x,
        this.runningMean as tf.Tensor1D,
        this.runningVar as tf.Tensor1D,
        this.bias as tf.Tensor1D,
        this.weight as tf.Tensor1D,
        this.eps,
      );
      return relu ? tf.relu(y) : y;
    }
    const { y, mean, variance } = batchNormTrain(x, this.weight, this.bias, this.eps, relu);
    const n = x.shape[0] * x.shape[1] * x.shape[2];
    const m = this.momentum;
    // Running statistics are not differentiated: assign() is outside the gradient tape's view.
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      const unbiased = tf.mul(variance, n > 1 ? n / (n - 1) : 1);
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
    });
    return y;
  }
}

/** A fully connected layer; weight `[in, out]`, Xavier-uniform, PyTorch-default bias. */
export class Linear {
  /** Weight `[inFeatures, outFeatures]`, named `<name>.weight`. */
  readonly weight: tf.Variable;
  /** Bias `[outFeatures]`, named `<name>.bias`. */
  readonly bias: tf.Variable;
  /**
   * Creates and initialises the layer's variables and adds them to `store`.
   *
   * @param name Parameter name prefix, e.g. `fc`.
   * @param store The network's parameter store.
   * @param rand Initialisation randomness (consumed for the weight, then the bias).
   * @param inFeatures Input features.
   * @param outFeatures Output features.
   */
  constructor(
    readonly name: string,
    store: ParamStore,
    rand: () => number,
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    this.weight = add(
      store,
      `${name}.weight`,
      uniform(rand, [inFeatures, outFeatures], Math.sqrt(6 / (inFeatures + outFeatures))),
    );
    this.bias = add(store, `${name}.bias`, uniform(rand, [outFeatures], 1 / Math.sqrt(inFeatures)));
  }
  /** Maps `[n, in]` to `[n, out]`. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.fused.matMul({ a: x, b: this.weight as tf.Tensor2D, bias: this.bias }) as tf.Tensor2D;
  }
}

/** Options of one {@linkcode Residual} block (d2l's keyword arguments). */
export interface ResidualOptions {
  /** Put a 1x1 convolution (stride `strides`) on the shortcut. */
  use1x1conv?: boolean;
  /** Stride of conv1 (and conv3). */
  strides?: number;
  /** Name prefix of the block's layers, e.g. `b3.0`. */
  name?: string;
  /** Where the parameters live (a fresh store when omitted). */
  store?: ParamStore;
  /** Initialisation randomness (a seeded default when omitted). */
  rand?: () => number;
}

/**
 * d2l's residual block: conv 3x3 (stride s, pad 1) -> BN -> ReLU -> conv 3x3 (pad 1) -> BN, plus
 * the input (or a 1x1 conv with stride s of it), then ReLU.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const blk = new Residual(3, 6, { use1x1conv: true, strides: 2 });
 * blk.apply(tf.zeros([4, 6, 6, 3]), { training: true }).shape; // [4, 3, 3, 6]
 * ```
 */
export class Residual {
  /** Name prefix of the block's parameters, e.g. `b3.0` (empty when none was given). */
  readonly name: string;
  /** The parameter store the block's variables were added to. */
  readonly store: ParamStore;
  /** First 3x3 convolution (stride `strides`, padding 1). */
  readonly conv1: Conv2d;
  /** BatchNorm after conv1 (followed by ReLU). */
  readonly bn1: BatchNorm2d;
  /** Second 3x3 convolution (stride 1, padding 1). */
  readonly conv2: Conv2d;
  /** BatchNorm after conv2 (before the shortcut is added). */
  readonly bn2: BatchNorm2d;
  /** The 1x1 shortcut convolution (stride `strides`), or null for an identity shortcut. */
  readonly conv3: Conv2d | null;
  /**
   * Creates the block's layers.
   *
   * @param inputChannels Channels of the block's input.
   * @param numChannels Channels of the block's output (and of its convolutions).
   * @param opts Shortcut, stride, name, store and randomness; see {@linkcode ResidualOptions}.
   */
  constructor(
    readonly inputChannels: number,
    readonly numChannels: number,
    opts: ResidualOptions = {},
  ) {
    const s = opts.strides ?? 1;
    const p = opts.name ? `${opts.name}.` : "";
    const store = this.store = opts.store ?? new Map();
    const rand = opts.rand ?? mulberry32(0);
    this.name = opts.name ?? "";
    this.conv1 = new Conv2d(`${p}conv1`, store, rand, inputChannels, numChannels, 3, s, 1);
    this.bn1 = new BatchNorm2d(`${p}bn1`, store, numChannels);
    this.conv2 = new Conv2d(`${p}conv2`, store, rand, numChannels, numChannels, 3, 1, 1);
    this.bn2 = new BatchNorm2d(`${p}bn2`, store, numChannels);
    this.conv3 = opts.use1x1conv
      ? new Conv2d(`${p}conv3`, store, rand, inputChannels, numChannels, 1, s, 0)
      : null;
  }
  /** Runs the block on an NHWC batch. */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D {
    let y = this.bn1.apply(this.conv1.apply(x), opts.training, true);
    y = this.bn2.apply(this.conv2.apply(y), opts.training);
    const shortcut = this.conv3 ? this.conv3.apply(x) : x;
    return tf.relu(tf.add(y, shortcut));
  }
}

/**
 * d2l's `resnet_block` (torchvision's `_make_layer`): `numResiduals` blocks; the first block of a
 * stage other than the first halves height and width and changes the channels through a 1x1 conv.
 */
export function resnetBlock(
  inputChannels: number,
  numChannels: number,
  numResiduals: number,
  firstBlock = false,
  opts: { name?: string; store?: ParamStore; rand?: () => number } = {},
): Residual[] {
  const store = opts.store ?? new Map();
  const rand = opts.rand ?? mulberry32(0);
  const blocks: Residual[] = [];
  for (let i = 0; i < numResiduals; i++) {
    const name = opts.name ? `${opts.name}.${i}` : `${i}`;
    blocks.push(
      i === 0 && !firstBlock
        ? new Residual(inputChannels, numChannels, {
          use1x1conv: true,
          strides: 2,
          name,
          store,
          rand,
        })
        : new Residual(numChannels, numChannels, { name, store, rand }),
    );
  }
  return blocks;
}

/** The 3x3/2 max pool of b1 with PyTorch's padding 1 (padded cells never win). */
function maxPool3s2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 3, 2, 1);
}

/**
 * The five-stage ResNet of d2l: b1 (7x7/2 conv, BN, ReLU, 3x3/2 max pool), b2..b5 (stages of
 * width, 2x, 4x and 8x channels), global average pool, flatten, dense.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 1 });
 * const y = tf.tidy(() => net.apply(tf.zeros([1, 28, 28, 1]), { training: false }));
 * y.shape; // [1, 10]
 * net.dispose();
 * ```
 */
export class ResNet {
  /** The resolved architecture (see {@linkcode resolveConfig}). */
  readonly config: ResNetConfig;
  /** Every tensor of the network by name, in d2l's `state_dict()` order. */
  readonly params: ParamStore = new Map();
  /** PyTorch's `num_batches_tracked`: training-mode forward passes so far. */
  numBatchesTracked = 0;
  /** b1's 7x7/2 stem convolution (padding 3), `b1.0`. */
  readonly conv: Conv2d;
  /** b1's BatchNorm, `b1.1`. */
  readonly bn: BatchNorm2d;
  /** The residual blocks of b2..b5, one array per stage. */
  readonly stages: Residual[][];
  /** The final dense layer `[8 * width, numClasses]`, `fc`. */
  readonly fc: Linear;

  /**
   * Builds the network and initialises every parameter from `opts.seed`; throws
   * {@linkcode ConfigError} on an invalid option.
   *
   * @param opts Depth or stages, channels, classes, width and seed; see {@linkcode ResNetOptions}.
   */
  constructor(opts: ResNetOptions = {}) {
    const c = this.config = resolveConfig(opts);
    const rand = mulberry32(opts.seed ?? 0);
    const store = this.params;
    this.conv = new Conv2d("b1.0", store, rand, c.inChannels, c.width, 7, 2, 3);
    this.bn = new BatchNorm2d("b1.1", store, c.width);
    this.stages = c.stages.map((n, i) => {
      const chIn = i === 0 ? c.width : c.width * 2 ** (i - 1);
      return resnetBlock(chIn, c.width * 2 ** i, n, i === 0, { name: `b${i + 2}`, store, rand });
    });
    this.fc = new Linear("fc", store, rand, c.width * 8, c.numClasses);
  }

  /** The trainable variables (conv and dense weights and biases, BN gamma and beta). */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  /** Total trainable parameters (PyTorch's `sum(p.numel() for p in net.parameters())`). */
  countParams(): number {
    return this.trainableVariables().reduce((a, v) => a + v.size, 0);
  }

  /** Logits `[n, numClasses]` for an NHWC batch `[n, h, w, inChannels]` of pixels in [0, 1]. */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor2D {
    const trace = opts.trace ?? (() => {});
    if (opts.training) this.numBatchesTracked++;
    let y = this.conv.apply(x, true);
    trace("b1.0", y);
    if (opts.trace) {
      // The shape table lists BN and ReLU as separate rows.
      y = this.bn.apply(y, opts.training);
      trace("b1.1", y);
      y = tf.relu(y);
    } else y = this.bn.apply(y, opts.training, true);
    trace("b1.2", y);
    y = maxPool3s2(y);
    trace("b1.3", y);
    this.stages.forEach((blocks, i) => {
      for (const b of blocks) y = b.apply(y, opts);
      trace(`b${i + 2}`, y);
    });
    const pooled = tf.mean(y, [1, 2], true) as tf.Tensor4D;
    trace("pool", pooled);
    const flat = tf.reshape(pooled, [pooled.shape[0], pooled.shape[3]]) as tf.Tensor2D;
    trace("flatten", flat);
    const logits = this.fc.apply(flat);
    trace("dense", logits);
    return logits;
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/**
 * The output size of the network for an input of `size` pixels, following PyTorch's formulas;
 * throws {@linkcode ConfigError} when the input is too small to survive the stem.
 */
export function outputSizes(size: number): number[] {
  const conv = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
  if (!Number.isInteger(size) || size < 1) {
    throw new ConfigError(`invalid size ${size}: give a positive integer such as 28, 96 or 224`);
  }
  const sizes = [conv(size, 7, 2, 3)];
  sizes.push(conv(sizes[0], 3, 2, 1));
  // b2 keeps the size; b3..b5 each apply a 3x3/2 conv with padding 1.
  sizes.push(sizes[1]);
  for (let i = 0; i < 3; i++) sizes.push(conv(sizes[sizes.length - 1], 3, 2, 1));
  if (sizes.some((n) => n < 1)) {
    throw new ConfigError(`input size ${size} is too small for this network: use 1 or more`);
  }
  return sizes;
}

/**
 * Maps a parameter name of this module to d2l's PyTorch `state_dict()` key:
 * `b1.0.weight` -> `0.0.weight`, `b3.0.conv3.bias` -> `2.0.conv3.bias`, `fc.weight` -> `7.weight`.
 */
export function torchKey(name: string): string {
  if (name.startsWith("fc.")) return `7.${name.slice(3)}`;
  const m = /^b(\d)\.(.*)$/.exec(name);
  if (!m) throw new Error(`not a ResNet parameter name: ${name}`);
  return `${Number(m[1]) - 1}.${m[2]}`;
}

/** The inverse of {@linkcode torchKey}; null for a key that is not one of ours. */
export function fromTorchKey(key: string): string | null {
  if (key.startsWith("7.")) return `fc.${key.slice(2)}`;
  const m = /^([0-4])\.(.*)$/.exec(key);
  return m ? `b${Number(m[1]) + 1}.${m[2]}` : null;
}
