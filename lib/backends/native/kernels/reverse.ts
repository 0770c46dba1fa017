/**
 * `Reverse` on `native` for float32 tensors: block copies along each reversed axis
 * (../ops/reverse.ts); other dtypes go to the CPU backend's kernel. Its gradient is tfjs' own (a
 * reverse of the gradient, which runs here too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reverse } from "./reverse.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * assert.deepEqual(reverse.kernels(libs).map((k) => k.kernelName), ["Reverse"]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { reverse as reverseValues } from "../ops/reverse.ts";
import { f32, kernel, type NativeOp } from "./kernel.ts";

/** The op: its kernel only. */
export const reverse: NativeOp = {
  kernels: () => [
    kernel(tf.Reverse, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x);
      if (!x) return null;
      const shape = inputs.x!.shape;
      // As the CPU kernel: each listed axis flips once, so an axis given twice flips back.
      const listed = tf.util.parseAxisParam(attrs.dims as number[], shape);
      const axes = [...new Set(listed)].filter((a) => listed.filter((b) => b === a).length % 2);
      return backend.makeTensorInfo(shape, "float32", reverseValues(x, shape, axes));
    }),
  ],
};
