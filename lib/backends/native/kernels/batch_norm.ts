/**
 * BatchNorm on `native`: inference-mode `FusedBatchNorm`, the fused training-mode
 * `BATCH_NORM_TRAIN` (+ReLU) with its one-kernel gradient, and the two pieces of tfjs'
 * `FusedBatchNorm` gradient (input gradient, per-channel sums), each one or two passes. With
 * oneDNN, training BatchNorm runs there on every thread, the ReLU fused; its mask (oneDNN's
 * workspace) is a fourth output that the gradient receives. The gradients: tfjs' `FusedBatchNorm`
 * one as three channel sums and one pass, `BATCH_NORM_TRAIN`'s as one kernel, and the gradient of
 * the input-gradient kernel (for second-order gradients).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNorm } from "./batch_norm.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * assert.ok(batchNorm.kernels(libs).map((k) => k.kernelName).includes("FusedBatchNorm"));
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { BATCH_NORM_RUNNING, BATCH_NORM_TRAIN } from "../../../model/fused.ts";
import {
  batchNorm as batchNormLoops,
  batchNormGradX,
  batchNormTrain,
  batchNormTrainGrad,
  channelSums,
  runningStats,
} from "../ops/batch_norm.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import {
  dnnlBatchNorm,
  dnnlBatchNormTrain,
  dnnlBatchNormTrainGrad,
} from "../ops/batch_norm_dnnl.ts";
import { one, onNative, release, runKernel } from "../gradients.ts";
import { channelVec, custom, donated, f32, type Fast, kernel, type NativeOp } from "./kernel.ts";

/** BatchNorm's input gradient (inputs dy, variance, scale). */
export const NATIVE_BN_GRAD_X = "NativeBatchNormGradX";
/** Per-channel `sum(dy)`, or `sum(dy * (x - mean))` given x and mean. */
export const NATIVE_CHANNEL_SUMS = "NativeChannelSums";
/**
 * The gradients of `BATCH_NORM_TRAIN` (inputs dy, x, y, mean, variance, scale, offset, and
 * oneDNN's ReLU mask `workspace` when the forward pass made one; attributes varianceEpsilon, relu;
 * outputs dx, dscale, doffset).
 */
export const NATIVE_BN_TRAIN_GRAD = "NativeBatchNormTrainGrad";

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
    : batchNormLoops(x, C, mean, variance, scale, offset, eps);
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
    const r = dnnlBatchNormTrainGrad(
      dnnl,
      shape,
      {
        ...b,
        mean: v("mean"),
        variance: v("variance"),
        workspace,
      },
      eps,
      donated(backend, inputs.dy, attrs),
    );
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

/** The running statistics' update, one kernel instead of seven (../../../model/fused.ts). */
const running = custom(BATCH_NORM_RUNNING, (inputs, backend, attrs) => {
  const [rm, rv, mean, variance] = ["runningMean", "runningVar", "mean", "variance"].map((k) =>
    f32(backend, inputs[k])!
  );
  const r = runningStats(rm, rv, mean, variance, attrs.momentum, attrs.count);
  return [
    backend.makeTensorInfo([r.mean.length], "float32", r.mean),
    backend.makeTensorInfo([r.variance.length], "float32", r.variance),
  ];
});

/** tfjs' FusedBatchNorm gradient as three channel sums and one pass for the input. */
function fusedBatchNormGrad(): tf.GradConfig | null {
  const bn = tf.getGradient(tf.FusedBatchNorm);
  if (!bn) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const C = x.shape[x.rank - 1];
    const fast = onNative(dy, x) && scale != null && mean.rank === 1 && variance.rank === 1 &&
      scale.rank === 1 && mean.size === C;
    if (!fast) return bn.gradFunc(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const rs = () => tf.rsqrt(tf.add(variance, eps));
    const centred = () => runKernel(NATIVE_CHANNEL_SUMS, { dy: g, x, mean });
    return {
      x: () => runKernel(NATIVE_BN_GRAD_X, { dy: g, variance, scale }, { varianceEpsilon: eps }),
      // d/dmean: -scale rs sum(dy); d/dvar: -scale rs^3 / 2 sum(dy (x - mean)).
      mean: () => tf.mul(tf.neg(tf.mul(scale, rs())), runKernel(NATIVE_CHANNEL_SUMS, { dy: g })),
      variance: () => tf.mul(tf.mul(tf.mul(scale, tf.pow(rs(), 3)), -0.5), centred()),
      scale: () => tf.mul(rs(), centred()),
      offset: () => runKernel(NATIVE_CHANNEL_SUMS, { dy: g }),
    };
  };
  return { ...bn, gradFunc };
}

/** Only backends that register BATCH_NORM_TRAIN ever record it, so this gradient is native's. */
const trainGradient: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ["x", "scale", "offset"],
  // Not the output y (the ReLU's mask comes from x and the statistics, or from oneDNN's
  // workspace, the fourth output, when the kernel ran on oneDNN): a BatchNorm without ReLU
  // before an add then keeps nothing of its own alive.
  outputsToSave: [false, true, true, true],
  gradFunc: (dy, saved, attrs) => {
    const [x, scale, offset, mean, variance, workspace] = saved;
    const g = one(dy);
    const inputs: tf.NamedTensorMap = { dy: g, x, mean, variance, scale, offset };
    if (workspace) inputs.workspace = workspace;
    // One kernel gives all three; made here, in the backward pass' scope, not in a closure's.
    // dy is freed below and read nowhere else: its buffer may become dx's (`donate`).
    const [dx, dscale, doffset] = tf.engine().runKernel(
      NATIVE_BN_TRAIN_GRAD,
      inputs,
      { ...attrs, donate: true } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    release(g, ...saved);
    return { x: () => dx, scale: () => dscale, offset: () => doffset };
  },
};

/**
 * The gradient of `NATIVE_BN_GRAD_X`, `dx = dy scale rsqrt(variance + eps)` per channel (the last
 * axis), for second-order gradients.
 */
const gradXGradient: tf.GradConfig = {
  kernelName: NATIVE_BN_GRAD_X,
  inputsToSave: ["dy", "variance", "scale"],
  gradFunc: (g, [dy, variance, scale], attrs) => {
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const gy = one(g);
    const outer = dy.shape.slice(0, -1).map((_, i) => i);
    // sum(g dy) per channel: what scale and variance receive, each times its own factor.
    const gdy = () => tf.sum(tf.mul(gy, dy), outer);
    const rs = () => tf.rsqrt(tf.add(variance, eps));
    return {
      dy: () => runKernel(NATIVE_BN_GRAD_X, { dy: gy, variance, scale }, { varianceEpsilon: eps }),
      scale: () => tf.mul(gdy(), rs()),
      variance: () => tf.mul(gdy(), tf.mul(tf.mul(scale, -0.5), tf.pow(rs(), 3))),
    };
  },
};

/** BatchNorm on `native`, on oneDNN where it is loaded. */
export const batchNorm: NativeOp = {
  kernels: ({ dnnl }) => [
    kernel(tf.FusedBatchNorm, inference(dnnl)),
    custom(BATCH_NORM_TRAIN, train(dnnl)),
    custom(NATIVE_BN_TRAIN_GRAD, trainGrad(dnnl)),
    running,
    gradX,
    sums,
  ],
  gradients: () => [fusedBatchNormGrad(), trainGradient, gradXGradient],
};
