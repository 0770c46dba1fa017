/**
 * `MaxPool` and `MaxPoolGrad` on `native`: the forward pass records each output's argmax, so the
 * gradient is one scatter.
 *
 * @example
 * ```ts
 * import { maxPoolKernels } from "./max_pool.ts";
 * console.log(maxPoolKernels().map((k) => k.kernelName)); // ["MaxPool", "MaxPoolGrad"]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { maxPool, maxPoolGrad } from "../ops/maxpool.ts";
import { f32, kernel } from "./kernel.ts";

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

const forward = kernel(tf.MaxPool, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x || inputs.x!.shape.length !== 4) return null;
  const c = poolInfo(inputs.x!.shape, attrs);
  return backend.makeTensorInfo(c.outShape, "float32", maxPool(c, x));
});

const backward = kernel(tf.MaxPoolGrad, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.input), dy = f32(backend, inputs.dy);
  const y = f32(backend, inputs.output);
  if (!x || !dy || !y) return null;
  const c = poolInfo(inputs.input!.shape, attrs);
  return backend.makeTensorInfo(c.inShape, "float32", maxPoolGrad(c, x, y, dy));
});

/** The max-pooling kernels. */
export function maxPoolKernels(): tf.KernelConfig[] {
  return [forward, backward];
}
