// The oneDNN binding against naive JavaScript references (tests/backends/dnnl_reference.ts), on
// tiny shapes. Every test that needs libdnnl.so.2 is ignored, with one line saying why, when it
// cannot be opened.

import assert from "node:assert/strict";
import {
  add,
  addPrimitive,
  batchNormBackward,
  batchNormForwardInference,
  batchNormForwardTraining,
  batchNormPrimitive,
  batchNormWorkspaceBytes,
  convBackwardData,
  convBackwardWeights,
  convForward,
  type ConvGeometry,
  convGeometry,
  type ConvGeometryInput,
  convPlan,
  describeMd,
  ENUM,
  maxPoolBackward,
  maxPoolForward,
  maxPoolPrimitive,
  maxPoolWorkspaceBytes,
  mdByTag,
  openDnnl,
  poolGeometry,
  preferTaps,
  relu,
  reluBackward,
  reluPrimitive,
  sgemm,
  tapsBackwardData,
  tapsForward,
} from "../../lib/backends/native/dnnl/mod.ts";
import {
  assertClose,
  batchNormApply,
  batchNormBackwardRef,
  batchNormRef,
  convBackwardDataRef,
  convBackwardWeightsRef,
  convRef,
  maxPoolRef,
  random,
} from "./dnnl_reference.ts";

const opened = openDnnl();
const ignore = !opened.ok;
if (!opened.ok) console.log(`dnnl tests skipped: ${opened.reason}`);
const dnnl = opened.ok ? opened : undefined!;
if (opened.ok) dnnl.setThreads(2); // the test machine has 2 cores shared with other work

/** A test that needs oneDNN (ignored, with the reason printed once above, without it). */
function dnnlTest(name: string, fn: () => void): void {
  Deno.test({ name: `dnnl: ${name}`, ignore, fn, sanitizeResources: false });
}

function assertFast(impl: string, what: string): void {
  // "ref:" is oneDNN's reference loop nest: correct but orders of magnitude slower.
  assert(!impl.startsWith("ref:"), `${what}: oneDNN picked the reference kernel ${impl}`);
}

const CONV_CASES: ConvGeometryInput[] = [
  {
    batch: 2,
    inHeight: 14,
    inWidth: 13,
    inChannels: 3,
    outChannels: 8,
    kernel: 7,
    stride: 2,
    pad: 3,
  },
  {
    batch: 2,
    inHeight: 12,
    inWidth: 12,
    inChannels: 1,
    outChannels: 8,
    kernel: 7,
    stride: 2,
    pad: 3,
  },
  { batch: 3, inHeight: 9, inWidth: 9, inChannels: 8, outChannels: 16, kernel: 1, stride: 2 },
  {
    batch: 2,
    inHeight: 8,
    inWidth: 8,
    inChannels: 16,
    outChannels: 8,
    kernel: 3,
    stride: 1,
    pad: 1,
  },
  {
    batch: 4,
    inHeight: 7,
    inWidth: 7,
    inChannels: 8,
    outChannels: 16,
    kernel: 3,
    stride: 2,
    pad: 1,
  },
  {
    batch: 2,
    inHeight: 8,
    inWidth: 6,
    inChannels: 3,
    outChannels: 8,
    kernel: 3,
    stride: 2,
    pad: "same",
  },
  {
    batch: 2,
    inHeight: 6,
    inWidth: 7,
    inChannels: 8,
    outChannels: 3,
    kernel: [3, 1],
    stride: [1, 2],
    pad: [2, 0, 0, 1],
  },
  // Small maps with wide inputs: forward (and on 1- to 4-pixel outputs backward data) run as a
  // GEMM per pixel and tap (see conv2d_taps.ts).
  ...TAPS_CASES(),
  // Inputs smaller than the kernel (ResNet-18's last stage at 28x28): backward weights bypasses
  // oneDNN's GEMM fallback (see conv2d_im2col.ts).
  {
    batch: 3,
    inHeight: 1,
    inWidth: 1,
    inChannels: 16,
    outChannels: 8,
    kernel: 3,
    stride: 1,
    pad: 1,
  },
  {
    batch: 2,
    inHeight: 2,
    inWidth: 2,
    inChannels: 8,
    outChannels: 16,
    kernel: 3,
    stride: 2,
    pad: 1,
  },
  {
    batch: 2,
    inHeight: 2,
    inWidth: 1,
    inChannels: 8,
    outChannels: 8,
    kernel: 3,
    stride: 1,
    pad: "same",
  },
];

function TAPS_CASES(): ConvGeometryInput[] {
  const wide = { batch: 3, inChannels: 128, outChannels: 8 };
  return [
    { ...wide, inHeight: 2, inWidth: 2, kernel: 3, pad: 1 },
    { ...wide, inHeight: 6, inWidth: 5, kernel: 3, stride: 2, pad: 1 },
    { ...wide, inHeight: 3, inWidth: 3, kernel: [3, 1], stride: [1, 2], pad: [2, 0, 0, 1] },
    { ...wide, inHeight: 2, inWidth: 2, kernel: 1, stride: 2 },
  ];
}

function describe(g: ConvGeometry): string {
  const k = `${g.kernelHeight}x${g.kernelWidth}/${g.strideHeight}x${g.strideWidth}`;
  const p = `pad ${g.padTop},${g.padBottom},${g.padLeft},${g.padRight}`;
  return `${g.batch}x${g.inHeight}x${g.inWidth}x${g.inChannels}->${g.outChannels} ${k} ${p}`;
}

function convBuffers(g: ConvGeometry, seed: number) {
  return {
    x: random(g.batch * g.inHeight * g.inWidth * g.inChannels, seed),
    w: random(g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels, seed + 1),
    bias: random(g.outChannels, seed + 2),
    dy: random(g.batch * g.outHeight * g.outWidth * g.outChannels, seed + 3),
  };
}

CONV_CASES.forEach((input, i) => {
  const g = convGeometry(input);
  dnnlTest(`conv forward ${describe(g)}`, () => {
    const { x, w, bias } = convBuffers(g, 10 * i);
    const y = new Float32Array(g.batch * g.outHeight * g.outWidth * g.outChannels);
    convForward(dnnl, g, x, w, bias, y);
    assertClose(y, convRef(g, x, w, bias), "y");
    convForward(dnnl, g, x, w, null, y);
    assertClose(y, convRef(g, x, w, null), "y without bias");
    // oneDNN's own primitive too, where the GEMMs per pixel (conv2d_taps.ts) take the shape.
    convForward(dnnl, g, x, w, bias, y, { taps: false });
    assertClose(y, convRef(g, x, w, bias), "y by oneDNN's primitive");
    assertFast(convPlan(dnnl, g, "forward").conv.impl, "conv forward");
  });
  dnnlTest(`conv backward data ${describe(g)}`, () => {
    const { w, dy } = convBuffers(g, 10 * i);
    const dx = new Float32Array(g.batch * g.inHeight * g.inWidth * g.inChannels);
    convBackwardData(dnnl, g, dy, w, dx);
    assertClose(dx, convBackwardDataRef(g, dy, w), "dx");
    convBackwardData(dnnl, g, dy, w, dx, { taps: false });
    assertClose(dx, convBackwardDataRef(g, dy, w), "dx by oneDNN's primitive");
    assertFast(convPlan(dnnl, g, "backward_data").conv.impl, "conv backward data");
  });
  dnnlTest(`conv backward weights ${describe(g)}`, () => {
    const { x, dy } = convBuffers(g, 10 * i);
    const dw = new Float32Array(g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels);
    const dbias = new Float32Array(g.outChannels);
    const ref = convBackwardWeightsRef(g, x, dy);
    convBackwardWeights(dnnl, g, x, dy, dw, dbias);
    assertClose(dw, ref.dw, "dw");
    assertClose(dbias, ref.dbias, "dbias");
    dw.fill(0);
    convBackwardWeights(dnnl, g, x, dy, dw, null);
    assertClose(dw, ref.dw, "dw without dbias");
    assertFast(convPlan(dnnl, g, "backward_weights").conv.impl, "conv backward weights");
  });
});

dnnlTest("conv: ResNet's 3x3 and 1x1 layers get JIT kernels, not gemm or ref", () => {
  const three = convGeometry({
    batch: 2,
    inHeight: 7,
    inWidth: 7,
    inChannels: 16,
    outChannels: 16,
    kernel: 3,
    pad: 1,
  });
  const one = convGeometry({ ...three, kernel: 1, stride: 2, pad: 0 });
  for (const g of [three, one]) {
    for (const pass of ["forward", "backward_data", "backward_weights"] as const) {
      assert.match(convPlan(dnnl, g, pass).conv.impl, /^(jit|brg)/, `${pass} ${describe(g)}`);
    }
  }
});

dnnlTest("conv: backward weights on inputs smaller than the kernel uses im2col+sgemm", () => {
  for (const input of CONV_CASES.slice(-3)) {
    const g = convGeometry(input);
    const plan = convPlan(dnnl, g, "backward_weights");
    if (plan.conv.impl.includes("gemm")) assert.match(plan.impl, /^im2col\+sgemm/, describe(g));
    const { x, dy } = convBuffers(g, 77);
    const dw = new Float32Array(g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels);
    const off = convPlan(dnnl, g, "backward_weights", { im2col: "off" });
    off.conv.run({ src: x, diff_dst: dy, diff_weights: off.reorder ? dnnl.scratch.weights : dw });
    off.reorder?.run({ from: dnnl.scratch.weights, to: dw });
    assertClose(dw, convBackwardWeightsRef(g, x, dy).dw, `oneDNN's own ${off.conv.impl}`);
  }
});

dnnlTest(
  "conv: small maps with wide inputs run by taps, as oneDNN's primitive computes them",
  () => {
    const picked = TAPS_CASES().map((input) => {
      const g = convGeometry(input);
      return `${preferTaps(g, "forward")}/${preferTaps(g, "backward_data")}`;
    });
    assert.deepEqual(picked, ["true/true", "true/false", "true/false", "true/true"]);
    TAPS_CASES().forEach((input, i) => {
      const g = convGeometry(input);
      const { x, w, bias, dy } = convBuffers(g, 300 + i);
      const y = new Float32Array(dy.length), off = new Float32Array(dy.length);
      convForward(dnnl, g, x, w, bias, y, { relu: true });
      convForward(dnnl, g, x, w, bias, off, { relu: true, taps: false });
      assertClose(y, convRef(g, x, w, bias).map((v) => Math.max(v, 0)), `relu(y) ${describe(g)}`);
      assertClose(y, off, `against oneDNN's primitive ${describe(g)}`);
      const dx = new Float32Array(x.length), dxOff = new Float32Array(x.length);
      convBackwardData(dnnl, g, dy, w, dx);
      convBackwardData(dnnl, g, dy, w, dxOff, { taps: false });
      assertClose(dx, dxOff, `dx against oneDNN's primitive ${describe(g)}`);
      // Both passes by taps whatever the preference (backward data by taps from batch 256 only).
      tapsForward(dnnl, g, x, w, null, y, false);
      assertClose(y, convRef(g, x, w, null), `tapsForward ${describe(g)}`);
      tapsBackwardData(dnnl, g, dy, w, dx);
      assertClose(dx, convBackwardDataRef(g, dy, w), `tapsBackwardData ${describe(g)}`);
    });
  },
);

dnnlTest("conv: by taps, weights kept in another layout are read through a reorder", () => {
  const g = convGeometry(TAPS_CASES()[0]);
  const { x, w, bias, dy } = convBuffers(g, 400);
  const [kh, kw, ic, oc] = [g.kernelHeight, g.kernelWidth, g.inChannels, g.outChannels];
  const oihw = new Float32Array(w.length); // PyTorch's order, from HWIO
  for (let i = 0; i < w.length; i++) {
    const o = i % oc, c = Math.floor(i / oc) % ic, t = Math.floor(i / (oc * ic));
    oihw[((o * ic + c) * kh * kw) + t] = w[i];
  }
  const md = mdByTag(dnnl, [oc, ic, kh, kw], ENUM.dnnl_oihw);
  const y = new Float32Array(dy.length), dx = new Float32Array(x.length);
  convForward(dnnl, g, x, oihw, bias, y, { md });
  assertClose(y, convRef(g, x, w, bias), "y from OIHW weights");
  convBackwardData(dnnl, g, dy, oihw, dx, { md });
  assertClose(dx, convBackwardDataRef(g, dy, w), "dx from OIHW weights");
});

dnnlTest("conv: a second call with the same shapes reuses the cached primitives", () => {
  const g = convGeometry(CONV_CASES[3]);
  const { x, w, bias, dy } = convBuffers(g, 99);
  const y = new Float32Array(dy.length), dx = new Float32Array(x.length);
  const dw = new Float32Array(w.length);
  convForward(dnnl, g, x, w, bias, y);
  convBackwardData(dnnl, g, dy, w, dx);
  convBackwardWeights(dnnl, g, x, dy, dw, null);
  const size = dnnl.cache.size;
  const plan = convPlan(dnnl, g, "forward", { bias: true });
  const y2 = new Float32Array(dy.length);
  convForward(dnnl, g, x, w, bias, y2);
  convBackwardData(dnnl, g, dy, w, dx);
  convBackwardWeights(dnnl, g, x, dy, dw, null);
  assert.deepEqual(dnnl.cache.size, size);
  assert(convPlan(dnnl, g, "forward", { bias: true }) === plan, "same plan object");
  assert.deepEqual(y2, y);
});

dnnlTest("conv: buffers at an offset inside a larger ArrayBuffer, and too-small buffers", () => {
  const g = convGeometry(CONV_CASES[4]);
  const { x, w, dy } = convBuffers(g, 5);
  const pool = new Float32Array(x.length + dy.length + 7);
  const xv = pool.subarray(3, 3 + x.length);
  xv.set(x);
  const yv = pool.subarray(3 + x.length, 3 + x.length + dy.length);
  convForward(dnnl, g, xv, w, null, yv);
  assertClose(yv, convRef(g, x, w, null), "y at an offset");
  assert.throws(() => convForward(dnnl, g, x, w, null, yv.subarray(1)), /needs/);
});

const BN_SHAPES = [
  { batch: 2, height: 3, width: 4, channels: 8 },
  { batch: 4, height: 2, width: 2, channels: 3 },
  { batch: 3, height: 5, width: 5, channels: 16 },
];

function bnBuffers(s: (typeof BN_SHAPES)[number], seed: number) {
  const n = s.batch * s.height * s.width * s.channels;
  // A per-channel offset and scale so the statistics are not trivially 0 and 1/3.
  const x = random(n, seed).map((v, i) => 3 * v + (i % s.channels) - 1);
  return {
    n,
    x,
    gamma: random(s.channels, seed + 1).map((v) => v + 1.5),
    beta: random(s.channels, seed + 2),
    dy: random(n, seed + 3),
  };
}

for (const [i, s] of BN_SHAPES.entries()) {
  for (const withRelu of [false, true]) {
    const name = `${s.batch}x${s.height}x${s.width}x${s.channels}${withRelu ? " + relu" : ""}`;
    dnnlTest(`batch norm training forward and backward ${name}`, () => {
      const b = bnBuffers(s, 100 + i);
      const o = { epsilon: 1e-3, relu: withRelu };
      const c = s.channels;
      const y = new Float32Array(b.n), mean = new Float32Array(c), variance = new Float32Array(c);
      const workspace = new Uint8Array(batchNormWorkspaceBytes(dnnl, s, o));
      assert.deepEqual(workspace.length > 0, withRelu);
      batchNormForwardTraining(dnnl, s, o, { ...b, y, mean, variance, workspace });
      const ref = batchNormRef(s, b.x, b.gamma, b.beta, o.epsilon, withRelu);
      assertClose(mean, ref.mean, "mean");
      assertClose(variance, ref.variance, "biased variance");
      assertClose(y, ref.y, "y");
      const dx = new Float32Array(b.n), dgamma = new Float32Array(c), dbeta = new Float32Array(c);
      batchNormBackward(dnnl, s, o, { ...b, mean, variance, workspace, dx, dgamma, dbeta });
      const grads = batchNormBackwardRef(s, b.x, b.dy, b.gamma, b.beta, o.epsilon, withRelu);
      assertClose(dbeta, grads.dbeta, "dbeta");
      assertClose(dgamma, grads.dgamma, "dgamma");
      assertClose(dx, grads.dx, "dx");
      for (const mode of ["training", "backward"] as const) {
        assertFast(batchNormPrimitive(dnnl, mode, s, o).impl, `batch norm ${mode}`);
      }
    });
  }
  dnnlTest(`batch norm inference forward with given statistics ${JSON.stringify(s)}`, () => {
    const b = bnBuffers(s, 200 + i);
    const mean = random(s.channels, 7), variance = random(s.channels, 8).map((v) => v + 1.2);
    const y = new Float32Array(b.n);
    for (const withRelu of [false, true]) {
      const o = { epsilon: 1e-5, relu: withRelu };
      batchNormForwardInference(dnnl, s, o, { ...b, mean, variance, y });
      const ref = batchNormApply(s, b.x, b.gamma, b.beta, mean, variance, 1e-5, withRelu);
      assertClose(y, ref, `y relu=${withRelu}`);
      assertFast(batchNormPrimitive(dnnl, "inference", s, o).impl, "batch norm inference");
    }
  });
}

dnnlTest("batch norm with relu needs its workspace", () => {
  const s = BN_SHAPES[0];
  const b = bnBuffers(s, 1);
  const c = s.channels;
  const call = () =>
    batchNormForwardTraining(dnnl, s, { epsilon: 1e-5, relu: true }, {
      ...b,
      y: new Float32Array(b.n),
      mean: new Float32Array(c),
      variance: new Float32Array(c),
    });
  assert.throws(call, /workspace/);
});

const POOL_CASES = [
  { batch: 2, inHeight: 8, inWidth: 8, channels: 16, kernel: 3, stride: 2, pad: 1 },
  { batch: 3, inHeight: 7, inWidth: 9, channels: 3, kernel: 3, stride: 2, pad: 1 },
  { batch: 2, inHeight: 6, inWidth: 6, channels: 8, kernel: 2 },
  { batch: 2, inHeight: 7, inWidth: 5, channels: 8, kernel: [3, 2], stride: [1, 2], pad: "same" },
] as const;

for (const input of POOL_CASES) {
  const g = poolGeometry(input);
  dnnlTest(`max pool forward and backward ${JSON.stringify(input)}`, () => {
    const x = random(g.batch * g.inHeight * g.inWidth * g.channels, 31);
    const dy = random(g.batch * g.outHeight * g.outWidth * g.channels, 32);
    const y = new Float32Array(dy.length), dx = new Float32Array(x.length);
    const workspace = new Uint8Array(maxPoolWorkspaceBytes(dnnl, g));
    maxPoolForward(dnnl, g, x, y, workspace);
    maxPoolBackward(dnnl, g, dy, workspace, dx);
    const ref = maxPoolRef(g, x, dy);
    assertClose(y, ref.y, "y", 0);
    assertClose(dx, ref.dx, "dx", 1e-6);
    assertFast(maxPoolPrimitive(dnnl, g, "forward").impl, "max pool forward");
    assertFast(maxPoolPrimitive(dnnl, g, "backward").impl, "max pool backward");
  });
}

dnnlTest("relu forward and backward", () => {
  const x = random(1000, 41), dy = random(1000, 42);
  const y = new Float32Array(1000), dx = new Float32Array(1000);
  relu(dnnl, x, y);
  assertClose(y, Array.from(x, (v) => Math.max(v, 0)), "y", 0);
  reluBackward(dnnl, x, dy, dx);
  assertClose(dx, Array.from(x, (v, i) => v > 0 ? dy[i] : 0), "dx", 0);
  assertFast(reluPrimitive(dnnl, 1000, "forward").impl, "relu forward");
  assertFast(reluPrimitive(dnnl, 1000, "backward").impl, "relu backward");
});

dnnlTest(
  "a primitive runs on buffers named by exec arg, in any order, and names what is wrong",
  () => {
    const x = random(1000, 43), y = new Float32Array(1000);
    const p = reluPrimitive(dnnl, 1000, "forward");
    assert.deepEqual(p.names, ["src", "dst"]);
    p.run({ dst: y, src: x });
    assertClose(y, Array.from(x, (v) => Math.max(v, 0)), "y", 0);
    assert.throws(() => p.run({ src: x }), /no buffer for arg 'dst'/);
    assert.throws(() => p.run({ src: x, dst: y, weights: y }), /no arg 'weights'/);
    p.run({ src: x, dst: y, bias: null }); // an absent optional arg is allowed
    assert.equal(p.bytesOf("dst"), 4000);
    assert.throws(() => p.bytesOf("diff_src"), /no arg 'diff_src'/);
  },
);

dnnlTest("add, add + relu as one primitive, and in-place accumulation", () => {
  const a = random(777, 51), b = random(777, 52), out = new Float32Array(777);
  add(dnnl, a, b, out);
  assertClose(out, Array.from(a, (v, i) => v + b[i]), "a + b", 1e-7);
  add(dnnl, a, b, out, { relu: true });
  assertClose(out, Array.from(a, (v, i) => Math.max(v + b[i], 0)), "relu(a + b)", 1e-7);
  const acc = a.slice();
  add(dnnl, acc, b, acc);
  assertClose(acc, Array.from(a, (v, i) => v + b[i]), "acc += b", 1e-7);
  assertFast(addPrimitive(dnnl, 777, true).impl, "add + relu");
});

dnnlTest("cache: every primitive kind is created once per shape and attributes", () => {
  const s = BN_SHAPES[1];
  const g = poolGeometry(POOL_CASES[2]);
  const run = () => {
    const b = bnBuffers(s, 3);
    const c = s.channels, o = { epsilon: 1e-5, relu: true };
    const stats = { mean: new Float32Array(c), variance: new Float32Array(c) };
    const workspace = new Uint8Array(batchNormWorkspaceBytes(dnnl, s, o));
    batchNormForwardTraining(dnnl, s, o, { ...b, ...stats, y: new Float32Array(b.n), workspace });
    const grads = {
      dx: new Float32Array(b.n),
      dgamma: new Float32Array(c),
      dbeta: new Float32Array(c),
    };
    batchNormBackward(dnnl, s, o, { ...b, ...stats, workspace, ...grads });
    const x = random(g.batch * g.inHeight * g.inWidth * g.channels, 3);
    const y = new Float32Array(g.batch * g.outHeight * g.outWidth * g.channels);
    const ws = new Uint8Array(maxPoolWorkspaceBytes(dnnl, g));
    maxPoolForward(dnnl, g, x, y, ws);
    maxPoolBackward(dnnl, g, y, ws, x);
    relu(dnnl, x, x);
    add(dnnl, x, x, x, { relu: true });
  };
  run();
  const size = dnnl.cache.size;
  run();
  assert.deepEqual(dnnl.cache.size, size);
});

dnnlTest("describeMd names plain and blocked layouts", () => {
  assert.equal(describeMd(mdByTag(dnnl, [2, 3, 4, 5], ENUM.dnnl_nhwc)), "acdb");
  assert.equal(describeMd(mdByTag(dnnl, [8, 3, 3, 3], ENUM.dnnl_hwio)), "cdba");
  assert.equal(describeMd(mdByTag(dnnl, [8, 3, 3, 3], ENUM.dnnl_format_tag_any)), "any");
  const g = convGeometry(CONV_CASES[3]);
  const plan = convPlan(dnnl, g, "forward");
  const w = describeMd(plan.conv.md("weights"));
  assert.match(w, /^[a-dA-D]{4}(\d+[a-d])*$/);
  assert.equal(
    plan.reorder === null,
    w === "cdba",
    `weights ${w}: a reorder exactly when not HWIO`,
  );
});

dnnlTest("sgemm is row-major", () => {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6); // 2x3
  const b = Float32Array.of(1, 0, 0, 1, 1, 1); // 3x2
  const c = new Float32Array(4);
  sgemm(dnnl, 2, 2, 3, a, b, c);
  assert.deepEqual(Array.from(c), [4, 5, 10, 11]);
});

dnnlTest("version, ISA and OpenMP thread control", () => {
  assert.match(dnnl.version, /^2\.\d+\.\d+$/);
  assert(dnnl.isa.length > 0);
  const before = dnnl.getThreads();
  dnnl.setThreads(1);
  assert.deepEqual(dnnl.getThreads(), 1);
  dnnl.setThreads(before);
  assert.deepEqual(dnnl.getThreads(), before);
});

dnnlTest(
  "waitPolicy is not applied once libgomp is loaded (it reads the variable only then)",
  () => {
    const before = Deno.env.get("OMP_WAIT_POLICY");
    const again = openDnnl(undefined, { waitPolicy: before === "active" ? "passive" : "active" });
    assert.ok(again.ok);
    try {
      assert.equal(again.waitPolicy, before?.toLowerCase() ?? "default");
      assert.equal(Deno.env.get("OMP_WAIT_POLICY"), before);
    } finally {
      again.close();
    }
  },
);

dnnlTest("waitPolicy is applied in a fresh process, before libgomp loads", () => {
  const ffi = new URL("../../lib/backends/native/dnnl/ffi.ts", import.meta.url).href;
  const code = `import { openDnnl } from "${ffi}";
    const d = openDnnl(undefined, { waitPolicy: "passive" });
    console.log(d.ok ? d.waitPolicy + " " + Deno.env.get("OMP_WAIT_POLICY") : d.reason);`;
  const env = { ...Deno.env.toObject() };
  delete env.OMP_WAIT_POLICY;
  const out = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env,
    clearEnv: true,
  }).outputSync();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "passive passive");
});

Deno.test("dnnl: a bad path or RESNET_DNNL gives ok:false with a one-line reason", () => {
  const bad = openDnnl("/nonexistent/libdnnl.so.2");
  assert(!bad.ok);
  assert.match(bad.reason, /^cannot open \/nonexistent\/libdnnl\.so\.2: [^\n]+$/);
  const saved = Deno.env.get("RESNET_DNNL");
  Deno.env.set("RESNET_DNNL", "/nonexistent/env/libdnnl.so.2");
  try {
    const viaEnv = openDnnl();
    assert(!viaEnv.ok);
    assert.match(viaEnv.reason, /\/nonexistent\/env\/libdnnl\.so\.2/);
    assert(!viaEnv.reason.includes("\n"));
  } finally {
    if (saved === undefined) Deno.env.delete("RESNET_DNNL");
    else Deno.env.set("RESNET_DNNL", saved);
  }
});

Deno.test("dnnl: a library that is not oneDNN 2.6+ is refused with a reason", () => {
  // libgomp exists wherever oneDNN does, but lacks every dnnl_ symbol.
  const wrong = openDnnl("libgomp.so.1");
  assert(!wrong.ok);
  assert(!wrong.reason.includes("\n"));
});

Deno.test("dnnl: geometry follows tfjs 'same' padding and PyTorch symmetric padding", () => {
  const input = { batch: 1, inHeight: 28, inWidth: 27, inChannels: 1, outChannels: 1, kernel: 3 };
  const same = convGeometry({ ...input, stride: 2, pad: "same" });
  assert.deepEqual([same.padTop, same.padBottom, same.outHeight], [0, 1, 14]);
  assert.deepEqual([same.padLeft, same.padRight, same.outWidth], [1, 1, 14]);
  const stem = convGeometry({ ...input, inHeight: 96, inWidth: 96, kernel: 7, stride: 2, pad: 3 });
  assert.deepEqual([stem.outHeight, stem.outWidth, stem.padBottom], [48, 48, 3]);
  const pool = poolGeometry({
    batch: 1,
    inHeight: 48,
    inWidth: 48,
    channels: 1,
    kernel: 3,
    stride: 2,
    pad: 1,
  });
  assert.deepEqual([pool.outHeight, pool.strideWidth], [24, 2]);
  assert.equal(poolGeometry({ ...pool, kernel: 2 }).strideHeight, 2, "stride defaults to kernel");
});
