/**
 * `CONV_BN` (../../../model/fused.ts) on `native`: an inference convolution with the BatchNorm
 * after it (running statistics) and an optional ReLU, as one convolution with the BatchNorm
 * folded into its weights and bias, `w * s` and `(b - mean) * s + beta` with
 * `s = gamma / sqrt(variance + eps)`. The folded weights are made once per set of input tensors
 * and kept in the forward primitive's layout (../weights_copies.ts): a test pass folds and
 * reorders each layer's weights on its first batch only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { convBn } from "./conv_bn.ts";
 * assert.equal(convBn.gradients, undefined); // inference only
 * ```
 * @module
 */
import { CONV_BN } from "../../../model/fused.ts";
import type * as tf from "@tensorflow/tfjs-core";
import type { ConvLibrary } from "../ops/conv2d.ts";
import type { Epilogue } from "../ops/epilogue.ts";
import { plainCopy } from "../layouts.ts";
import { type FoldedWeights, foldedWeights } from "../weights_copies.ts";
import { custom, f32, type Info, type NativeOp } from "./kernel.ts";
import { convInfo } from "./conv2d.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

type ConvInfo = tf.backend_util.Conv2DInfo;

/** The weights and bias with the BatchNorm folded in, from the kernel's inputs. */
function fold(
  backend: MathBackendCPU,
  inputs: Record<string, Info>,
  eps: number,
): { plain: Float32Array; bias: Float32Array } {
  const filter = inputs.filter;
  const w = plainCopy(backend, filter.dataId) ?? f32(backend, filter)!;
  const [gamma, beta, mean, variance] = ["gamma", "beta", "mean", "variance"].map((k) =>
    f32(backend, inputs[k])!
  );
  const b = inputs.bias ? f32(backend, inputs.bias) : null;
  const out = gamma.length, s = new Float32Array(out), bias = new Float32Array(out);
  for (let o = 0; o < out; o++) {
    s[o] = gamma[o] / Math.sqrt(variance[o] + eps);
    bias[o] = ((b ? b[o] : 0) - mean[o]) * s[o] + beta[o];
  }
  const plain = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) plain[i] = w[i] * s[i % out]; // HWIO: out is the last axis
  return { plain, bias };
}

/**
 * The folded weights to hand the library: in HWIO while they are kept, else the copy itself where
 * it fits this primitive, else folded again (a batch size whose primitive takes another layout).
 */
function weightsFor(
  lib: ConvLibrary,
  c: ConvInfo,
  ep: Epilogue,
  f: FoldedWeights,
  refold: () => Float32Array,
): Float32Array {
  if (f.plain) return f.plain;
  if (lib.copyFits?.(c, ep, f.copy)) return f.copy.values!;
  return f.plain = refold();
}

/** The `CONV_BN` kernel on `lib`. */
function convBnKernel(lib: ConvLibrary) {
  return custom(CONV_BN, (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x)!, eps = attrs.eps as number;
    const a = { strides: attrs.strides, pad: attrs.pad, dataFormat: "NHWC", dilations: 1 };
    const c = convInfo(inputs.x!.shape, inputs.filter!.shape, a)!;
    const ids = ["filter", "bias", "gamma", "beta", "mean", "variance"].map((k) =>
      inputs[k]?.dataId ?? null
    );
    const f = foldedWeights(
      [...ids, eps],
      () => fold(backend, inputs as Record<string, Info>, eps),
    );
    const ep = { bias: f.bias, relu: !!attrs.relu };
    const refold = () => fold(backend, inputs as Record<string, Info>, eps).plain;
    const y = lib.forward(c, x, weightsFor(lib, c, ep, f, refold), ep, null, f.copy);
    if (!y) throw new Error(`${CONV_BN}: no convolution for ${inputs.x!.shape} (dilated?)`);
    // Once the copy holds them for this primitive, the weights in HWIO are not kept (they would
    // double the memory); a primitive that takes HWIO itself keeps them.
    if (lib.copyFits?.(c, ep, f.copy)) f.plain = null;
    return backend.makeTensorInfo(c.outShape, "float32", y);
  });
}

/** The op: its kernel only (inference has no gradient). */
export const convBn: NativeOp = {
  kernels: (libs) => [convBnKernel(libs.conv)],
};
