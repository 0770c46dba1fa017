/**
 * A step in parts of the batch equals the unsplit step (cpu backend, parts forced by a plan):
 * the logits, every weight after one SGD step with momentum, and BatchNorm's running statistics,
 * for batches that the parts do not divide evenly, through b1 alone and through residual blocks
 * of each kind (d2l's basic block, bottleneck and grouped, pre-activation; d2l's and CIFAR's stem).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { type ChunkPlan, chunkSizes } from "../../lib/backends/tensor_limit.ts";
import { applyFitting } from "../../lib/model/chunked.ts";
import { SGD } from "../../lib/model/fused.ts";
import { ResNet, type ResNetOptions } from "../../lib/model/resnet.ts";
import { trainStep } from "../../lib/model/step.ts";

await initBackend("cpu");

const MODEL: ResNetOptions = { stages: [1, 1, 1, 1], width: 8, seed: 3 };

function batch(n: number, size: number) {
  const x = tf.randomUniform([n, size, size, 1], 0, 1, "float32", 11) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % 10), "int32");
  return { x, y };
}

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const [v] = await d.data();
  d.dispose();
  return v;
}

/** The largest difference of each named tensor of two networks, relative to its largest value. */
async function paramDiffs(a: ResNet, b: ResNet): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, v] of a.params) {
    const scale = tf.tidy(() => tf.max(tf.abs(v)));
    const s = Math.max((await scale.data())[0], 1e-3);
    scale.dispose();
    out.set(name, (await maxDiff(v, b.params.get(name)!)) / s);
  }
  return out;
}

const TV = { arch: "torchvision" } as const;
for (
  const [n, plan, form] of [
    [7, { chunks: 2, blocks: 0 }, {}],
    [7, { chunks: 3, blocks: 2 }, {}],
    [10, { chunks: 3, blocks: 4 }, {}],
    [7, { chunks: 2, blocks: 2 }, { ...TV, block: "bottleneck", width: 4 }],
    [7, { chunks: 3, blocks: 4 }, { block: "bottleneck", groups: 2, width: 4 }],
    [7, { chunks: 2, blocks: 2 }, { ...TV, block: "preact" }],
    [7, { chunks: 2, blocks: 4 }, { block: "preact" }],
    [5, { chunks: 2, blocks: 2 }, { ...TV, stem: "cifar" }],
  ] as [number, ChunkPlan, ResNetOptions][]
) {
  const what = Object.keys(form).length ? ` (${JSON.stringify(form)})` : "";
  Deno.test(`a step in ${plan.chunks} parts through ${plan.blocks} blocks equals the whole (batch ${n})${what}`, async () => {
    const before = tf.memory().numTensors;
    const whole = new ResNet({ ...MODEL, ...form }), parts = new ResNet({ ...MODEL, ...form });
    const { x, y } = batch(n, form.stem === "cifar" ? 12 : 28);
    const stem: number[] = []; // the batches b1's convolution sees: the parts, not the whole
    const conv = parts.conv.apply.bind(parts.conv);
    parts.conv.apply = (x, o) => (stem.push(x.shape[0]), conv(x, o));
    // Momentum: the step's second use of each gradient, so a wrong one would show twice.
    const optW = new SGD(0.1, { momentum: 0.9 }), optP = new SGD(0.1, { momentum: 0.9 });
    const rw = trainStep(whole, optW, x, y, { plan: null });
    const rp = trainStep(parts, optP, x, y, { plan });
    assert.deepEqual(stem, chunkSizes(n, plan.chunks));
    assert.ok(await maxDiff(rw.loss, rp.loss) < 1e-5, "the loss");
    assert.equal((await rw.correct.data())[0], (await rp.correct.data())[0]);
    const diffs = await paramDiffs(whole, parts);
    const worst = [...diffs].sort((a, b) => b[1] - a[1])[0];
    assert.ok(worst[1] < 1e-4, `${worst[0]} differs by ${worst[1]} of its largest value`);
    assert.ok(diffs.has("b1.1.running_var") && diffs.has("b2.0.bn1.running_mean"));
    assert.ok(diffs.size === whole.params.size);
    assert.equal(whole.numBatchesTracked, parts.numBatchesTracked);
    // A second step from the updated weights: the same again (momentum buffers used).
    tf.dispose([rw.loss, rw.correct, rp.loss, rp.correct]);
    const r2w = trainStep(whole, optW, x, y, { plan: null });
    const r2p = trainStep(parts, optP, x, y, { plan });
    assert.ok(await maxDiff(r2w.loss, r2p.loss) < 1e-4, "the second step's loss");
    const worst2 = Math.max(...(await paramDiffs(whole, parts)).values());
    assert.ok(worst2 < 1e-4, `after two steps: ${worst2}`);
    // Inference in parts: the running statistics, per part.
    const lw = whole.apply(x, { training: false });
    const lp = applyFitting(parts, x, { training: false, plan });
    assert.ok(await maxDiff(lw, lp) < 1e-4, "inference logits");
    tf.dispose([r2w.loss, r2w.correct, r2p.loss, r2p.correct, lw, lp, x, y]);
    optW.dispose();
    optP.dispose();
    whole.dispose();
    parts.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  });
}

Deno.test("the parts really differ from per-part statistics (the test would catch them)", async () => {
  // Normalising each part with its own statistics gives other logits: the comparison above
  // would fail for a forward that forgot to combine them.
  const net = new ResNet(MODEL);
  const { x, y } = batch(7, 28);
  const whole = tf.tidy(() => net.apply(x, { training: true }));
  const [a, b] = tf.split(x, [4, 3], 0) as tf.Tensor4D[];
  const own = tf.tidy(() =>
    tf.concat([net.apply(a, { training: true }), net.apply(b, { training: true })], 0)
  );
  assert.ok(await maxDiff(whole, own) > 1e-3);
  tf.dispose([whole, own, a, b, x, y]);
  net.dispose();
});

Deno.test("without a limit (cpu) the step runs whole: the plan is null", async () => {
  const net = new ResNet(MODEL);
  const { x, y } = batch(4, 28);
  const a = applyFitting(net, x, { training: false });
  const b = net.apply(x, { training: false });
  assert.equal(await maxDiff(a, b), 0);
  tf.dispose([a, b, x, y]);
  net.dispose();
});
