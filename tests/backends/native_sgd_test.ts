/**
 * The optimizer's update on `native` (kernels/sgd_update.ts, ops/sgd_update.ts): PyTorch's plain step
 * bit for bit, by BLAS' saxpy and by the loop; in place where the optimizer donates a value that
 * nothing else holds, and never over a value another tensor shares.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { nativeVariants, variantTest } from "./native_variants.ts";
import { AXPY_BLOCK, roundsOnce, sgdStep } from "../../lib/backends/native/ops/sgd_update.ts";
import { type Axpy, oneThreadAxpy, openBlas } from "../../lib/backends/native/blas.ts";
import { mulberry32 } from "../../lib/data/rng.ts";
import { SGD, SGD_UPDATE } from "../../lib/model/fused.ts";

tf.enableProdMode();
const rand = mulberry32(5);
const N = 100_003; // an odd length: saxpy's vector loop and its tail both run
const v0 = Float32Array.from({ length: N }, () => rand() * 4 - 2);
const g0 = Float32Array.from({ length: N }, () => (rand() * 2 - 1) * 0.1);
const LR = 0.05;

/**
 * Asserts equal arrays, naming the first element that differs (node's assert would print a diff
 * of 100,000 elements: many GiB when it fails).
 */
function assertSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  let i = 0;
  while (i < want.length && Object.is(got[i], want[i])) i++;
  if (got.length !== want.length || i < want.length) {
    assert.fail(
      `${what}: element ${i} is ${got[i]}, not ${want[i]} (lengths ${got.length}, ${want.length})`,
    );
  }
}

/** One rounding of `v + fround(-lr) g`: the product is exact in float64, the sum rounded once. */
function torchAdd(v: Float32Array, g: Float32Array, lr: number): Float32Array {
  const a = Math.fround(-lr);
  return v.map((x, i) => x + a * g[i]);
}

const blas = openBlas(), saxpy = roundsOnce(blas.ok ? blas.axpy : null);
const noSaxpy = !saxpy && `(${blas.ok ? "this BLAS' saxpy does not round once" : blas.reason})`;

/** The plain step by `axpy` (null: the loop) equals PyTorch's at lengths that matter. */
function plainStepTest(axpy: Axpy | null): void {
  const want = torchAdd(v0, g0, LR);
  // The float64 `lr` of the step before this one rounds differently in some elements: the test
  // can tell the two apart.
  const old = v0.map((x, i) => x - LR * g0[i]);
  assert.ok(old.some((x, i) => x !== want[i]));
  // Lengths below one block, around it, and with a tail, each at 50 places of the data: saxpy's
  // scalar tail rounds the product first (in about 0.7% of the elements), so only whole blocks
  // may go to it.
  const cases = [1, 10, 31, 33, 63, AXPY_BLOCK + 1].flatMap((n) =>
    Array.from({ length: 50 }, (_, k) => [k * 1000, n])
  );
  for (const [at, n] of [...cases, [0, AXPY_BLOCK], [0, N]]) {
    const v = v0.subarray(at, at + n), g = g0.subarray(at, at + n), w = want.subarray(at, at + n);
    const what = `${axpy ? "saxpy" : "loop"}, ${n} elements`;
    const out = new Float32Array(n);
    sgdStep({ value: v, gradient: g, out }, { lr: LR }, axpy);
    assertSame(out, w, what);
    const inPlace = v.slice();
    sgdStep({ value: inPlace, gradient: g, out: inPlace }, { lr: LR }, axpy);
    assertSame(inPlace, w, `${what}, in place`);
  }
}

Deno.test("the plain step by the loop is one rounding of value + fround(-lr) gradient", () => {
  plainStepTest(null);
});

Deno.test({
  name: "the plain step by saxpy is one rounding of value + fround(-lr) gradient" +
    (noSaxpy ? ` ${noSaxpy}` : ""),
  ignore: !saxpy,
  fn: () => plainStepTest(saxpy),
});

Deno.test("a saxpy that rounds the product first is not used", () => {
  const twoRoundings = (a: number, x: Float32Array, y: Float32Array) => {
    for (let i = 0; i < y.length; i++) y[i] = y[i] + Math.fround(a * x[i]);
  };
  const once = (a: number, x: Float32Array, y: Float32Array) => {
    for (let i = 0; i < y.length; i++) y[i] = y[i] + a * x[i];
  };
  assert.equal(roundsOnce(twoRoundings), null);
  assert.equal(roundsOnce(once), once);
  assert.equal(roundsOnce(null), null);
});

const threadCount = blas.ok && blas.getThreads && blas.setThreads ? blas : null;
Deno.test({
  name: "saxpy runs on one OpenBLAS thread and leaves the process' count as it was" +
    (threadCount ? "" : " (no OpenBLAS with a thread count here)"),
  ignore: !threadCount,
  fn: () => {
    const b = threadCount!;
    // Registering oneDNN's backend once left it at 1, and the BLAS backend's sums changed (CI).
    const before = b.getThreads!();
    b.setThreads!(2);
    const y = Float32Array.of(1, 1);
    oneThreadAxpy(b)(2, Float32Array.of(1, 2), y);
    assert.deepEqual([...y], [3, 5]);
    assert.equal(b.getThreads!(), 2);
    b.setThreads!(before);
  },
});

Deno.test("with momentum the step may write over its value and buffer", () => {
  const attrs = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
  const b0 = g0.map((x) => x * 3);
  const out = new Float32Array(N), nb = new Float32Array(N);
  sgdStep({ value: v0, gradient: g0, out, buffer: b0, newBuffer: nb }, attrs, null);
  const v = v0.slice(), b = b0.slice();
  sgdStep({ value: v, gradient: g0, out: v, buffer: b, newBuffer: b }, attrs, null);
  assertSame(v, out, "value");
  assertSame(b, nb, "buffer");
  assert.ok(out.some((x, i) => x !== v0[i]) && nb.some((x, i) => x !== b0[i]));
});

for (const variant of await nativeVariants()) {
  const test = variantTest(variant), NATIVE = variant.name;
  const valuesOf = (t: tf.Tensor) => (tf.backend() as MathBackendCPU).data.get(t.dataId).values;

  test("the optimizer updates a weight nothing else holds in place, and a shared one not", async () => {
    await tf.setBackend(NATIVE);
    const before = tf.memory().numTensors;
    for (const momentum of [0, 0.9]) {
      const init = tf.tensor1d(v0), w = tf.variable(init), opt = new SGD(LR, { momentum });
      init.dispose();
      const grad = tf.tensor1d(g0);
      opt.applyGradients({ [w.name]: grad }); // momentum: the first step makes the buffer
      const own = valuesOf(w);
      opt.applyGradients({ [w.name]: grad });
      assert.ok(valuesOf(w) === own, `momentum ${momentum}: updated in its own buffer`);
      // A clone shares the weight's data (read here without data(), which would mark the buffer
      // as handed out: never reused, so never written over for that reason alone).
      const kept = tf.clone(w), keptValues = (valuesOf(kept) as Float32Array).slice();
      opt.applyGradients({ [w.name]: grad });
      assert.ok(valuesOf(w) !== valuesOf(kept), "a shared value gets a new buffer");
      assertSame(valuesOf(kept) as Float32Array, keptValues, "the shared value is left as it was");
      if (momentum === 0) {
        let want = torchAdd(v0, g0, LR);
        for (let i = 0; i < 2; i++) want = torchAdd(want, g0, LR);
        assertSame(await w.data(), want, "three plain steps, each one rounding");
      }
      tf.dispose([w, grad, kept]);
      opt.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    assert.ok(tf.getKernel(SGD_UPDATE, NATIVE));
  });
}
