/**
 * How the `native` backend's gradients are installed, and what they share. tfjs keeps one gradient
 * per kernel for all backends; each op's kernel file (./kernels/) lists the gradients it needs:
 * tfjs' own wrapped so that they take over only while the active backend is `native` (every other
 * backend still runs tfjs' gradient unchanged), and those of the kernels that exist only on
 * `native`. ./backend.ts installs them once, after the kernels are registered.
 *
 * @example
 * ```ts
 * import { installNativeGradients } from "./gradients.ts";
 * import { nativeGradients } from "./kernels/registry.ts";
 * installNativeGradients(nativeGradients()); // once, after the native kernels are registered
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

let installed = false;

/** Registers `gradients` (null: tfjs has no gradient of that kernel to wrap); idempotent. */
export function installNativeGradients(gradients: readonly (tf.GradConfig | null)[]): void {
  if (installed) return;
  installed = true;
  for (const g of gradients) if (g) tf.registerGradient(g);
}

/**
 * Whether the active backend is a `native` one (tests register it under two names).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { isNative } from "./gradients.ts";
 * await tf.setBackend("cpu");
 * assert.ok(!isNative());
 * ```
 */
export const isNative = (): boolean => tf.getBackend().startsWith("native");

/**
 * Whether the current step runs on `native` with one float32 output gradient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { onNative } from "./gradients.ts";
 * await tf.setBackend("cpu");
 * assert.ok(!onNative(tf.scalar(1), tf.scalar(1)));
 * ```
 */
export const onNative = (dy: tf.Tensor | tf.Tensor[], x: tf.Tensor): boolean =>
  isNative() && !Array.isArray(dy) && x.dtype === "float32";

/**
 * Runs the kernel `name` on the active backend and returns its one output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { runKernel } from "./gradients.ts";
 * await tf.setBackend("cpu");
 * assert.deepEqual(await runKernel("Neg", { x: tf.scalar(2) }).data(), new Float32Array([-2]));
 * ```
 */
export const runKernel = (
  name: string,
  inputs: tf.NamedTensorMap,
  attrs: tf.NamedAttrMap = {},
): tf.Tensor => tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;

/**
 * The one output gradient of a single-output kernel.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { one } from "./gradients.ts";
 * const t = tf.scalar(1);
 * assert.ok(one([t]) === t && one(t) === t);
 * ```
 */
export const one = (dy: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(dy) ? dy[0] : dy);

/**
 * Frees an eager gradient's inputs once it has used them: the output gradient and the tensors saved
 * for it. tfjs keeps both until the whole backward pass ends, so a network's every activation and
 * every activation gradient would be alive at once; freed here, the backward pass releases what it
 * is done with, as PyTorch's autograd does. Safe because tfjs reads neither again: each output
 * gradient belongs to one tape node, and saved tensors are private copies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { release } from "./gradients.ts";
 * const t = tf.scalar(1);
 * release(t, null);
 * assert.ok(t.isDisposed);
 * ```
 */
export function release(...ts: (tf.Tensor | null | undefined)[]): void {
  for (const t of ts) if (t && !t.isDisposed) t.dispose();
}
