/**
 * The shape of a `native` kernel adapter: it reads tensor data from the CPU backend's store, runs
 * a typed-array implementation (../ops/) or a native library, and returns new tensor infos. A
 * {@linkcode kernel} falls back to the CPU backend's own kernel when its fast path returns null
 * (another dtype or layout); a {@linkcode custom} kernel exists only on `native`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { f32, kernel } from "./kernel.ts";
 * const neg = kernel("Neg", (inputs, backend) => {
 *   const x = f32(backend, inputs.x);
 *   return x && backend.makeTensorInfo(inputs.x!.shape, "float32", x.map((v) => -v));
 * });
 * assert.equal(neg.kernelName, "Neg");
 * assert.equal(neg.backendName, "native");
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Axpy, Sgemm } from "../blas.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import type { ConvLibrary } from "../ops/conv2d.ts";
import { plainInputs, type WeightLayoutMode } from "../layouts.ts";
import { pool } from "../buffers.ts";

/** The native libraries the kernels run on (../libraries.ts opens them). */
export interface KernelLibraries {
  /** A single-precision matrix product (BLAS' or oneDNN's). */
  sgemm: Sgemm;
  /** The convolutions: oneDNN's, or im2col + `sgemm`. */
  conv: ConvLibrary;
  /** oneDNN, for BatchNorm, pooling, ReLU, add and grouped convolutions; null: typed-array loops. */
  dnnl: Dnnl | null;
  /** How convolution weights are stored between steps (../layouts.ts); absent: `plain`. */
  weightLayout?: WeightLayoutMode;
  /** BLAS' `saxpy` for the optimizer's plain step, where a BLAS library opens; absent: a loop. */
  axpy?: Axpy | null;
}

/**
 * One op's kernels on `native` (one file in this folder each, listed once in ./registry.ts): its
 * kernel configurations on the libraries given, and the gradients it needs registered.
 */
export interface NativeOp {
  /** The op's kernels (tfjs' names they replace, or names only `native` has). */
  kernels(libs: KernelLibraries): tf.KernelConfig[];
  /**
   * Its gradients: tfjs' own wrapped for `native` (null when tfjs has none to wrap), or those of
   * kernels only `native` has. Called once the backend registers, after tfjs' own exist.
   */
  gradients?(): (tf.GradConfig | null)[];
}

/** A tensor as kernels see it. */
export type Info = tf.TensorInfo;

/** A kernel's fast path: tensor infos out, or null to fall back to the CPU backend's kernel. */
export type Fast = (
  inputs: Record<string, Info | undefined>,
  backend: MathBackendCPU,
  // deno-lint-ignore no-explicit-any
  attrs: any,
) => Info | Info[] | null;

/**
 * The float32 values of a tensor, or null for another dtype. A float32 tensor that `cast` made from
 * int32 or bool shares the source's storage (tfjs' CPU cast keeps the data), an Int32Array or a
 * Uint8Array: those are read out as float32 values, never handed to a kernel as floats' bytes.
 */
export function f32(backend: MathBackendCPU, t: Info | undefined): Float32Array | null {
  if (!t || t.dtype !== "float32") return null;
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/**
 * Whether a gradient tape is recording (tfjs' `gradientDepth`: inside `tf.grads` and friends).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../../setup.ts";
 * import { taping } from "./kernel.ts";
 * assert.equal(taping(), false);
 * let inside = false;
 * tf.grad((x: tf.Tensor) => {
 *   inside = taping();
 *   return x.square();
 * })(tf.scalar(2));
 * assert.equal(inside, true);
 * ```
 */
export function taping(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}

/**
 * The values of `t` when a kernel may write its output over them: the caller gave them up
 * (`attrs.donate`: nothing reads `t` after this kernel; it is freed later) and no other tensor shares
 * them. A backward pass that writes each gradient over the one it came from needs one buffer
 * fewer of that size at a time (oneDNN's BatchNorm and eltwise backward run in place); at 96x96
 * batch 256 the buffers waiting unused at the forward pass' peak were 350 MiB.
 */
export function donated(
  backend: MathBackendCPU,
  t: Info | undefined,
  attrs: tf.NamedAttrMap,
): Float32Array | null {
  if (!attrs.donate || !t || t.dtype !== "float32") return null;
  // Never while a tape records (a gradient of this pass may save the input after the kernel ran).
  if (taping()) return null;
  const d = backend.data.get(t.dataId);
  return d.refCount === 1 && d.values instanceof Float32Array && pool.exclusive(d.values)
    ? d.values
    : null;
}

/**
 * How often each replaced kernel fell back to the CPU backend's own (for tests and profiles: a
 * fallback in the hot path means a shape or dtype this backend does not cover).
 */
export const fallbacks: Map<string, number> = new Map();

/** Whether a tensor has no elements (a zero in its shape). */
export const isEmpty = (t: Info | undefined): boolean => !!t && t.shape.includes(0);

/**
 * A kernel that runs `fast` and, when it returns null, the CPU backend's kernel. Empty inputs go
 * to the CPU kernel too: oneDNN rejects zero-size memory, and tfjs defines what an empty op gives.
 */
export function kernel(kernelName: string, fast: Fast): tf.KernelConfig {
  let cpu: tf.KernelFunc | null = null;
  const kernelFunc: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const inputs = args.inputs as Record<string, Info>;
    const r = Object.values(inputs).some(isEmpty) ? null : fast(inputs, backend, args.attrs ?? {});
    if (r) return r;
    fallbacks.set(kernelName, (fallbacks.get(kernelName) ?? 0) + 1);
    plainInputs(backend, inputs); // the CPU kernel reads tfjs' layout only
    cpu ??= tf.getKernel(kernelName, "cpu")!.kernelFunc;
    return cpu(args);
  };
  return { kernelName, backendName: "native", kernelFunc };
}

/** A kernel that exists only on `native` (no CPU fallback); called by ../gradients.ts. */
export function custom(kernelName: string, f: Fast): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) =>
    f(args.inputs as Record<string, Info>, args.backend as MathBackendCPU, args.attrs ?? {})!;
  return { kernelName, backendName: "native", kernelFunc };
}

/** A per-channel vector `[C]` of float32, or null. */
export function channelVec(backend: MathBackendCPU, t: Info | undefined, C: number) {
  const v = f32(backend, t);
  return v && t!.shape.length === 1 && v.length === C ? v : null;
}
