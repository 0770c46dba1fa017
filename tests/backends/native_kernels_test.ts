/**
 * Parity of the `native` backend's kernels with tfjs' CPU backend on random shapes: convolutions
 * (strides 1 and 2, kernels 1x1/3x3/7x7, explicit, valid and same padding, odd sizes, batches 1..3,
 * fused bias and ReLU) with both gradients, matrix products, broadcasting arithmetic, reductions,
 * tiling and max pooling with its gradient. Skipped, with the reason printed, without BLAS.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { nativeVariants, variantTest } from "./native_variants.ts";
import { fallbacks } from "../../lib/backends/native/kernels/kernel.ts";
import { fromConvInfo, tapsOf } from "../../lib/backends/native/im2col.ts";
import { maxPool, maxPoolGrad } from "../../lib/backends/native/ops/max_pool.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { mulberry32 } from "../../lib/data/rng.ts";
import { trainStep } from "../../lib/model/step.ts";
import { assertClose } from "../golden.ts";
import {
  BATCH_NORM_RUNNING,
  BATCH_NORM_TRAIN,
  batchNormRunning,
  batchNormTrain,
  FORK,
  fork,
  MAX_POOL_TRAIN,
  maxPoolTrain,
  SGD,
  SGD_UPDATE,
} from "../../lib/model/fused.ts";
import { NATIVE_RELU_GRAD } from "../../lib/backends/native/kernels/elementwise.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

tf.enableProdMode(); // no "install tfjs-node" banner from the cpu backend
for (const variant of await nativeVariants()) suite(variant.name, variantTest(variant));

function suite(NATIVE: string, test: ReturnType<typeof variantTest>): void {
  const rand = mulberry32(42);
  // Three SGD steps of a small network: float32 rounding differences between the backends (fused
  // against composite kernels) compound over the steps; measured at most 3.2e-7 on any parameter
  // (values up to about 1), so 1e-5 leaves 30x headroom.
  const TRAIN_TOL = 1e-5;
  function randn(shape: number[], zeros = 0): { shape: number[]; data: Float32Array } {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rand() < zeros ? 0 : rand() * 2 - 1;
    return { shape, data };
  }

  /** Runs `fn` on `backend` with fresh tensors made from `inputs`; returns its outputs' values. */
  async function on(
    backend: string,
    inputs: { shape: number[]; data: Float32Array }[],
    fn: (...xs: tf.Tensor[]) => tf.Tensor[],
  ): Promise<Float32Array[]> {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const xs = inputs.map((i) => tf.tensor(i.data, i.shape, "float32"));
    const ys = tf.tidy(() => fn(...xs));
    const vals = await Promise.all(ys.map(async (y) => (await y.data()) as Float32Array));
    const shapes = ys.map((y) => y.shape.join("x"));
    tf.dispose([...xs, ...ys]);
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
    return vals.map((v, i) => Object.assign(v, { shapeKey: shapes[i] }));
  }

  /** Asserts that `fn` gives the same outputs (and shapes) on `native` as on `cpu`. */
  async function parity(
    what: string,
    inputs: { shape: number[]; data: Float32Array }[],
    fn: (...xs: tf.Tensor[]) => tf.Tensor[],
    allowFallback = false,
    tol = 1e-4,
  ) {
    const want = await on("cpu", inputs, fn);
    fallbacks.clear();
    const got = await on(NATIVE, inputs, fn);
    if (!allowFallback) {
      assert.deepEqual(Object.fromEntries(fallbacks), {}, `${what}: fell back to the cpu kernels`);
    }
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      const key = (v: Float32Array) => (v as unknown as { shapeKey: string }).shapeKey;
      assert.equal(key(got[i]), key(want[i]), `${what}: output ${i} shape`);
      assertClose(got[i], want[i], tol, tol, `${what}: output ${i}`);
    }
  }

  type Pad = "valid" | "same" | number;
  interface ConvCase {
    n: number;
    h: number;
    w: number;
    cin: number;
    cout: number;
    k: number;
    s: number;
    pad: Pad;
  }
  const CONVS: ConvCase[] = [
    { n: 2, h: 5, w: 5, cin: 3, cout: 4, k: 1, s: 1, pad: 0 }, // pointwise: no im2col
    { n: 3, h: 7, w: 6, cin: 5, cout: 6, k: 1, s: 2, pad: 0 }, // 1x1 shortcut, stride 2
    { n: 1, h: 6, w: 6, cin: 3, cout: 3, k: 3, s: 1, pad: 1 },
    { n: 2, h: 7, w: 5, cin: 4, cout: 8, k: 3, s: 2, pad: 1 }, // odd sizes, stride 2
    { n: 2, h: 13, w: 11, cin: 1, cout: 8, k: 7, s: 2, pad: 3 }, // the stem
    { n: 2, h: 9, w: 9, cin: 2, cout: 3, k: 3, s: 2, pad: "same" }, // asymmetric padding
    { n: 1, h: 6, w: 8, cin: 40, cout: 5, k: 3, s: 1, pad: "valid" }, // long contiguous rows
    // Tiny maps where most taps only see padding (ResNet-18's b5 at 28x28): pruned taps.
    { n: 2, h: 1, w: 1, cin: 8, cout: 6, k: 3, s: 1, pad: 1 },
    { n: 3, h: 2, w: 2, cin: 4, cout: 5, k: 3, s: 2, pad: 1 },
    { n: 2, h: 2, w: 3, cin: 3, cout: 4, k: 7, s: 2, pad: 3 },
  ];

  for (const c of CONVS) {
    const pad = typeof c.pad === "number"
      ? [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]]
      : c.pad;
    const name =
      `conv ${c.k}x${c.k}/${c.s} pad ${c.pad} x [${c.n},${c.h},${c.w},${c.cin}] -> ${c.cout}`;
    test({
      name: `${name}: output, input and filter gradients`,
      fn: async () => {
        const x = randn([c.n, c.h, c.w, c.cin]), f = randn([c.k, c.k, c.cin, c.cout]);
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, pad as "valid");
        const outShape = tf.tidy(() => conv(tf.zeros(x.shape), tf.zeros(f.shape)).shape);
        const g = randn(outShape);
        await parity(name, [x, f, g], (xt, ft, gt) => {
          const y = conv(xt, ft);
          const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), gt)))(
            [
              xt,
              ft,
            ],
          );
          return [y, dx, df];
        });
      },
    });
    test({
      name: `${name}: fused bias + relu and its gradients`,
      fn: async () => {
        const x = randn([c.n, c.h, c.w, c.cin]), f = randn([c.k, c.k, c.cin, c.cout]);
        const b = randn([c.cout]);
        const fused = (
          a: tf.Tensor,
          w: tf.Tensor,
          bias: tf.Tensor,
          activation: "linear" | "relu",
        ) =>
          tf.fused.conv2d({
            x: a as tf.Tensor4D,
            filter: w as tf.Tensor4D,
            strides: c.s,
            pad: pad as "valid",
            bias,
            activation,
          });
        await parity(`${name} fused`, [x, f, b], (xt, ft, bt) => {
          const relu = fused(xt, ft, bt, "relu");
          const grads = tf.grads((a: tf.Tensor, w: tf.Tensor, bias: tf.Tensor) =>
            tf.sum(tf.square(fused(a, w, bias, "linear")))
          )([xt, ft, bt]);
          return [relu, ...grads];
        });
      },
    });
  }

  test({
    name: "matMul and fused matMul (bias, relu, transposes, batches) with gradients",
    fn: async () => {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const a = randn(ta ? [7, 5] : [5, 7]), b = randn(tb ? [3, 7] : [7, 3]), bias = randn([3]);
        await parity(`matMul ${ta} ${tb}`, [a, b, bias], (at, bt, biast) => {
          const plain = tf.matMul(at, bt, ta, tb);
          const fused = tf.fused.matMul({
            a: at as tf.Tensor2D,
            b: bt as tf.Tensor2D,
            transposeA: ta,
            transposeB: tb,
            bias: biast,
            activation: "relu",
          });
          const grads = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
            tf.sum(tf.square(tf.fused.matMul({
              a: p as tf.Tensor2D,
              b: q as tf.Tensor2D,
              transposeA: ta,
              transposeB: tb,
              bias: r,
            })))
          )([at, bt, biast]);
          return [plain, fused, ...grads];
        });
      }
      const a3 = randn([3, 4, 5]), b3 = randn([3, 5, 2]), b1 = randn([1, 5, 2]);
      await parity("batched matMul", [a3, b3, b1], (a, b, c) => [tf.matMul(a, b), tf.matMul(a, c)]);
    },
  });

  test({
    name: "broadcasting arithmetic: add, sub, mul, div, squared difference, max, min",
    fn: async () => {
      const pairs: [number[], number[]][] = [
        [[2, 3, 4, 5], [2, 3, 4, 5]],
        [[2, 3, 4, 5], [5]],
        [[2, 3, 4, 5], [1, 1, 1, 5]],
        [[2, 3, 4, 5], [2, 1, 1, 5]],
        [[2, 1, 1, 5], [2, 3, 4, 5]],
        [[3, 1], [1, 4]],
        [[], [2, 3]],
        [[4, 1, 3], [2, 1]],
      ];
      for (const [sa, sb] of pairs) {
        const a = randn(sa), b = randn(sb);
        for (const v of b.data.keys()) if (Math.abs(b.data[v]) < 0.1) b.data[v] = 0.5; // for div
        await parity(`[${sa}] op [${sb}]`, [a, b], (x, y) => [
          tf.add(x, y),
          tf.sub(x, y),
          tf.mul(x, y),
          tf.div(x, y),
          tf.squaredDifference(x, y),
          tf.maximum(x, y),
          tf.minimum(x, y),
        ]);
      }
    },
  });

  test({
    name: "reductions (sum, mean, max over axes, keepDims), tile, relu and step",
    fn: async () => {
      const x = randn([3, 4, 5, 6], 0.2);
      const axesList: (number | number[])[] = [[0, 1, 2], [1, 2], [3], 0, [0, 2], [-1], [1]];
      for (const axes of axesList) {
        // Non-contiguous axes are left to the CPU backend's kernels.
        const contiguous = String(axes) !== "0,2";
        for (const keep of [false, true]) {
          await parity(`reduce ${axes} keepDims ${keep}`, [x], (t) => [
            tf.sum(t, axes, keep),
            tf.mean(t, axes, keep),
            tf.max(t, axes, keep),
          ], !contiguous);
        }
      }
      const m = randn([1, 1, 1, 4]);
      await parity("tile", [m, randn([2, 3])], (t, u) => [
        tf.tile(t, [2, 3, 2, 1]),
        tf.tile(u, [3, 2]),
      ]);
      await parity("mean's gradient over [1, 2], [0, 1, 2] and all axes", [x], (t) => [
        tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.mean(u, [1, 2]))))(t),
        tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.mean(u, [0, 1, 2], true))))(t),
        tf.grad((u: tf.Tensor) => tf.mean(u))(t),
      ]);
      await parity("square's gradient", [x], (t) => [
        tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.square(u), u)))(t),
      ]);
      await parity("relu, step and relu's gradient", [x], (t) => [
        tf.relu(t),
        tf.step(t, 0.3),
        tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.relu(u), u)))(t),
      ]);
    },
  });

  test({
    // Above 16384 elements same-shape adds, ReLU and its gradient take oneDNN's path.
    name: "large tensors: same-shape add, relu and relu's gradient, training batch norm + relu",
    fn: async () => {
      const a = randn([4, 12, 12, 64], 0.1), b = randn([4, 12, 12, 64]);
      await parity("add, relu, relu's gradient", [a, b], (t, u) => [
        tf.add(t, u),
        tf.relu(t),
        tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), u)))(t),
      ]);
      const scale = randn([64]), offset = randn([64]);
      await parity("batch norm + relu on 36864 elements", [a, b, scale, offset], (x, g, s, o) => {
        const bn = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
          batchNormTrain(p as tf.Tensor4D, q, r, 1e-5, true);
        const grads = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
          tf.sum(tf.mul(bn(p, q, r).y, g))
        )([x, s, o]);
        const r = bn(x, s, o);
        return [r.y, r.mean, r.variance, ...grads];
      });
    },
  });

  test({
    name: "max pool 3/2 pad 1 and 2/2 valid, with gradients and ties",
    fn: async () => {
      // Half zeros after ReLU: many windows tie, and ties must pick the same cell as tfjs' CPU.
      for (const shape of [[2, 7, 7, 3], [1, 8, 6, 5], [3, 5, 9, 2]]) {
        const x = randn(shape, 0.5), xs = x.data;
        for (let i = 0; i < xs.length; i++) xs[i] = Math.max(0, xs[i]);
        for (const [k, s, p] of [[3, 2, 1], [2, 2, 0], [3, 1, 1]] as const) {
          await parity(`maxPool ${k}/${s} pad ${p} [${shape}]`, [x], (t) => {
            const pool = (u: tf.Tensor) =>
              tf.maxPool(u as tf.Tensor4D, k, s, p === 0 ? "valid" : p as 1);
            const y = pool(t);
            const dx = tf.grad((u: tf.Tensor) =>
              tf.sum(tf.mul(pool(u), tf.range(1, y.size + 1).reshape(y.shape)))
            )(t);
            return [y, dx];
          });
        }
      }
    },
  });

  test("max pool gradient: the forward record and the search by equality agree, ties included", () => {
    const info = tf.backend_util.computePool2DInfo([2, 9, 7, 3], 3, 2, 1, 1);
    const x = randn([2, 9, 7, 3], 0.5).data.map((v) => Math.max(0, v));
    const dy = randn(info.outShape).data;
    const y = maxPool(info, x);
    const fromRecord = maxPoolGrad(info, x, y, dy).slice();
    // A copy of y has no record: the gradient is found by comparing the window with y.
    const bySearch = maxPoolGrad(info, x, y.slice(), dy);
    assert.deepEqual(bySearch, fromRecord);
    // Every output's gradient lands in exactly one cell of its window (none is lost to ties).
    const sum = (a: Float32Array) => a.reduce((p, v) => p + v, 0);
    assertClose([sum(fromRecord)], [sum(dy)], 1e-4, 1e-5, "gradient mass");
  });

  test({
    name: "batch norm in training mode (moments, batchNorm4d): output and all gradients",
    fn: async () => {
      for (const shape of [[4, 3, 5, 7], [1, 2, 2, 16], [3, 1, 1, 5]]) {
        const C = shape[3];
        const x = randn(shape), g = randn(shape), scale = randn([C]), offset = randn([C]);
        await parity(`batchNorm [${shape}]`, [x, g, scale, offset], (xt, gt, st, ot) => {
          const bn = (a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
            const { mean, variance } = tf.moments(a, [0, 1, 2]);
            return tf.batchNorm4d(
              a as tf.Tensor4D,
              mean as tf.Tensor1D,
              variance as tf.Tensor1D,
              o as tf.Tensor1D,
              s as tf.Tensor1D,
              1e-5,
            );
          };
          const grads = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
            tf.sum(tf.mul(bn(a, s, o), gt))
          )([xt, st, ot]);
          return [bn(xt, st, ot), ...grads];
        });
      }
    },
  });

  test({
    name: "fused training batch norm (+ReLU) on native equals the cpu composite, with gradients",
    fn: async () => {
      for (const shape of [[4, 3, 5, 7], [1, 2, 2, 16], [3, 1, 1, 5], [2, 3, 3, 4]]) {
        const C = shape[3];
        const x = randn(shape), g = randn(shape), scale = randn([C]), offset = randn([C]);
        // A large common offset: the one-pass statistics must not cancel catastrophically.
        if (shape[3] === 4) { for (let i = 0; i < x.data.length; i++) x.data[i] += 100; }
        for (const relu of [false, true]) {
          await parity(
            `batchNormTrain [${shape}] relu ${relu}`,
            [x, g, scale, offset],
            (xt, gt, st, ot) => {
              const bn = (a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
                batchNormTrain(a as tf.Tensor4D, s, o, 1e-5, relu);
              const r = bn(xt, st, ot);
              const grads = tf.grads((a: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
                tf.sum(tf.mul(bn(a, s, o).y, gt))
              )([xt, st, ot]);
              return [r.y, r.mean, r.variance, ...grads];
            },
          );
        }
      }
      await tf.setBackend(NATIVE);
      assert.ok(tf.getKernel(BATCH_NORM_TRAIN, NATIVE), "native registers the fused kernel");
      assert.equal(tf.getKernel(BATCH_NORM_TRAIN, "cpu"), undefined, "cpu composes it");
    },
  });

  test({
    name:
      "maxPoolTrain (the stem's pool in training) equals tf.maxPool, gradient and ties included",
    fn: async () => {
      for (const shape of [[2, 7, 7, 3], [3, 5, 9, 2]]) {
        const x = randn(shape, 0.5), xs = x.data;
        for (let i = 0; i < xs.length; i++) xs[i] = Math.max(0, xs[i]);
        for (const [k, s, p] of [[3, 2, 1], [2, 2, 0]] as const) {
          await parity(`maxPoolTrain ${k}/${s} pad ${p} [${shape}]`, [x], (t) => {
            const pool = (u: tf.Tensor) => maxPoolTrain(u as tf.Tensor4D, k, s, p);
            const y = pool(t);
            const dx = tf.grad((u: tf.Tensor) =>
              tf.sum(tf.mul(pool(u), tf.range(1, y.size + 1).reshape(y.shape)))
            )(t);
            return [y, dx];
          });
        }
      }
    },
  });

  test({
    name: "fork: both outputs are the input; its gradient is the sum of the two consumers'",
    fn: async () => {
      const x = randn([2, 5, 5, 3]), g1 = randn([2, 5, 5, 3]), g2 = randn([2, 5, 5, 3]);
      await parity("fork", [x, g1, g2], (t, a, b) => {
        const f = (u: tf.Tensor) => {
          const [p, q] = fork(u);
          return tf.add(tf.sum(tf.mul(p, a)), tf.sum(tf.mul(tf.relu(q), b)));
        };
        // An output that does not reach the result: its gradient is null, the other's passes.
        const one = tf.grad((u: tf.Tensor) => tf.sum(tf.mul(fork(u)[1], b)))(t);
        return [...fork(t), tf.grad(f)(t), one];
      });
    },
  });

  test({
    name: "a training step forks each block's input and, on oneDNN, pools keeping only the argmax",
    fn: async () => {
      await tf.setBackend(NATIVE);
      const before = tf.memory().numTensors;
      const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 0 });
      const opt = new SGD(0.05);
      const x = tf.randomUniform([2, 32, 32, 1], 0, 1, "float32", 3) as tf.Tensor4D;
      const y = tf.tensor1d([1, 2], "int32");
      const p = await tf.profile(() => {
        const r = trainStep(net, opt, x, y);
        return [r.loss, r.correct];
      });
      const count = (name: string) => p.kernels.filter((k) => k.name === name).length;
      assert.equal(count(FORK), 4, "one fork per residual block");
      const onDnnl = !!tf.getKernel(MAX_POOL_TRAIN, NATIVE);
      assert.equal(count(MAX_POOL_TRAIN), onDnnl ? 1 : 0);
      assert.equal(count("MaxPool"), onDnnl ? 0 : 1);
      tf.dispose([x, y, ...(p.result as tf.Tensor[])]);
      opt.dispose();
      net.dispose();
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
    },
  });

  test({
    name: "donate: a kernel writes over a given-up input only when no other tensor shares it",
    fn: async () => {
      await tf.setBackend(NATIVE);
      const before = tf.memory().numTensors;
      const n = 1 << 15; // pooled: the pool owns its buffer
      const backend = tf.engine().backend as unknown as MathBackendCPU;
      const buffer = (t: tf.Tensor) => (backend.data.get(t.dataId).values as Float32Array).buffer;
      const x = tf.tidy(() => tf.sub(tf.range(0, n, 1, "float32"), n / 2)); // half negative
      const made = () => tf.tidy(() => tf.add(tf.onesLike(x), tf.onesLike(x))); // 2s, pooled
      const alone = made(), shared = made(), copy = shared.clone();
      const want = Array.from({ length: n }, (_, i) => (i - n / 2 > 0 ? 2 : 0));
      const r1 = tf.engine().runKernel(NATIVE_RELU_GRAD, { dy: alone, x }, { donate: true });
      const r2 = tf.engine().runKernel(NATIVE_RELU_GRAD, { dy: shared, x }, { donate: true });
      assert.deepEqual([...await (r1 as tf.Tensor).data()], want);
      assert.deepEqual([...await (r2 as tf.Tensor).data()], want);
      assert.ok(buffer(r1 as tf.Tensor) === buffer(alone), "written over the given-up input");
      assert.ok(buffer(r2 as tf.Tensor) !== buffer(shared), "a shared input is not");
      // r1 now shares its buffer with alone (two tensors, one buffer): not given up either.
      const r4 = tf.engine().runKernel(NATIVE_RELU_GRAD, { dy: r1 as tf.Tensor, x }, {
        donate: true,
      });
      assert.ok(buffer(r4 as tf.Tensor) !== buffer(alone), "a buffer two tensors hold is not");
      assert.deepEqual([...await (alone as tf.Tensor).data()].slice(n / 2 - 1, n / 2 + 2), [
        0,
        0,
        2,
      ]);
      // Nor while a tape records: the gradient may save the input after the kernel ran.
      const taped = made();
      tf.grad((u: tf.Tensor) => {
        const r = tf.engine().runKernel(tf.Relu, { x: taped }, { donate: true }) as tf.Tensor;
        assert.ok(buffer(r) !== buffer(taped), "no donation under a tape");
        return tf.sum(tf.mul(u, r));
      })(x).dispose();
      assert.ok((await copy.data()).every((v) => v === 2), "the sharing tensor keeps its values");
      // The forward ReLU too (inference BatchNorm's, lib/model/layers.ts).
      const negated = tf.tidy(() => tf.mul(x, -1)); // half negative, in a pooled buffer
      const r3 = tf.engine().runKernel(tf.Relu, { x: negated }, { donate: true }) as tf.Tensor;
      assert.deepEqual([...await r3.data()], want.map((_, i) => Math.max(0, n / 2 - i)));
      assert.ok(buffer(r3) === buffer(negated), "the ReLU wrote over its given-up input");
      tf.dispose([x, alone, shared, copy, r1 as tf.Tensor, r2 as tf.Tensor, negated, r3, taped]);
      tf.dispose(r4 as tf.Tensor);
      assert.equal(tf.memory().numTensors, before);
    },
  });

  test({
    name: "fused SGD: one update kernel on native equals tf.train.sgd on cpu; cpu keeps tfjs' own",
    fn: async () => {
      const w0 = randn([3, 3, 4, 5]), b0 = randn([5]), xs = randn([6, 3 * 3 * 4]);
      const run = async (backend: string, make: () => tf.Optimizer) => {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        const init = [tf.tensor(w0.data, w0.shape), tf.tensor(b0.data, [5])];
        const w = tf.variable(init[0]), b = tf.variable(init[1]);
        tf.dispose(init);
        const x = tf.tensor(xs.data, xs.shape), opt = make();
        for (let i = 0; i < 3; i++) {
          opt.minimize(() => tf.sum(tf.square(tf.add(tf.matMul(x, tf.reshape(w, [36, 5])), b))));
        }
        const out = [await w.data(), await b.data()] as Float32Array[];
        tf.dispose([w, b, x]);
        opt.dispose();
        assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
        return out;
      };
      const want = await run("cpu", () => tf.train.sgd(0.01));
      fallbacks.clear();
      const got = await run(NATIVE, () => new SGD(0.01));
      assert.deepEqual(Object.fromEntries(fallbacks), {}, "fell back to the cpu kernels");
      for (let i = 0; i < 2; i++) assertClose(got[i], want[i], 1e-5, 1e-5, `variable ${i}`);
      // Where the backend has no fused kernel, SGD is tfjs' update, bit for bit.
      const cpuSgd = await run("cpu", () => new SGD(0.01));
      for (let i = 0; i < 2; i++) assert.deepEqual(cpuSgd[i], want[i]);
      assert.ok(tf.getKernel(SGD_UPDATE, NATIVE));
    },
  });

  // The second size's stem and b2 activations are pooled buffers (at least 16384 floats), so the
  // backward pass writes over given-up gradients there (donate), as in a real run.
  for (const [n, size, width] of [[8, 20, 8], [4, 64, 16]]) {
    test({
      name: `training steps of a small network (fused BatchNorm+ReLU, SGD, pooling) match cpu ` +
        `(${n}x${size}x${size}, width ${width})`,
      fn: () => trainingMatchesCpu(n, size, width),
    });
  }

  async function trainingMatchesCpu(n: number, size: number, width: number): Promise<void> {
    const xs = randn([n, size, size, 1]);
    const labels = Array.from({ length: n }, (_, i) => (i * 3) % 10);
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const net = new ResNet({ stages: [1, 1, 1, 1], width, seed: 3 });
      const opt = new SGD(0.05);
      const x = tf.tensor4d(xs.data, xs.shape as [number, number, number, number]);
      const y = tf.tensor1d(labels, "int32");
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = trainStep(net, opt, x, y);
        losses.push((await r.loss.data())[0]);
        tf.dispose([r.loss, r.correct]);
      }
      const params = new Map<string, Float32Array>();
      for (const [name, v] of net.params) params.set(name, (await v.data()) as Float32Array);
      tf.dispose([x, y]);
      net.dispose();
      opt.dispose();
      assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
      return { losses, params };
    };
    const want = await run("cpu");
    fallbacks.clear();
    const got = await run(NATIVE);
    // Only the int32 sum of correct predictions (once per step) is left to the cpu kernels.
    assert.deepEqual(Object.fromEntries(fallbacks), { Sum: 3 }, "fell back to the cpu kernels");
    assertClose(got.losses, want.losses, TRAIN_TOL, TRAIN_TOL, "losses");
    for (const [name, w] of want.params) {
      assertClose(got.params.get(name)!, w, TRAIN_TOL, TRAIN_TOL, name);
    }
  }

  test("reverse: any axes of float32 tensors (the test pass' mirrored images) and its gradient", async () => {
    const cases: [number[], number | number[]][] = [
      [[4, 7, 5, 3], 2], // NHWC, width: the test-time flip
      [[4, 7, 5, 3], [1, 2]],
      [[2, 3, 4], -1],
      [[6], 0],
      [[3, 5], []],
      [[3, 4, 2], [1, 1]], // twice: flipped back, as the CPU kernel does
      [[3, 4, 2], [0, 2, -3]],
    ];
    for (const [shape, axes] of cases) {
      const x = randn(shape);
      await parity(`reverse ${shape} axes ${axes}`, [x], (t) => [tf.reverse(t, axes)]);
      await parity(`reverse ${shape} gradient`, [x, randn(shape)], (t, dy) => {
        const g = tf.grad((u: tf.Tensor) => tf.sum(tf.mul(tf.reverse(u, axes), dy)))(t);
        return [g];
      });
    }
  });

  test("BatchNorm running statistics: one kernel, the composite's bits", async () => {
    for (const [C, count] of [[16, 256 * 28 * 28], [512, 64], [3, 1]]) {
      const stats = [randn([C]), randn([C]), randn([C]), randn([C])];
      stats[1].data.forEach((v, i, a) => a[i] = Math.abs(v)); // variances
      stats[3].data.forEach((v, i, a) => a[i] = Math.abs(v));
      const fn = (rm: tf.Tensor, rv: tf.Tensor, m: tf.Tensor, v: tf.Tensor) =>
        batchNormRunning(rm, rv, m, v, 0.1, count);
      const want = await on("cpu", stats, fn); // tfjs' multiplies and adds
      fallbacks.clear();
      const got = await on(NATIVE, stats, fn);
      assert.deepEqual(Object.fromEntries(fallbacks), {}, "fell back to the cpu kernels");
      assert.ok(tf.getKernel(BATCH_NORM_RUNNING, NATIVE), "the fused kernel ran");
      assert.deepEqual(got.map((a) => [...a]), want.map((a) => [...a]), `C ${C}, count ${count}`);
    }
  });

  test("tapsOf: taps that only ever see padding are dropped", () => {
    const info = (h: number, k: number, s: number, p: number) =>
      fromConvInfo(tf.backend_util.computeConv2DInfo([1, h, h, 1], [k, k, 1, 1], s, 1, p));
    assert.deepEqual(tapsOf(info(1, 3, 1, 1)), { kh: [1], kw: [1], all: false });
    assert.deepEqual(tapsOf(info(2, 3, 2, 1)).kh, [1, 1, 2, 2]);
    assert.equal(tapsOf(info(7, 3, 1, 1)).all, true);
    assert.equal(tapsOf(info(28, 7, 2, 3)).all, true);
  });
}
