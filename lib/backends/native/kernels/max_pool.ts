/**
 * `MaxPool` and `MaxPoolGrad` on `native`: on oneDNN where it is loaded; else the forward pass
 * records each output's argmax, so the gradient is one scatter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maxPoolKernels } from "./max_pool.ts";
 * assert.deepEqual(maxPoolKernels(null).map((k) => k.kernelName), ["MaxPool", "MaxPoolGrad"]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { maxPool, maxPoolGrad } from "../ops/maxpool.ts";
import type { Dnnl } from "../dnnl/mod.ts";
import { dnnlMaxPool, dnnlMaxPoolGrad } from "../ops/dnnl.ts";
import { f32, type Fast, kernel } from "./kernel.ts";

/** tfjs' pooling geometry. */
export function poolInfo(shape: number[], attrs: tf.MaxPoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/**
 * tfjs' CPU kernel returns its input unchanged for a 1x1 window whose output has the input's
 * shape, whatever the stride and padding say (pad 1 and stride 2 on 2x2, say): such a pooling, and
 * its gradient, go to tfjs' kernels, so that `native` gives what `cpu` gives. Empty outputs too.
 */
function cpuDefines(c: tf.backend_util.Conv2DInfo): boolean {
  const identity = c.filterHeight === 1 && c.filterWidth === 1 &&
    tf.util.arraysEqual(c.inShape, c.outShape);
  return identity || c.outShape.includes(0);
}

const forward = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x || inputs.x!.shape.length !== 4) return null;
  const c = poolInfo(inputs.x!.shape, attrs);
  if (cpuDefines(c)) return null;
  const y = (dnnl && dnnlMaxPool(dnnl, c, x)) ?? maxPool(c, x);
  return backend.makeTensorInfo(c.outShape, "float32", y);
};

const backward = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.input), dy = f32(backend, inputs.dy);
  const y = f32(backend, inputs.output);
  if (!x || !dy || !y) return null;
  const c = poolInfo(inputs.input!.shape, attrs);
  if (cpuDefines(c)) return null;
  const dx = (dnnl && dnnlMaxPoolGrad(dnnl, c, x, y, dy)) ?? maxPoolGrad(c, x, y, dy);
  return backend.makeTensorInfo(c.inShape, "float32", dx);
};

/** The max-pooling kernels, on oneDNN where `dnnl` is given. */
export function maxPoolKernels(dnnl: Dnnl | null): tf.KernelConfig[] {
  return [kernel(tf.MaxPool, forward(dnnl)), kernel(tf.MaxPoolGrad, backward(dnnl))];
}
