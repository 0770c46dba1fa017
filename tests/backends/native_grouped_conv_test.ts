/**
 * `GROUPED_CONV2D` on `native` (oneDNN's own groups) against the composite (split, convolve,
 * concatenate) on tfjs' cpu backend: the output, the input gradient and the filter gradient, for
 * 1, 2, 4 and 32 groups at strides 1 and 2, with same, valid and explicit padding. On oneDNN the
 * kernel itself runs (called directly for one group, which `groupedConv2d` gives to `tf.conv2d`);
 * on `native-blas`, which does not register it, the composite runs there too.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { nativeVariants, variantTest } from "./native_variants.ts";
import { type ConvPad, GROUPED_CONV2D, groupedConv2d } from "../../lib/model/fused.ts";
import { mulberry32 } from "../../lib/data/rng.ts";
import { assertClose } from "../golden.ts";

tf.enableProdMode(); // no "install tfjs-node" banner from the cpu backend

interface Case {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: ConvPad;
  groups: number;
}

const CASES: Case[] = [];
for (const stride of [1, 2]) {
  CASES.push(
    { n: 2, h: 6, w: 5, cin: 4, cout: 6, k: 3, stride, pad: "same", groups: 1 },
    {
      n: 2,
      h: 7,
      w: 6,
      cin: 4,
      cout: 6,
      k: 3,
      stride,
      pad: [[0, 0], [1, 1], [1, 1], [0, 0]],
      groups: 2,
    },
    { n: 1, h: 6, w: 6, cin: 8, cout: 12, k: 3, stride, pad: "valid", groups: 4 },
    { n: 2, h: 5, w: 5, cin: 8, cout: 8, k: 1, stride, pad: "same", groups: 4 },
    // ResNeXt's 32 groups (torchvision's resnext50_32x4d: 4 channels a group in its first stage).
    {
      n: 2,
      h: 5,
      w: 6,
      cin: 64,
      cout: 128,
      k: 3,
      stride,
      pad: [[0, 0], [1, 1], [1, 1], [0, 0]],
      groups: 32,
    },
  );
}

const rand = mulberry32(7);
const random = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** The grouped convolution: the kernel itself where `backend` registers it, else the composite. */
function grouped(backend: string, x: tf.Tensor4D, f: tf.Tensor4D, c: Case): tf.Tensor4D {
  if (!tf.getKernel(GROUPED_CONV2D, backend)) return groupedConv2d(x, f, c.stride, c.pad, c.groups);
  const attrs = { strides: c.stride, pad: c.pad, groups: c.groups } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(GROUPED_CONV2D, { x, filter: f }, attrs) as tf.Tensor4D;
}

/** y, dL/dx and dL/dfilter of `L = sum(y * r)` on `backend`, with no tensor left behind. */
async function run(
  backend: string,
  c: Case,
  data: { x: Float32Array; f: Float32Array; r: Float32Array },
  outShape: number[] | null,
) {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(data.x, [c.n, c.h, c.w, c.cin]);
  const f = tf.tensor4d(data.f, [c.k, c.k, c.cin / c.groups, c.cout]);
  const y = grouped(backend, x, f, c);
  const shape = outShape ?? y.shape;
  const r = tf.tensor(data.r.subarray(0, size(shape)), shape);
  const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf.sum(tf.mul(grouped(backend, a as tf.Tensor4D, b as tf.Tensor4D, c), r))
  )([x, f]);
  const out = {
    shape: y.shape,
    y: await y.data(),
    dx: await dx.data(),
    df: await df.data(),
    dxShape: dx.shape,
    dfShape: df.shape,
  };
  tf.dispose([x, f, y, r, dx, df]);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return out;
}

for (const variant of await nativeVariants()) {
  const test = variantTest(variant);
  test(`${GROUPED_CONV2D} is registered exactly where oneDNN is`, () => {
    assert.equal(!!tf.getKernel(GROUPED_CONV2D, variant.name), variant.name === "native-dnnl");
  });
  for (const c of CASES) {
    const pad = typeof c.pad === "string" ? c.pad : "1";
    const name = `grouped conv ${c.k}x${c.k}/${c.stride} pad ${pad}, ${c.groups} groups, ` +
      `[${c.n},${c.h},${c.w},${c.cin}] -> ${c.cout}: output, input and filter gradients`;
    test(name, async () => {
      const data = {
        x: random(c.n * c.h * c.w * c.cin),
        f: random(c.k * c.k * (c.cin / c.groups) * c.cout),
        r: random(c.n * c.h * c.w * c.cout),
      };
      const want = await run("cpu", c, data, null);
      const got = await run(variant.name, c, data, want.shape);
      assert.deepEqual(got.shape, want.shape);
      assert.deepEqual([got.dxShape, got.dfShape], [want.dxShape, want.dfShape]);
      // float32 sums of up to 9 x 8 products in another order: 1e-5 absolute on values near 1.
      assertClose(got.y, want.y, 1e-5, 1e-5, "y");
      assertClose(got.dx, want.dx, 1e-5, 1e-5, "dx");
      assertClose(got.df, want.df, 1e-5, 1e-5, "dfilter");
    });
  }
}
