/**
 * Grouped 2-D convolutions (`GROUPED_CONV2D`, PyTorch's `groups`) and their gradients on oneDNN's
 * own groups (../dnnl/conv2d.ts with a geometry's `groups`: weights `G x OC/G x IC/G x KH x KW`,
 * which tfjs' filter `[kh, kw, in / groups, out]` is, read by strides). Outputs come from the
 * buffer pool; null for what oneDNN is not given here (dilations).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { openDnnl } from "../dnnl/mod.ts";
 * import { groupedConvForward } from "./grouped_conv2d_dnnl.ts";
 * const dnnl = openDnnl();
 * if (dnnl.ok) {
 *   // Two groups of one channel: output 0 sees input 0 only (x 1), output 1 input 1 only (x 10).
 *   const info = tf.backend_util.computeConv2DInfo([1, 1, 1, 2], [1, 1, 1, 2], 1, 1, "valid");
 *   const y = groupedConvForward(dnnl, info, 2, Float32Array.of(1, 2), Float32Array.of(1, 10));
 *   assert.deepEqual([...y!], [1, 20]);
 * }
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import { convBackwardData, convBackwardWeights, convForward } from "../dnnl/conv2d.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import { pool } from "../buffers.ts";
import { geometryOf } from "./conv2d_dnnl.ts";

type ConvInfo = tf.backend_util.Conv2DInfo;

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** `y = grouped_conv(x, w)`: x `[n, h, w, in]`, w `[kh, kw, in / groups, out]`. */
export function groupedConvForward(
  dnnl: Dnnl,
  c: ConvInfo,
  groups: number,
  x: Float32Array,
  w: Float32Array,
): Float32Array | null {
  const g = geometryOf(c, groups);
  if (!g) return null;
  const y = pool.alloc(size(c.outShape));
  convForward(dnnl, g, x, w, null, y);
  return y;
}

/** The input gradient of {@linkcode groupedConvForward}: `[n, h, w, in]`. */
export function groupedConvBackpropInput(
  dnnl: Dnnl,
  c: ConvInfo,
  groups: number,
  dy: Float32Array,
  w: Float32Array,
): Float32Array | null {
  const g = geometryOf(c, groups);
  if (!g) return null;
  const dx = pool.alloc(size(c.inShape));
  convBackwardData(dnnl, g, dy, w, dx);
  return dx;
}

/** The filter gradient of {@linkcode groupedConvForward}: `[kh, kw, in / groups, out]`. */
export function groupedConvBackpropFilter(
  dnnl: Dnnl,
  c: ConvInfo,
  groups: number,
  x: Float32Array,
  dy: Float32Array,
): Float32Array | null {
  const g = geometryOf(c, groups);
  if (!g) return null;
  const dw = pool.alloc(size(c.filterShape));
  convBackwardWeights(dnnl, g, x, dy, dw, null);
  return dw;
}
