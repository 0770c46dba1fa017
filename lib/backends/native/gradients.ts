/**
 * Single-pass gradients of BatchNorm, ReLU, mean and square for the `native` backend. tfjs keeps one gradient
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
import { BATCH_NORM_TRAIN } from "../../model/fused.ts";
import {
  NATIVE_BN_GRAD_X,
  NATIVE_BN_TRAIN_GRAD,
  NATIVE_CHANNEL_SUMS,
  NATIVE_RELU_GRAD,
  NATIVE_SQUARE_GRAD,
} from "./kernels.ts";

let installed = false;

const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;

/** Wraps the gradients of `FusedBatchNorm`, `Relu`, `Mean` and `Square` (idempotent). */
export function installNativeGradients(): void {
  if (installed) return;
  installed = true;

  const bn = tf.getGradient(tf.FusedBatchNorm);
  if (bn) {
    tf.registerGradient({
      ...bn,
      gradFunc: (dy, saved, attrs) => {
        const [x, mean, variance, scale] = saved;
        const C = x.shape[x.rank - 1];
        const fast = tf.getBackend() === "native" && !Array.isArray(dy) && scale != null &&
          mean.rank === 1 && variance.rank === 1 && scale.rank === 1 && mean.size === C &&
          x.dtype === "float32";
        if (!fast) return bn.gradFunc(dy, saved, attrs);
        const g = dy as tf.Tensor;
        const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
        const rs = () => tf.rsqrt(tf.add(variance, eps));
        return {
          x: () => run(NATIVE_BN_GRAD_X, { dy: g, variance, scale }, { varianceEpsilon: eps }),
          // d/dmean: -scale rs sum(dy); d/dvar: -scale rs^3 / 2 sum(dy (x - mean)).
          mean: () => tf.mul(tf.neg(tf.mul(scale, rs())), run(NATIVE_CHANNEL_SUMS, { dy: g })),
          variance: () =>
            tf.mul(
              tf.mul(tf.mul(scale, tf.pow(rs(), 3)), -0.5),
              run(NATIVE_CHANNEL_SUMS, { dy: g, x, mean }),
            ),
          scale: () => tf.mul(rs(), run(NATIVE_CHANNEL_SUMS, { dy: g, x, mean })),
          offset: () => run(NATIVE_CHANNEL_SUMS, { dy: g }),
        };
      },
    });
  }

  // Only backends that register BATCH_NORM_TRAIN ever record it, so this gradient is native's.
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAIN,
    inputsToSave: ["x", "scale"],
    outputsToSave: [true, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [x, scale, y, mean, variance] = saved;
      const g = Array.isArray(dy) ? dy[0] : dy;
      // One kernel gives all three; made here, in the backward pass' scope, not in a closure's.
      const [dx, dscale, doffset] = tf.engine().runKernel(
        NATIVE_BN_TRAIN_GRAD,
        { dy: g, x, y, mean, variance, scale },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });

  const relu = tf.getGradient(tf.Relu);
  if (relu) {
    tf.registerGradient({
      ...relu,
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        if (tf.getBackend() !== "native" || Array.isArray(dy) || x.dtype !== "float32") {
          return relu.gradFunc(dy, saved, attrs);
        }
        return { x: () => run(NATIVE_RELU_GRAD, { dy: dy as tf.Tensor, x }) };
      },
    });
  }

  const mean = tf.getGradient(tf.Mean);
  if (mean) {
    tf.registerGradient({
      ...mean,
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        if (tf.getBackend() !== "native" || Array.isArray(dy)) {
          return mean.gradFunc(dy, saved, attrs);
        }
        const g = dy as tf.Tensor;
        const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
        const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
        const reps = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
        const n = axes.reduce((p, a) => p * x.shape[a], 1);
        // Divide the small tensor, then one broadcasting copy (tfjs: fill ones, multiply, divide).
        return { x: () => tf.tile(tf.reshape(tf.div(g, n), expanded), reps) };
      },
    });
  }

  const square = tf.getGradient(tf.Square);
  if (square) {
    tf.registerGradient({
      ...square,
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved;
        const g = dy as tf.Tensor;
        if (
          tf.getBackend() !== "native" || Array.isArray(dy) || x.dtype !== "float32" ||
          g.size !== x.size
        ) return square.gradFunc(dy, saved, attrs);
        return { x: () => run(NATIVE_SQUARE_GRAD, { dy: g, x }) };
      },
    });
  }
}
