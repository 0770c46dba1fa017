/**
 * The `native` backend where tfjs' own op tests found it wrong, each case against tfjs' `cpu`
 * backend: float32 tensors that `cast` made from int32 or bool (their storage stays an Int32Array or
 * Uint8Array), matrix products whose shapes do not multiply, empty tensors, gradients of the
 * native-only gradient kernels, a transposed convolution whose `dy` is not the geometry's shape,
 * NaN and infinities in max pooling, a 1x1 pool with stride and padding, and a pooling gradient
 * that must leave the caller's `dy` alone. Both kernel libraries, each skipped when it does not load.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { nativeVariants, variantTest } from "./native_variants.ts";
import { addRelu, batchNormTrain, conv2dBias } from "../../lib/model/fused.ts";

tf.enableProdMode();
for (const variant of await nativeVariants()) suite(variant.name, variantTest(variant));

/** Values and shapes of `fn`'s outputs on `backend` (and that it leaked nothing). */
async function on(backend: string, fn: () => tf.Tensor | tf.Tensor[]) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const ys = tf.tidy(fn);
  const list = Array.isArray(ys) ? ys : [ys];
  const out = list.map((y) => ({ shape: y.shape, values: Array.from(y.dataSync()) }));
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return out;
}

/** Asserts that `fn` gives `cpu`'s shapes and values (NaN and infinities included) on `backend`. */
async function likeCpu(backend: string, fn: () => tf.Tensor | tf.Tensor[], tol = 1e-5) {
  const want = await on("cpu", fn), got = await on(backend, fn);
  assert.equal(got.length, want.length);
  for (const [i, w] of want.entries()) {
    assert.deepEqual(got[i].shape, w.shape, `output ${i} shape`);
    w.values.forEach((v, j) => {
      const g = got[i].values[j];
      const ok = Object.is(g, v) || Math.abs(g - v) <= tol * (1 + Math.abs(v));
      assert.ok(ok, `output ${i}[${j}]: ${g}, cpu ${v}`);
    });
  }
}

/** Ascending int32 values cast to float32: storage stays an Int32Array. */
const ints = (shape: number[], mod = 7) =>
  tf.cast(
    tf.tensor(
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i % mod - 3),
      shape,
      "int32",
    ),
    "float32",
  );

function suite(NATIVE: string, test: ReturnType<typeof variantTest>): void {
  test("float32 cast from int32: matMul, conv2d, batchNorm, maxPool, relu and add", async () => {
    const big = [4, 64, 64, 2]; // over oneDNN's element-wise threshold
    await likeCpu(NATIVE, () => [
      tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([1, 0, 0, 1], [2, 2], "int32")),
      tf.conv2d(ints([2, 5, 5, 3]) as tf.Tensor4D, ints([3, 3, 3, 4]) as tf.Tensor4D, 1, "same"),
      tf.batchNorm(ints([2, 3, 3, 4]), ints([4]), tf.abs(ints([4])).add(1), ints([4]), ints([4])),
      tf.maxPool(ints([2, 6, 6, 3]) as tf.Tensor4D, 2, 2, "valid"),
      tf.relu(ints(big)),
      tf.add(ints(big), ints(big, 5)),
    ]);
  });

  test("float32 cast from bool: conv2d and matMul", async () => {
    const bools = (shape: number[]) => tf.cast(tf.greater(ints(shape), 0), "float32");
    await likeCpu(NATIVE, () => [
      tf.conv2d(bools([1, 4, 4, 2]) as tf.Tensor4D, ints([3, 3, 2, 3]) as tf.Tensor4D, 1, "same"),
      tf.matMul(bools([3, 4]), ints([4, 2])),
    ]);
  });

  test("matMul throws, as tfjs does, when the shapes do not multiply", async () => {
    await tf.setBackend(NATIVE);
    const cases: [number[], number[], boolean, boolean][] = [
      [[2, 3], [2, 3], false, false], // inner dimensions 3 and 2
      [[3, 2], [2, 3], true, false],
      [[2, 3], [3, 2], false, true],
      [[2, 2, 3], [3, 3, 2], false, false], // batches 2 and 3
      [[6], [6, 2], false, false], // a vector
    ];
    for (const [a, b, ta, tb] of cases) {
      const what = `[${a}]${ta ? "'" : ""} x [${b}]${tb ? "'" : ""}`;
      assert.throws(() => tf.tidy(() => tf.matMul(tf.ones(a), tf.ones(b), ta, tb)), what);
    }
  });

  test("empty tensors: matMul, conv2d, maxPool and batchNorm", async () => {
    await likeCpu(NATIVE, () => [
      tf.matMul(tf.ones([0, 3]), tf.ones([3, 2])),
      tf.matMul(tf.ones([2, 0]), tf.ones([0, 3])),
      tf.matMul(tf.ones([2, 3]), tf.ones([3, 0])),
      tf.conv2d(
        tf.ones([0, 4, 4, 2]) as tf.Tensor4D,
        tf.ones([3, 3, 2, 3]) as tf.Tensor4D,
        1,
        "same",
      ),
      tf.maxPool(tf.ones([0, 4, 4, 2]) as tf.Tensor4D, 2, 2, "valid"),
      tf.batchNorm(tf.ones([0, 2, 2, 3]), tf.zeros([3]), tf.ones([3]), tf.zeros([3]), tf.ones([3])),
    ]);
  });

  test("the fused training ops on an empty batch run, with a zero filter gradient", async () => {
    // Not against cpu: tfjs' own composite (the add gradient's reshape) throws on an empty batch.
    await tf.setBackend(NATIVE);
    const [x, b, s, o] = [tf.zeros([0, 4, 4, 2]), tf.ones([4]), tf.ones([4]), tf.zeros([4])];
    const w = ints([3, 3, 2, 4]);
    const f = (wt: tf.Tensor, st: tf.Tensor, ot: tf.Tensor) => {
      const y = conv2dBias(x as tf.Tensor4D, wt, b, 1, "same");
      return addRelu(batchNormTrain(y, st, ot, 1e-5, true).y, y).sum();
    };
    const grads = tf.grads(f)([w, s, o]);
    assert.deepEqual(grads.map((g) => g.shape), [[3, 3, 2, 4], [4], [4]]);
    // The filter's (BatchNorm's statistics over no values are NaN, as tfjs' moments gives).
    assert.ok(grads[0].dataSync().every((v) => v === 0), "zero filter gradient");
    tf.dispose([x, b, s, o, w, ...grads]);
  });

  test("second-order gradients through square, relu and batchNorm", async () => {
    const x = () => ints([2, 3, 3, 4]).div(3);
    const p = () => [tf.tensor1d([0.1, -0.2, 0.3, 0]), tf.tensor1d([1, 2, 0.5, 3])];
    const bn = (v: tf.Tensor, m: tf.Tensor, s: tf.Tensor) =>
      tf.batchNorm(v, m, tf.tensor1d([0.5, 1, 2, 4]), tf.zeros([4]), s);
    await likeCpu(NATIVE, () => [
      tf.grad((v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.square(u).sum())(v).mul(v).sum())(x()),
      tf.grad((v: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.relu(u).mul(u).sum())(v).sum())(x()),
      ...tf.grads((v: tf.Tensor, s: tf.Tensor) => {
        const [m] = p();
        return tf.grad((u: tf.Tensor) => bn(u, m, s).mul(u).sum())(v).square().sum();
      })([x(), p()[1]]),
    ]);
  });

  test("conv2dTranspose whose dy is larger than the geometry's output", async () => {
    // tfjs' conv2dTranspose test 'input=8x8x8,output=4x4x8,f=8,s=1,inDepth=8,p=same'.
    await likeCpu(NATIVE, () => {
      const x = ints([1, 8, 8, 8]), w = ints([8, 8, 8, 8], 5);
      return tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [1, 4, 4, 8], 1, "same");
    });
  });

  test("maxPool: NaN is skipped and infinities are values, as on cpu", async () => {
    const I = Infinity;
    const x = [-I, 1, 2, 3, NaN, 1, 2, NaN, -I, -I, -I, -I, NaN, NaN, NaN, NaN, I, 0, -I, NaN];
    await likeCpu(NATIVE, () => {
      const t = tf.tensor4d(x, [1, 5, 2, 2]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
      return [tf.maxPool(tf.tensor4d(x, [5, 2, 2, 1]), 2, 2, "valid"), tf.maxPool(t, 2, 1, "same")];
    });
  });

  test("maxPool 1x1 with stride 2 and padding 1 is cpu's identity", async () => {
    // tfjs' pool test 'max x=[2,2,3] f=[1,1] s=2 p=1 fractional outputs default rounding'.
    const x = () => tf.tensor4d(Array.from({ length: 12 }, (_, i) => i + 1), [1, 2, 2, 3]);
    await likeCpu(NATIVE, () => [
      tf.maxPool(x(), 1, 2, 1),
      tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 1, 2, 1).mul(x()).sum())(x()),
    ]);
  });

  test("the maxPool gradient leaves the caller's dy alone", async () => {
    await tf.setBackend(NATIVE);
    const x = ints([1, 4, 4, 2]) as tf.Tensor4D, dy = tf.ones([1, 2, 2, 2]);
    const dx = tf.grad((v: tf.Tensor) => tf.maxPool(v as tf.Tensor4D, 2, 2, "valid"))(x, dy);
    assert.equal(dy.isDisposed, false);
    assert.deepEqual(Array.from(dy.dataSync()), new Array(8).fill(1));
    tf.dispose([x, dy, dx]);
  });
}
