/**
 * d2l's ResNet (chapter "Modern Convolutional Neural Networks") as plain functions over tfjs tensors,
 * and its deeper and wider relatives: the bottleneck ResNet-50/101/152, ResNeXt (grouped 3x3
 * convs) and the pre-activation block, each in d2l's form or torchvision's (`arch`).
 *
 * The structure mirrors d2l's PyTorch code and torchvision's resnet.py: the blocks
 * {@linkcode Residual}, {@linkcode Bottleneck} and {@linkcode PreActBlock},
 * {@linkcode resnetBlock} (d2l's `resnet_block`, torchvision's `_make_layer`) and the
 * five-stage {@linkcode ResNet} whose stage depths come from {@linkcode DEPTHS} or any list.
 *
 * Tensors are NHWC inside (tfjs' native layout); weights are stored in tfjs layouts (conv HWIO,
 * dense [in, out]) under PyTorch-like names (`b2.0.conv1.weight`, `b1.1.running_mean`,
 * `fc.bias`), which map one to one onto d2l's or torchvision's `state_dict()` keys (see
 * {@linkcode torchKey}).
 * Padding is PyTorch's symmetric padding, never TensorFlow's "same".
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { ResNet } from "./resnet.ts";
 * const net = new ResNet({ depth: 18 });
 * const logits = tf.tidy(() => net.apply(tf.zeros([2, 96, 96, 1]), { training: false }));
 * assert.deepEqual(logits.shape, [2, 10]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ConfigError } from "../errors.ts";
import { mulberry32 } from "../rng.ts";
import { BatchNorm2d, Conv2d, convBn, Linear, type ParamStore } from "./layers.ts";
import { addRelu, fork, maxPoolTrain } from "./fused.ts";

/** Four stage depths (residual blocks per stage b2..b5). */
export type Stages = [number, number, number, number];

/**
 * The depth table: torchvision's `resnet18` .. `resnet152` layouts (d2l's ResNet-18 and -34 are
 * the first two). Which block a depth uses is {@linkcode DEPTH_BLOCKS}.
 */
export const DEPTHS: Readonly<Record<number, Stages>> = Object.freeze({
  18: [2, 2, 2, 2] as Stages,
  34: [3, 4, 6, 3] as Stages,
  50: [3, 4, 6, 3] as Stages,
  101: [3, 4, 23, 3] as Stages,
  152: [3, 8, 36, 3] as Stages,
});

/** The two forms of the same network (see {@linkcode ResNetOptions.arch}). */
export type Arch = "d2l" | "torchvision";
/** Every {@linkcode Arch}. */
export const ARCHS: readonly Arch[] = ["d2l", "torchvision"];
/** The residual blocks: d2l's `Residual`, the bottleneck (ResNet-50 on, ResNeXt), pre-activation. */
export type BlockKind = "basic" | "bottleneck" | "preact";
/** Every {@linkcode BlockKind}. */
export const BLOCKS: readonly BlockKind[] = ["basic", "bottleneck", "preact"];
/** The stems: d2l's (7x7/2 conv, BN, ReLU, 3x3/2 max pool) or CIFAR's (3x3/1 conv, BN, ReLU). */
export type Stem = "d2l" | "cifar";
/** Every {@linkcode Stem}. */
export const STEMS: readonly Stem[] = ["d2l", "cifar"];

/** The block each depth of {@linkcode DEPTHS} implies: 18 and 34 basic, 50 and up bottleneck. */
export const DEPTH_BLOCKS: Readonly<Record<number, BlockKind>> = Object.freeze({
  18: "basic",
  34: "basic",
  50: "bottleneck",
  101: "bottleneck",
  152: "bottleneck",
});

/** A block's output channels per `planes` of its stage: 4 for the bottleneck, else 1. */
export const EXPANSION: Readonly<Record<BlockKind, number>> = Object.freeze({
  basic: 1,
  bottleneck: 4,
  preact: 1,
});

/** The architecture when an option is not given: d2l's ResNet-18 on Fashion-MNIST. */
export const MODEL_DEFAULTS: Readonly<{
  depth: number;
  width: number;
  inChannels: number;
  numClasses: number;
  arch: Arch;
  block: BlockKind;
  groups: number;
  widthPerGroup: number;
  stem: Stem;
  zeroInitResidual: boolean;
}> = Object.freeze({
  depth: 18,
  width: 64,
  inChannels: 1,
  numClasses: 10,
  arch: "d2l",
  block: "basic",
  groups: 1,
  widthPerGroup: 64,
  stem: "d2l",
  zeroInitResidual: false,
});

/**
 * Options of {@linkcode ResNet}. `depth` and `stages` are alternatives; default depth 18. A
 * {@linkcode ResNetConfig} is a valid `ResNetOptions` (a saved config builds its network), and
 * so is one saved before the block, arch, groups and stem options existed (their defaults fill in).
 */
export interface ResNetOptions {
  /** A key of {@linkcode DEPTHS} (18, 34, 50, 101, 152); null as in a saved config: none. */
  depth?: number | null;
  /** Any four positive stage depths, e.g. `[1, 1, 1, 1]`; wins over `depth`. */
  stages?: readonly number[];
  /** Input channels (1 for Fashion-MNIST). */
  inChannels?: number;
  /** Output classes. */
  numClasses?: number;
  /**
   * Channels of b1, and the `planes` of b2 (b3..b5 have 2x, 4x, 8x); a stage's blocks output
   * `planes * EXPANSION[block]` channels (d2l and torchvision: 64).
   */
  width?: number;
  /**
   * `"d2l"` (default): d2l's conventions: every conv with bias, Xavier-uniform weights, the
   * shortcut of a basic block a 1x1 conv without BatchNorm, d2l's `ResNeXtBlock` as the
   * bottleneck (its shortcut with BatchNorm). `"torchvision"`: torchvision's `resnet.py`: convs
   * without bias, Kaiming-normal (fan_out) conv weights, nn.Linear's default init, the shortcut a
   * 1x1 conv plus BatchNorm (`downsample`), the stride on the bottleneck's 3x3 conv (v1.5).
   */
  arch?: Arch;
  /**
   * The residual block; default the depth's ({@linkcode DEPTH_BLOCKS}), else basic. `preact` is
   * He et al. (2016b)'s full pre-activation block (BN-ReLU-conv twice, the shortcut added
   * without a ReLU after), with a final BN-ReLU after b5.
   */
  block?: BlockKind;
  /**
   * Groups of the bottleneck's 3x3 conv (ResNeXt; torchvision's `groups`), default 1. Careful
   * with d2l's `ResNeXtBlock(num_channels, groups, ...)`: its `groups` is the channels per group
   * (it passes `groups=bot_channels // groups` to the conv); ours is the number of groups.
   */
  groups?: number;
  /**
   * torchvision's `width_per_group` (default 64): the bottleneck's inner width is
   * `floor(planes * widthPerGroup / 64) * groups` (resnext50_32x4d: groups 32, widthPerGroup 4).
   */
  widthPerGroup?: number;
  /** `"d2l"` (default: 7x7/2 conv, 3x3/2 max pool) or `"cifar"` (3x3/1 conv, no max pool). */
  stem?: Stem;
  /** Zero-initialise the last BatchNorm scale of each residual branch (torchvision's option). */
  zeroInitResidual?: boolean;
  /** Seed of the initialisation (same seed, same weights, on every backend). */
  seed?: number;
}

/** A fully resolved architecture, as stored with checkpoints (every field present). */
export interface ResNetConfig {
  /** The key of {@linkcode DEPTHS} whose stages and block family these are, else null. */
  depth: number | null;
  /** Residual blocks in each of the stages b2..b5. */
  stages: Stages;
  /** Input channels (1 for Fashion-MNIST). */
  inChannels: number;
  /** Output classes (the dense layer's width). */
  numClasses: number;
  /** Channels of b1 and the planes of b2; b3..b5 have 2x, 4x and 8x. */
  width: number;
  /** The form: d2l's or torchvision's conventions. */
  arch: Arch;
  /** The residual block. */
  block: BlockKind;
  /** Groups of the bottleneck's 3x3 conv (1 otherwise). */
  groups: number;
  /** torchvision's `width_per_group` (64 unless a bottleneck says otherwise). */
  widthPerGroup: number;
  /** The stem. */
  stem: Stem;
  /** Whether each residual branch's last BatchNorm scale starts at zero. */
  zeroInitResidual: boolean;
}

function choice<T extends string>(field: string, v: T | undefined, all: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (!all.includes(v)) {
    throw new ConfigError({
      field,
      value: v,
      wording: (name) =>
        `unknown ${name(field)} ${JSON.stringify(v)}: allowed are ${all.join(", ")}`,
    });
  }
  return v;
}

function positive(field: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n <= 0) {
    throw new ConfigError({
      field,
      value: v,
      wording: (name) => `invalid ${name(field)} ${v}: give a positive integer`,
    });
  }
  return n;
}

/** The stages of `opts` (its `stages`, else its depth's row). */
function stagesOf(opts: ResNetOptions): Stages {
  if (opts.stages !== undefined) {
    const s = opts.stages;
    if (s.length !== 4 || !s.every((n) => Number.isInteger(n) && n > 0)) {
      throw new ConfigError({
        field: "stages",
        value: s,
        wording: (name) =>
          `invalid ${name("stages")} ${s}: give four positive integers, e.g. ${name("stages")} ` +
          "2,2,2,2",
      });
    }
    return [s[0], s[1], s[2], s[3]];
  }
  const depth = opts.depth ?? MODEL_DEFAULTS.depth;
  const row = DEPTHS[depth];
  if (!row) {
    throw new ConfigError({
      field: "depth",
      value: depth,
      wording: (name) =>
        `unknown ${name("depth")} ${depth}: allowed are ${Object.keys(DEPTHS).join(", ")} ` +
        `(or any four stage depths as ${name("stages")} a,b,c,d)`,
    });
  }
  return [...row];
}

/** The block of `opts`: given, else its depth's, else basic; a depth of the other family refused. */
function blockOf(opts: ResNetOptions): BlockKind {
  const depth = opts.depth ?? (opts.stages === undefined ? MODEL_DEFAULTS.depth : undefined);
  const implied = depth === undefined ? undefined : DEPTH_BLOCKS[depth];
  const block = choice("block", opts.block, BLOCKS, implied ?? MODEL_DEFAULTS.block);
  if (
    opts.stages === undefined && implied && (implied === "bottleneck") !== (block === "bottleneck")
  ) {
    throw new ConfigError({
      field: "block",
      value: block,
      wording: (name) =>
        `${name("depth")} ${depth} is a ${implied} ResNet, not ${block}: leave ${name("block")} ` +
        `out, or give ${name("stages")} ${DEPTHS[depth!].join(",")} instead of ${name("depth")}`,
    });
  }
  return block;
}

/**
 * Resolves `depth`/`stages`, the block and the other options into a {@linkcode ResNetConfig},
 * validating each; throws {@linkcode ConfigError} with a one-line message saying what is allowed.
 * A saved config (or an older one without the newer fields) resolves to itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(resolveConfig({ depth: 34 }).stages, [3, 4, 6, 3]);
 * assert.equal(resolveConfig({ depth: 50 }).block, "bottleneck");
 * assert.equal(resolveConfig({ stages: [1, 1, 1, 1], width: 8 }).depth, null);
 * assert.equal(resolveConfig({ stages: [3, 4, 6, 3], block: "bottleneck" }).depth, 50);
 * ```
 */
export function resolveConfig(opts: ResNetOptions = {}): ResNetConfig {
  const stages = stagesOf(opts);
  const block = blockOf(opts);
  const width = positive("width", opts.width, MODEL_DEFAULTS.width);
  const groups = positive("groups", opts.groups, MODEL_DEFAULTS.groups);
  const widthPerGroup = positive("widthPerGroup", opts.widthPerGroup, MODEL_DEFAULTS.widthPerGroup);
  if (block !== "bottleneck" && (groups !== 1 || widthPerGroup !== MODEL_DEFAULTS.widthPerGroup)) {
    throw new ConfigError({
      field: "groups",
      value: groups,
      wording: (name) =>
        `${name("groups")} ${groups} and ${name("widthPerGroup")} ${widthPerGroup} need the ` +
        `bottleneck ${name("block")} (ResNeXt); the ${block} block takes ${name("groups")} 1 ` +
        `and ${name("widthPerGroup")} 64, as torchvision's`,
    });
  }
  if (Math.floor(width * widthPerGroup / 64) < 1) {
    throw new ConfigError({
      field: "widthPerGroup",
      value: widthPerGroup,
      wording: (name) =>
        `${name("width")} ${width} with ${name("widthPerGroup")} ${widthPerGroup} leaves 0 ` +
        `channels per group (floor(${width} * ${widthPerGroup} / 64)): raise ` +
        `${name("widthPerGroup")} to ${Math.ceil(64 / width)}`,
    });
  }
  const bottleneck = block === "bottleneck";
  const depth = Object.entries(DEPTHS).find(([d, row]) =>
    (DEPTH_BLOCKS[Number(d)] === "bottleneck") === bottleneck &&
    row.every((n, i) => n === stages[i])
  );
  const zero = opts.zeroInitResidual ?? MODEL_DEFAULTS.zeroInitResidual;
  if (typeof zero !== "boolean") {
    throw new ConfigError({
      field: "zeroInitResidual",
      value: zero,
      wording: (name) => `invalid ${name("zeroInitResidual")} ${zero}: give true or false`,
    });
  }
  return {
    depth: depth ? Number(depth[0]) : null,
    stages,
    inChannels: positive("inChannels", opts.inChannels, MODEL_DEFAULTS.inChannels),
    numClasses: positive("numClasses", opts.numClasses, MODEL_DEFAULTS.numClasses),
    width,
    arch: choice("arch", opts.arch, ARCHS, MODEL_DEFAULTS.arch),
    block,
    groups,
    widthPerGroup,
    stem: choice("stem", opts.stem, STEMS, MODEL_DEFAULTS.stem),
    zeroInitResidual: zero,
  };
}

/** One residual block of a network, as {@linkcode blockSpecs} lays them out. */
export interface BlockSpec {
  /** Its name prefix, e.g. `b3.0`. */
  name: string;
  /** Channels in. */
  inChannels: number;
  /** Inner width: the bottleneck's 3x3 conv channels; the block's channels otherwise. */
  midChannels: number;
  /** Channels out: `planes * EXPANSION[block]`. */
  outChannels: number;
  /** Stride of the block (2 in the first block of b3..b5). */
  stride: number;
  /** Whether the shortcut is a 1x1 conv (stride or channels change), not the identity. */
  projection: boolean;
}

/**
 * Every residual block of the network, stage by stage: channels, stride and shortcut, with
 * torchvision's rule for a projection shortcut (the stride or the channels change). For d2l's
 * basic block that is d2l's `resnet_block`: the first block of b3..b5.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const b2 = blockSpecs(resolveConfig({ depth: 50 }))[0];
 * assert.deepEqual([b2[0].inChannels, b2[0].midChannels, b2[0].outChannels], [64, 64, 256]);
 * assert.equal(b2[0].projection, true); // 64 -> 256 channels
 * ```
 */
export function blockSpecs(c: ResNetConfig): BlockSpec[][] {
  let cin = c.width;
  return c.stages.map((n, i) => {
    const planes = c.width * 2 ** i;
    const out = planes * EXPANSION[c.block];
    const mid = c.block === "bottleneck"
      ? Math.floor(planes * c.widthPerGroup / 64) * c.groups
      : planes;
    return Array.from({ length: n }, (_, j) => {
      const stride = i > 0 && j === 0 ? 2 : 1;
      const spec = {
        name: `b${i + 2}.${j}`,
        inChannels: cin,
        midChannels: mid,
        outChannels: out,
        stride,
        projection: stride !== 1 || cin !== out,
      };
      cin = out;
      return spec;
    });
  });
}

/** Whether a forward pass uses batch statistics (and updates the running ones). */
export interface ApplyOptions {
  /** Training mode: BatchNorm uses batch statistics and updates its running statistics. */
  training: boolean;
  /** Called with each named intermediate output (NHWC), e.g. for the shape table. */
  trace?: (name: string, y: tf.Tensor) => void;
}

/** What every block is built with: its name, the store, the randomness and the form. */
export interface BlockOptions {
  /** Name prefix of the block's layers, e.g. `b3.0`. */
  name?: string;
  /** Where the parameters live (a fresh store when omitted). */
  store?: ParamStore;
  /** Initialisation randomness (a seeded default when omitted). */
  rand?: () => number;
  /** d2l's conventions or torchvision's (default d2l): conv bias, init, the shortcut's BN. */
  arch?: Arch;
}

/** Options of one {@linkcode Residual} block (d2l's keyword arguments). */
export interface ResidualOptions extends BlockOptions {
  /** Put a 1x1 convolution (stride `strides`) on the shortcut. */
  use1x1conv?: boolean;
  /** Stride of conv1 (and of the shortcut conv). */
  strides?: number;
}

/** A convolution factory for one block: d2l's (bias, Xavier) or torchvision's (no bias, Kaiming). */
function convFactory(opts: BlockOptions, store: ParamStore, rand: () => number) {
  const p = opts.name ? `${opts.name}.` : "";
  const tv = opts.arch === "torchvision";
  return (name: string, cin: number, cout: number, kernel: number, stride = 1, groups = 1) =>
    new Conv2d({
      name: `${p}${name}`,
      store,
      rand,
      inChannels: cin,
      outChannels: cout,
      kernel,
      stride,
      padding: Math.floor(kernel / 2),
      groups,
      bias: !tv,
      init: tv ? "kaiming" : "xavier",
    });
}

/** A BatchNorm factory for one block. */
function bnFactory(opts: BlockOptions, store: ParamStore) {
  const p = opts.name ? `${opts.name}.` : "";
  return (name: string, channels: number) =>
    new BatchNorm2d({ name: `${p}${name}`, store, channels });
}

/**
 * d2l's residual block (torchvision's `BasicBlock`): conv 3x3 (stride s, pad 1) -> BN -> ReLU ->
 * conv 3x3 (pad 1) -> BN, plus the input (or a 1x1 conv with stride s of it), then ReLU. In
 * torchvision's form the convs have no bias and the 1x1 shortcut is followed by a BatchNorm,
 * named `downsample.0` and `downsample.1` as torchvision's.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * const blk = new Residual(3, 6, { use1x1conv: true, strides: 2 });
 * assert.deepEqual(blk.apply(tf.zeros([4, 6, 6, 3]), { training: true }).shape, [4, 3, 3, 6]);
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
  /** The shortcut's BatchNorm (torchvision's form with a 1x1 shortcut), else null. */
  readonly shortcutBn: BatchNorm2d | null;
  /**
   * Creates the block's layers.
   *
   * @param inputChannels Channels of the block's input.
   * @param numChannels Channels of the block's output (and of its convolutions).
   * @param opts Shortcut, stride, name, store, randomness and form; see {@linkcode ResidualOptions}.
   */
  constructor(
    readonly inputChannels: number,
    readonly numChannels: number,
    opts: ResidualOptions = {},
  ) {
    const s = opts.strides ?? 1;
    const store = this.store = opts.store ?? new Map();
    const conv = convFactory(opts, store, opts.rand ?? mulberry32(0));
    const bn = bnFactory(opts, store);
    const tv = opts.arch === "torchvision";
    this.name = opts.name ?? "";
    this.conv1 = conv("conv1", inputChannels, numChannels, 3, s);
    this.bn1 = bn("bn1", numChannels);
    this.conv2 = conv("conv2", numChannels, numChannels, 3);
    this.bn2 = bn("bn2", numChannels);
    const use = opts.use1x1conv ?? false;
    this.conv3 = use ? conv(tv ? "downsample.0" : "conv3", inputChannels, numChannels, 1, s) : null;
    this.shortcutBn = use && tv ? bn("downsample.1", numChannels) : null;
  }
  /** The BatchNorm whose scale `zeroInitResidual` zeroes: the branch's last, bn2. */
  get residualBn(): BatchNorm2d {
    return this.bn2;
  }
  /**
   * Runs the block on an NHWC batch. Its own tidy frees, already in the forward pass, what the
   * backward pass does not need (the second BatchNorm's output, the 1x1 shortcut).
   */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D {
    const training = opts.training;
    return tf.tidy(() => {
      const [xb, xs] = fork(x); // the branch's and the shortcut's: see fork
      let y = convBn(this.conv1, this.bn1, xb, { training, relu: true });
      y = convBn(this.conv2, this.bn2, y, { training });
      let shortcut = xs;
      if (this.conv3) {
        shortcut = this.shortcutBn
          ? convBn(this.conv3, this.shortcutBn, xs, { training })
          : this.conv3.apply(xs);
      }
      return addRelu(y, shortcut);
    });
  }
}

/** Options of one {@linkcode Bottleneck} block. */
export interface BottleneckOptions extends BlockOptions {
  /** Stride of the 3x3 conv and of the shortcut conv (torchvision v1.5's place for it). */
  strides?: number;
  /** Groups of the 3x3 conv (ResNeXt): the number of groups, torchvision's meaning. */
  groups?: number;
  /** A 1x1 conv (with BatchNorm) on the shortcut instead of the identity. */
  projection?: boolean;
}

/**
 * The bottleneck block: conv 1x1 -> BN -> ReLU -> conv 3x3 (stride s, groups) -> BN -> ReLU ->
 * conv 1x1 -> BN, plus the input or a 1x1 conv (stride s) + BN of it, then ReLU. In d2l's form
 * it is d2l's `ResNeXtBlock(num_channels=out, groups=mid / groups, bot_mul=mid / out,
 * use_1x1conv, strides)`, with its names (`conv1..conv3`, `bn1..bn3`, shortcut `conv4`, `bn4`)
 * and bias everywhere; in torchvision's form it is `torchvision.models.resnet.Bottleneck` (no
 * bias, shortcut `downsample.0` and `downsample.1`).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * const blk = new Bottleneck(8, 8, 32, { strides: 2, groups: 2, projection: true });
 * assert.deepEqual(blk.apply(tf.zeros([2, 6, 6, 8]), { training: true }).shape, [2, 3, 3, 32]);
 * ```
 */
export class Bottleneck {
  /** Name prefix of the block's parameters. */
  readonly name: string;
  /** The parameter store the block's variables were added to. */
  readonly store: ParamStore;
  /** 1x1 convolution to the inner width. */
  readonly conv1: Conv2d;
  /** BatchNorm after conv1 (then ReLU). */
  readonly bn1: BatchNorm2d;
  /** The grouped 3x3 convolution (stride `strides`). */
  readonly conv2: Conv2d;
  /** BatchNorm after conv2 (then ReLU). */
  readonly bn2: BatchNorm2d;
  /** 1x1 convolution to the output channels. */
  readonly conv3: Conv2d;
  /** BatchNorm after conv3 (before the shortcut is added). */
  readonly bn3: BatchNorm2d;
  /** The shortcut's 1x1 convolution, or null for the identity. */
  readonly shortcut: Conv2d | null;
  /** The shortcut's BatchNorm, or null for the identity. */
  readonly shortcutBn: BatchNorm2d | null;
  /**
   * @param inputChannels Channels in.
   * @param midChannels Inner width (channels of the 3x3 conv; a multiple of `groups`).
   * @param outChannels Channels out.
   * @param opts Stride, groups, shortcut, name, store, randomness and form.
   */
  constructor(
    readonly inputChannels: number,
    readonly midChannels: number,
    readonly outChannels: number,
    opts: BottleneckOptions = {},
  ) {
    const s = opts.strides ?? 1, g = opts.groups ?? 1;
    const store = this.store = opts.store ?? new Map();
    const conv = convFactory(opts, store, opts.rand ?? mulberry32(0));
    const bn = bnFactory(opts, store);
    this.name = opts.name ?? "";
    // Created in PyTorch's registration order, which state_dict() follows.
    if (opts.arch === "torchvision") {
      this.conv1 = conv("conv1", inputChannels, midChannels, 1);
      this.bn1 = bn("bn1", midChannels);
      this.conv2 = conv("conv2", midChannels, midChannels, 3, s, g);
      this.bn2 = bn("bn2", midChannels);
      this.conv3 = conv("conv3", midChannels, outChannels, 1);
      this.bn3 = bn("bn3", outChannels);
      this.shortcut = opts.projection
        ? conv("downsample.0", inputChannels, outChannels, 1, s)
        : null;
      this.shortcutBn = opts.projection ? bn("downsample.1", outChannels) : null;
    } else {
      this.conv1 = conv("conv1", inputChannels, midChannels, 1);
      this.conv2 = conv("conv2", midChannels, midChannels, 3, s, g);
      this.conv3 = conv("conv3", midChannels, outChannels, 1);
      this.bn1 = bn("bn1", midChannels);
      this.bn2 = bn("bn2", midChannels);
      this.bn3 = bn("bn3", outChannels);
      this.shortcut = opts.projection ? conv("conv4", inputChannels, outChannels, 1, s) : null;
      this.shortcutBn = opts.projection ? bn("bn4", outChannels) : null;
    }
  }
  /** The BatchNorm whose scale `zeroInitResidual` zeroes: the branch's last, bn3. */
  get residualBn(): BatchNorm2d {
    return this.bn3;
  }
  /** Runs the block on an NHWC batch (its own tidy, as {@linkcode Residual.apply}). */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D {
    const training = opts.training;
    return tf.tidy(() => {
      const [xb, xs] = fork(x);
      let y = convBn(this.conv1, this.bn1, xb, { training, relu: true });
      y = convBn(this.conv2, this.bn2, y, { training, relu: true });
      y = convBn(this.conv3, this.bn3, y, { training });
      const shortcut = this.shortcut && this.shortcutBn
        ? convBn(this.shortcut, this.shortcutBn, xs, { training })
        : xs;
      return addRelu(y, shortcut);
    });
  }
}

/** Options of one {@linkcode PreActBlock}. */
export interface PreActOptions extends BlockOptions {
  /** Stride of conv1 and of the shortcut conv. */
  strides?: number;
  /** A 1x1 conv (without BatchNorm) on the shortcut instead of the identity. */
  projection?: boolean;
}

/**
 * He et al. (2016b)'s full pre-activation block: BN -> ReLU -> conv 3x3 (stride s) -> BN -> ReLU
 * -> conv 3x3, plus the input, or a 1x1 conv (stride s) of the pre-activated input; no ReLU after
 * the sum. Names: `bn1`, `conv1`, `bn2`, `conv2` and the shortcut `conv3` (d2l's form, convs with
 * bias) or `downsample.0` (torchvision's form, no bias).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * const blk = new PreActBlock(4, 8, { strides: 2, projection: true });
 * assert.deepEqual(blk.apply(tf.zeros([2, 6, 6, 4]), { training: true }).shape, [2, 3, 3, 8]);
 * ```
 */
export class PreActBlock {
  /** Name prefix of the block's parameters. */
  readonly name: string;
  /** The parameter store the block's variables were added to. */
  readonly store: ParamStore;
  /** BatchNorm of the input (then ReLU). */
  readonly bn1: BatchNorm2d;
  /** First 3x3 convolution (stride `strides`). */
  readonly conv1: Conv2d;
  /** BatchNorm after conv1 (then ReLU). */
  readonly bn2: BatchNorm2d;
  /** Second 3x3 convolution. */
  readonly conv2: Conv2d;
  /** The 1x1 shortcut convolution of the pre-activated input, or null for the identity. */
  readonly conv3: Conv2d | null;
  /**
   * @param inputChannels Channels in.
   * @param numChannels Channels out (and of both convs).
   * @param opts Stride, shortcut, name, store, randomness and form.
   */
  constructor(
    readonly inputChannels: number,
    readonly numChannels: number,
    opts: PreActOptions = {},
  ) {
    const s = opts.strides ?? 1;
    const store = this.store = opts.store ?? new Map();
    const conv = convFactory(opts, store, opts.rand ?? mulberry32(0));
    const bn = bnFactory(opts, store);
    this.name = opts.name ?? "";
    this.bn1 = bn("bn1", inputChannels);
    this.conv1 = conv("conv1", inputChannels, numChannels, 3, s);
    this.bn2 = bn("bn2", numChannels);
    this.conv2 = conv("conv2", numChannels, numChannels, 3);
    const shortcut = opts.arch === "torchvision" ? "downsample.0" : "conv3";
    this.conv3 = opts.projection ? conv(shortcut, inputChannels, numChannels, 1, s) : null;
  }
  /** The BatchNorm whose scale `zeroInitResidual` zeroes: the branch's last, bn2. */
  get residualBn(): BatchNorm2d {
    return this.bn2;
  }
  /** Runs the block on an NHWC batch (its own tidy, as {@linkcode Residual.apply}). */
  apply(x: tf.Tensor4D, opts: ApplyOptions): tf.Tensor4D {
    const training = opts.training;
    return tf.tidy(() => {
      // The shortcut shares the branch's input (x) or its first BatchNorm's output (a).
      const [x1, x2] = this.conv3 ? [x, x] : fork(x);
      const a = this.bn1.apply(x1, { training, relu: true });
      const [a1, a2] = this.conv3 ? fork(a) : [a, a];
      const shortcut = this.conv3 ? this.conv3.apply(a2) : x2;
      const y = this.bn2.apply(this.conv1.apply(a1), { training, relu: true });
      return tf.add(this.conv2.apply(y), shortcut);
    });
  }
}

/** Any residual block of a {@linkcode ResNet}. */
export type ResidualBlock = Residual | Bottleneck | PreActBlock;

/** Builds the block `spec` of a network of config `c`. */
function makeBlock(
  spec: BlockSpec,
  c: ResNetConfig,
  store: ParamStore,
  rand: () => number,
): ResidualBlock {
  const opts = { name: spec.name, store, rand, arch: c.arch, strides: spec.stride };
  if (c.block === "bottleneck") {
    return new Bottleneck(spec.inChannels, spec.midChannels, spec.outChannels, {
      ...opts,
      groups: c.groups,
      projection: spec.projection,
    });
  }
  if (c.block === "preact") {
    return new PreActBlock(spec.inChannels, spec.outChannels, {
      ...opts,
      projection: spec.projection,
    });
  }
  return new Residual(spec.inChannels, spec.outChannels, { ...opts, use1x1conv: spec.projection });
}

/**
 * d2l's `resnet_block` (torchvision's `_make_layer`) for the basic block: `numResiduals` blocks;
 * the first block of a stage other than the first halves height and width and changes the
 * channels through a 1x1 conv.
 */
export function resnetBlock(
  inputChannels: number,
  numChannels: number,
  numResiduals: number,
  firstBlock = false,
  opts: BlockOptions = {},
): Residual[] {
  const store = opts.store ?? new Map();
  const rand = opts.rand ?? mulberry32(0);
  const blocks: Residual[] = [];
  for (let i = 0; i < numResiduals; i++) {
    const name = opts.name ? `${opts.name}.${i}` : `${i}`;
    const o = { name, store, rand, arch: opts.arch };
    blocks.push(
      i === 0 && !firstBlock
        ? new Residual(inputChannels, numChannels, { ...o, use1x1conv: true, strides: 2 })
        : new Residual(numChannels, numChannels, o),
    );
  }
  return blocks;
}

/** The 3x3/2 max pool of b1 with PyTorch's padding 1 (padded cells never win). */
function maxPool3s2(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
  return training ? maxPoolTrain(x, 3, 2, 1) : tf.maxPool(x, 3, 2, 1);
}

/**
 * The five-stage ResNet of d2l: b1 (7x7/2 conv, BN, ReLU, 3x3/2 max pool; or CIFAR's 3x3/1 conv,
 * BN, ReLU), b2..b5 (stages of width, 2x, 4x and 8x planes), for pre-activation blocks a final
 * BN and ReLU (`b6`), global average pool, flatten, dense. In torchvision's form the same network
 * is torchvision's `ResNet` (see {@linkcode ResNetOptions.arch}).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 1 });
 * const y = tf.tidy(() => net.apply(tf.zeros([1, 28, 28, 1]), { training: false }));
 * assert.deepEqual(y.shape, [1, 10]);
 * const r50 = new ResNet({ depth: 50, arch: "torchvision", inChannels: 3, numClasses: 1000 });
 * assert.equal(r50.countParams(), 25_557_032); // torchvision's resnet50
 * tf.dispose([y]);
 * net.dispose();
 * r50.dispose();
 * ```
 */
export class ResNet {
  /** The resolved architecture (see {@linkcode resolveConfig}). */
  readonly config: ResNetConfig;
  /** Every tensor of the network by name, in PyTorch's `state_dict()` order of the form. */
  readonly params: ParamStore = new Map();
  /** PyTorch's `num_batches_tracked`: training-mode forward passes so far. */
  numBatchesTracked = 0;
  /** b1's stem convolution (7x7/2 padding 3, or 3x3/1 padding 1), `b1.0`. */
  readonly conv: Conv2d;
  /** b1's BatchNorm, `b1.1`. */
  readonly bn: BatchNorm2d;
  /** The residual blocks of b2..b5, one array per stage. */
  readonly stages: ResidualBlock[][];
  /** The final BatchNorm (then ReLU) of a pre-activation network, `b6`; null otherwise. */
  readonly finalBn: BatchNorm2d | null;
  /** The final dense layer `[8 * width * expansion, numClasses]`, `fc`. */
  readonly fc: Linear;

  /**
   * Builds the network and initialises every parameter from `opts.seed`; throws
   * {@linkcode ConfigError} on an invalid option.
   *
   * @param opts The architecture and seed; see {@linkcode ResNetOptions}.
   */
  constructor(opts: ResNetOptions = {}) {
    const c = this.config = resolveConfig(opts);
    const rand = mulberry32(opts.seed ?? 0);
    const store = this.params;
    const tv = c.arch === "torchvision", cifar = c.stem === "cifar";
    this.conv = new Conv2d({
      name: "b1.0",
      store,
      rand,
      inChannels: c.inChannels,
      outChannels: c.width,
      kernel: cifar ? 3 : 7,
      stride: cifar ? 1 : 2,
      padding: cifar ? 1 : 3,
      bias: !tv,
      init: tv ? "kaiming" : "xavier",
    });
    this.bn = new BatchNorm2d({ name: "b1.1", store, channels: c.width });
    this.stages = blockSpecs(c).map((stage) => stage.map((s) => makeBlock(s, c, store, rand)));
    const top = c.width * 8 * EXPANSION[c.block];
    this.finalBn = c.block === "preact"
      ? new BatchNorm2d({ name: "b6", store, channels: top })
      : null;
    this.fc = new Linear({
      name: "fc",
      store,
      rand,
      inFeatures: top,
      outFeatures: c.numClasses,
      init: tv ? "torch" : "xavier",
    });
    if (c.zeroInitResidual) {
      for (const b of this.stages.flat()) {
        const w = b.residualBn.weight;
        w.assign(tf.tidy(() => tf.zerosLike(w)));
      }
    }
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
    const training = opts.training;
    let y: tf.Tensor4D;
    if (training || opts.trace) {
      y = this.conv.apply(x, { inputIsData: true });
      trace("b1.0", y);
      // BN and ReLU run fused; the shape table lists them as two rows of one shape.
      y = this.bn.apply(y, { training, relu: true });
    } else y = convBn(this.conv, this.bn, x, { training, relu: true });
    trace("b1.1", y);
    trace("b1.2", y);
    if (this.config.stem === "d2l") {
      y = maxPool3s2(y, training);
      trace("b1.3", y);
    }
    this.stages.forEach((blocks, i) => {
      for (const b of blocks) y = b.apply(y, opts);
      trace(`b${i + 2}`, y);
    });
    if (this.finalBn) {
      y = this.finalBn.apply(y, { training, relu: true });
      trace("b6", y);
    }
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
 * The output sizes of the stem and b2..b5 for an input of `size` pixels, following PyTorch's
 * formulas (the stem's conv, after its max pool, then b2..b5); throws {@linkcode ConfigError}
 * when `size` is not a positive integer.
 */
export function outputSizes(size: number, stem: Stem = "d2l"): number[] {
  const conv = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;
  if (!Number.isInteger(size) || size < 1) {
    throw new ConfigError({
      field: "size",
      value: size,
      wording: (name) =>
        `invalid ${name("size")} ${size}: give a positive integer such as 28, 96 or 224`,
    });
  }
  const sizes = stem === "cifar" ? [size, size] : [conv(size, 7, 2, 3)];
  if (stem !== "cifar") sizes.push(conv(sizes[0], 3, 2, 1));
  // b2 keeps the size; b3..b5 each apply a 3x3/2 conv with padding 1.
  sizes.push(sizes[1]);
  // Every layer pads, so any positive size survives to b5 (at 1x1).
  for (let i = 0; i < 3; i++) sizes.push(conv(sizes[sizes.length - 1], 3, 2, 1));
  return sizes;
}

/** What the key mapping depends on: the form and whether there is a final BN (`preact`). */
export type KeyForm = Pick<ResNetConfig, "arch" | "block">;

/** The two directions of the mapping between our parameter names and PyTorch's keys. */
export interface KeyMap {
  /** Our name (`b3.0.conv1.weight`) to PyTorch's key; throws for a name that is not ours. */
  torchKey(name: string): string;
  /** PyTorch's key to our name; null for a key that is not one of ours. */
  fromTorchKey(key: string): string | null;
}

/**
 * The mapping between our parameter names and PyTorch's `state_dict()` keys of the form. d2l's
 * `nn.Sequential(b1, ..., b5, [BN, ReLU,] pool, flatten, linear)`: `b1.0.weight` -> `0.0.weight`,
 * `b3.0.conv3.bias` -> `2.0.conv3.bias`, `fc.weight` -> `7.weight` (`9.weight` after the final
 * BN `b6` -> `5` of a pre-activation network). torchvision's `ResNet`: `b1.0` -> `conv1`,
 * `b1.1` -> `bn1`, `b3.0.downsample.1.bias` -> `layer2.0.downsample.1.bias`, `b6` -> `final_bn`,
 * `fc` stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const tv = keyMap({ arch: "torchvision", block: "bottleneck" });
 * assert.equal(tv.torchKey("b3.0.downsample.1.bias"), "layer2.0.downsample.1.bias");
 * assert.equal(tv.fromTorchKey("bn1.running_mean"), "b1.1.running_mean");
 * assert.equal(keyMap({ arch: "d2l", block: "preact" }).torchKey("fc.bias"), "9.bias");
 * ```
 */
export function keyMap(form: KeyForm): KeyMap {
  if (form.arch === "torchvision") {
    const pairs = [["b1.0.", "conv1."], ["b1.1.", "bn1."], ["b6.", "final_bn."], ["fc.", "fc."]];
    return {
      torchKey(name) {
        for (const [ours, theirs] of pairs) {
          if (name.startsWith(ours)) return theirs + name.slice(ours.length);
        }
        const m = /^b([2-5])\.(.*)$/.exec(name);
        if (!m) throw new Error(`not a ResNet parameter name: ${name}`);
        return `layer${Number(m[1]) - 1}.${m[2]}`;
      },
      fromTorchKey(key) {
        for (const [ours, theirs] of pairs) {
          if (key.startsWith(theirs)) return ours + key.slice(theirs.length);
        }
        const m = /^layer([1-4])\.(.*)$/.exec(key);
        return m ? `b${Number(m[1]) + 1}.${m[2]}` : null;
      },
    };
  }
  // The final BN and ReLU of a pre-activation network are entries 5 and 6 of the Sequential.
  const fc = form.block === "preact" ? "9." : "7.";
  const stage = form.block === "preact" ? /^([0-5])\.(.*)$/ : /^([0-4])\.(.*)$/;
  return {
    torchKey(name) {
      if (name.startsWith("fc.")) return fc + name.slice(3);
      const m = /^b(\d)\.(.*)$/.exec(name);
      if (!m) throw new Error(`not a ResNet parameter name: ${name}`);
      return `${Number(m[1]) - 1}.${m[2]}`;
    },
    fromTorchKey(key) {
      if (key.startsWith(fc)) return `fc.${key.slice(fc.length)}`;
      const m = stage.exec(key);
      return m ? `b${Number(m[1]) + 1}.${m[2]}` : null;
    },
  };
}

const D2L_KEYS = keyMap({ arch: "d2l", block: "basic" });

/**
 * Maps a parameter name of d2l's basic ResNet to d2l's PyTorch `state_dict()` key:
 * `b1.0.weight` -> `0.0.weight`, `b3.0.conv3.bias` -> `2.0.conv3.bias`, `fc.weight` -> `7.weight`
 * (other forms: {@linkcode keyMap}).
 */
export function torchKey(name: string): string {
  return D2L_KEYS.torchKey(name);
}

/** The inverse of {@linkcode torchKey}; null for a key that is not one of ours. */
export function fromTorchKey(key: string): string | null {
  return D2L_KEYS.fromTorchKey(key);
}
