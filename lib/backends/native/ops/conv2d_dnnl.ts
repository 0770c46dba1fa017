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
  convCopyFits,
  convForward,
  type ConvGeometry,
  convGeometry,
  convGradientLayout,
} from "../dnnl/conv2d.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import { pool } from "../buffers.ts";
import { type Layout, layoutOf, type WeightLayoutMode } from "../layouts.ts";
import type { ConvLibrary } from "./conv2d.ts";

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

/**
 * oneDNN's convolutions as the conv kernels' {@linkcode ConvLibrary}. A filter may come stored in
 * a oneDNN layout (../layouts.ts); with `mode` other than `plain`, the filter gradient is written
 * in the layout oneDNN computes it in (no reorder) and says so, and with `direct` the forward
 * primitive takes a filter in its stored layout as it is.
 */
export function dnnlConv(dnnl: Dnnl, mode: WeightLayoutMode = "plain"): ConvLibrary {
  /** The layout the filter gradient is kept in (null: HWIO). */
  const kept = (g: ConvGeometry, bias: boolean): Layout | null => {
    if (mode === "plain") return null;
    const k = convGradientLayout(dnnl, g, bias);
    return k && layoutOf(dnnl, k.md, k.hwio);
  };
  return {
    forward(c, x, w, ep, layout, copy) {
      const g = geometryOf(c);
      if (!g) return null;
      const y = pool.alloc(size(c.outShape));
      const direct = mode === "direct";
      convForward(dnnl, g, x, w, ep.bias, y, { md: layout?.md, direct, relu: ep.relu, copy });
      return y;
    },
    copyFits(c, ep, copy) {
      const g = geometryOf(c);
      return !!g && convCopyFits(dnnl, g, { bias: ep.bias !== null, relu: ep.relu }, null, copy);
    },
    backpropInput(c, dy, w, layout) {
      const g = geometryOf(c);
      if (!g) return null;
      const dx = pool.alloc(size(c.inShape));
      convBackwardData(dnnl, g, dy, w, dx, { md: layout?.md });
      return dx;
    },
    backpropFilter(c, x, dy) {
      const g = geometryOf(c);
      if (!g) return null;
      const dw = pool.alloc(size(c.filterShape)), layout = kept(g, false);
      convBackwardWeights(dnnl, g, x, dy, dw, null, layout !== null);
      return { dw, layout };
    },
    backpropFilterBias(c, x, dy) {
      const g = geometryOf(c);
      if (!g) return null;
      const dw = pool.alloc(size(c.filterShape)), db = new Float32Array(c.outChannels);
      const layout = kept(g, true);
      convBackwardWeights(dnnl, g, x, dy, dw, db, layout !== null);
      return { dw, db, layout };
    },
  };
}
