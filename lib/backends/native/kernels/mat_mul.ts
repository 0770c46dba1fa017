/**
 * `BatchMatMul` and `_FusedMatMul` (bias, ReLU) on `native`, through BLAS' `sgemm`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlas } from "../blas.ts";
 * import { blasConv } from "../ops/conv2d.ts";
 * import { matMul } from "./mat_mul.ts";
 * const blas = openBlas();
 * if (blas.ok) {
 *   const libs = { sgemm: blas.sgemm, conv: blasConv(blas.sgemm), dnnl: null };
 *   assert.ok(matMul.kernels(libs).map((k) => k.kernelName).includes("BatchMatMul"));
 * }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Sgemm } from "../blas.ts";
import { batchMatMul } from "../ops/mat_mul.ts";
import { applyEpilogue } from "../ops/epilogue.ts";
import { f32, type Fast, kernel, type NativeOp } from "./kernel.ts";
import { epilogueOf } from "./epilogue.ts";

/** The matrix-product kernels on `sgemm`. */
function matMulKernels(sgemm: Sgemm): tf.KernelConfig[] {
  const matMul: Fast = (inputs, backend, attrs) => {
    const a = f32(backend, inputs.a), b = f32(backend, inputs.b);
    if (!a || !b) return null;
    const n = attrs.transposeB ? inputs.b!.shape.at(-2)! : inputs.b!.shape.at(-1)!;
    const ep = epilogueOf(backend, inputs.bias, n, attrs);
    if (!ep) return null;
    const ta = !!attrs.transposeA, tb = !!attrs.transposeB;
    const p = batchMatMul(sgemm, a, inputs.a!.shape, b, inputs.b!.shape, ta, tb);
    if (!p) return null;
    applyEpilogue(p.values, n, ep);
    return backend.makeTensorInfo(p.shape, "float32", p.values);
  };
  return [kernel(tf.BatchMatMul, matMul), kernel(tf._FusedMatMul, matMul)];
}

/** Matrix products on `native`, on the library's `sgemm`. */
export const matMul: NativeOp = { kernels: ({ sgemm }) => matMulKernels(sgemm) };
