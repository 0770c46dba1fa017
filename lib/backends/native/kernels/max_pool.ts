/**
 * `MaxPool` and `MaxPoolGrad` on `native`: on oneDNN where it is loaded; else the forward pass
 * records each output's argmax, so the gradient is one scatter. tfjs' gradient of `MaxPool` is
 * computed at once so that its input and output can be freed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { maxPool } from "./max_pool.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * assert.deepEqual(maxPool.kernels(libs).map((k) => k.kernelName), ["MaxPool", "MaxPoolGrad"]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { maxPool as maxPoolLoops, maxPoolGrad } from "../ops/max_pool.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import {
  dnnlMaxPool,
  dnnlMaxPoolGrad,
  dnnlMaxPoolTrain,
  dnnlMaxPoolTrainGrad,
} from "../ops/max_pool_dnnl.ts";
import { MAX_POOL_TRAIN } from "../../../model/fused.ts";
import { one, onNative, release, runKernel } from "../gradients.ts";
import { custom, f32, type Fast, kernel, type NativeOp } from "./kernel.ts";

/** `MAX_POOL_TRAIN`'s input gradient (inputs dy, workspace; the forward pass' attributes). */
export const NATIVE_MAX_POOL_TRAIN_GRAD = "NativeMaxPoolTrainGrad";

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
  const y = (dnnl && dnnlMaxPool(dnnl, c, x)) ?? maxPoolLoops(c, x);
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

/** The geometry of a `MAX_POOL_TRAIN` that oneDNN runs; throws for one it cannot (not ResNet's). */
function trainInfo(attrs: tf.MaxPoolAttrs & { inShape: number[] }): tf.backend_util.Conv2DInfo {
  const c = poolInfo(attrs.inShape, attrs);
  if (cpuDefines(c)) throw noPooling(attrs.inShape);
  return c;
}

const noPooling = (shape: number[]) =>
  new Error(`${MAX_POOL_TRAIN}: oneDNN has no such pooling of ${shape}`);

const train = (dnnl: Dnnl): Fast => (inputs, backend, attrs) => {
  const c = trainInfo(attrs);
  const r = dnnlMaxPoolTrain(dnnl, c, f32(backend, inputs.x)!);
  if (!r) throw noPooling(attrs.inShape);
  return [
    backend.makeTensorInfo(c.outShape, "float32", r.y),
    backend.makeTensorInfo([r.workspace.length], "float32", r.workspace),
  ];
};

const trainGrad = (dnnl: Dnnl): Fast => (inputs, backend, attrs) => {
  const ws = f32(backend, inputs.workspace)!;
  const dx = dnnlMaxPoolTrainGrad(dnnl, trainInfo(attrs), f32(backend, inputs.dy)!, ws);
  if (!dx) throw noPooling(attrs.inShape);
  return backend.makeTensorInfo(attrs.inShape, "float32", dx);
};

/** Only `native` on oneDNN registers `MAX_POOL_TRAIN`, so this gradient is its own. */
const trainGradient: tf.GradConfig = {
  kernelName: MAX_POOL_TRAIN,
  outputsToSave: [false, true],
  gradFunc: (dy, saved, attrs) => {
    const [workspace] = saved;
    const [g, unused] = dy as tf.Tensor[]; // the workspace's gradient: zeros from tfjs
    const a = attrs as unknown as tf.NamedAttrMap;
    const dx = runKernel(NATIVE_MAX_POOL_TRAIN_GRAD, { dy: one(g), workspace }, a);
    release(g, unused, workspace);
    return { x: () => dx };
  },
};

/** Max pooling's gradient, computed at once so that its input and output can be freed. */
function maxPoolGradient(): tf.GradConfig | null {
  const pool = tf.getGradient(tf.MaxPool);
  if (!pool) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x, y] = saved;
    if (!onNative(dy, x)) return pool.gradFunc(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const a = attrs as unknown as tf.NamedAttrMap;
    const dx = tf.engine().runKernel(tf.MaxPoolGrad, { dy: g, input: x, output: y }, a);
    // x and y are the engine's saved copies, this gradient's own; dy may be the caller's tensor.
    release(x, y);
    return { x: () => dx as tf.Tensor };
  };
  return { ...pool, gradFunc };
}

/** Max pooling on `native`, on oneDNN where it is loaded. */
export const maxPool: NativeOp = {
  kernels: ({ dnnl }) => [
    kernel(tf.MaxPool, forward(dnnl)),
    kernel(tf.MaxPoolGrad, backward(dnnl)),
    ...(dnnl
      ? [custom(MAX_POOL_TRAIN, train(dnnl)), custom(NATIVE_MAX_POOL_TRAIN_GRAD, trainGrad(dnnl))]
      : []),
  ],
  gradients: () => [maxPoolGradient(), trainGradient],
};
