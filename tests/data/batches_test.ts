import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backends/choose.ts";
import { probeAdapter } from "../../lib/backends/webgpu.ts";
import { batchCount, batches, epochOrder } from "../../lib/data/batches.ts";
import type { Split } from "../../lib/data/fashion_mnist.ts";

await initBackend("cpu");

/** `count` 28x28 images; pixel (i, r, c) = (i * 40 + r * 3 + c) mod 256; label = i mod 10. */
function split(count: number): Split {
  const images = new Uint8Array(count * 784);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < 784; p++) images[i * 784 + p] = (i * 40 + Math.floor(p / 28) * 3 + p) & 255;
  }
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { images, labels, count, height: 28, width: 28 };
}

/** Which image a batch row is: labels are i mod 10 and pixel 0 is i * 40 mod 256. */
function rowIds(x: Float32Array, y: Int32Array, s: Split): number[] {
  return Array.from(y, (label, k) => {
    const p0 = Math.round(x[k * 784] * 255);
    const i = Array.from({ length: s.count }, (_, i) => i).find((i) =>
      i % 10 === label && ((i * 40) & 255) === p0
    );
    assert.ok(i !== undefined);
    return i;
  });
}

Deno.test("epochOrder: a seeded permutation, the same per (seed, epoch), new per epoch", () => {
  const a = epochOrder(1000, 42, 0);
  assert.deepEqual(Array.from(a).sort((p, q) => p - q), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(epochOrder(1000, 42, 0), a);
  assert.notDeepEqual(epochOrder(1000, 42, 1), a);
  assert.notDeepEqual(epochOrder(1000, 43, 0), a);
  assert.notDeepEqual(a, Uint32Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(epochOrder(0, 1, 1), new Uint32Array(0));
  assert.deepEqual(epochOrder(1, 1, 1), new Uint32Array([0]));
  assert.throws(() => epochOrder(-1, 0, 0), RangeError);
  // Roughly uniform: over many epochs every position is taken by every element.
  const seen = new Array(5).fill(0).map(() => new Set<number>());
  for (let e = 0; e < 200; e++) epochOrder(5, 7, e).forEach((v, pos) => seen[pos].add(v));
  assert.ok(seen.every((s) => s.size === 5));
});

Deno.test("batches: file order, float32 / 255 NHWC, int32 labels, a short last batch", async () => {
  const s = split(10);
  const before = tf.memory().numTensors;
  const got: number[] = [];
  const sizes: number[] = [];
  for (const b of batches(s, { batchSize: 4 })) {
    assert.deepEqual(b.x.shape, [b.n, 28, 28, 1]);
    assert.equal(b.x.dtype, "float32");
    assert.equal(b.y.dtype, "int32");
    const x = await b.x.data() as Float32Array;
    const y = await b.y.data() as Int32Array;
    for (let k = 0; k < b.n; k++) {
      const i = got.length + k;
      for (let p = 0; p < 784; p++) {
        assert.equal(x[k * 784 + p], Math.fround(s.images[i * 784 + p] / 255));
      }
    }
    got.push(...rowIds(x, y, s));
    sizes.push(b.n);
    tf.dispose([b.x, b.y]);
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(tf.memory().numTensors, before, "no tensors left but the consumer's");
  assert.equal(batchCount(10, { batchSize: 4 }), 3);
});

Deno.test("batches: shuffle follows epochOrder; limit and startBatch", async () => {
  const s = split(12);
  const ids = async (opts: Parameters<typeof batches>[1]) => {
    const out: number[] = [];
    for (const b of batches(s, opts)) {
      out.push(...rowIds(await b.x.data() as Float32Array, await b.y.data() as Int32Array, s));
      tf.dispose([b.x, b.y]);
    }
    return out;
  };
  const before = tf.memory().numTensors;
  const e3 = await ids({ batchSize: 5, shuffle: true, seed: 9, epoch: 3 });
  assert.deepEqual(e3, Array.from(epochOrder(12, 9, 3)));
  assert.deepEqual(await ids({ batchSize: 5, shuffle: true, seed: 9, epoch: 3 }), e3);
  assert.notDeepEqual(await ids({ batchSize: 5, shuffle: true, seed: 9, epoch: 4 }), e3);
  // limit: a shuffle of the first 7 only.
  const lim = await ids({ batchSize: 3, shuffle: true, seed: 1, limit: 7 });
  assert.deepEqual(lim, Array.from(epochOrder(7, 1, 0)));
  assert.deepEqual(await ids({ batchSize: 3, limit: 7 }), [0, 1, 2, 3, 4, 5, 6]);
  assert.equal(batchCount(12, { batchSize: 3, limit: 7 }), 3);
  // startBatch skips whole batches of the same order.
  assert.deepEqual(
    await ids({ batchSize: 5, shuffle: true, seed: 9, epoch: 3, startBatch: 1 }),
    e3.slice(5),
  );
  assert.deepEqual(await ids({ batchSize: 5, startBatch: 3 }), []);
  assert.equal(tf.memory().numTensors, before);
});

/**
 * float32 resize vs the float64 reference: the scale (28/size) rounded to float32 moves a source
 * coordinate by up to size * 6e-8 pixels (2.4e-6 at 40), times a neighbour difference of at most
 * 1, plus a few ulp of the interpolation. Measured: 1.4e-6 (cpu), 2.1e-6 (webgpu, llvmpipe);
 * PyTorch vs tfjs' cpu 1.4e-6 at 96. A wrong convention (align_corners) differs by 0.24.
 */
const RESIZE_ATOL = 4e-6;

/** PyTorch's bilinear interpolate(align_corners=False) on one HxW image, in float64. */
function torchBilinear(src: Float64Array, h: number, w: number, oh: number, ow: number) {
  const out = new Float64Array(oh * ow);
  const coord = (d: number, inSize: number, outSize: number) => {
    const x = Math.max((d + 0.5) * (inSize / outSize) - 0.5, 0);
    const i0 = Math.min(Math.floor(x), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, x - i0] as const;
  };
  for (let r = 0; r < oh; r++) {
    const [y0, y1, fy] = coord(r, h, oh);
    for (let c = 0; c < ow; c++) {
      const [x0, x1, fx] = coord(c, w, ow);
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[r * ow + c] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

Deno.test("batches: resize on the device equals PyTorch's bilinear (align_corners=False)", async () => {
  const s = split(3);
  const before = tf.memory().numTensors;
  for (const size of [40, 96, 20]) {
    const b = batches(s, { batchSize: 3, size }).next().value!;
    assert.deepEqual(b.x.shape, [3, size, size, 1]);
    const x = await b.x.data() as Float32Array;
    let worst = 0;
    for (let i = 0; i < 3; i++) {
      const img = Float64Array.from(s.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
      const ref = torchBilinear(img, 28, 28, size, size);
      for (let p = 0; p < size * size; p++) {
        worst = Math.max(worst, Math.abs(x[i * size * size + p] - ref[p]));
      }
    }
    assert.ok(worst < RESIZE_ATOL, `size ${size}: max |diff| ${worst}`);
    tf.dispose([b.x, b.y]);
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("batches: bad options are rejected", () => {
  const s = split(2);
  assert.throws(() => batches(s, { batchSize: 0 }).next(), /batchSize must be a positive integer/);
  assert.throws(() => batches(s, { batchSize: 2, size: 1.5 }).next(), /size/);
  assert.throws(() => batches(s, { batchSize: 2, startBatch: -1 }).next(), /startBatch/);
  assert.throws(() => batches({ ...s, count: 3 }, { batchSize: 2 }).next(), /split holds/);
});

const probe = await probeAdapter();

Deno.test({
  name: "batches: on WebGPU, the same order, values and resize, nothing leaked",
  ignore: probe.adapter === null,
  async fn() {
    const s = split(6);
    await initBackend("webgpu");
    // Otherwise tfjs would run these small ops on the CPU and WebGPU would go untested.
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    try {
      assert.equal(tf.getBackend(), "webgpu");
      const before = tf.memory().numTensors;
      const order = Array.from(epochOrder(6, 5, 2));
      let row = 0;
      let worst = 0;
      for (const b of batches(s, { batchSize: 4, shuffle: true, seed: 5, epoch: 2, size: 40 })) {
        assert.deepEqual(b.x.shape, [b.n, 40, 40, 1]);
        const x = await b.x.data() as Float32Array;
        assert.deepEqual(
          Array.from(await b.y.data()),
          order.slice(row, row + b.n).map((i) => i % 10),
        );
        for (let k = 0; k < b.n; k++, row++) {
          const i = order[row];
          const img = Float64Array.from(s.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
          const ref = torchBilinear(img, 28, 28, 40, 40);
          for (let p = 0; p < 1600; p++) {
            worst = Math.max(worst, Math.abs(x[k * 1600 + p] - ref[p]));
          }
        }
        tf.dispose([b.x, b.y]);
      }
      assert.equal(row, 6);
      assert.ok(worst < RESIZE_ATOL, `max |diff| ${worst}`);
      assert.equal(tf.memory().numTensors, before);
    } finally {
      await initBackend("cpu");
    }
  },
});
