/**
 * tfjs kernel adapters of the `native` backend: they read tensor data from the CPU backend's store,
 * call the typed-array implementations of this folder, and fall back to the CPU backend's kernel
 * for cases those do not cover (other dtypes, dilations with channels-first data, exotic
 * activations).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { openBlas } from "./blas.ts";
 * import { nativeKernels } from "./kernels.ts";
 * const blas = openBlas();
 * if (blas.ok) console.log(nativeKernels(blas.sgemm).map((k) => k.kernelName));
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Sgemm } from "./blas.ts";
import { conv2dBackpropFilter, conv2dBackpropInput, conv2dForward } from "./conv.ts";
import { batchMatMul } from "./matmul.ts";
import { binary, type BinaryOp, broadcastShape, relu, step } from "./elementwise.ts";
import { reduce, type ReduceOp, tile } from "./reduce.ts";
import { maxPool, maxPoolGrad } from "./maxpool.ts";
import {
  batchNorm,
  batchNormGradX,
  batchNormTrain,
  batchNormTrainGrad,
  channelSums,
  reluGrad,
} from "./batchnorm.ts";
import { BATCH_NORM_TRAIN, SGD_UPDATE } from "../../model/fused.ts";
import { pool } from "./buffers.ts";

/** Kernel of `native` only: BatchNorm's input gradient (inputs dy, variance, scale). */
export const NATIVE_BN_GRAD_X = "NativeBatchNormGradX";
/** Kernel of `native` only: per-channel `sum(dy)`, or `sum(dy * (x - mean))` given x and mean. */
export const NATIVE_CHANNEL_SUMS = "NativeChannelSums";
/**
 * Kernel of `native` only: the gradients of {@linkcode BATCH_NORM_TRAIN} (inputs dy, x, y, mean,
 * variance, scale; attributes varianceEpsilon, relu; outputs dx, dscale, doffset).
 */
export const NATIVE_BN_TRAIN_GRAD = "NativeBatchNormTrainGrad";
/** Kernel of `native` only: ReLU's gradient (inputs dy, x). */
export const NATIVE_RELU_GRAD = "NativeReluGrad";
/** Kernel of `native` only: the gradient of `square`, `2 x dy` (inputs dy, x). */
export const NATIVE_SQUARE_GRAD = "NativeSquareGrad";

type Info = tf.TensorInfo;
type Fast = (
  inputs: Record<string, Info | undefined>,
  backend: MathBackendCPU,
  // deno-lint-ignore no-explicit-any
  attrs: any,
) => Info | Info[] | null;

/** The float32 values of a tensor, or null for another dtype. */
function f32(backend: MathBackendCPU, t: Info | undefined): Float32Array | null {
  if (!t || t.dtype !== "float32") return null;
  return backend.data.get(t.dataId).values as Float32Array;
}

/**
 * How often each replaced kernel fell back to the CPU backend's own (for tests and profiles: a
 * fallback in the hot path means a shape or dtype this folder does not cover).
 */
export const fallbacks: Map<string, number> = new Map();

/** A kernel that runs `fast` and, when it returns null, the CPU backend's kernel. */
function kernel(kernelName: string, fast: Fast): tf.KernelConfig {
  let cpu: tf.KernelFunc | null = null;
  const kernelFunc: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const r = fast(args.inputs as Record<string, Info>, backend, args.attrs ?? {});
    if (r) return r;
    fallbacks.set(kernelName, (fallbacks.get(kernelName) ?? 0) + 1);
    cpu ??= tf.getKernel(kernelName, "cpu")!.kernelFunc;
    return cpu(args);
  };
  return { kernelName, backendName: "native", kernelFunc };
}

/** A kernel that exists only on `native` (no CPU fallback); called by ./gradients.ts. */
function custom(kernelName: string, f: Fast): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) =>
    f(args.inputs as Record<string, Info>, args.backend as MathBackendCPU, args.attrs ?? {})!;
  return { kernelName, backendName: "native", kernelFunc };
}

function convInfo(
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

/** Adds a per-channel bias and applies relu in place (the fused epilogue). */
function epilogue(y: Float32Array, channels: number, bias: Float32Array | null, relu: boolean) {
  if (bias) {
    for (let i = 0; i < y.length; i += channels) {
      for (let c = 0; c < channels; c++) y[i + c] += bias[c];
    }
  }
  if (relu) {
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      y[i] = (v + Math.abs(v)) * 0.5; // branch-free, see ./elementwise.ts
    }
  }
}

function fusedEpilogueOk(
  backend: MathBackendCPU,
  bias: Info | undefined,
  channels: number,
  // deno-lint-ignore no-explicit-any
  attrs: any,
): { bias: Float32Array | null; relu: boolean } | null {
  const act = attrs.activation ?? "linear";
  if (act !== "linear" && act !== "relu") return null;
  let b: Float32Array | null = null;
  if (bias) {
    b = f32(backend, bias);
    if (!b || (b.length !== channels)) return null;
  }
  return { bias: b, relu: act === "relu" };
}

/** The kernels of the `native` backend that replace the CPU backend's. */
export function nativeKernels(sgemm: Sgemm): tf.KernelConfig[] {
  const conv: Fast = (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x), w = f32(backend, inputs.filter);
    if (!x || !w) return null;
    const c = convInfo(inputs.x!.shape, inputs.filter!.shape, attrs);
    if (!c) return null;
    let ep: ReturnType<typeof fusedEpilogueOk> = { bias: null, relu: false };
    if (inputs.bias || attrs.activation) {
      ep = fusedEpilogueOk(backend, inputs.bias, c.outChannels, attrs);
      if (!ep) return null;
    }
    const y = conv2dForward(sgemm, c, x, w);
    epilogue(y, c.outChannels, ep.bias, ep.relu);
    return backend.makeTensorInfo(c.outShape, "float32", y);
  };
  const convInput: Fast = (inputs, backend, attrs) => {
    const dy = f32(backend, inputs.dy), w = f32(backend, inputs.filter);
    if (!dy || !w) return null;
    const c = convInfo(attrs.inputShape, inputs.filter!.shape, attrs);
    if (!c) return null;
    return backend.makeTensorInfo(c.inShape, "float32", conv2dBackpropInput(sgemm, c, dy, w));
  };
  const convFilter: Fast = (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x), dy = f32(backend, inputs.dy);
    if (!x || !dy) return null;
    const c = convInfo(inputs.x!.shape, attrs.filterShape, attrs);
    if (!c) return null;
    return backend.makeTensorInfo(c.filterShape, "float32", conv2dBackpropFilter(sgemm, c, x, dy));
  };
  const matMul: Fast = (inputs, backend, attrs) => {
    const a = f32(backend, inputs.a), b = f32(backend, inputs.b);
    if (!a || !b) return null;
    let ep: ReturnType<typeof fusedEpilogueOk> = { bias: null, relu: false };
    const n = attrs.transposeB ? inputs.b!.shape.at(-2)! : inputs.b!.shape.at(-1)!;
    if (inputs.bias || attrs.activation) {
      ep = fusedEpilogueOk(backend, inputs.bias, n, attrs);
      if (!ep) return null;
    }
    const p = batchMatMul(
      sgemm,
      a,
      inputs.a!.shape,
      b,
      inputs.b!.shape,
      !!attrs.transposeA,
      !!attrs.transposeB,
    );
    if (!p) return null;
    epilogue(p.values, n, ep.bias, ep.relu);
    return backend.makeTensorInfo(p.shape, "float32", p.values);
  };
  const bin = (op: BinaryOp): Fast => (inputs, backend) => {
    const a = f32(backend, inputs.a), b = f32(backend, inputs.b);
    if (!a || !b || !broadcastShape(inputs.a!.shape, inputs.b!.shape)) return null;
    const r = binary(op, a, inputs.a!.shape, b, inputs.b!.shape);
    return backend.makeTensorInfo(r.shape, "float32", r.values);
  };
  const red = (op: ReduceOp, axisAttr: string): Fast => (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x);
    if (!x) return null;
    const shape = inputs.x!.shape;
    const axes = tf.util.parseAxisParam(attrs[axisAttr], shape);
    const r = reduce(op, x, shape, axes, !!attrs.keepDims);
    return r && backend.makeTensorInfo(r.shape, "float32", r.values);
  };
  const unary =
    (f: (x: Float32Array, attrs: { alpha?: number }) => Float32Array): Fast =>
    (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x);
      return x && backend.makeTensorInfo(inputs.x!.shape, "float32", f(x, attrs));
    };
  const poolInfo = (shape: number[], attrs: tf.MaxPoolAttrs) =>
    tf.backend_util.computePool2DInfo(
      shape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
  const channelVec = (backend: MathBackendCPU, t: Info | undefined, C: number) => {
    const v = f32(backend, t);
    return v && t!.shape.length === 1 && v.length === C ? v : null;
  };
  return [
    kernel(tf.FusedBatchNorm, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x);
      if (!x) return null;
      const C = inputs.x!.shape.at(-1)!;
      const mean = channelVec(backend, inputs.mean, C);
      const variance = channelVec(backend, inputs.variance, C);
      const scale = inputs.scale ? channelVec(backend, inputs.scale, C) : null;
      const offset = inputs.offset ? channelVec(backend, inputs.offset, C) : null;
      if (!mean || !variance || (inputs.scale && !scale) || (inputs.offset && !offset)) return null;
      const y = batchNorm(x, C, mean, variance, scale, offset, attrs.varianceEpsilon ?? 0.001);
      return backend.makeTensorInfo(inputs.x!.shape, "float32", y);
    }),
    custom(BATCH_NORM_TRAIN, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x)!, C = inputs.x!.shape.at(-1)!;
      const r = batchNormTrain(
        x,
        C,
        f32(backend, inputs.scale)!,
        f32(backend, inputs.offset)!,
        attrs.varianceEpsilon,
        !!attrs.relu,
      );
      return [
        backend.makeTensorInfo(inputs.x!.shape, "float32", r.y),
        backend.makeTensorInfo([C], "float32", r.mean),
        backend.makeTensorInfo([C], "float32", r.variance),
      ];
    }),
    custom(NATIVE_BN_TRAIN_GRAD, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x)!, C = inputs.x!.shape.at(-1)!;
      const r = batchNormTrainGrad(
        f32(backend, inputs.dy)!,
        x,
        attrs.relu ? f32(backend, inputs.y)! : null,
        C,
        f32(backend, inputs.mean)!,
        f32(backend, inputs.variance)!,
        f32(backend, inputs.scale)!,
        attrs.varianceEpsilon,
      );
      return [
        backend.makeTensorInfo(inputs.x!.shape, "float32", r.dx),
        backend.makeTensorInfo([C], "float32", r.dscale),
        backend.makeTensorInfo([C], "float32", r.doffset),
      ];
    }),
    custom(SGD_UPDATE, (inputs, backend, attrs) => {
      const v = f32(backend, inputs.value)!, g = f32(backend, inputs.gradient)!;
      const lr = attrs.lr as number, out = pool.alloc(v.length);
      for (let i = 0; i < v.length; i++) out[i] = v[i] - lr * g[i];
      return backend.makeTensorInfo(inputs.value!.shape, "float32", out);
    }),
    custom(NATIVE_BN_GRAD_X, (inputs, backend, attrs) => {
      const dy = f32(backend, inputs.dy)!, C = inputs.dy!.shape.at(-1)!;
      const v = f32(backend, inputs.variance)!, s = f32(backend, inputs.scale);
      const dx = batchNormGradX(dy, C, v, s, attrs.varianceEpsilon);
      return backend.makeTensorInfo(inputs.dy!.shape, "float32", dx);
    }),
    custom(NATIVE_CHANNEL_SUMS, (inputs, backend) => {
      const dy = f32(backend, inputs.dy)!, C = inputs.dy!.shape.at(-1)!;
      const sums = channelSums(dy, C, f32(backend, inputs.x), f32(backend, inputs.mean));
      return backend.makeTensorInfo([C], "float32", sums);
    }),
    custom(NATIVE_RELU_GRAD, (inputs, backend) => {
      const dx = reluGrad(f32(backend, inputs.dy)!, f32(backend, inputs.x)!);
      return backend.makeTensorInfo(inputs.dy!.shape, "float32", dx);
    }),
    custom(NATIVE_SQUARE_GRAD, (inputs, backend) => {
      const dy = f32(backend, inputs.dy)!, x = f32(backend, inputs.x)!;
      if (dy.length !== x.length) return null;
      const dx = pool.alloc(dy.length);
      for (let i = 0; i < dx.length; i++) dx[i] = 2 * x[i] * dy[i];
      return backend.makeTensorInfo(inputs.dy!.shape, "float32", dx);
    }),
    kernel(tf.Add, bin("add")),
    kernel(tf.Sub, bin("sub")),
    kernel(tf.Multiply, bin("mul")),
    kernel(tf.RealDiv, bin("div")),
    kernel(tf.SquaredDifference, bin("sqdiff")),
    kernel(tf.Maximum, bin("max")),
    kernel(tf.Minimum, bin("min")),
    kernel(tf.Sum, red("sum", "axis")),
    kernel(tf.Mean, red("mean", "axis")),
    kernel(tf.Max, red("max", "reductionIndices")),
    kernel(tf.Relu, unary((x) => relu(x))),
    kernel(tf.Step, unary((x, a) => step(x, a.alpha ?? 0))),
    kernel(tf.Tile, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x);
      if (!x) return null;
      const r = tile(x, inputs.x!.shape, attrs.reps);
      return backend.makeTensorInfo(r.shape, "float32", r.values);
    }),
    kernel(tf.MaxPool, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.x);
      if (!x || inputs.x!.shape.length !== 4) return null;
      const c = poolInfo(inputs.x!.shape, attrs);
      return backend.makeTensorInfo(c.outShape, "float32", maxPool(c, x));
    }),
    kernel(tf.MaxPoolGrad, (inputs, backend, attrs) => {
      const x = f32(backend, inputs.input), dy = f32(backend, inputs.dy);
      const y = f32(backend, inputs.output);
      if (!x || !dy || !y) return null;
      const c = poolInfo(inputs.input!.shape, attrs);
      return backend.makeTensorInfo(c.inShape, "float32", maxPoolGrad(c, x, y, dy));
    }),
    kernel(tf.Conv2D, conv),
    kernel(tf.FusedConv2D, conv),
    kernel(tf.Conv2DBackpropInput, convInput),
    kernel(tf.Conv2DBackpropFilter, convFilter),
    kernel(tf.BatchMatMul, matMul),
    kernel(tf._FusedMatMul, matMul),
  ];
}
