/**
 * BatchNorm on `native`: inference-mode `FusedBatchNorm`, the fused training-mode
 * `BATCH_NORM_TRAIN` (+ReLU) with its one-kernel gradient, and the two pieces of tfjs'
 * `FusedBatchNorm` gradient (input gradient, per-channel sums), each one or two passes.
 *
 * @example
 * ```ts
 * import { batchNormKernels } from "./batch_norm.ts";
 * console.log(batchNormKernels().map((k) => k.kernelName));
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
import { channelVec, custom, f32, kernel } from "./kernel.ts";
import { NATIVE_BN_GRAD_X, NATIVE_BN_TRAIN_GRAD, NATIVE_CHANNEL_SUMS } from "./names.ts";

const inference = kernel(tf.FusedBatchNorm, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const C = inputs.x!.shape.at(-1)!;
  const mean = channelVec(backend, inputs.mean, C);
  const variance = channelVec(backend, inputs.variance, C);
  const scale = inputs.scale ? channelVec(backend, inputs.scale, C) : null;
  const offset = inputs.offset ? channelVec(backend, inputs.offset, C) : null;
  if (!mean || !variance || (inputs.scale && !scale) || (inputs.offset && !offset)) return null;
  const y = batchNorm(x, C, mean, variance, scale, offset, attrs.varianceEpsilon ?? 0.001);
  return backend.makeTensorInfo(inputs.x!.shape, "float32", y);
});

const train = custom(BATCH_NORM_TRAIN, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x)!, C = inputs.x!.shape.at(-1)!;
  const scale = f32(backend, inputs.scale)!, offset = f32(backend, inputs.offset)!;
  const r = batchNormTrain(x, C, scale, offset, attrs.varianceEpsilon, !!attrs.relu);
  return [
    backend.makeTensorInfo(inputs.x!.shape, "float32", r.y),
    backend.makeTensorInfo([C], "float32", r.mean),
    backend.makeTensorInfo([C], "float32", r.variance),
  ];
});

const trainGrad = custom(NATIVE_BN_TRAIN_GRAD, (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x)!, C = inputs.x!.shape.at(-1)!;
  const r = batchNormTrainGrad(
    f32(backend, inputs.dy)!,
    x,
    attrs.relu ? f32(backend, inputs.y)! : null,
    C,
    f32(backend, inputs.mean)!,
    f32(backend, inputs.variance)!,
    f32(backend, inputs.scale)!,
    attrs.varianceEpsilon,
  );
  return [
    backend.makeTensorInfo(inputs.x!.shape, "float32", r.dx),
    backend.makeTensorInfo([C], "float32", r.dscale),
    backend.makeTensorInfo([C], "float32", r.doffset),
  ];
});

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

/** The BatchNorm kernels. */
export function batchNormKernels(): tf.KernelConfig[] {
  return [inference, train, trainGrad, gradX, sums];
}
