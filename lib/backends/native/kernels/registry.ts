/**
 * The one list of the `native` backend's ops: each is one file in this folder with its kernels and
 * the gradients they need. Every kernel here replaces the CPU backend's of the same name (or exists
 * only on `native`); the rest are the CPU backend's own.
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
import type { KernelLibraries, NativeOp } from "./kernel.ts";
import { batchNorm } from "./batch_norm.ts";
import { conv2d } from "./conv2d.ts";
import { convBn } from "./conv_bn.ts";
import { elementwise } from "./elementwise.ts";
import { groupedConv2d } from "./grouped_conv2d.ts";
import { matMul } from "./mat_mul.ts";
import { maxPool } from "./max_pool.ts";
import { reduce } from "./reduce.ts";
import { reverse } from "./reverse.ts";
import { sgdUpdate } from "./sgd_update.ts";

export type { KernelLibraries } from "./kernel.ts";

/** Every op of the `native` backend. */
export const NATIVE_OPS: readonly NativeOp[] = [
  batchNorm,
  conv2d,
  convBn,
  elementwise,
  groupedConv2d,
  matMul,
  maxPool,
  reduce,
  reverse,
  sgdUpdate,
];

/** Every kernel of the `native` backend, on `libs`. */
export function nativeKernels(libs: KernelLibraries): tf.KernelConfig[] {
  return NATIVE_OPS.flatMap((op) => op.kernels(libs));
}

/**
 * Every gradient the `native` backend registers (null where tfjs has none to wrap).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nativeGradients } from "./registry.ts";
 * assert.ok(nativeGradients().some((g) => g?.kernelName === "ResNetConv2dBias"));
 * ```
 */
export function nativeGradients(): (tf.GradConfig | null)[] {
  return NATIVE_OPS.flatMap((op) => op.gradients?.() ?? []);
}
