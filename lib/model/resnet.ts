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
 * import assert from "node:assert/strict";
 * import { ResNet } from "./resnet.ts";
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([2, 96, 96, 1]), { training: false }));
 * assert.deepEqual(logits.shape, [2, 10]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core's node build registers no gradients; the union package registers them all on the
// same tfjs-core instance (it requires @tensorflow/tfjs-core 4.22.0 like we do).
import "@tensorflow/tfjs";
import { ConfigError } from "../errors.ts";
import { mulberry32 } from "../data/rng.ts";
import { BatchNorm2d, Conv2d, Linear, type ParamStore } from "./layers.ts";
import { addRelu } from "./fused.ts";

/** Four stage depths (residual blocks per stage b2..b5). */
export type Stages = [number, number, number, number];

/** The depth table: d2l's ResNet-18 and ResNet-34 (torchvision's `resnet18`/`resnet34` layouts). */
export const DEPTHS: Readonly<Record<number, Stages>> = Object.freeze({
  18: [2, 2, 2, 2] as Stages,
  34: [3, 4, 6, 3] as Stages,
});

/** The architecture when an option is not given: d2l's ResNet-18 on Fashion-MNIST. */
export const MODEL_DEFAULTS = Object.freeze({
  depth: 18,
  width: 64,
  inChannels: 1,
  numClasses: 10,
});

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
    const depth = opts.depth ?? MODEL_DEFAULTS.depth;
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
    inChannels: positive("inChannels", opts.inChannels, MODEL_DEFAULTS.inChannels),
    numClasses: positive("numClasses", opts.numClasses, MODEL_DEFAULTS.numClasses),
    width: positive("width", opts.width, MODEL_DEFAULTS.width),
  };
}

/** Whether a forward pass uses batch statistics (and updates the running ones). */
export interface ApplyOptions {
  /** Training mode: BatchNorm uses batch statistics and updates its running statistics. */
  training: boolean;
  /** Called with each named intermediate output (NHWC), e.g. for the shape table. */
  trace?: (name: string, y: tf.Tensor) => void;
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
    const conv = (name: string, inChannels: number, kernel: number, stride: number) =>
      new Conv2d({
        name: `${p}${name}`,
        store,
        rand,
        inChannels,
        outChannels: numChannels,
        kernel,
        stride,
        padding: kernel === 3 ? 1 : 0,
      });
    this.conv1 = conv("conv1", inputChannels, 3, s);
    this.bn1 = new BatchNorm2d({ name: `${p}bn1`, store, channels: numChannels });
    this.conv2 = conv("conv2", numChannels, 3, 1);
    this.bn2 = new BatchNorm2d({ name: `${p}bn2`, store, channels: numChannels });
    this.conv3 = opts.use1x1conv ? conv("conv3", inputChannels, 1, s) : null;
  }
  /**
   * Runs the block on an NHWC batch. Its own tidy frees, already in the forward pass, what the
   * backward pass does not need (the second BatchNorm's output, the 1x1 shortcut).
   */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D {
    return tf.tidy(() => {
      let y = this.bn1.apply(this.conv1.apply(x), opts.training, true);
      y = this.bn2.apply(this.conv2.apply(y), opts.training);
      return addRelu(y, this.conv3 ? this.conv3.apply(x) : x);
    });
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
    this.conv = new Conv2d({
      name: "b1.0",
      store,
      rand,
      inChannels: c.inChannels,
      outChannels: c.width,
      kernel: 7,
      stride: 2,
      padding: 3,
    });
    this.bn = new BatchNorm2d({ name: "b1.1", store, channels: c.width });
    this.stages = c.stages.map((n, i) => {
      const chIn = i === 0 ? c.width : c.width * 2 ** (i - 1);
      return resnetBlock(chIn, c.width * 2 ** i, n, i === 0, { name: `b${i + 2}`, store, rand });
    });
    this.fc = new Linear({
      name: "fc",
      store,
      rand,
      inFeatures: c.width * 8,
      outFeatures: c.numClasses,
    });
  }

  /** The trainable variables (conv and dense weights and biases, BN gamma and beta). */
  trainableVariables(): tf.Variable[] {
    return [...this.params.values()].filter((v) => v.trainable);
  }

  /** Total trainable parameters (PyTorch's `sum(p.numel() for p in net.parameters())`). */
  countParams(): number {
    return this.trainableVariables().reduce((a, v) => a + v.size, 0);
  }

  /**
   * Logits `[n, numClasses]` for an NHWC batch `[n, h, w, inChannels]` of pixels in [0, 1]. Its
   * tidy frees every intermediate output at the end of the forward pass: what the backward pass
   * needs lives on in the gradient tape's own copies, which a backend's gradients may free as soon
   * as they have used them (the native backend does: ../backends/native/gradients.ts).
   */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor2D {
    if (opts.training) this.numBatchesTracked++;
    return tf.tidy(() => this.forward(x, opts));
  }

  private forward(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor2D {
    const trace = opts.trace ?? (() => {});
    let y = this.conv.apply(x, true);
    trace("b1.0", y);
    // BN and ReLU run fused, as in training; the shape table lists them as two rows of one shape.
    y = this.bn.apply(y, opts.training, true);
    trace("b1.1", y);
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
 * throws {@linkcode ConfigError} when `size` is not a positive integer.
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
  // Every layer pads, so any positive size survives to b5 (at 1x1).
  for (let i = 0; i < 3; i++) sizes.push(conv(sizes[sizes.length - 1], 3, 2, 1));
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
