/**
 * Convolutions on small maps as GEMMs per output pixel and kernel row: for output pixel `p` and
 * the taps `t` of one kernel row whose input pixels `q` lie inside the image,
 * `y[:, p, :] += x[:, q, :] @ w[t]`, with the batch as the GEMM's rows (a strided view of the
 * NHWC buffer, no copy) and the row's taps side by side in the inner dimension; the backward data
 * pass as its adjoint `dx[:, q, :] += dy[:, p, :] @ w[t]^T`. Taps that only see padding are
 * skipped instead of multiplied by zeros.
 *
 * Why: oneDNN 2.6's kernels split work by output rows and columns, which leaves little to do per
 * call when the map has a handful of pixels (ResNet-18's last stages: 2x2 and 1x1 at 28x28, 3x3 at
 * 96x96). Measured on the 2-core AMD EPYC (Zen 5), oneDNN against this, batch 64 (256), in ms:
 *
 * | layer | forward | backward data |
 * |---|---|---|
 * | 3x3 512->512, 1x1 map | 0.48 / 0.10 (1.90 / 0.66) | 0.88 / 0.20 (2.01 / 0.46) |
 * | 3x3 256->256, 2x2 map | 1.20 / 0.50 (5.16 / 1.58) | 0.79 / 0.62 (2.77 / 1.75) |
 * | 3x3/2 128->256, 4x4 -> 2x2 | 0.78 / 0.38 (3.02 / 1.25) | 0.89 / 0.54 (3.20 / 1.39) |
 * | 3x3 512->512, 3x3 map | 13.94 / 4.99 (54.2 / 19.2) | 9.11 / 9.70 (34.1 / 24.6) |
 * | 3x3 256->256, 3x3 map | 2.10 / 1.43 (8.99 / 4.96) | 1.46 / 1.79 (6.57 / 5.41) |
 * | 3x3 128->128, 4x4 map | 0.59 / 0.93 (2.63 / 3.29) | 0.66 / 1.05 (2.73 / 3.30) |
 * | 3x3 64->64, 3x3 map | 0.12 / 0.21 (0.48 / 0.47) | 0.12 / 0.26 (0.40 / 0.61) |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * import { preferTaps } from "./conv2d_taps.ts";
 * const g = convGeometry({ batch: 64, inHeight: 2, inWidth: 2, inChannels: 256,
 *   outChannels: 256, kernel: 3, pad: 1 });
 * assert.equal(preferTaps(g, "forward"), true);
 * assert.equal(preferTaps({ ...g, inChannels: 64, outChannels: 64 }, "forward"), false);
 * ```
 * @module
 */

import type { Dnnl } from "./ffi.ts";
import type { ConvGeometry } from "./geometry.ts";
import { sgemmStrided } from "./sgemm.ts";

/** The passes this module computes. */
export type TapsPass = "forward" | "backward_data";

/**
 * Whether `pass` of this geometry runs here rather than in oneDNN's primitive (the thresholds are
 * the measurements above): a 1-pixel output always; else inputs of at least 128 channels and
 * kernels of more than one tap, forward up to 3x3 outputs, backward data up to 2x2 ones, and up
 * to 3x3 from batch 256 (at batch 64 oneDNN was 6-20% faster there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * import { preferTaps } from "./conv2d_taps.ts";
 * const g = convGeometry({ batch: 64, inHeight: 6, inWidth: 6, inChannels: 256,
 *   outChannels: 512, kernel: 3, stride: 2, pad: 1 }); // a 3x3 output
 * assert.equal(preferTaps(g, "forward"), true);
 * assert.equal(preferTaps(g, "backward_data"), false);
 * assert.equal(preferTaps({ ...g, batch: 256 }, "backward_data"), true);
 * ```
 */
export function preferTaps(g: ConvGeometry, pass: TapsPass): boolean {
  if (g.groups !== 1 || g.batch === 0) return false;
  const pixels = g.outHeight * g.outWidth;
  if (pixels === 1) return true;
  if (g.inChannels < 128 || g.kernelHeight * g.kernelWidth === 1) return false;
  return pixels <= (pass === "forward" || g.batch >= 256 ? 9 : 4);
}

/**
 * Calls `f(p, q, t, run)` for every output pixel `p` and kernel row whose taps `t` to
 * `t + run - 1` meet input pixels `q` to `q + run - 1` (a row's taps that meet the input are
 * consecutive, and so are their input pixels and HWIO weight rows: one GEMM with `run` times the
 * inner dimension instead of `run` GEMMs).
 */
function eachRun(g: ConvGeometry, f: (p: number, q: number, t: number, run: number) => void) {
  for (let oy = 0; oy < g.outHeight; oy++) {
    for (let ox = 0; ox < g.outWidth; ox++) {
      const x0 = ox * g.strideWidth - g.padLeft;
      const k0 = Math.max(0, -x0), k1 = Math.min(g.kernelWidth, g.inWidth - x0);
      if (k1 <= k0) continue;
      for (let ky = 0; ky < g.kernelHeight; ky++) {
        const iy = oy * g.strideHeight - g.padTop + ky;
        if (iy < 0 || iy >= g.inHeight) continue;
        f(oy * g.outWidth + ox, iy * g.inWidth + x0 + k0, ky * g.kernelWidth + k0, k1 - k0);
      }
    }
  }
}

/** The channels and the floats per image of input and output, once the buffers are checked. */
function rowsOf(
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  what: string,
  bias: Float32Array | null = null,
) {
  const ic = g.inChannels, oc = g.outChannels;
  const xRow = g.inHeight * g.inWidth * ic, yRow = g.outHeight * g.outWidth * oc;
  if (
    x.length < g.batch * xRow || y.length < g.batch * yRow ||
    w.length < g.kernelHeight * g.kernelWidth * ic * oc || (bias !== null && bias.length < oc)
  ) {
    throw new Error(`conv ${what} by taps: buffers too small for ${JSON.stringify(g)}`);
  }
  return { ic, oc, xRow, yRow };
}

/**
 * `y = conv(x, w) + bias`, then ReLU when `relu`: x `[n, h, w, in]`, w HWIO, bias `[out]` or
 * null, y `[n, outH, outW, out]` (overwritten).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "./ffi.ts";
 * import { convGeometry } from "./geometry.ts";
 * import { tapsForward } from "./conv2d_taps.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const g = convGeometry({ batch: 1, inHeight: 1, inWidth: 1, inChannels: 1, outChannels: 1,
 *     kernel: 3, pad: 1 });
 *   const w = Float32Array.of(9, 9, 9, 9, 2, 9, 9, 9, 9), y = new Float32Array(1);
 *   tapsForward(dnnl, g, Float32Array.of(3), w, Float32Array.of(-10), y, true);
 *   assert.deepEqual([...y], [0]); // relu(3 * 2 - 10): only the centre tap sees the pixel
 * }
 * ```
 */
export function tapsForward(
  dnnl: Dnnl,
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  relu: boolean,
): void {
  const { ic, oc, xRow, yRow } = rowsOf(g, x, w, y, "forward", bias);
  const n = g.batch * yRow;
  if (bias) { for (let i = 0; i < n; i += oc) y.set(bias.subarray(0, oc), i); }
  else y.fill(0, 0, n);
  eachRun(g, (p, q, t, run) => {
    const a = x.subarray(q * ic), b = w.subarray(t * ic * oc), c = y.subarray(p * oc);
    sgemmStrided(dnnl, false, false, g.batch, oc, run * ic, 1, a, xRow, b, oc, 1, c, yRow);
  });
  // NaN stays NaN, as in tfjs' Relu (oneDNN's ReLU post-op, on the other path, makes it 0).
  if (relu) { for (let i = 0; i < n; i++) if (y[i] < 0) y[i] = 0; }
}

/**
 * `dx = conv_backward_data(dy, w)`: dy `[n, outH, outW, out]`, w HWIO, dx `[n, h, w, in]`
 * (overwritten).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openDnnl } from "./ffi.ts";
 * import { convGeometry } from "./geometry.ts";
 * import { tapsBackwardData } from "./conv2d_taps.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const g = convGeometry({ batch: 1, inHeight: 2, inWidth: 1, inChannels: 1, outChannels: 1,
 *     kernel: 1, stride: 2 }); // the second row is never read
 *   const dx = Float32Array.of(7, 7);
 *   tapsBackwardData(dnnl, g, Float32Array.of(3), Float32Array.of(2), dx);
 *   assert.deepEqual([...dx], [6, 0]);
 * }
 * ```
 */
export function tapsBackwardData(
  dnnl: Dnnl,
  g: ConvGeometry,
  dy: Float32Array,
  w: Float32Array,
  dx: Float32Array,
): void {
  const { ic, oc, xRow, yRow } = rowsOf(g, dx, w, dy, "backward data");
  dx.fill(0, 0, g.batch * xRow);
  eachRun(g, (p, q, t, run) => {
    const a = dy.subarray(p * oc), b = w.subarray(t * ic * oc), c = dx.subarray(q * ic);
    sgemmStrided(dnnl, false, true, g.batch, run * ic, oc, 1, a, yRow, b, oc, 1, c, xRow);
  });
}
