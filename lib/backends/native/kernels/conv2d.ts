/**
 * `Conv2D` and `FusedConv2D` (bias, ReLU) on `native`: channels-last convolutions through the
 * kernel library ({@linkcode ConvLibrary}: ../ops/conv2d_dnnl.ts or ../ops/conv2d.ts); their
 * gradients `Conv2DBackpropInput` and `Conv2DBackpropFilter` too; and the fused `CONV2D_BIAS` with
 * its gradient (filter and bias gradients from one kernel). Channels-first data falls back to the
 * CPU backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openBlas } from "../blas.ts";
 * import { blasConv } from "../ops/conv2d.ts";
 * import { conv2d } from "./conv2d.ts";
 * const blas = openBlas();
 * if (blas.ok) {
 *   const libs = { sgemm: blas.sgemm, conv: blasConv(blas.sgemm), dnnl: null };
 *   assert.ok(conv2d.kernels(libs).map((k) => k.kernelName).includes("Conv2D"));
 * }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ConvLibrary } from "../ops/conv2d.ts";
import { CONV2D_BIAS } from "../../../model/fused.ts";
import { custom, f32, type Fast, type Info, kernel, type NativeOp } from "./kernel.ts";
import { epilogueOf } from "./epilogue.ts";
import { release } from "../gradients.ts";
import { laidOutTensor, plainInputs, storedLayout } from "../layouts.ts";
import { weightsCopy } from "../weights_copies.ts";

/**
 * The filter and bias gradients of `CONV2D_BIAS` in one call (inputs x, dy; attributes strides,
 * pad, filterShape; outputs dw, db).
 */
export const NATIVE_CONV_FILTER_BIAS_GRAD = "NativeConv2dFilterBiasGrad";

/** tfjs' convolution geometry for channels-last data, or null for channels-first. */
export function convInfo(
  xShape: number[],
  filterShape: number[],
  // deno-lint-ignore no-explicit-any
  attrs: any,
): tf.backend_util.Conv2DInfo | null {
  const format = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? "NHWC");
  if (format !== "channelsLast") return null;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    format,
  );
}

/**
 * Whether `dy` has the shape the geometry gives the output, so that it can be read as one block.
 * tfjs' op lets it differ (conv2dTranspose with an `outputShape` smaller than the input's), and
 * its CPU kernel then reads the leading rows and columns of `dy` with `dy`'s own strides: such a
 * `dy` goes to that kernel.
 */
function dyFits(dy: Info, c: tf.backend_util.Conv2DInfo): boolean {
  return tf.util.arraysEqual(dy.shape, c.outShape);
}

/** The convolution kernels on `lib`. */
function convKernels(lib: ConvLibrary): tf.KernelConfig[] {
  const forward: Fast = (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x), w = f32(backend, inputs.filter);
    const c = x && w && convInfo(inputs.x!.shape, inputs.filter!.shape, attrs);
    const ep = c && epilogueOf(backend, inputs.bias, c.outChannels, attrs);
    if (!c || !ep || c.outShape.includes(0)) return null;
    const id = inputs.filter!.dataId;
    const y = lib.forward(c, x!, w!, ep, storedLayout(id), weightsCopy(id));
    return y && backend.makeTensorInfo(c.outShape, "float32", y);
  };
  const backpropInput: Fast = (inputs, backend, attrs) => {
    const dy = f32(backend, inputs.dy), w = f32(backend, inputs.filter);
    const c = dy && w && convInfo(attrs.inputShape, inputs.filter!.shape, attrs);
    if (!c || !dyFits(inputs.dy!, c)) return null;
    const dx = lib.backpropInput(c, dy!, w!, storedLayout(inputs.filter!.dataId));
    return dx && backend.makeTensorInfo(c.inShape, "float32", dx);
  };
  const backpropFilter: Fast = (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x), dy = f32(backend, inputs.dy);
    const c = x && dy && convInfo(inputs.x!.shape, attrs.filterShape, attrs);
    if (!c || !dyFits(inputs.dy!, c)) return null;
    const r = lib.backpropFilter(c, x!, dy!);
    return r && laidOutTensor(backend, c.filterShape, r.dw, r.layout ?? null);
  };
  const filterBias: Fast = (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x)!, dy = f32(backend, inputs.dy)!;
    const c = convInfo(inputs.x!.shape, attrs.filterShape, attrs)!;
    // An empty batch has zero gradients (and oneDNN rejects zero-size memory).
    const r = dy.length === 0
      ? {
        dw: new Float32Array(tf.util.sizeFromShape(c.filterShape)),
        db: new Float32Array(c.outChannels),
      }
      : lib.backpropFilterBias(c, x, dy)!;
    return [
      laidOutTensor(backend, c.filterShape, r.dw, "layout" in r ? r.layout ?? null : null),
      backend.makeTensorInfo([c.outChannels], "float32", r.db),
    ];
  };
  return [
    kernel(tf.Conv2D, forward),
    kernel(tf.FusedConv2D, forward),
    kernel(tf.Conv2DBackpropInput, backpropInput),
    kernel(tf.Conv2DBackpropFilter, backpropFilter),
    // CONV2D_BIAS exists only on `native`: what the library does not cover, tfjs' fused
    // convolution on the CPU backend computes.
    custom(CONV2D_BIAS, (inputs, backend, attrs) => {
      const a = { ...attrs, dataFormat: "NHWC", dilations: 1, activation: "linear" };
      const r = forward(inputs, backend, a);
      if (r) return r;
      plainInputs(backend, inputs); // the CPU kernel reads tfjs' layout only
      const cpu = tf.getKernel(tf.FusedConv2D, "cpu")!.kernelFunc;
      return cpu({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs: a });
    }),
    custom(NATIVE_CONV_FILTER_BIAS_GRAD, filterBias),
  ];
}

/**
 * Only `native` registers CONV2D_BIAS, so this gradient is native's: the filter and bias gradients
 * from one kernel, the input gradient unless the input is data.
 */
const conv2dBiasGrad: tf.GradConfig = {
  kernelName: CONV2D_BIAS,
  inputsToSave: ["x", "filter"],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter] = saved;
    const g = Array.isArray(dy) ? dy[0] : dy;
    const a = attrs as unknown as { strides: number; pad: unknown; inputIsData: boolean };
    const conv = { strides: a.strides, pad: a.pad, dataFormat: "NHWC" } as tf.NamedAttrMap;
    const [dw, db] = tf.engine().runKernel(
      NATIVE_CONV_FILTER_BIAS_GRAD,
      { x, dy: g },
      { ...conv, filterShape: filter.shape },
    ) as tf.Tensor[];
    const dx = a.inputIsData ? null : tf.engine().runKernel(
      tf.Conv2DBackpropInput,
      { dy: g, filter },
      { ...conv, inputShape: x.shape },
    ) as tf.Tensor;
    release(g, x, filter);
    const noDx = () => {
      throw new Error(`${CONV2D_BIAS}: the input was marked as data, it has no gradient`);
    };
    return { x: dx ? () => dx : noDx, filter: () => dw, bias: () => db };
  },
};

/** `Conv2D`, its gradients and `CONV2D_BIAS` on `native`. */
export const conv2d: NativeOp = {
  kernels: (libs) => convKernels(libs.conv),
  gradients: () => [conv2dBiasGrad],
};
