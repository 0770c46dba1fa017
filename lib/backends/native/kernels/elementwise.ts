/**
 * Element-wise kernels on `native`: broadcasting binary arithmetic, ReLU and its gradient, `Step`,
 * the gradient of `square`; branch-free typed-array loops. With
 * oneDNN, same-shape adds, ReLU and its gradient of large tensors run there, on every thread. The
 * gradients of `Relu`, `Square` and `ADD_RELU` as one pass each, and those of the gradient kernels
 * (for second-order gradients).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elementwise } from "./elementwise.ts";
 * const libs = { sgemm: () => {}, conv: null!, dnnl: null };
 * const names = elementwise.kernels(libs).map((k) => k.kernelName);
 * assert.ok(names.includes("Add") && names.includes("Relu"));
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { binary, type BinaryOp, broadcastShape, relu, reluGrad, step } from "../ops/elementwise.ts";
import { pool } from "../buffers.ts";
import type { Dnnl } from "../dnnl/ffi.ts";
import { dnnlAdd, dnnlRelu, dnnlReluGrad } from "../ops/elementwise_dnnl.ts";
import { ADD_RELU, FORK } from "../../../model/fused.ts";
import { one, onNative, release, runKernel } from "../gradients.ts";
import { custom, donated, f32, type Fast, kernel, type NativeOp } from "./kernel.ts";

/** ReLU's gradient (inputs dy, x; x may be ReLU's output, whose sign is the same). */
export const NATIVE_RELU_GRAD = "NativeReluGrad";
/** The gradient of `square`, `2 x dy` (inputs dy, x). */
export const NATIVE_SQUARE_GRAD = "NativeSquareGrad";

/**
 * Tensors smaller than this stay in JavaScript: a oneDNN call and its thread wake-up cost more
 * than the loop.
 */
const DNNL_MIN = 1 << 14;

const bin = (op: BinaryOp, dnnl: Dnnl | null = null): Fast => (inputs, backend, attrs) => {
  const a = f32(backend, inputs.a), b = f32(backend, inputs.b);
  if (!a || !b || !broadcastShape(inputs.a!.shape, inputs.b!.shape)) return null;
  if (op === "add" && dnnl && a.length === b.length && a.length >= DNNL_MIN) {
    const into = donated(backend, inputs.a, attrs);
    return backend.makeTensorInfo(inputs.a!.shape, "float32", dnnlAdd(dnnl, a, b, false, into));
  }
  const r = binary(op, a, inputs.a!.shape, b, inputs.b!.shape);
  return backend.makeTensorInfo(r.shape, "float32", r.values);
};

const unary =
  (f: (x: Float32Array, attrs: { alpha?: number }) => Float32Array): Fast =>
  (inputs, backend, attrs) => {
    const x = f32(backend, inputs.x);
    return x && backend.makeTensorInfo(inputs.x!.shape, "float32", f(x, attrs));
  };

const addRelu = (dnnl: Dnnl | null): Fast => (inputs, backend) => {
  const a = f32(backend, inputs.a)!, b = f32(backend, inputs.b)!;
  let y: Float32Array;
  if (dnnl && a.length >= DNNL_MIN) y = dnnlAdd(dnnl, a, b, true);
  else {
    y = pool.alloc(a.length);
    for (let i = 0; i < a.length; i++) {
      const v = a[i] + b[i];
      y[i] = (v + Math.abs(v)) * 0.5; // branch-free, see ../ops/elementwise.ts
    }
  }
  return backend.makeTensorInfo(inputs.a!.shape, "float32", y);
};

const reluKernel = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const x = f32(backend, inputs.x);
  if (!x) return null;
  const into = donated(backend, inputs.x, attrs);
  const y = dnnl && x.length >= DNNL_MIN ? dnnlRelu(dnnl, x, into) : relu(x, into);
  return backend.makeTensorInfo(inputs.x!.shape, "float32", y);
};

const reluGradKernel = (dnnl: Dnnl | null): Fast => (inputs, backend, attrs) => {
  const dy = f32(backend, inputs.dy)!, x = f32(backend, inputs.x)!;
  const into = donated(backend, inputs.dy, attrs);
  const dx = dnnl && x.length >= DNNL_MIN ? dnnlReluGrad(dnnl, dy, x, into) : reluGrad(dy, x, into);
  return backend.makeTensorInfo(inputs.dy!.shape, "float32", dx);
};

const squareGrad = custom(NATIVE_SQUARE_GRAD, (inputs, backend) => {
  const dy = f32(backend, inputs.dy)!, x = f32(backend, inputs.x)!;
  if (dy.length !== x.length) return null;
  const dx = pool.alloc(dy.length);
  for (let i = 0; i < dx.length; i++) dx[i] = 2 * x[i] * dy[i];
  return backend.makeTensorInfo(inputs.dy!.shape, "float32", dx);
});

/** The element-wise kernels, partly on oneDNN where `dnnl` is given. */
function elementwiseKernels(dnnl: Dnnl | null): tf.KernelConfig[] {
  return [
    kernel(tf.Add, bin("add", dnnl)),
    kernel(tf.Sub, bin("sub")),
    kernel(tf.Multiply, bin("mul")),
    kernel(tf.RealDiv, bin("div")),
    kernel(tf.SquaredDifference, bin("sqdiff")),
    kernel(tf.Maximum, bin("max")),
    kernel(tf.Minimum, bin("min")),
    kernel(tf.Relu, reluKernel(dnnl)),
    kernel(tf.Step, unary((x, a) => step(x, a.alpha ?? 0))),
    custom(NATIVE_RELU_GRAD, reluGradKernel(dnnl)),
    custom(ADD_RELU, addRelu(dnnl)),
    forkKernel,
    squareGrad,
  ];
}

/** `fork`: two outputs sharing the input's data (each freed on its own, as a clone is). */
const forkKernel = custom(FORK, (inputs, backend) => {
  const x = inputs.x!;
  backend.incRef(x.dataId);
  backend.incRef(x.dataId);
  const out = { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  return [out, { ...out }];
});

/**
 * `fork`'s gradient: the sum of its outputs' gradients, which it frees (each belongs to this node
 * alone), so that neither outlives the sum.
 */
const forkGradient: tf.GradConfig = {
  kernelName: FORK,
  gradFunc: (dy) => {
    const [a, b] = dy as tf.Tensor[];
    // An output that does not reach the result has no gradient (null): the other is the sum.
    if (!a || !b) return { x: () => (a ?? b)! };
    // a is freed below and read nowhere else: its buffer may become the sum's (`donate`).
    const dx = runKernel(tf.Add, { a, b }, { donate: true });
    release(a, b);
    return { x: () => dx };
  },
};

/** `relu(a + b)`'s gradient: `dy` where the output is positive, for both inputs. */
const addReluGradient: tf.GradConfig = {
  kernelName: ADD_RELU,
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [y] = saved;
    const g = one(dy);
    // g is freed below and read nowhere else: its buffer may become dz's (`donate`).
    const dz = runKernel(NATIVE_RELU_GRAD, { dy: g, x: y }, { donate: true });
    release(g, y);
    // Two tensors (one a view of the other): each input's gradient is freed on its own.
    return { a: () => dz, b: () => dz.clone() };
  },
};

/** ReLU's gradient as one pass. */
function reluGradient(): tf.GradConfig | null {
  const relu = tf.getGradient(tf.Relu);
  if (!relu) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    if (!onNative(dy, x)) return relu.gradFunc(dy, saved, attrs);
    return { x: () => runKernel(NATIVE_RELU_GRAD, { dy: dy as tf.Tensor, x }) };
  };
  return { ...relu, gradFunc };
}

/** Square's gradient `2 x dy` as one pass. */
function squareGradient(): tf.GradConfig | null {
  const square = tf.getGradient(tf.Square);
  if (!square) return null;
  const gradFunc: tf.GradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    const g = dy as tf.Tensor;
    if (!onNative(dy, x) || g.size !== x.size) return square.gradFunc(dy, saved, attrs);
    return { x: () => runKernel(NATIVE_SQUARE_GRAD, { dy: g, x }) };
  };
  return { ...square, gradFunc };
}

/** `NATIVE_SQUARE_GRAD`'s own gradient (`dx = 2 x dy`: linear in each input). */
const squareGradGradient: tf.GradConfig = {
  kernelName: NATIVE_SQUARE_GRAD,
  inputsToSave: ["dy", "x"],
  gradFunc: (g, [dy, x]) => ({
    dy: () => tf.mul(one(g), tf.mul(x, 2)),
    x: () => tf.mul(one(g), tf.mul(dy, 2)),
  }),
};

/**
 * `NATIVE_RELU_GRAD`'s own gradient (`dx = dy step(x)`): the step's gradient is zero, as tfjs'
 * Relu gradient has it.
 */
const reluGradGradient: tf.GradConfig = {
  kernelName: NATIVE_RELU_GRAD,
  inputsToSave: ["x"],
  gradFunc: (g, [x]) => ({
    dy: () => runKernel(NATIVE_RELU_GRAD, { dy: one(g), x }),
    x: () => tf.zerosLike(x),
  }),
};

/** The element-wise ops on `native`, partly on oneDNN where it is loaded. */
export const elementwise: NativeOp = {
  kernels: ({ dnnl }) => elementwiseKernels(dnnl),
  gradients: () => [
    addReluGradient,
    forkGradient,
    reluGradient(),
    squareGradient(),
    squareGradGradient,
    reluGradGradient,
  ],
};
