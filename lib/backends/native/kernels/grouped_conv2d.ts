/**
 * `GROUPED_CONV2D` (../../../model/fused.ts: PyTorch's grouped convolution, NHWC, filter
 * `[kh, kw, in / groups, out]`) on `native` through oneDNN's own groups, and its gradient: the
 * input and filter gradients, each one oneDNN call. Registered only where oneDNN is loaded; without
 * it `groupedConv2d` runs its composite (split, convolve, concatenate).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { groupedConv2d } from "./grouped_conv2d.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * assert.deepEqual(groupedConv2d.kernels(libs), []); // nothing without oneDNN
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { GROUPED_CONV2D } from "../../../model/fused.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import {
  groupedConvBackpropFilter,
  groupedConvBackpropInput,
  groupedConvForward,
} from "../ops/grouped_conv2d_dnnl.ts";
import { one, release } from "../gradients.ts";
import { custom, f32, type Info, type NativeOp } from "./kernel.ts";
import { convInfo } from "./conv2d.ts";

/**
 * The input gradient of `GROUPED_CONV2D` (inputs dy, filter; attributes strides, pad, groups,
 * inputShape; output dx).
 */
export const NATIVE_GROUPED_CONV2D_GRAD_X = "NativeGroupedConv2dGradX";
/**
 * The filter gradient of `GROUPED_CONV2D` (inputs x, dy; attributes strides, pad, groups,
 * filterShape; output dfilter).
 */
export const NATIVE_GROUPED_CONV2D_GRAD_FILTER = "NativeGroupedConv2dGradFilter";

// deno-lint-ignore no-explicit-any
type Attrs = any;

/** tfjs' convolution info of a grouped convolution (NHWC, no dilation). */
function info(xShape: number[], filterShape: number[], attrs: Attrs) {
  const c = convInfo(xShape, filterShape, { strides: attrs.strides, pad: attrs.pad });
  if (!c) throw new Error(`${GROUPED_CONV2D}: NHWC only`);
  return c;
}

/** The result, or a one-line error for what the binding was not given (it never is today). */
function made(r: Float32Array | null, what: string): Float32Array {
  if (!r) throw new Error(`${GROUPED_CONV2D}: oneDNN has no ${what} for these attributes`);
  return r;
}

function kernels(dnnl: Dnnl): tf.KernelConfig[] {
  const v = (backend: Parameters<typeof f32>[0], t: Info | undefined) => f32(backend, t)!;
  return [
    custom(GROUPED_CONV2D, (inputs, backend, attrs) => {
      const c = info(inputs.x!.shape, inputs.filter!.shape, attrs);
      const x = v(backend, inputs.x), w = v(backend, inputs.filter);
      const y = made(groupedConvForward(dnnl, c, attrs.groups, x, w), "forward pass");
      return backend.makeTensorInfo(c.outShape, "float32", y);
    }),
    custom(NATIVE_GROUPED_CONV2D_GRAD_X, (inputs, backend, attrs) => {
      const c = info(attrs.inputShape, inputs.filter!.shape, attrs);
      const dy = v(backend, inputs.dy), w = v(backend, inputs.filter);
      const dx = made(groupedConvBackpropInput(dnnl, c, attrs.groups, dy, w), "input gradient");
      return backend.makeTensorInfo(c.inShape, "float32", dx);
    }),
    custom(NATIVE_GROUPED_CONV2D_GRAD_FILTER, (inputs, backend, attrs) => {
      const c = info(inputs.x!.shape, attrs.filterShape, attrs);
      const x = v(backend, inputs.x), dy = v(backend, inputs.dy);
      const dw = made(groupedConvBackpropFilter(dnnl, c, attrs.groups, x, dy), "filter gradient");
      return backend.makeTensorInfo(c.filterShape, "float32", dw);
    }),
  ];
}

/**
 * Only `native` registers GROUPED_CONV2D, so this gradient is native's: both gradients at once, so
 * that the output gradient and the saved input and filter can be freed (as ./conv2d.ts does).
 */
const gradient: tf.GradConfig = {
  kernelName: GROUPED_CONV2D,
  inputsToSave: ["x", "filter"],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved;
    const g = one(dy);
    const a = attrs as unknown as { strides: number; pad: unknown; groups: number };
    const conv = { strides: a.strides, pad: a.pad, groups: a.groups } as tf.NamedAttrMap;
    const run = (name: string, inputs: tf.NamedTensorMap, more: tf.NamedAttrMap) =>
      tf.engine().runKernel(name, inputs, { ...conv, ...more }) as tf.Tensor;
    const dx = run(NATIVE_GROUPED_CONV2D_GRAD_X, { dy: g, filter }, { inputShape: x.shape });
    const dw = run(NATIVE_GROUPED_CONV2D_GRAD_FILTER, { x, dy: g }, {
      filterShape: filter.shape,
    });
    release(g, x, filter);
    return { x: () => dx, filter: () => dw };
  },
};

/** `GROUPED_CONV2D` on oneDNN, where it is loaded. */
export const groupedConv2d: NativeOp = {
  kernels: ({ dnnl }) => dnnl ? kernels(dnnl) : [],
  gradients: () => [gradient],
};
