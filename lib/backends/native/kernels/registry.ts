/**
 * The one list of the `native` backend's kernels: every kernel here replaces the CPU backend's
 * of the same name (or exists only on `native`); the rest are the CPU backend's own.
 *
 * @example
 * ```ts
 * import { openBlas } from "../blas.ts";
 * import { nativeKernels } from "./registry.ts";
 * const blas = openBlas();
 * if (blas.ok) console.log(nativeKernels({ sgemm: blas.sgemm }).length);
 * ```
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Sgemm } from "../blas.ts";
import { blasConv, type ConvLibrary } from "../ops/conv.ts";
import { convKernels } from "./conv2d.ts";
import { matMulKernels } from "./mat_mul.ts";
import { batchNormKernels } from "./batch_norm.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { reduceKernels } from "./reduce.ts";
import { maxPoolKernels } from "./max_pool.ts";

/** The native libraries the kernels run on. */
export interface KernelLibraries {
  /** BLAS' single-precision matrix product. */
  sgemm: Sgemm;
  /** The convolutions (default: im2col + `sgemm`). */
  conv?: ConvLibrary;
}

/** Every kernel of the `native` backend. */
export function nativeKernels(libs: KernelLibraries): tf.KernelConfig[] {
  return [
    ...batchNormKernels(),
    ...elementwiseKernels(),
    ...reduceKernels(),
    ...maxPoolKernels(),
    ...convKernels(libs.conv ?? blasConv(libs.sgemm)),
    ...matMulKernels(libs.sgemm),
  ];
}
