/**
 * Convolution backward-weights as one GEMM (`dnnl_sgemm`) over an im2col matrix, for the layers
 * where oneDNN 2.6's own choice is very slow.
 *
 * Why: on AVX2 oneDNN's `jit:avx2` backward-weights kernel refuses inputs narrower or shorter
 * than the kernel (e.g. ResNet-18's last stage at 28x28: 3x3 convolutions on 1x1 and 2x2 maps),
 * and the `gemm:jit` implementation it falls back to runs one GEMM per image with an inner
 * dimension of oh*ow (1 to 4): memory-bound rank-1 updates of the whole weight gradient, 50 ms for
 * a 3x3 512->512 layer at batch 64 on 2 cores. Here the batch is the GEMM's inner dimension
 * instead, and kernel taps that only ever see padding are skipped (their gradient is 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * import { im2colPlan } from "./conv2d_im2col.ts";
 * const g = convGeometry({ batch: 64, inHeight: 1, inWidth: 1, inChannels: 512,
 *   outChannels: 512, kernel: 3, pad: 1 });
 * assert.equal(im2colPlan(g).taps.kh.length, 1); // only the centre tap sees data
 * ```
 * @module
 */

import type { Dnnl } from "./ffi.ts";
import type { ConvGeometry } from "./geometry.ts";
import { type Im2colGeometry, im2colTaps, type Taps, tapsOf } from "../im2col.ts";
import { growScratch } from "./primitive.ts";
import { sgemm } from "./sgemm.ts";

/** The GEMM shape of one geometry's backward-weights pass. */
export interface Im2colPlan {
  /** Kernel taps that touch the input for at least one output position. */
  taps: Taps;
  /** GEMM inner dimension: batch * outHeight * outWidth. */
  rows: number;
  /** im2col row length: taps * inChannels. */
  cols: number;
  /** All ones, `rows` long: the bias gradient is `ones @ dy`. */
  ones: Float32Array;
}

/** The geometry as ../im2col.ts reads it (oneDNN's convolutions here are not dilated). */
function im2colGeometry(g: ConvGeometry): Im2colGeometry {
  return { ...g, dilationHeight: 1, dilationWidth: 1 };
}

/**
 * Whether to use {@link im2colBackwardWeights} rather than oneDNN's primitive whose
 * implementation is `impl`: where oneDNN fell back to GEMM because the input is smaller than the
 * kernel, and where the output map has at most 9 pixels, whose few rows leave `jit:avx2`'s
 * backward weights idle (measured on the 2-core AMD EPYC, batch 64, with bias: 3x3 512->512 on a
 * 3x3 map 67-77 ms against 25, 6x6->3x3 256->512 26 against 13, 4x4->2x2 128->256 4.1 against 2.4,
 * its 1x1 shortcuts 2.4 against 2.0; 6x6 and larger outputs were even or slower).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * import { preferIm2col } from "./conv2d_im2col.ts";
 * const g = convGeometry({ batch: 8, inHeight: 2, inWidth: 2, inChannels: 8, outChannels: 8,
 *   kernel: 3, pad: 1 });
 * assert.equal(preferIm2col(g, "x64:gemm:jit"), true);
 * ```
 */
export function preferIm2col(g: ConvGeometry, impl: string): boolean {
  const small = g.inHeight < g.kernelHeight || g.inWidth < g.kernelWidth;
  if (small && (impl.includes("gemm") || impl.startsWith("ref"))) return true;
  return g.outHeight * g.outWidth <= 9;
}

/**
 * The GEMM plan for a geometry (kept in the convolution plan; grows nothing per call).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convGeometry } from "./geometry.ts";
 * import { im2colPlan } from "./conv2d_im2col.ts";
 * const g = convGeometry({ batch: 2, inHeight: 2, inWidth: 2, inChannels: 4, outChannels: 4,
 *   kernel: 3, stride: 2, pad: 1 });
 * assert.deepEqual(im2colPlan(g).taps, { kh: [1, 1, 2, 2], kw: [1, 2, 1, 2], all: false });
 * ```
 */
export function im2colPlan(g: ConvGeometry): Im2colPlan {
  const taps = tapsOf(im2colGeometry(g));
  const rows = g.batch * g.outHeight * g.outWidth;
  const cols = taps.kh.length * g.inChannels;
  return { taps, rows, cols, ones: new Float32Array(rows).fill(1) };
}

function floats(buffer: Uint8Array, n: number): Float32Array {
  return new Float32Array(buffer.buffer, buffer.byteOffset, n);
}

/**
 * dw (HWIO, written) = col^T @ dy, and dbias (written, optional) = ones @ dy.
 *
 * @example
 * ```ts ignore
 * // not run: it only declares its inputs (a oneDNN handle and buffers; tests/backends/dnnl_test.ts makes these calls for real)
 * import { im2colBackwardWeights, im2colPlan } from "./conv2d_im2col.ts";
 * declare const dnnl: import("./ffi.ts").Dnnl;
 * declare const g: import("./geometry.ts").ConvGeometry;
 * declare const x: Float32Array, dy: Float32Array, dw: Float32Array;
 * im2colBackwardWeights(dnnl, g, im2colPlan(g), x, dy, dw, null);
 * ```
 */
export function im2colBackwardWeights(
  dnnl: Dnnl,
  g: ConvGeometry,
  plan: Im2colPlan,
  x: Float32Array,
  dy: Float32Array,
  dw: Float32Array,
  dbias: Float32Array | null,
): void {
  const oc = g.outChannels, block = g.inChannels * oc;
  const xSize = g.batch * g.inHeight * g.inWidth * g.inChannels;
  if (
    x.length < xSize || dy.length < plan.rows * oc ||
    dw.length < g.kernelHeight * g.kernelWidth * block
  ) {
    throw new Error(`im2col backward weights: buffers too small for ${JSON.stringify(g)}`);
  }
  const col = floats(growScratch(dnnl, "im2col", plan.rows * plan.cols * 4), plan.rows * plan.cols);
  im2colTaps(im2colGeometry(g), plan.taps, x, 0, g.batch, col);
  const allTaps = plan.taps.all;
  const out = allTaps
    ? dw
    : floats(growScratch(dnnl, "weights", plan.cols * oc * 4), plan.cols * oc);
  sgemm(dnnl, plan.cols, oc, plan.rows, col, dy, out, { transA: true });
  if (!allTaps) {
    dw.fill(0, 0, g.kernelHeight * g.kernelWidth * block);
    const { kh, kw } = plan.taps;
    for (let t = 0; t < kh.length; t++) {
      dw.set(out.subarray(t * block, (t + 1) * block), (kh[t] * g.kernelWidth + kw[t]) * block);
    }
  }
  if (dbias) sgemm(dnnl, 1, oc, plan.rows, plan.ones, dy, dbias);
}
