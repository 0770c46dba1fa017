/**
 * WebGPU's buffer limits: the largest tensor of a step by the rule in tensor_limit.ts, eval
 * splitting its batches to fit, train running a batch over the limit in parts (chunkPlan; that the
 * parts compute the unsplit step is tests/model/chunked_test.ts) and refusing only what no part
 * fits. The adapter tests run on
 * any adapter (Mesa's software one in CI) and skip with a message where none exists.
 *
 * A whole eval over the limit (more than 4096 images of 64x64 for the width-8 network) takes
 * minutes on the software adapter (about 16 images/s), so on the adapter this file proves the
 * pieces: WebGPU computes garbage for a tensor one element over the limit and the right numbers
 * at it; eval's batch is cut to the largest that fits the adapter's own limits; train refuses
 * only an input size that not even one image fits.
 * That splitting leaves eval's results unchanged is shown on the CPU backend with a limit given.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { probeAdapter } from "../../lib/backends/webgpu.ts";
import {
  checkTrainingFits,
  chunkPlan,
  chunkSizes,
  evalBatchThatFits,
  fitProblem,
  INFERENCE_TENSOR_BYTES,
  inferenceBatch,
  largestBatchThatFits,
  largestTensor,
  limitOf,
  tensorLimit,
  TensorLimitError,
} from "../../lib/backends/tensor_limit.ts";
import { ResNet, type ResNetOptions, resolveConfig } from "../../lib/model/resnet.ts";
import { shapeTable } from "../../lib/model/shapes.ts";
import { evaluate } from "../../lib/run/evaluate.ts";
import { InputError } from "../../lib/errors.ts";
import { syntheticSplit } from "../synthetic_split.ts";
import { runCli, TINY_NET } from "../run_cli.ts";

const MIB_128 = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
const TINY = resolveConfig({ stages: [1, 1, 1, 1], width: 8 });

Deno.test("the largest tensor: d2l's recipe at 96x96, batch 256, is b1.0's 144 MiB output", () => {
  const t = largestTensor(resolveConfig({ depth: 18 }), 96, 256);
  assert.deepEqual(t, { name: "b1.0's output", shape: [256, 48, 48, 64], bytes: 150_994_944 });
  assert.equal(largestBatchThatFits(resolveConfig({ depth: 18 }), 96, MIB_128.bytes), 227);
  // The eval: width 8 at 64x64, batch 5000: 163.8 MB; 4096 images fill 128 MiB exactly.
  assert.equal(largestTensor(TINY, 64, 5000).bytes, 163_840_000);
  assert.equal(largestBatchThatFits(TINY, 64, MIB_128.bytes), 4096);
  // Where tfjs-webgpu makes an im2col matrix (tiny convolutions), it can be the largest.
  const wide = largestTensor(resolveConfig({ stages: [1, 1, 1, 1], width: 64 }), 8, 1);
  assert.deepEqual(wide, { name: "b5.0.conv2's im2col matrix", shape: [1, 1, 4608], bytes: 18432 });
});

Deno.test("the largest tensor is the largest a real forward pass traces (shape table), or im2col", () => {
  const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const cases: [ResNetOptions, number, number][] = [
    [{ stages: [1, 1, 1, 1], width: 8 }, 3, 28],
    [{ stages: [1, 2, 1, 1], width: 4 }, 2, 17],
    [{ stages: [1, 1, 1, 1], width: 2, inChannels: 3 }, 1, 40],
  ];
  for (const [model, small, size] of cases) {
    // Above 16 images no convolution makes an im2col matrix: the largest is a traced activation.
    for (const batch of [small, 32]) {
      const table = shapeTable(model, { size, batch });
      const traced = [table.input, ...table.layers.map((r) => r.shape)];
      const most = Math.max(...traced.map(numel));
      const t = largestTensor(resolveConfig(model), size, batch);
      const what = `${JSON.stringify(model)} at batch ${batch}: ${t.name}`;
      if (t.name.endsWith("im2col matrix")) {
        assert.ok(batch <= 16 && t.bytes > 4 * most, what);
        continue;
      }
      assert.equal(t.bytes, 4 * most, what);
      // NHWC here, NCHW in the trace: the same tensor.
      const [n, h, w, c] = t.shape;
      assert.ok(traced.some((s) => s.join() === [n, c, h, w].join()), what);
    }
  }
});

Deno.test("the largest tensor: ResNet-18 at 224 is b1's convolution; width 2 at 28 the input", () => {
  const r18 = largestTensor(resolveConfig({ depth: 18 }), 224, 256);
  assert.deepEqual(r18, {
    name: "b1.0's output",
    shape: [256, 112, 112, 64],
    bytes: 256 * 112 * 112 * 64 * 4,
  });
  const thin = largestTensor(resolveConfig({ stages: [1, 1, 1, 1], width: 2 }), 28, 10);
  assert.deepEqual(thin, {
    name: "the input batch",
    shape: [10, 28, 28, 1],
    bytes: 10 * 28 * 28 * 4,
  });
});

Deno.test("limitOf: the smaller of the two buffer limits; fitProblem: the tensor and what fits", () => {
  assert.deepEqual(
    limitOf({ maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 }),
    MIB_128,
  );
  assert.deepEqual(limitOf({ maxBufferSize: 2 ** 27, maxStorageBufferBindingSize: 2 ** 28 }), {
    bytes: 2 ** 27,
    name: "maxBufferSize",
  });
  assert.deepEqual(
    limitOf({ maxBufferSize: 2n ** 27n, maxStorageBufferBindingSize: 2n ** 27n }),
    MIB_128,
  );
  const r18 = resolveConfig({ depth: 18 });
  // d2l's recipe runs, in parts: the refusal is gone.
  assert.equal(fitProblem(r18, 96, 256, MIB_128), null);
  assert.equal(fitProblem(r18, 96, 227, MIB_128), null);
  assert.equal(fitProblem(r18, 96, 256, null), null);
  assert.deepEqual(fitProblem(r18, 4096, 1, MIB_128), {
    tensor: largestTensor(r18, 4096, 1),
    limit: MIB_128,
    fits: 0,
  });
  // A batch whose input alone is over the limit (the data pipeline makes it whole): the input,
  // and the largest batch that runs.
  const input = fitProblem(r18, 96, 4000, { bytes: 96 * 96 * 4 * 3000, name: "maxBufferSize" });
  assert.equal(input?.tensor.name, "the input batch");
  assert.equal(input?.fits, 3000);
});

Deno.test("chunkPlan: parts through b1 at 96x96, through blocks where b2 is over the limit too", () => {
  const r18 = resolveConfig({ depth: 18 });
  assert.equal(chunkPlan(r18, 96, 227, MIB_128), null, "fits whole");
  assert.equal(chunkPlan(r18, 96, 100_000, null), null, "no limit");
  // b1.0's output [256, 48, 48, 64] is 144 MiB: two parts of 128; after the max pool, 36 MiB.
  assert.deepEqual(chunkPlan(r18, 96, 256, MIB_128), { chunks: 2, blocks: 0 });
  // At 224, batch 256: b1.0 is 784 MiB (7 parts) and b2's activations 196 MiB, so the parts
  // are joined after b3.0, whose output is 98 MiB (3 blocks in parts).
  assert.deepEqual(chunkPlan(r18, 224, 256, MIB_128), { chunks: 7, blocks: 3 });
  // Every part fits: the largest part's tensors, and the rest whole.
  for (const [size, batch] of [[96, 256], [224, 256], [96, 1000], [224, 64]]) {
    const plan = chunkPlan(r18, size, batch, MIB_128)!;
    const part = chunkSizes(batch, plan.chunks)[0];
    assert.ok(largestTensor(r18, size, part).bytes <= MIB_128.bytes, `${size} ${batch}`);
  }
  // Every form of network: the parts fit, and the plan joins them at a block's boundary.
  const forms: ResNetOptions[] = [
    { depth: 50, arch: "torchvision" },
    { depth: 50, groups: 32, widthPerGroup: 4 },
    { depth: 34, block: "preact" },
    { depth: 18, stem: "cifar" },
  ];
  for (const model of forms) {
    const config = resolveConfig(model);
    const plan = chunkPlan(config, 224, 256, MIB_128)!;
    assert.ok(plan.chunks >= 2, JSON.stringify(model));
    const part = chunkSizes(256, plan.chunks)[0];
    assert.ok(largestTensor(config, 224, part).bytes <= MIB_128.bytes, JSON.stringify(model));
  }
  assert.throws(() => chunkPlan(r18, 4096, 1, MIB_128), TensorLimitError);
  assert.deepEqual(chunkSizes(7, 3), [3, 2, 2]);
  assert.deepEqual(chunkSizes(256, 2), [128, 128]);
});

Deno.test("a training step that cannot run even in parts is refused in one line: tensor, size, limit, fix", () => {
  const config = resolveConfig({ depth: 18 });
  assert.doesNotThrow(() => checkTrainingFits(config, 96, 256, MIB_128), "runs in parts");
  assert.throws(() => checkTrainingFits(config, 4096, 1, MIB_128), (e: unknown) => {
    assert.ok(e instanceof TensorLimitError && e instanceof InputError);
    assert.equal(
      e.message,
      "an input of 4096x4096 does not fit this WebGPU adapter even at batch 1: b1.0's output " +
        "[1, 2048, 2048, 64] (float32) is 1024.0 MiB, over its maxStorageBufferBindingSize of " +
        "128.0 MiB: use a smaller input size, or another backend",
    );
    // The data a caller words its own way with (the CLI: its flags).
    assert.deepEqual([e.size, e.batch, e.problem.fits, e.problem.limit], [4096, 1, 0, MIB_128]);
    return true;
  });
  assert.doesNotThrow(() => checkTrainingFits(config, 96, 100_000, null), "no limit off WebGPU");
  // A limit under one MiB (forced by a test or a tiny adapter) reads in KiB, not "0.0 MiB".
  const small = { ...MIB_128, bytes: 48 * 1024 };
  assert.throws(() => checkTrainingFits(config, 28, 1, small), (e: unknown) => {
    assert.match((e as Error).message, /\(float32\) is 110\.3 KiB, over its \S+ of 48\.0 KiB/);
    return true;
  });
});

Deno.test("eval splits a batch over the limit itself, and its results do not change (cpu)", async () => {
  await initBackend("cpu");
  // Seed 7: its untrained predictions spread over three classes, so a wrong pass would show.
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 7 });
  const split = syntheticSplit(150, 16, 3);
  const sizes: number[] = [];
  const apply = net.apply.bind(net);
  net.apply = (x, o) => (sizes.push(x.shape[0]), apply(x, o));
  // A limit that fits 64 images of 16x16 (b1.0's output: 8x8x8 floats, 2 KiB an image).
  const limit = { bytes: 64 * 2048, name: "maxBufferSize" } as const;
  assert.equal(evalBatchThatFits(net.config, 16, 150, limit), 64);
  const parts = await evaluate(net, split, { size: 16, batchSize: 150, tensorLimit: limit });
  assert.deepEqual(sizes, [64, 64, 22]);
  sizes.length = 0;
  const whole = await evaluate(net, split, { size: 16, batchSize: 150, tensorLimit: null });
  assert.deepEqual(sizes, [150]);
  assert.deepEqual(parts.confusion, whole.confusion);
  const predicted = whole.confusion[0].map((_, j) => whole.confusion.some((row) => row[j] > 0));
  assert.ok(predicted.filter(Boolean).length >= 2, "predictions vary: a wrong pass would show");
  net.dispose();
});

Deno.test("off WebGPU, a test pass keeps each tensor within INFERENCE_TENSOR_BYTES", async () => {
  const r18 = resolveConfig({ depth: 18 });
  // ResNet-18's largest tensor at 96x96 is b1.0's output, 48x48x64 floats an image.
  const perImage = 48 * 48 * 64 * 4;
  assert.equal(largestTensor(r18, 96, 1024).bytes, 1024 * perImage);
  const b = inferenceBatch(r18, 96, 256);
  assert.ok(b * perImage <= INFERENCE_TENSOR_BYTES && (b + 1) * perImage > INFERENCE_TENSOR_BYTES);
  assert.equal(b, 113);
  assert.equal(inferenceBatch(r18, 96, 100), 100, "a batch within the bound is kept");
  assert.equal(inferenceBatch(r18, 28, 256), 256);
  assert.equal(inferenceBatch(r18, 4096, 8), 1, "never below one image");
  assert.equal(inferenceBatch(TINY, 16, 150, 64 * 2048), 64, "the bound is an argument");
  // evaluate uses it when no adapter limit applies (here a bound of 64 images of 16x16), and the
  // split leaves its results as they were.
  await initBackend("cpu");
  const net = new ResNet({ ...TINY, seed: 7 });
  const sizes: number[] = [];
  const apply = net.apply.bind(net);
  net.apply = (x, o) => (sizes.push(x.shape[0]), apply(x, o));
  const before = tf.memory().numTensors, split = syntheticSplit(150, 16, 3);
  const opts = { size: 16, batchSize: 150, tensorLimit: null };
  const parts = await evaluate(net, split, { ...opts, tensorBytes: 64 * 2048 });
  assert.deepEqual(sizes, [64, 64, 22]);
  sizes.length = 0;
  const whole = await evaluate(net, split, opts);
  assert.deepEqual(sizes, [150], "150 images of 16x16 are far below 64 MiB");
  assert.deepEqual(parts.confusion, whole.confusion);
  assert.equal(tf.memory().numTensors, before);
  net.dispose();
});

const probe = await probeAdapter();
const noAdapter = probe.adapter === null;
if (noAdapter) console.log(`webgpu size-limit tests skipped: ${probe.reason}`);

Deno.test({
  name:
    "webgpu: a tensor one element over the adapter's binding limit computes garbage; at it, not",
  ignore: noAdapter,
  async fn() {
    await initBackend("webgpu");
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    const limit = tensorLimit()!;
    assert.ok(limit.bytes >= 2 ** 27, `limit ${limit.bytes}`);
    // Only a 128 MiB limit can be probed cheaply (a tensor at maxBufferSize may not be uploadable).
    const n = limit.bytes / 4;
    // ones + k, a new k each time: a kernel that did not run leaves an older value behind.
    const lastOf = async (elements: number, k: number) => {
      const y = tf.tidy(() => tf.add(tf.ones([elements]), k));
      const v = (await tf.slice(y, elements - 1, 1).data())[0];
      y.dispose();
      return v;
    };
    assert.equal(await lastOf(n, 1), 2, "a tensor of exactly the limit is computed");
    assert.notEqual(await lastOf(n + 1, 2), 3, "one element more is silently wrong");
    assert.equal(await lastOf(n, 3), 4);
    await initBackend("cpu");
  },
});

Deno.test({
  name:
    "webgpu: eval cuts its batch to the adapter's limits; train runs it in parts, refuses what no part fits",
  ignore: noAdapter,
  async fn() {
    await initBackend("webgpu");
    const limit = tensorLimit()!;
    const fit = largestBatchThatFits(TINY, 64, limit.bytes);
    assert.equal(evalBatchThatFits(TINY, 64, 5000), fit);
    assert.equal(evalBatchThatFits(TINY, 64, 500), 500, "a batch under the limit is kept");
    assert.doesNotThrow(() => checkTrainingFits(TINY, 64, fit + 1), "runs in parts");
    assert.deepEqual(chunkPlan(TINY, 64, fit + 1, limit), { chunks: 2, blocks: 0 });
    // Not even one image: b1.0's output [1, 4096, 4096, 8] is 512 MiB.
    assert.throws(() => checkTrainingFits(TINY, 8192, 1), TensorLimitError);
    await initBackend("cpu");
    // The CLI: one line, exit 2, before anything is written (no run directory is left).
    const out = `${await Deno.makeTempDir()}/run`;
    const args = ["train", ...TINY_NET, "--size", "8192", "--batch-size", "1"];
    const r = await runCli([...args, "--limit", "64", "--backend", "webgpu", "--out", out]);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("backend: "));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /^error: --size 8192 does not fit this WebGPU adapter even at --batch-size 1: .*: use a smaller --size, or --backend native$/,
    );
    await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  },
});
