/**
 * 2-D convolutions in NHWC/HWIO as matrix products: im2col (each output pixel's receptive field as
 * one row) times the filter reshaped to `[kh * kw * in, out]`, through BLAS' `sgemm`; the input
 * gradient is the product with the transposed filter folded back by col2im, the filter gradient
 * the product of the transposed columns with the output gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlas } from "../blas.ts";
 * import { conv2dForward } from "./conv2d.ts";
 * import * as tf from "@tensorflow/tfjs-core";
 * const blas = openBlas();
 * if (blas.ok) {
 *   const info = tf.backend_util.computeConv2DInfo([1, 3, 3, 1], [3, 3, 1, 1], 1, 1, 1);
 *   const y = conv2dForward(blas.sgemm, info, new Float32Array(9).fill(1), new Float32Array(9).fill(1));
 *   assert.equal(y[4], 9);
 * }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Sgemm } from "../blas.ts";
import { pool } from "../buffers.ts";
import { applyEpilogue, type Epilogue } from "./epilogue.ts";
import { channelSums } from "./batch_norm.ts";
import type { Layout } from "../layouts.ts";
import type { WeightsCopy } from "../dnnl/conv2d.ts";
import {
  col2im,
  col2imTaps,
  fromConvInfo,
  im2col,
  im2colTaps,
  type Taps,
  tapsOf,
} from "../im2col.ts";

type ConvInfo = tf.backend_util.Conv2DInfo;

/**
 * Column buffers of at most this many floats (4 MiB: they stay in cache between im2col and the
 * product; measured faster than 32 MiB slices); larger batches are done in slices of images.
 */
const COLS_BUDGET = 1 << 20;

let scratch = new Float32Array(0);
/** A reusable scratch buffer (the kernels are synchronous, so one is enough). */
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/** Whether the columns are the input itself (1x1, stride 1, no padding). */
function isPointwise(c: ConvInfo): boolean {
  return c.filterHeight === 1 && c.filterWidth === 1 && c.strideHeight === 1 &&
    c.strideWidth === 1 && c.padInfo.top === 0 && c.padInfo.left === 0 &&
    c.outHeight === c.inHeight && c.outWidth === c.inWidth;
}

/** Images per slice so that one slice's columns fit in {@linkcode COLS_BUDGET}. */
function imagesPerSlice(c: ConvInfo): number {
  const perImage = c.outHeight * c.outWidth * c.filterHeight * c.filterWidth * c.inChannels;
  return Math.max(1, Math.min(c.batchSize, Math.floor(COLS_BUDGET / Math.max(1, perImage))));
}

let wScratch = new Float32Array(0);
/** The filter rows of the used taps: `[taps * in, out]` (a scratch buffer). */
function compactFilter(c: ConvInfo, t: Taps, w: Float32Array): Float32Array {
  const C = c.inChannels, N = c.outChannels, rowLen = C * N;
  const n = t.kh.length * rowLen;
  if (wScratch.length < n) wScratch = new Float32Array(n);
  const out = wScratch.subarray(0, n);
  for (let i = 0; i < t.kh.length; i++) {
    const src = (t.kh[i] * c.filterWidth + t.kw[i]) * rowLen;
    out.set(w.subarray(src, src + rowLen), i * rowLen);
  }
  return out;
}

/** `y = conv(x, w)` (NHWC, HWIO); returns `[n, oh, ow, out]`. */
export function conv2dForward(
  sgemm: Sgemm,
  c: ConvInfo,
  x: Float32Array,
  w: Float32Array,
): Float32Array {
  const K = c.filterHeight * c.filterWidth * c.inChannels, N = c.outChannels;
  const pix = c.outHeight * c.outWidth;
  const y = pool.alloc(c.batchSize * pix * N);
  if (isPointwise(c)) {
    sgemm(false, false, c.batchSize * pix, N, K, 1, x, K, w, N, 0, y, N);
    return y;
  }
  const t = tapsOf(fromConvInfo(c));
  if (!t.all) {
    const Kt = t.kh.length * c.inChannels, wt = compactFilter(c, t, w);
    const cols = scratchOf(c.batchSize * pix * Kt);
    im2colTaps(fromConvInfo(c), t, x, 0, c.batchSize, cols);
    sgemm(false, false, c.batchSize * pix, N, Kt, 1, cols, Kt, wt, N, 0, y, N);
    return y;
  }
  const step = imagesPerSlice(c);
  for (let n0 = 0; n0 < c.batchSize; n0 += step) {
    const nb = Math.min(step, c.batchSize - n0);
    const rows = nb * pix;
    const cols = scratchOf(rows * K);
    im2col(fromConvInfo(c), x, n0, nb, cols);
    sgemm(false, false, rows, N, K, 1, cols, K, w, N, 0, y.subarray(n0 * pix * N), N);
  }
  return y;
}

/**
 * For stride 1 without dilation, the input gradient is itself a convolution: `dy` convolved with
 * the filter rotated by 180 degrees (in and out channels swapped) and the complementary padding.
 * As a forward convolution it needs im2col instead of col2im's scattered additions (measured
 * about half the time of col2im here). Null when that does not apply.
 */
function flippedConv(c: ConvInfo): ConvInfo | null {
  const KH = c.filterHeight, KW = c.filterWidth, p = c.padInfo;
  if (c.strideHeight !== 1 || c.strideWidth !== 1) return null;
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  const top = KH - 1 - p.top, left = KW - 1 - p.left;
  const bottom = c.inHeight - c.outHeight - top + KH - 1;
  const right = c.inWidth - c.outWidth - left + KW - 1;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return null;
  return tf.backend_util.computeConv2DInfo(
    [c.batchSize, c.outHeight, c.outWidth, c.outChannels],
    [KH, KW, c.outChannels, c.inChannels],
    1,
    1,
    [[0, 0], [top, bottom], [left, right], [0, 0]],
  );
}

let rotScratch = new Float32Array(0);
/** `w[KH-1-kh, KW-1-kw, o, i]` as HWIO of the flipped convolution (a scratch buffer). */
function rotateFilter(c: ConvInfo, w: Float32Array): Float32Array {
  const KH = c.filterHeight, KW = c.filterWidth, I = c.inChannels, O = c.outChannels;
  const n = KH * KW * I * O;
  if (rotScratch.length < n) rotScratch = new Float32Array(n);
  const r = rotScratch.subarray(0, n);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * I * O, dst = (kh * KW + kw) * O * I;
      for (let i = 0; i < I; i++) {
        for (let o = 0; o < O; o++) r[dst + o * I + i] = w[src + i * O + o];
      }
    }
  }
  return r;
}

/** The input gradient `dx` (`[n, h, w, in]`) of a convolution, from `dy` and the filter. */
export function conv2dBackpropInput(
  sgemm: Sgemm,
  c: ConvInfo,
  dy: Float32Array,
  w: Float32Array,
): Float32Array {
  const K = c.filterHeight * c.filterWidth * c.inChannels, N = c.outChannels;
  const pix = c.outHeight * c.outWidth;
  const size = c.batchSize * c.inHeight * c.inWidth * c.inChannels;
  if (isPointwise(c)) {
    const dx = pool.alloc(size);
    sgemm(false, true, c.batchSize * pix, K, N, 1, dy, N, w, N, 0, dx, K);
    return dx;
  }
  const t = tapsOf(fromConvInfo(c));
  const flipped = t.all ? flippedConv(c) : null;
  if (flipped) return conv2dForward(sgemm, flipped, dy, rotateFilter(c, w));
  const dx = pool.zeros(size); // col2im accumulates
  if (!t.all) {
    const Kt = t.kh.length * c.inChannels, wt = compactFilter(c, t, w);
    const cols = scratchOf(c.batchSize * pix * Kt);
    sgemm(false, true, c.batchSize * pix, Kt, N, 1, dy, N, wt, N, 0, cols, Kt);
    col2imTaps(fromConvInfo(c), t, cols, 0, c.batchSize, dx);
    return dx;
  }
  const step = imagesPerSlice(c);
  for (let n0 = 0; n0 < c.batchSize; n0 += step) {
    const nb = Math.min(step, c.batchSize - n0);
    const rows = nb * pix;
    const cols = scratchOf(rows * K);
    sgemm(false, true, rows, K, N, 1, dy.subarray(n0 * pix * N), N, w, N, 0, cols, K);
    col2im(fromConvInfo(c), cols, n0, nb, dx);
  }
  return dx;
}

/** The filter gradient `dw` (`[kh, kw, in, out]`) of a convolution, from `x` and `dy`. */
export function conv2dBackpropFilter(
  sgemm: Sgemm,
  c: ConvInfo,
  x: Float32Array,
  dy: Float32Array,
): Float32Array {
  const K = c.filterHeight * c.filterWidth * c.inChannels, N = c.outChannels;
  const pix = c.outHeight * c.outWidth;
  if (isPointwise(c)) {
    const dw = pool.alloc(K * N);
    sgemm(true, false, K, N, c.batchSize * pix, 1, x, K, dy, N, 0, dw, N);
    return dw;
  }
  const t = tapsOf(fromConvInfo(c));
  if (!t.all) {
    // Unused taps get zero gradient; the used ones come out compact and are scattered.
    const dw = pool.zeros(K * N), C = c.inChannels, rowLen = C * N;
    const Kt = t.kh.length * C, rows = c.batchSize * pix;
    const cols = scratchOf(rows * Kt);
    im2colTaps(fromConvInfo(c), t, x, 0, c.batchSize, cols);
    const dwt = new Float32Array(Kt * N);
    sgemm(true, false, Kt, N, rows, 1, cols, Kt, dy, N, 0, dwt, N);
    for (let i = 0; i < t.kh.length; i++) {
      const d = (t.kh[i] * c.filterWidth + t.kw[i]) * rowLen;
      dw.set(dwt.subarray(i * rowLen, (i + 1) * rowLen), d);
    }
    return dw;
  }
  const dw = pool.alloc(K * N);
  const step = imagesPerSlice(c);
  for (let n0 = 0; n0 < c.batchSize; n0 += step) {
    const nb = Math.min(step, c.batchSize - n0);
    const rows = nb * pix;
    const cols = scratchOf(rows * K);
    im2col(fromConvInfo(c), x, n0, nb, cols);
    sgemm(
      true,
      false,
      K,
      N,
      rows,
      1,
      cols,
      K,
      dy.subarray(n0 * pix * N),
      N,
      n0 === 0 ? 0 : 1,
      dw,
      N,
    );
  }
  return dw;
}

/**
 * What the convolution kernels need from a kernel library: channels-last forward (with the fused
 * bias/ReLU epilogue), input gradient and filter gradient, each returning a pooled buffer, or null
 * for a convolution the library does not cover (the CPU backend's kernel runs instead).
 */
export interface ConvLibrary {
  /**
   * `y = conv(x, w) (+ bias) (relu)`, NHWC / HWIO, or `w` stored in `layout` (../layouts.ts; only
   * oneDNN's library is given one); `copy`, where given, keeps `w` in the primitive's layout
   * between calls (../weights_copies.ts; oneDNN's library only).
   */
  forward(
    c: ConvInfo,
    x: Float32Array,
    w: Float32Array,
    ep: Epilogue,
    layout?: Layout | null,
    copy?: WeightsCopy,
  ): Float32Array | null;
  /**
   * Whether `copy` holds HWIO weights in the layout of the forward primitive for `c` and `ep`, so
   * that the copy itself may be passed as `w` (oneDNN's library only; absent: never).
   */
  copyFits?(c: ConvInfo, ep: Epilogue, copy: WeightsCopy): boolean;
  /** `dx` from `dy` and the filter (HWIO, or stored in `layout`). */
  backpropInput(
    c: ConvInfo,
    dy: Float32Array,
    w: Float32Array,
    layout?: Layout | null,
  ): Float32Array | null;
  /** `dw` from `x` and `dy`, in HWIO or in the layout it says. */
  backpropFilter(c: ConvInfo, x: Float32Array, dy: Float32Array): FilterGradient | null;
  /** `dw` and the bias gradient `sum(dy)` per output channel, in one call where it can. */
  backpropFilterBias(
    c: ConvInfo,
    x: Float32Array,
    dy: Float32Array,
  ): FilterGradient & { db: Float32Array } | null;
}

/** A filter gradient: HWIO, or stored in `layout` (oneDNN's, kept between steps). */
export interface FilterGradient {
  /** The values. */
  dw: Float32Array;
  /** Their layout; absent or null: tfjs' HWIO. */
  layout?: Layout | null;
}

/** The im2col + sgemm convolutions of this module as a {@linkcode ConvLibrary}. */
export function blasConv(sgemm: Sgemm): ConvLibrary {
  return {
    forward(c, x, w, ep) {
      const y = conv2dForward(sgemm, c, x, w);
      applyEpilogue(y, c.outChannels, ep);
      return y;
    },
    backpropInput: (c, dy, w) => conv2dBackpropInput(sgemm, c, dy, w),
    backpropFilter: (c, x, dy) => ({ dw: conv2dBackpropFilter(sgemm, c, x, dy) }),
    backpropFilterBias: (c, x, dy) => ({
      dw: conv2dBackpropFilter(sgemm, c, x, dy),
      db: channelSums(dy, c.outChannels, null, null),
    }),
  };
}
