/**
 * Shapes, strides and padding of convolutions and pooling windows over channels-last tensors,
 * with tfjs' "same"/"valid" padding rules and PyTorch-style symmetric padding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry, poolGeometry } from "./geometry.ts";
 * const conv = convGeometry({ batch: 2, inHeight: 28, inWidth: 28, inChannels: 64,
 *   outChannels: 128, kernel: 3, stride: 2, pad: "same" });
 * assert.deepEqual([conv.padTop, conv.padBottom, conv.outHeight], [0, 1, 14]);
 * const pool = poolGeometry({ batch: 2, inHeight: 48, inWidth: 48, channels: 64, kernel: 3,
 *   stride: 2, pad: 1 });
 * assert.equal(pool.outHeight, 24);
 * ```
 * @module
 */

/** An `nhwc` activation shape. */
export interface NhwcShape {
  /** Images in the batch (N). */
  batch: number;
  /** Rows (H). */
  height: number;
  /** Columns (W). */
  width: number;
  /** Channels (C), the innermost dimension. */
  channels: number;
}

/** A convolution's shapes, strides and (possibly asymmetric) padding. */
export interface ConvGeometry {
  /** Images in the batch (N). */
  batch: number;
  /** Input rows. */
  inHeight: number;
  /** Input columns. */
  inWidth: number;
  /** Input channels (tfjs weights' third dimension). */
  inChannels: number;
  /** Output channels (tfjs weights' fourth dimension). */
  outChannels: number;
  /**
   * Channel groups (1: a plain convolution): output channels `g * out / groups` up to
   * `(g + 1) * out / groups` see input channels `g * in / groups` up to `(g + 1) * in / groups`
   * only (PyTorch's grouping); tfjs-shaped weights are then `[kh, kw, in / groups, out]`.
   */
  groups: number;
  /** Window rows. */
  kernelHeight: number;
  /** Window columns. */
  kernelWidth: number;
  /** Vertical stride. */
  strideHeight: number;
  /** Horizontal stride. */
  strideWidth: number;
  /** Zero rows added above the input. */
  padTop: number;
  /** Zero rows added below the input (tfjs "same" puts the odd one here). */
  padBottom: number;
  /** Zero columns added left of the input. */
  padLeft: number;
  /** Zero columns added right of the input. */
  padRight: number;
  /** Derived: floor((inHeight + padTop + padBottom - kernelHeight) / strideHeight) + 1. */
  outHeight: number;
  /** Derived like {@link outHeight}. */
  outWidth: number;
}

/** Padding: symmetric (PyTorch), explicit `[top, bottom, left, right]`, or tfjs' "same"/"valid". */
export type ConvPad = number | readonly [number, number, number, number] | "same" | "valid";

/** Input of {@link convGeometry}: kernel and stride as one number (square) or `[h, w]`. */
export interface ConvGeometryInput {
  /** Images in the batch (N). */
  batch: number;
  /** Input rows. */
  inHeight: number;
  /** Input columns. */
  inWidth: number;
  /** Input channels (tfjs weights' third dimension). */
  inChannels: number;
  /** Output channels (tfjs weights' fourth dimension). */
  outChannels: number;
  /** Window size: `k` for k x k, or `[rows, columns]`. */
  kernel: number | readonly [number, number];
  /** Stride: one number or `[rows, columns]`. */
  stride?: number | readonly [number, number];
  /** Padding (default 0). */
  pad?: ConvPad;
  /** Channel groups (default 1); it divides both channel counts. */
  groups?: number;
}

/**
 * Completes a convolution geometry. "same" splits the padding as tfjs does (the extra row/column
 * goes to the bottom/right).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * const stem = convGeometry({ batch: 64, inHeight: 96, inWidth: 96, inChannels: 1,
 *   outChannels: 64, kernel: 7, stride: 2, pad: 3 });
 * assert.equal(stem.outHeight, 48);
 * ```
 */
export function convGeometry(input: ConvGeometryInput): ConvGeometry {
  const [kh, kw] = pair(input.kernel);
  const [sh, sw] = pair(input.stride ?? 1);
  const [t, b] = padPair(input.pad ?? 0, input.inHeight, kh, sh, 0);
  const [l, r] = padPair(input.pad ?? 0, input.inWidth, kw, sw, 2);
  const { kernel: _k, stride: _s, pad: _p, groups = 1, ...shape } = input;
  if (!(groups >= 1 && input.inChannels % groups === 0 && input.outChannels % groups === 0)) {
    throw new Error(
      `geometry: ${groups} groups do not divide the channels of ${JSON.stringify(input)}`,
    );
  }
  const g: ConvGeometry = {
    ...shape,
    groups,
    kernelHeight: kh,
    kernelWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
    padTop: t,
    padBottom: b,
    padLeft: l,
    padRight: r,
    outHeight: Math.floor((input.inHeight + t + b - kh) / sh) + 1,
    outWidth: Math.floor((input.inWidth + l + r - kw) / sw) + 1,
  };
  if (g.outHeight < 1 || g.outWidth < 1) {
    throw new Error(`geometry: empty output for ${JSON.stringify(input)}`);
  }
  return g;
}

function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

function padPair(pad: ConvPad, size: number, k: number, s: number, at: 0 | 2): [number, number] {
  if (typeof pad === "number") return [pad, pad];
  if (pad === "valid") return [0, 0];
  if (pad === "same") {
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + k - size);
    const first = Math.floor(total / 2);
    return [first, total - first];
  }
  return [pad[at], pad[at + 1]];
}

/** A pooling window's shapes, strides and (possibly asymmetric) padding. */
export interface PoolGeometry {
  /** Images in the batch (N). */
  batch: number;
  /** Input rows. */
  inHeight: number;
  /** Input columns. */
  inWidth: number;
  /** Channels (C), the innermost dimension. */
  channels: number;
  /** Window rows. */
  kernelHeight: number;
  /** Window columns. */
  kernelWidth: number;
  /** Vertical stride. */
  strideHeight: number;
  /** Horizontal stride. */
  strideWidth: number;
  /** Zero rows added above the input. */
  padTop: number;
  /** Zero rows added below the input (tfjs "same" puts the odd one here). */
  padBottom: number;
  /** Zero columns added left of the input. */
  padLeft: number;
  /** Zero columns added right of the input. */
  padRight: number;
  /** Derived: floor((inHeight + padTop + padBottom - kernelHeight) / strideHeight) + 1. */
  outHeight: number;
  /** Derived like {@link outHeight}. */
  outWidth: number;
}

/** Input of {@link poolGeometry}. */
export interface PoolGeometryInput {
  /** Images in the batch (N). */
  batch: number;
  /** Input rows. */
  inHeight: number;
  /** Input columns. */
  inWidth: number;
  /** Channels (C), the innermost dimension. */
  channels: number;
  /** Window size: `k` for k x k, or `[rows, columns]`. */
  kernel: number | readonly [number, number];
  /** Stride: one number or `[rows, columns]`. */
  stride?: number | readonly [number, number];
  /** Padding (default 0). */
  pad?: ConvPad;
}

/**
 * Completes a pooling geometry (stride defaults to the kernel size, as in tfjs and PyTorch).
 *
 * @example
 * ```ts
 * import { poolGeometry } from "./geometry.ts";
 * const g = poolGeometry({ batch: 64, inHeight: 48, inWidth: 48, channels: 64, kernel: 3,
 *   stride: 2, pad: 1 });
 * ```
 */
export function poolGeometry(input: PoolGeometryInput): PoolGeometry {
  const { kernel, stride, pad, ...rest } = input;
  const conv = convGeometry({
    ...rest,
    inChannels: input.channels,
    outChannels: input.channels,
    kernel,
    stride: stride ?? kernel,
    pad,
  });
  const { inChannels: _i, outChannels: _o, ...g } = conv;
  return { ...g, channels: input.channels };
}
