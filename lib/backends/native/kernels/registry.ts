/**
 * The one list of the `native` backend's kernels: every kernel here replaces the CPU backend's
 * of the same name (or exists only on `native`); the rest are the CPU backend's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openKernelLibraries } from "../libraries.ts";
 * import { nativeKernels } from "./registry.ts";
 * const opened = openKernelLibraries();
 * if (opened.ok) {
 *   const names = nativeKernels(opened.libs).map((k) => k.kernelName);
 *   assert.ok(names.length > 0 && new Set(names).size === names.length); // each kernel once
 * }
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Sgemm } from "../blas.ts";
import type { Dnnl } from "../dnnl/mod.ts";
import type { ConvLibrary } from "../ops/conv.ts";
import { convKernels } from "./conv2d.ts";
import { matMulKernels } from "./mat_mul.ts";
import { batchNormKernels } from "./batch_norm.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { reduceKernels } from "./reduce.ts";
import { maxPoolKernels } from "./max_pool.ts";

/** The native libraries the kernels run on (../libraries.ts opens them). */
export interface KernelLibraries {
  /** A single-precision matrix product (BLAS' or oneDNN's). */
  sgemm: Sgemm;
  /** The convolutions: oneDNN's, or im2col + `sgemm`. */
  conv: ConvLibrary;
  /** oneDNN, for BatchNorm, pooling, ReLU and add; null: typed-array loops. */
  dnnl: Dnnl | null;
}

/** Every kernel of the `native` backend. */
export function nativeKernels(libs: KernelLibraries): tf.KernelConfig[] {
  return [
    ...batchNormKernels(libs.dnnl),
    ...elementwiseKernels(libs.dnnl),
    ...reduceKernels(),
    ...maxPoolKernels(libs.dnnl),
    ...convKernels(libs.conv),
    ...matMulKernels(libs.sgemm),
  ];
}
