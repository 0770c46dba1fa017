/**
 * `SGD_UPDATE` on `native` (../../../model/fused.ts; the arithmetic is ../ops/sgd_update.ts). The
 * optimizer donates the old value and momentum buffer (`attrs.donate`: it replaces both by the
 * outputs at once), so where no other tensor shares them the update writes over them in place
 * (#26: the optimizer step runs on the weights in place) instead of filling fresh buffers.
 * Elementwise, so the layout does not matter: weights kept in a oneDNN layout (../layouts.ts) stay
 * in it, and the gradient and buffer come in it or are converted to it; a weight in tfjs' layout
 * whose gradient comes in oneDNN's takes the gradient's (once: its new value and buffer keep it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sgdUpdate } from "./sgd_update.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * assert.deepEqual(sgdUpdate.kernels(libs).map((k) => k.kernelName), ["ResNetSgdUpdate"]);
 * ```
 * @module
 */
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { SGD_UPDATE } from "../../../model/fused.ts";
import { pool } from "../buffers.ts";
import type { Axpy } from "../blas.ts";
import { laidOutTensor, type Layout, storedLayout, valuesIn } from "../layouts.ts";
import { roundsOnce, type SgdAttrs, sgdStep } from "../ops/sgd_update.ts";
import { custom, donated, f32, type Info, type NativeOp } from "./kernel.ts";

/** The update kernel, with BLAS' saxpy for the plain step where a BLAS library is open. */
function sgdUpdateKernel(axpy: Axpy | null) {
  return custom(SGD_UPDATE, (inputs, backend, attrs) => {
    const at = (name: string) => inputs[name] ? storedLayout(inputs[name].dataId) : null;
    const layout = at("value") ?? at("gradient") ?? at("buffer");
    const value = operand(backend, inputs.value, layout, attrs);
    const gradient = operand(backend, inputs.gradient, layout, {});
    const buffer = inputs.buffer ? operand(backend, inputs.buffer, layout, attrs) : null;
    const out = value.writable ?? pool.alloc(value.values.length);
    const newBuffer = buffer ? buffer.writable ?? pool.alloc(buffer.values.length) : undefined;
    sgdStep(
      { value: value.values, gradient: gradient.values, out, buffer: buffer?.values, newBuffer },
      attrs as unknown as SgdAttrs,
      axpy,
    );
    for (const o of [value, gradient, buffer]) {
      if (o?.copy && o.values !== out && o.values !== newBuffer) pool.release(o.values);
    }
    const shape = inputs.value!.shape;
    const outputs = [out, ...(newBuffer ? [newBuffer] : [])];
    const infos = outputs.map((values) => laidOutTensor(backend, shape, values, layout));
    return infos.length === 1 ? infos[0] : infos;
  });
}

/**
 * An operand's values in `layout`, and the buffer its output may overwrite: a converted copy (ours
 * alone), or its own values when donated and held by nothing else; null otherwise.
 */
function operand(
  backend: MathBackendCPU,
  t: Info | undefined,
  layout: Layout | null,
  attrs: Record<string, unknown>,
): { values: Float32Array; copy: boolean; writable: Float32Array | null } {
  if (!layout) {
    const own = donated(backend, t, attrs as never);
    return { values: f32(backend, t)!, copy: false, writable: own };
  }
  const r = valuesIn(backend, t!, layout);
  const writable = r.copy ? r.values : donated(backend, t, attrs as never);
  return { ...r, writable };
}

/** The optimizer's update on `native`. */
export const sgdUpdate: NativeOp = {
  kernels: ({ axpy }) => [sgdUpdateKernel(roundsOnce(axpy ?? null))],
};
