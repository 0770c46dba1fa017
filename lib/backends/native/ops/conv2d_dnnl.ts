/**
 * `Conv2D` and its gradients on oneDNN (../dnnl/conv2d.ts), as the conv kernels'
 * {@linkcode ConvLibrary}; beside ./conv2d.ts, the same op as im2col + BLAS. Outputs come from the
 * buffer pool; tfjs' convolution info is translated to oneDNN's geometry here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { openDnnl } from "../dnnl/mod.ts";
 * import { dnnlConv } from "./conv2d_dnnl.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   const info = tf.backend_util.computeConv2DInfo([1, 3, 3, 1], [3, 3, 1, 1], 1, 1, 1);
 *   const y = dnnlConv(dnnl).forward(info, new Float32Array(9).fill(1), new Float32Array(9).fill(1), { bias: null, relu: false });
 *   assert.equal(y?.[4], 9);
 * }
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import {
  convBackwardData,
  convBackwardWeights,
  convForward,
  type ConvGeometry,
  convGeometry,
} from "../dnnl/conv2d.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import { pool } from "../buffers.ts";
import type { ConvLibrary } from "./conv2d.ts";
import { applyEpilogue } from "./epilogue.ts";

type ConvInfo = tf.backend_util.Conv2DInfo;

/**
 * oneDNN's geometry for tfjs' convolution info (with `groups`, a grouped one whose filter is
 * `[kh, kw, in / groups, out]`); null for dilated ones.
 */
export function geometryOf(c: ConvInfo, groups = 1): ConvGeometry | null {
  if (c.dilationHeight !== 1 || c.dilationWidth !== 1) return null;
  const p = c.padInfo;
  return convGeometry({
    batch: c.batchSize,
    inHeight: c.inHeight,
    inWidth: c.inWidth,
    inChannels: c.inChannels,
    outChannels: c.outChannels,
    kernel: [c.filterHeight, c.filterWidth],
    stride: [c.strideHeight, c.strideWidth],
    pad: [p.top, p.bottom, p.left, p.right],
    groups,
  });
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** oneDNN's convolutions as the conv kernels' {@linkcode ConvLibrary}. */
export function dnnlConv(dnnl: Dnnl): ConvLibrary {
  return {
    forward(c, x, w, ep) {
      const g = geometryOf(c);
      if (!g) return null;
      const y = pool.alloc(size(c.outShape));
      convForward(dnnl, g, x, w, ep.bias, y);
      if (ep.relu) applyEpilogue(y, c.outChannels, { bias: null, relu: true });
      return y;
    },
    backpropInput(c, dy, w) {
      const g = geometryOf(c);
      if (!g) return null;
      const dx = pool.alloc(size(c.inShape));
      convBackwardData(dnnl, g, dy, w, dx);
      return dx;
    },
    backpropFilter(c, x, dy) {
      const g = geometryOf(c);
      if (!g) return null;
      const dw = pool.alloc(size(c.filterShape));
      convBackwardWeights(dnnl, g, x, dy, dw, null);
      return dw;
    },
    backpropFilterBias(c, x, dy) {
      const g = geometryOf(c);
      if (!g) return null;
      const dw = pool.alloc(size(c.filterShape)), db = new Float32Array(c.outChannels);
      convBackwardWeights(dnnl, g, x, dy, dw, db);
      return { dw, db };
    },
  };
}
