/**
 * im2col (each output pixel's receptive field as one row of a matrix), dense or restricted to
 * the kernel taps that see the input, and the adjoints (col2im), for both kernel
 * libraries: the BLAS convolutions (ops/conv2d.ts, on tfjs' `Conv2DInfo`) and oneDNN's filter
 * gradient on small maps (dnnl/conv2d_im2col.ts, on its `ConvGeometry`). On small feature maps
 * most taps of a 3x3 kernel only ever see padding (ResNet's last stage at 28x28 input is 1x1):
 * dropping them shrinks the matrix products by up to 9x.
 *
 * Data are NHWC; row `r` of the columns is output pixel `r` (images, then rows, then columns),
 * its `taps * inChannels` entries the input pixel under each kept tap (zeros in the padding).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { im2colTaps, tapsOf } from "./im2col.ts";
 * // A 3x3 kernel, padding 1, on a 1x1 map: only the centre tap sees the pixel.
 * const g = { inHeight: 1, inWidth: 1, inChannels: 2, outHeight: 1, outWidth: 1,
 *   kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padTop: 1, padLeft: 1,
 *   dilationHeight: 1, dilationWidth: 1 };
 * const t = tapsOf(g);
 * assert.deepEqual(t, { kh: [1], kw: [1], all: false });
 * const cols = new Float32Array(2);
 * im2colTaps(g, t, Float32Array.of(5, 6), 0, 1, cols);
 * assert.deepEqual([...cols], [5, 6]);
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";

/** What im2col reads of a convolution's geometry. */
export interface Im2colGeometry {
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  kernelHeight: number;
  kernelWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
  dilationHeight: number;
  dilationWidth: number;
}

/**
 * The geometry of tfjs' convolution info.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { fromConvInfo } from "./im2col.ts";
 * const c = tf.backend_util.computeConv2DInfo([1, 4, 4, 1], [3, 3, 1, 1], 2, 1, "same");
 * fromConvInfo(c).outHeight; // 2
 * ```
 */
export function fromConvInfo(c: tf.backend_util.Conv2DInfo): Im2colGeometry {
  return {
    inHeight: c.inHeight,
    inWidth: c.inWidth,
    inChannels: c.inChannels,
    outHeight: c.outHeight,
    outWidth: c.outWidth,
    kernelHeight: c.filterHeight,
    kernelWidth: c.filterWidth,
    strideHeight: c.strideHeight,
    strideWidth: c.strideWidth,
    padTop: c.padInfo.top,
    padLeft: c.padInfo.left,
    dilationHeight: c.dilationHeight,
    dilationWidth: c.dilationWidth,
  };
}

/** The kernel taps `(kh[i], kw[i])` that touch the input for at least one output pixel. */
export interface Taps {
  kh: number[];
  kw: number[];
  /** Whether every tap is kept (then the dense im2col applies). */
  all: boolean;
}

/**
 * The taps of a convolution that see the input somewhere, row by row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tapsOf } from "./im2col.ts";
 * // 3x3, stride 2, padding 1, a 2x2 input to a 1x1 output: the lower right four taps.
 * const g = { inHeight: 2, inWidth: 2, inChannels: 1, outHeight: 1, outWidth: 1,
 *   kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2, padTop: 1, padLeft: 1,
 *   dilationHeight: 1, dilationWidth: 1 };
 * assert.deepEqual(tapsOf(g), { kh: [1, 1, 2, 2], kw: [1, 2, 1, 2], all: false });
 * ```
 */
export function tapsOf(g: Im2colGeometry): Taps {
  // Output positions o with 0 <= o * s - pad + k * d < size exist.
  const used = (k: number, d: number, s: number, pad: number, outN: number, inN: number) => {
    const lo = Math.ceil((pad - k * d) / s), hi = Math.floor((inN - 1 + pad - k * d) / s);
    return Math.max(lo, 0) <= Math.min(hi, outN - 1);
  };
  const rows: number[] = [], cols: number[] = [];
  for (let k = 0; k < g.kernelHeight; k++) {
    if (used(k, g.dilationHeight, g.strideHeight, g.padTop, g.outHeight, g.inHeight)) rows.push(k);
  }
  for (let k = 0; k < g.kernelWidth; k++) {
    if (used(k, g.dilationWidth, g.strideWidth, g.padLeft, g.outWidth, g.inWidth)) cols.push(k);
  }
  const kh: number[] = [], kw: number[] = [];
  for (const h of rows) for (const w of cols) kh.push(h), kw.push(w);
  return { kh, kw, all: kh.length === g.kernelHeight * g.kernelWidth };
}

/**
 * Writes the columns of images `[n0, n0 + nb)` of `x` into `cols` (`[nb*oh*ow, kh*kw*cin]`):
 * every tap, a kernel row inside the image copied as one run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { im2col } from "./im2col.ts";
 * // A 1x2 kernel, padding 1 on the left only, on a 1x2 map of one channel: 2 output pixels.
 * const g = { inHeight: 1, inWidth: 2, inChannels: 1, outHeight: 1, outWidth: 2,
 *   kernelHeight: 1, kernelWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 1,
 *   dilationHeight: 1, dilationWidth: 1 };
 * const cols = new Float32Array(4);
 * im2col(g, Float32Array.of(7, 8), 0, 1, cols);
 * assert.deepEqual([...cols], [0, 7, 7, 8]);
 * ```
 */
export function im2col(
  c: Im2colGeometry,
  x: Float32Array,
  n0: number,
  nb: number,
  cols: Float32Array,
): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { kernelHeight: KH, kernelWidth: KW, strideHeight: SH, strideWidth: SW } = c;
  const { dilationHeight: DH, dilationWidth: DW } = c;
  const top = c.padTop, left = c.padLeft;
  const rowLen = KH * KW * C, segLen = KW * C;
  let r = 0;
  for (let n = n0; n < n0 + nb; n++) {
    const xImg = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, r++) {
        const iw0 = ow * SW - left;
        const rowOff = r * rowLen;
        // Whole kernel row inside the image with dilation 1: one contiguous copy per kh.
        const rowInside = DW === 1 && iw0 >= 0 && iw0 + KW <= W;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh * DH;
          const dst = rowOff + kh * segLen;
          if (ih < 0 || ih >= H) {
            cols.fill(0, dst, dst + segLen);
            continue;
          }
          const xRow = xImg + ih * W * C;
          if (rowInside) {
            const src = xRow + iw0 * C;
            if (segLen > 32) cols.set(x.subarray(src, src + segLen), dst);
            else for (let i = 0; i < segLen; i++) cols[dst + i] = x[src + i];
            continue;
          }
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * DW;
            const d = dst + kw * C;
            if (iw < 0 || iw >= W) {
              for (let i = 0; i < C; i++) cols[d + i] = 0;
            } else {
              const src = xRow + iw * C;
              for (let i = 0; i < C; i++) cols[d + i] = x[src + i];
            }
          }
        }
      }
    }
  }
}

/**
 * Adds the columns `cols` of images `[n0, n0 + nb)` back into `dx` (the adjoint of
 * {@linkcode im2col}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { col2im } from "./im2col.ts";
 * const g = { inHeight: 1, inWidth: 2, inChannels: 1, outHeight: 1, outWidth: 2,
 *   kernelHeight: 1, kernelWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 1,
 *   dilationHeight: 1, dilationWidth: 1 };
 * const dx = new Float32Array(2);
 * col2im(g, Float32Array.of(1, 1, 1, 1), 0, 1, dx);
 * assert.deepEqual([...dx], [2, 1]); // the padding's column is dropped
 * ```
 */
export function col2im(
  c: Im2colGeometry,
  cols: Float32Array,
  n0: number,
  nb: number,
  dx: Float32Array,
): void {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const { kernelHeight: KH, kernelWidth: KW, strideHeight: SH, strideWidth: SW } = c;
  const { dilationHeight: DH, dilationWidth: DW } = c;
  const top = c.padTop, left = c.padLeft;
  const rowLen = KH * KW * C;
  let r = 0;
  for (let n = n0; n < n0 + nb; n++) {
    const xImg = n * H * W * C;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, r++) {
        const iw0 = ow * SW - left;
        const rowOff = r * rowLen;
        const rowInside = DW === 1 && iw0 >= 0 && iw0 + KW <= W;
        for (let kh = 0; kh < KH; kh++) {
          const ih = ih0 + kh * DH;
          if (ih < 0 || ih >= H) continue;
          const xRow = xImg + ih * W * C;
          if (rowInside) {
            // One contiguous run of kw * in values, as in im2col.
            const s = rowOff + kh * KW * C, d = xRow + iw0 * C, len = KW * C;
            for (let i = 0; i < len; i++) dx[d + i] += cols[s + i];
            continue;
          }
          for (let kw = 0; kw < KW; kw++) {
            const iw = iw0 + kw * DW;
            if (iw < 0 || iw >= W) continue;
            const s = rowOff + (kh * KW + kw) * C, d = xRow + iw * C;
            for (let i = 0; i < C; i++) dx[d + i] += cols[s + i];
          }
        }
      }
    }
  }
}

/**
 * The columns of images `n0` to `n0 + nb` (rows of `taps * inChannels`, written from `cols[0]`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { im2colTaps, tapsOf } from "./im2col.ts";
 * // 1x2 kernel, no padding, one channel: each output pixel and its right neighbour.
 * const g = { inHeight: 1, inWidth: 3, inChannels: 1, outHeight: 1, outWidth: 2,
 *   kernelHeight: 1, kernelWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0,
 *   dilationHeight: 1, dilationWidth: 1 };
 * const cols = new Float32Array(4);
 * im2colTaps(g, tapsOf(g), Float32Array.of(1, 2, 3), 0, 1, cols);
 * assert.deepEqual([...cols], [1, 2, 2, 3]);
 * ```
 */
export function im2colTaps(
  g: Im2colGeometry,
  t: Taps,
  x: Float32Array,
  n0: number,
  nb: number,
  cols: Float32Array,
): void {
  const C = g.inChannels, src = tapSources(g, t, n0, nb);
  for (let k = 0, d = 0; k < src.length; k++, d += C) {
    const from = src[k];
    if (from < 0) cols.fill(0, d, d + C);
    // A loop, not set(subarray): no view object per pixel and tap for the collector.
    else for (let j = 0; j < C; j++) cols[d + j] = x[from + j];
  }
}

/**
 * The adjoint of {@linkcode im2colTaps}: adds the columns of images `n0` to `n0 + nb` back into
 * `dx`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { col2imTaps, tapsOf } from "./im2col.ts";
 * const g = { inHeight: 1, inWidth: 3, inChannels: 1, outHeight: 1, outWidth: 2,
 *   kernelHeight: 1, kernelWidth: 2, strideHeight: 1, strideWidth: 1, padTop: 0, padLeft: 0,
 *   dilationHeight: 1, dilationWidth: 1 };
 * const dx = new Float32Array(3);
 * col2imTaps(g, tapsOf(g), Float32Array.of(1, 1, 1, 1), 0, 1, dx);
 * assert.deepEqual([...dx], [1, 2, 1]); // the middle pixel is in both windows
 * ```
 */
export function col2imTaps(
  g: Im2colGeometry,
  t: Taps,
  cols: Float32Array,
  n0: number,
  nb: number,
  dx: Float32Array,
): void {
  const C = g.inChannels, src = tapSources(g, t, n0, nb);
  for (let k = 0, s = 0; k < src.length; k++, s += C) {
    const to = src[k];
    if (to >= 0) { for (let j = 0; j < C; j++) dx[to + j] += cols[s + j]; }
  }
}

/**
 * Where each row of the taps' columns reads: for each output pixel of images `n0` to `n0 + nb`
 * and each kept tap, the offset of its input pixel in the NHWC input, or -1 in the padding.
 */
function tapSources(g: Im2colGeometry, t: Taps, n0: number, nb: number): Int32Array {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = g;
  const T = t.kh.length, src = new Int32Array(nb * OH * OW * T);
  let k = 0;
  for (let n = n0; n < n0 + nb; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let i = 0; i < T; i++, k++) {
          const ih = oh * g.strideHeight - g.padTop + t.kh[i] * g.dilationHeight;
          const iw = ow * g.strideWidth - g.padLeft + t.kw[i] * g.dilationWidth;
          const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
          src[k] = inside ? ((n * H + ih) * W + iw) * C : -1;
        }
      }
    }
  }
  return src;
}
