/**
 * Reductions (`Sum`, `Mean`, `Max`) and `Tile` on `native`, as single passes over the input; the
 * gradient of `Mean` as a division of the small tensor and one broadcasting copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reduce } from "./reduce.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * assert.deepEqual(reduce.kernels(libs).map((k) => k.kernelName), ["Sum", "Mean", "Max", "Tile"]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { reduce as reduceLoops, type ReduceOp, tile } from "../ops/reduce.ts";
import { isNative } from "../gradients.ts";
import { f32, type Fast, kernel, type NativeOp } from "./kernel.ts";

const red = (op: ReduceOp, axisAttr: string): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const shape = inputs.x!.shape;
  const axes = tf.util.parseAxisParam(attrs[axisAttr], shape);
  const r = reduceLoops(op, x, shape, axes, !!attrs.keepDims);
  return r && backend.makeTensorInfo(r.shape, "float32", r.values);
};

const tileKernel = kernel(tf.Tile, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const r = tile(x, inputs.x!.shape, attrs.reps);
  return backend.makeTensorInfo(r.shape, "float32", r.values);
});

/** Mean's gradient: divide the small tensor, then one broadcasting copy. */
function meanGradient(): tf.GradConfig | null {
  const mean = tf.getGradient(tf.Mean);
  if (!mean) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    if (!isNative() || Array.isArray(dy)) return mean.gradFunc(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reps = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    // tfjs fills ones, multiplies and divides: three passes over the large tensor.
    return { x: () => tf.tile(tf.reshape(tf.div(g, n), expanded), reps) };
  };
  return { ...mean, gradFunc };
}

/** The reductions on `native`. */
export const reduce: NativeOp = {
  kernels: () => [
    kernel(tf.Sum, red("sum", "axis")),
    kernel(tf.Mean, red("mean", "axis")),
    kernel(tf.Max, red("max", "reductionIndices")),
    tileKernel,
  ],
  gradients: () => [meanGradient()],
};
