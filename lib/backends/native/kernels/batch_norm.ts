/**
 * BatchNorm on `native`: inference-mode `FusedBatchNorm`, the fused training-mode
 * `BATCH_NORM_TRAIN` (+ReLU) with its one-kernel gradient, and the two pieces of tfjs'
 * `FusedBatchNorm` gradient (input gradient, per-channel sums), each one or two passes. With
 * oneDNN, training BatchNorm runs there on every thread, the ReLU fused; its mask (oneDNN's
 * workspace) is a fourth output that the gradient receives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNormKernels } from "./batch_norm.ts";
 * assert.ok(batchNormKernels(null).map((k) => k.kernelName).includes("FusedBatchNorm"));
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_TRAIN } from "../../../model/fused.ts";
import {
  batchNorm,
  batchNormGradX,
  batchNormTrain,
  batchNormTrainGrad,
  channelSums,
} from "../ops/batchnorm.ts";
import type { Dnnl } from "../dnnl/mod.ts";
import { dnnlBatchNorm, dnnlBatchNormTrain, dnnlBatchNormTrainGrad } from "../ops/dnnl.ts";
import { channelVec, custom, f32, type Fast, kernel } from "./kernel.ts";
import { NATIVE_BN_GRAD_X, NATIVE_BN_TRAIN_GRAD, NATIVE_CHANNEL_SUMS } from "./names.ts";

const inference = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const shape = inputs.x!.shape, C = shape.at(-1)!;
  const mean = channelVec(backend, inputs.mean, C);
  const variance = channelVec(backend, inputs.variance, C);
  const scale = inputs.scale ? channelVec(backend, inputs.scale, C) : null;
  const offset = inputs.offset ? channelVec(backend, inputs.offset, C) : null;
  if (!mean || !variance || (inputs.scale && !scale) || (inputs.offset && !offset)) return null;
  const eps = attrs.varianceEpsilon ?? 0.001;
  const y = dnnl && scale && offset && shape.length === 4
    ? dnnlBatchNorm(dnnl, shape, { x, mean, variance, gamma: scale, beta: offset }, eps)
    : batchNorm(x, C, mean, variance, scale, offset, eps);
  return backend.makeTensorInfo(shape, "float32", y);
};

const train = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x)!, shape = inputs.x!.shape, C = shape.at(-1)!;
  const scale = f32(backend, inputs.scale)!, offset = f32(backend, inputs.offset)!;
  const eps = attrs.varianceEpsilon, relu = !!attrs.relu;
  // oneDNN rejects zero-size memory: an empty batch takes the typed-array loops.
  const r = dnnl && shape.length === 4 && x.length > 0
    ? dnnlBatchNormTrain(dnnl, shape, x, scale, offset, eps, relu)
    : { ...batchNormTrain(x, C, scale, offset, eps, relu), workspace: null };
  const out = [
    backend.makeTensorInfo(shape, "float32", r.y),
    backend.makeTensorInfo([C], "float32", r.mean),
    backend.makeTensorInfo([C], "float32", r.variance),
  ];
  if (r.workspace) out.push(backend.makeTensorInfo([r.workspace.length], "float32", r.workspace));
  return out;
};

const trainGrad = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const v = (name: string) => f32(backend, inputs[name])!;
  const shape = inputs.x!.shape, C = shape.at(-1)!, eps = attrs.varianceEpsilon;
  let g: Float32Array[];
  if (dnnl && shape.length === 4 && !shape.includes(0)) {
    const workspace = attrs.relu ? v("workspace") : null;
    const b = { dy: v("dy"), x: v("x"), gamma: v("scale"), beta: v("offset") };
    const r = dnnlBatchNormTrainGrad(dnnl, shape, {
      ...b,
      mean: v("mean"),
      variance: v("variance"),
      workspace,
    }, eps);
    g = [r.dx, r.dgamma, r.dbeta];
  } else {
    const relu = attrs.relu ? v("offset") : null;
    const r = batchNormTrainGrad(
      v("dy"),
      v("x"),
      relu,
      C,
      v("mean"),
      v("variance"),
      v("scale"),
      eps,
    );
    g = [r.dx, r.dscale, r.doffset];
  }
  return [
    backend.makeTensorInfo(shape, "float32", g[0]),
    backend.makeTensorInfo([C], "float32", g[1]),
    backend.makeTensorInfo([C], "float32", g[2]),
  ];
};

const gradX = custom(NATIVE_BN_GRAD_X, (inputs, backend, attrs) => {
  const dy = f32(backend, inputs.dy)!, C = inputs.dy!.shape.at(-1)!;
  const v = f32(backend, inputs.variance)!, s = f32(backend, inputs.scale);
  const dx = batchNormGradX(dy, C, v, s, attrs.varianceEpsilon);
  return backend.makeTensorInfo(inputs.dy!.shape, "float32", dx);
});

const sums = custom(NATIVE_CHANNEL_SUMS, (inputs, backend) => {
  const dy = f32(backend, inputs.dy)!, C = inputs.dy!.shape.at(-1)!;
  const r = channelSums(dy, C, f32(backend, inputs.x), f32(backend, inputs.mean));
  return backend.makeTensorInfo([C], "float32", r);
});

/** The BatchNorm kernels, on oneDNN where `dnnl` is given. */
export function batchNormKernels(dnnl: Dnnl | null): tf.KernelConfig[] {
  return [
    kernel(tf.FusedBatchNorm, inference(dnnl)),
    custom(BATCH_NORM_TRAIN, train(dnnl)),
    custom(NATIVE_BN_TRAIN_GRAD, trainGrad(dnnl)),
    gradX,
    sums,
  ];
}
