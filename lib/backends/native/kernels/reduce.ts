/**
 * Reductions (`Sum`, `Mean`, `Max`) and `Tile` on `native`, as single passes over the input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reduceKernels } from "./reduce.ts";
 * assert.deepEqual(reduceKernels().map((k) => k.kernelName), ["Sum", "Mean", "Max", "Tile"]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { reduce, type ReduceOp, tile } from "../ops/reduce.ts";
import { f32, type Fast, kernel } from "./kernel.ts";

const red = (op: ReduceOp, axisAttr: string): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const shape = inputs.x!.shape;
  const axes = tf.util.parseAxisParam(attrs[axisAttr], shape);
  const r = reduce(op, x, shape, axes, !!attrs.keepDims);
  return r && backend.makeTensorInfo(r.shape, "float32", r.values);
};

const tileKernel = kernel(tf.Tile, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const r = tile(x, inputs.x!.shape, attrs.reps);
  return backend.makeTensorInfo(r.shape, "float32", r.values);
});

/** The reduction kernels. */
export function reduceKernels(): tf.KernelConfig[] {
  return [
    kernel(tf.Sum, red("sum", "axis")),
    kernel(tf.Mean, red("mean", "axis")),
    kernel(tf.Max, red("max", "reductionIndices")),
    tileKernel,
  ];
}
