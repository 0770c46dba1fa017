/**
 * Single-pass gradients of BatchNorm, ReLU, mean and square for the `native` backend. tfjs keeps one
 * gradient
 * per kernel for all backends; these wrap tfjs' own and take over only while the active backend
 * is `native` (every other backend still runs tfjs' gradient unchanged).
 *
 * @example
 * ```ts
 * import { installNativeGradients } from "./gradients.ts";
 * installNativeGradients(); // once, after the native kernels are registered
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ADD_RELU, BATCH_NORM_TRAIN, CONV2D_BIAS } from "../../model/fused.ts";
import {
  NATIVE_BN_GRAD_X,
  NATIVE_BN_TRAIN_GRAD,
  NATIVE_CHANNEL_SUMS,
  NATIVE_CONV_FILTER_BIAS_GRAD,
  NATIVE_RELU_GRAD,
  NATIVE_SQUARE_GRAD,
} from "./kernels/names.ts";
import { secondOrderGradients } from "./second_order.ts";

let installed = false;

/** Whether the active backend is a `native` one (tests register it under two names). */
const isNative = () => tf.getBackend().startsWith("native");

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;

/**
 * Wraps the gradients of `FusedBatchNorm`, `Relu`, `Mean` and `Square`, registers those of the
 * fused ops and of the native gradient kernels (./second_order.ts); idempotent.
 */
export function installNativeGradients(): void {
  if (installed) return;
  installed = true;
  const all = [
    fusedBatchNorm(),
    batchNormTrain(),
    conv2dBias(),
    addRelu(),
    maxPool(),
    relu(),
    mean(),
    square(),
  ];
  for (const g of [...all, ...secondOrderGradients()]) {
    if (g) tf.registerGradient(g);
  }
}

/**
 * Frees an eager gradient's inputs once it has used them: the output gradient and the tensors saved
 * for it. tfjs keeps both until the whole backward pass ends, so a network's every activation and
 * every activation gradient would be alive at once; freed here, the backward pass releases what it
 * is done with, as PyTorch's autograd does. Safe because tfjs reads neither again: each output
 * gradient belongs to one tape node, and saved tensors are private copies.
 */
function release(...ts: (tf.Tensor | null | undefined)[]): void {
  for (const t of ts) if (t && !t.isDisposed) t.dispose();
}

/** Whether the current step runs on `native` with one float32 output gradient. */
const onNative = (dy: tf.Tensor | tf.Tensor[], x: tf.Tensor) =>
  isNative() && !Array.isArray(dy) && x.dtype === "float32";

/** tfjs' FusedBatchNorm gradient as three channel sums and one pass for the input. */
function fusedBatchNorm(): tf.GradConfig | null {
  const bn = tf.getGradient(tf.FusedBatchNorm);
  if (!bn) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const C = x.shape[x.rank - 1];
    const fast = onNative(dy, x) && scale != null && mean.rank === 1 && variance.rank === 1 &&
      scale.rank === 1 && mean.size === C;
    if (!fast) return bn.gradFunc(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const rs = () => tf.rsqrt(tf.add(variance, eps));
    const centred = () => run(NATIVE_CHANNEL_SUMS, { dy: g, x, mean });
    return {
      x: () => run(NATIVE_BN_GRAD_X, { dy: g, variance, scale }, { varianceEpsilon: eps }),
      // d/dmean: -scale rs sum(dy); d/dvar: -scale rs^3 / 2 sum(dy (x - mean)).
      mean: () => tf.mul(tf.neg(tf.mul(scale, rs())), run(NATIVE_CHANNEL_SUMS, { dy: g })),
      variance: () => tf.mul(tf.mul(tf.mul(scale, tf.pow(rs(), 3)), -0.5), centred()),
      scale: () => tf.mul(rs(), centred()),
      offset: () => run(NATIVE_CHANNEL_SUMS, { dy: g }),
    };
  };
  return { ...bn, gradFunc };
}

/**
 * Only `native` registers CONV2D_BIAS, so this gradient is native's: the filter and bias gradients
 * from one kernel, the input gradient unless the input is data.
 */
function conv2dBias(): tf.GradConfig {
  return {
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
}

/** `relu(a + b)`'s gradient: `dy` where the output is positive, for both inputs. */
function addRelu(): tf.GradConfig {
  return {
    kernelName: ADD_RELU,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      const dz = run(NATIVE_RELU_GRAD, { dy: g, x: y });
      release(g, y);
      // Two tensors (one a view of the other): each input's gradient is freed on its own.
      return { a: () => dz, b: () => dz.clone() };
    },
  };
}

/** Only backends that register BATCH_NORM_TRAIN ever record it, so this gradient is native's. */
function batchNormTrain(): tf.GradConfig {
  return {
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ["x", "scale", "offset"],
    // Not the output y (the ReLU's mask comes from x and the statistics, or from oneDNN's
    // workspace, the fourth output, when the kernel ran on oneDNN): a BatchNorm without ReLU
    // before an add then keeps nothing of its own alive.
    outputsToSave: [false, true, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, scale, offset, mean, variance, workspace] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      const inputs: tf.NamedTensorMap = { dy: g, x, mean, variance, scale, offset };
      if (workspace) inputs.workspace = workspace;
      // One kernel gives all three; made here, in the backward pass' scope, not in a closure's.
      const [dx, dscale, doffset] = tf.engine().runKernel(
        NATIVE_BN_TRAIN_GRAD,
        inputs,
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      release(g, ...saved);
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  };
}

/** ReLU's gradient as one pass. */
function relu(): tf.GradConfig | null {
  const relu = tf.getGradient(tf.Relu);
  if (!relu) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    if (!onNative(dy, x)) return relu.gradFunc(dy, saved, attrs);
    return { x: () => run(NATIVE_RELU_GRAD, { dy: dy as tf.Tensor, x }) };
  };
  return { ...relu, gradFunc };
}

/** Max pooling's gradient, computed at once so that its input and output can be freed. */
function maxPool(): tf.GradConfig | null {
  const pool = tf.getGradient(tf.MaxPool);
  if (!pool) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x, y] = saved;
    if (!onNative(dy, x)) return pool.gradFunc(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const a = attrs as unknown as tf.NamedAttrMap;
    const dx = tf.engine().runKernel(tf.MaxPoolGrad, { dy: g, input: x, output: y }, a);
    // x and y are the engine's saved copies, this gradient's own; dy may be the caller's tensor.
    release(x, y);
    return { x: () => dx as tf.Tensor };
  };
  return { ...pool, gradFunc };
}

/** Mean's gradient: divide the small tensor, then one broadcasting copy. */
function mean(): tf.GradConfig | null {
  const mean = tf.getGradient(tf.Mean);
  if (!mean) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    if (!isNative() || Array.isArray(dy)) return mean.gradFunc(dy, saved, attrs);
    const g = dy as tf.Tensor;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const reps = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    // tfjs fills ones, multiplies and divides: three passes over the large tensor.
    return { x: () => tf.tile(tf.reshape(tf.div(g, n), expanded), reps) };
  };
  return { ...mean, gradFunc };
}

/** Square's gradient `2 x dy` as one pass. */
function square(): tf.GradConfig | null {
  const square = tf.getGradient(tf.Square);
  if (!square) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    const g = dy as tf.Tensor;
    if (!onNative(dy, x) || g.size !== x.size) return square.gradFunc(dy, saved, attrs);
    return { x: () => run(NATIVE_SQUARE_GRAD, { dy: g, x }) };
  };
  return { ...square, gradFunc };
}
