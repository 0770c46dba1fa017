/**
 * Convolutions on small maps as one GEMM per output pixel and kernel tap: for output pixel `p`
 * and a tap `t` whose input pixel `q` lies inside the image, `y[:, p, :] += x[:, q, :] @ w[t]`,
 * with the batch as the GEMM's rows (a strided view of the NHWC buffer, no copy), and the backward
 * data pass as its adjoint `dx[:, q, :] += dy[:, p, :] @ w[t]^T`. Taps that only see padding are
 * skipped instead of multiplied by zeros.
 *
 * Why: oneDNN 2.6's kernels split work by output rows and columns, which leaves little to do per
 * call when the map has a handful of pixels (ResNet-18's last stages: 2x2 and 1x1 at 28x28, 3x3 at
 * 96x96). Measured on the 2-core AMD EPYC (Zen 5), forward, batch 64 (256): 3x3 512->512 on a 1x1
 * map 0.45 (1.76) ms against 0.10 (0.38); on a 2x2 map 256->256 1.35 (4.76) against 0.52 (1.49);
 * on a 3x3 map 512->512 14.5 (88.2) against 5.3 (19.2) and 256->256 2.07 (8.50) against 1.59
 * (4.73); but 64->64 on a 3x3 map 0.11 against 0.31 and 128->128 on a 4x4 map 0.57 against 1.30.
 * Backward data gains less (its GEMMs read the weights transposed): 1x1 maps 1.00 (2.72) against
 * 0.21 (0.57), 2x2 256->256 0.87 (2.97) against 0.67 (2.02), 3x3 maps even or slower.
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
 * the measurements above: a 1-pixel output always; forward up to 3x3 outputs and backward data up
 * to 2x2 ones when the input has at least 128 channels and the kernel more than one tap).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * import { preferTaps } from "./conv2d_taps.ts";
 * const g = convGeometry({ batch: 8, inHeight: 6, inWidth: 6, inChannels: 256,
 *   outChannels: 512, kernel: 3, stride: 2, pad: 1 }); // a 3x3 output
 * assert.equal(preferTaps(g, "forward"), true);
 * assert.equal(preferTaps(g, "backward_data"), false);
 * ```
 */
export function preferTaps(g: ConvGeometry, pass: TapsPass): boolean {
  if (g.groups !== 1 || g.batch === 0) return false;
  const pixels = g.outHeight * g.outWidth;
  if (pixels === 1) return true;
  const wide = g.inChannels >= 128 && g.kernelHeight * g.kernelWidth > 1;
  return wide && pixels <= (pass === "forward" ? 9 : 4);
}

/** Calls `f(p, q, t)` for every output pixel `p`, input pixel `q` and tap `t` that meet. */
function eachTap(g: ConvGeometry, f: (p: number, q: number, t: number) => void): void {
  for (let oy = 0; oy < g.outHeight; oy++) {
    for (let ox = 0; ox < g.outWidth; ox++) {
      for (let ky = 0; ky < g.kernelHeight; ky++) {
        const iy = oy * g.strideHeight - g.padTop + ky;
        if (iy < 0 || iy >= g.inHeight) continue;
        for (let kx = 0; kx < g.kernelWidth; kx++) {
          const ix = ox * g.strideWidth - g.padLeft + kx;
          if (ix < 0 || ix >= g.inWidth) continue;
          f(oy * g.outWidth + ox, iy * g.inWidth + ix, ky * g.kernelWidth + kx);
        }
      }
    }
  }
}

function checkSizes(
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  y: Float32Array,
  what: string,
) {
  const xSize = g.batch * g.inHeight * g.inWidth * g.inChannels;
  const ySize = g.batch * g.outHeight * g.outWidth * g.outChannels;
  const wSize = g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels;
  if (x.length < xSize || w.length < wSize || y.length < ySize) {
    throw new Error(`conv ${what} by taps: buffers too small for ${JSON.stringify(g)}`);
  }
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
  checkSizes(g, x, w, y, "forward");
  const ic = g.inChannels, oc = g.outChannels;
  const xRow = g.inHeight * g.inWidth * ic, yRow = g.outHeight * g.outWidth * oc;
  const n = g.batch * yRow;
  if (bias) { for (let i = 0; i < n; i += oc) y.set(bias.subarray(0, oc), i); }
  else y.fill(0, 0, n);
  eachTap(g, (p, q, t) => {
    const a = x.subarray(q * ic), b = w.subarray(t * ic * oc), c = y.subarray(p * oc);
    sgemmStrided(dnnl, false, false, g.batch, oc, ic, 1, a, xRow, b, oc, 1, c, yRow);
  });
  if (relu) { for (let i = 0; i < n; i++) if (y[i] < 0) y[i] = 0; // NaN stays, as in tfjs' Relu
   }
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
  checkSizes(g, dx, w, dy, "backward data");
  const ic = g.inChannels, oc = g.outChannels;
  const xRow = g.inHeight * g.inWidth * ic, yRow = g.outHeight * g.outWidth * oc;
  dx.fill(0, 0, g.batch * xRow);
  eachTap(g, (p, q, t) => {
    const a = dy.subarray(p * oc), b = w.subarray(t * ic * oc), c = dx.subarray(q * ic);
    sgemmStrided(dnnl, false, true, g.batch, ic, oc, 1, a, yRow, b, oc, 1, c, xRow);
  });
}
