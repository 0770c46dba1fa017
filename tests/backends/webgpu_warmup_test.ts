/**
 * The WebGPU warm-up compiles the step's pipelines without changing anything the user can see:
 * weights, BatchNorm statistics and `numBatchesTracked` are as before, the next step computes
 * exactly what it computes without a warm-up, and that step compiles nothing new.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { trainStep } from "../../lib/model/step.ts";
import { warmup } from "../../lib/backends/warmup.ts";
import { currentDevice, probeAdapter, releaseWebGPU } from "../../lib/backends/webgpu.ts";

const probe = await probeAdapter();
const ignore = probe.adapter === null;
if (ignore) console.log(`webgpu warm-up tests skipped: ${probe.reason}`);

const N = 4, SIZE = 28;
const pixels = Float32Array.from({ length: N * SIZE * SIZE }, (_, i) => (i * 7919 % 256) / 255);
const labels = Int32Array.from([3, 1, 4, 1]);

async function snapshot(net: ResNet): Promise<Map<string, Float32Array>> {
  const m = new Map<string, Float32Array>();
  for (const [k, v] of net.params) m.set(k, (await v.data()) as Float32Array);
  return m;
}

async function step(net: ResNet): Promise<{ loss: number; after: Map<string, Float32Array> }> {
  const opt = tf.train.sgd(0.1);
  const x = tf.tensor4d(pixels, [N, SIZE, SIZE, 1]);
  const y = tf.tensor1d(labels, "int32");
  const r = trainStep(net, opt, x, y);
  const loss = (await r.loss.data())[0];
  tf.dispose([x, y, r.loss, r.correct]);
  opt.dispose();
  return { loss, after: await snapshot(net) };
}

Deno.test({
  name:
    "webgpu warm-up: compiles the step, restores every tensor, and the step then compiles nothing",
  ignore,
  fn: async () => {
    await initBackend("webgpu");
    tf.env().set("WEBGPU_CPU_FORWARD", false);
    const before = tf.memory().numTensors;

    const warmed = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 7 });
    const initial = await snapshot(warmed);
    // Wrappers the device already has (a GPU work counter's) are there again afterwards.
    const gpu = currentDevice()!;
    const NAMES = ["createShaderModule", "createComputePipelineAsync"] as const;
    const mine = NAMES.map((name) => {
      const real = gpu[name].bind(gpu) as (d: never) => unknown;
      const wrapper = (d: never) => real(d);
      Object.defineProperty(gpu, name, { configurable: true, writable: true, value: wrapper });
      return wrapper;
    });
    const report = await warmup(warmed, { batch: N, size: SIZE, evalBatch: 2 });
    NAMES.forEach((name, i) => {
      assert.equal(gpu[name], mine[i], `warm-up gave back the device's own ${name}`);
      delete (gpu as unknown as Record<string, unknown>)[name];
    });
    assert.equal(report.backend, "webgpu");
    assert(report.pipelines > 20, `compiled ${report.pipelines} pipelines`);
    assert.equal(warmed.numBatchesTracked, 0);
    assert.deepEqual(await snapshot(warmed), initial, "warm-up changed no tensor");

    // The warmed step creates no pipeline: count pipeline creations on the device.
    const device = currentDevice()!;
    let created = 0;
    for (const name of ["createComputePipeline", "createComputePipelineAsync"] as const) {
      const real = device[name].bind(device) as (d: GPUComputePipelineDescriptor) => unknown;
      Object.defineProperty(device, name, {
        configurable: true,
        value: (d: GPUComputePipelineDescriptor) => (created++, real(d)),
      });
    }
    const a = await step(warmed);
    for (const name of ["createComputePipeline", "createComputePipelineAsync"]) {
      delete (device as unknown as Record<string, unknown>)[name];
    }
    assert.equal(created, 0, "the first step after warm-up compiled no pipeline");

    const plain = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 7 });
    const b = await step(plain);
    assert.equal(a.loss, b.loss);
    assert.deepEqual(a.after, b.after, "same step result with and without warm-up");
    assert.notDeepEqual(a.after.get("fc.weight"), initial.get("fc.weight"), "the step trained");

    warmed.dispose();
    plain.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
    await releaseWebGPU();
  },
});

Deno.test("warm-up does nothing off WebGPU", async () => {
  await initBackend("cpu");
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 4 });
  const r = await warmup(net, { batch: 2, size: 28 });
  assert.deepEqual({ backend: r.backend, pipelines: r.pipelines }, {
    backend: "cpu",
    pipelines: 0,
  });
  net.dispose();
});
