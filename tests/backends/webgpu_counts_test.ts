/**
 * The GPU's workload per training step, counted on the device (lib/backends/webgpu_counts.ts):
 * after warm-up a step of the training loop (batches made and uploaded as training makes them,
 * the step, the device-side sums read every `readEvery` steps) creates no buffer and compiles no
 * pipeline, and reads back only when the sums are read. And a step in parts of the batch
 * (lib/model/chunked.ts) equals the whole step on WebGPU too.
 *
 * The software adapter is slow (about 0.4 s a step of this tiny network), so the network is
 * stages [1,1,1,1], width 8, at 28x28, batch 8. Skipped without an adapter.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { countGpuWork, NO_WORK, workBetween } from "../../lib/backends/webgpu_counts.ts";
import { currentDevice, probeAdapter } from "../../lib/backends/webgpu.ts";
import { batches } from "../../lib/data/batches.ts";
import { SGD } from "../../lib/model/fused.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { trainStep } from "../../lib/model/step.ts";
import { Accumulator } from "../../lib/run/accumulator.ts";
import { syntheticSplit } from "../synthetic_split.ts";

const probe = await probeAdapter();
const ignore = probe.adapter === null;
if (ignore) console.log(`webgpu count tests skipped: ${probe.reason}`);

const MODEL = { stages: [1, 1, 1, 1], width: 8, seed: 5 };

Deno.test({
  name: "the counter counts what a device is asked: buffers, uploads, pipelines, dispatches, reads",
  ignore,
  async fn() {
    await initBackend("webgpu");
    const counter = countGpuWork(currentDevice()!);
    assert.equal(countGpuWork(currentDevice()!), counter, "one counter per device");
    const before = counter.counts();
    const a = tf.tidy(() => tf.matMul(tf.randomUniform([64, 64]), tf.randomUniform([64, 64])));
    await a.data();
    const w = workBetween(before, counter.counts());
    assert.ok(w.dispatches >= 1 && w.submits >= 1, JSON.stringify(w));
    assert.equal(w.readbacks, 1);
    assert.ok(w.uploads >= w.dispatches, "each kernel writes its uniforms");
    a.dispose();
    assert.deepEqual(workBetween(NO_WORK, { ...NO_WORK, dispatches: 30 }, 10).dispatches, 3);
    await initBackend("cpu");
  },
});

Deno.test({
  name:
    "webgpu training loop after warm-up: no buffer created, no pipeline compiled, reads only every readEvery steps",
  ignore,
  async fn() {
    await initBackend("webgpu");
    const counter = countGpuWork(currentDevice()!);
    const net = new ResNet(MODEL), opt = new SGD(0.05);
    const split = syntheticSplit(8 * 16, 28);
    const readEvery = 3, sums = new Accumulator({ readEvery, readAfterMs: Infinity });
    const stream = batches(split, { batchSize: 8, shuffle: true, seed: 1 });
    let reads = 0;
    const steps = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const b = stream.next().value!;
        sums.add(trainStep(net, opt, b.x, b.y), b.n);
        tf.dispose([b.x, b.y]);
        if (sums.due()) {
          await sums.read();
          reads++;
        }
      }
    };
    await steps(2 * readEvery); // warm-up: pipelines compiled, the buffer pool filled
    const start = counter.counts(), readsBefore = reads;
    await steps(readEvery);
    const w = workBetween(start, counter.counts());
    const seen = JSON.stringify(w);
    assert.equal(w.pipelines, 0, `no pipeline compiled after warm-up: ${seen}`);
    // tfjs' own WebGPUBackend created 122 a step here (a staging buffer per upload).
    assert.equal(w.buffersCreated, 0, `no buffer created after warm-up: ${seen}`);
    assert.equal(reads - readsBefore, 1);
    // One read of the sums: the loss and the correct count, one mapAsync each.
    assert.equal(w.readbacks, 2, "read back only when the sums are read");
    assert.ok(w.dispatches > 100 * readEvery, "the steps ran on the GPU");
    sums.dispose();
    opt.dispose();
    net.dispose();
    await initBackend("cpu");
  },
});

Deno.test({
  name: "webgpu: a step in parts of the batch equals the whole step",
  ignore,
  async fn() {
    await initBackend("webgpu");
    const before = tf.memory().numTensors;
    const whole = new ResNet(MODEL), parts = new ResNet(MODEL);
    const x = tf.randomUniform([6, 28, 28, 1], 0, 1, "float32", 3) as tf.Tensor4D;
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5], "int32");
    const ow = new SGD(0.1), op = new SGD(0.1);
    const rw = trainStep(whole, ow, x, y, { plan: null });
    const rp = trainStep(parts, op, x, y, { plan: { chunks: 2, blocks: 1 } });
    let worst = 0;
    for (const [name, v] of whole.params) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(v, parts.params.get(name)!))));
      const s = tf.tidy(() => tf.max(tf.abs(v)));
      worst = Math.max(worst, (await d.data())[0] / Math.max((await s.data())[0], 1e-3));
      tf.dispose([d, s]);
    }
    assert.ok(worst < 1e-4, `largest relative difference ${worst}`);
    tf.dispose([rw.loss, rw.correct, rp.loss, rp.correct, x, y]);
    ow.dispose();
    op.dispose();
    whole.dispose();
    parts.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensor leaks");
    await initBackend("cpu");
  },
});
