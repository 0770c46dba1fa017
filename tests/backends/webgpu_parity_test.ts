/**
 * WebGPU computes what PyTorch and tfjs' CPU backend compute: d2l's Residual block against the
 * golden files, the width-8 [1,1,1,1] network's logits against PyTorch's, and one SGD step against
 * the CPU backend. Runs on any adapter, the software one (Mesa lavapipe) in CI included; skips with
 * a printed reason only where no adapter exists.
 *
 * Tolerances: the golden README's float32-vs-float64 bounds (atol 1e-5 on outputs, rtol 1e-4 +
 * atol 1e-4 on gradients) hold on WebGPU too; WebGPU and CPU differ only in float32 summation
 * order, so updated weights agree within rtol 1e-4 + atol 1e-6 (relative error far under 1e-3).
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { fromTorchKey, ResNet } from "../../lib/model/resnet.ts";
import { trainStep } from "../../lib/model/step.ts";
import {
  currentDevice,
  deviceLostInfo,
  probeAdapter,
  releaseWebGPU,
} from "../../lib/backends/webgpu.ts";
import {
  assertClose,
  checkResidualGolden,
  GOLDEN_DIR,
  type GoldenTensor,
  maxAbsDiff,
  nchwToNhwc,
  readGolden,
} from "../golden.ts";

const probe = await probeAdapter();
const ignore = probe.adapter === null;
if (ignore) console.log(`webgpu parity tests skipped: ${probe.reason}`);
else {
  await initBackend("webgpu");
  // Otherwise tfjs runs small ops with CPU-resident inputs on the CPU, and we would not test WebGPU.
  tf.env().set("WEBGPU_CPU_FORWARD", false);
  await initBackend("cpu");
}

async function on<T>(backend: "webgpu" | "cpu", fn: () => Promise<T>): Promise<T> {
  await tf.setBackend(backend);
  assert.equal(tf.getBackend(), backend);
  const before = tf.memory().numTensors;
  const r = await fn();
  assert.equal(tf.memory().numTensors, before, `tensors leaked on ${backend}`);
  return r;
}

for (const file of ["residual_a.json", "residual_b.json"]) {
  Deno.test({
    name: `webgpu: golden ${file} forward (inference, training), running stats, gradients`,
    ignore,
    fn: () => on("webgpu", () => checkResidualGolden(file)),
  });
}

/** Reads a safetensors file: 8-byte little-endian header length, JSON header, raw bytes. */
function readSafetensors(bytes: Uint8Array): Map<string, { shape: number[]; data: Float32Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, h] of Object.entries(header) as [string, Record<string, never>][]) {
    if (key === "__metadata__" || h.dtype !== "F32") continue;
    const [a, b] = h.data_offsets as [number, number];
    const raw = bytes.slice(8 + n + a, 8 + n + b);
    out.set(key, { shape: h.shape, data: new Float32Array(raw.buffer) });
  }
  return out;
}

/** The golden width-8 network with PyTorch's weights, on the active backend. */
function goldenSmallNet(): ResNet {
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
  const st = readSafetensors(Deno.readFileSync(new URL("small_w8_s1111.safetensors", GOLDEN_DIR)));
  let n = 0;
  for (const [key, t] of st) {
    const name = fromTorchKey(key)!;
    const v = net.params.get(name);
    assert(v, `no parameter ${name} for ${key}`);
    const value = tf.tidy(() => {
      const raw = tf.tensor(t.data, t.shape, "float32");
      if (t.shape.length === 4) return tf.transpose(raw, [2, 3, 1, 0]);
      if (t.shape.length === 2) return tf.transpose(raw);
      return raw;
    });
    v.assign(value);
    value.dispose();
    n++;
  }
  assert.equal(n, net.params.size, "every parameter loaded");
  return net;
}

interface SmallGolden {
  labels: number[];
  input_28: GoldenTensor;
  logits_eval_28: GoldenTensor;
  logits_train_28: GoldenTensor;
}

Deno.test({
  name: "webgpu: width-8 [1,1,1,1] network logits equal PyTorch's (inference and training mode)",
  ignore,
  fn: () =>
    on("webgpu", async () => {
      const g = readGolden<SmallGolden>("small_w8_s1111.json");
      const net = goldenSmallNet();
      const x = nchwToNhwc(g.input_28);
      const ev = tf.tidy(() => net.apply(x, { training: false }));
      assertClose(await ev.data(), g.logits_eval_28.data, 1e-4, 1e-4, "logits_eval_28");
      const tr = tf.tidy(() => net.apply(x, { training: true }));
      assertClose(await tr.data(), g.logits_train_28.data, 1e-4, 1e-4, "logits_train_28");
      tf.dispose([x, ev, tr]);
      net.dispose();
    }),
});

Deno.test({
  name: "webgpu: one SGD step updates every weight and BN statistic as the CPU backend does",
  ignore,
  fn: async () => {
    const g = readGolden<SmallGolden>("small_w8_s1111.json");
    const step = (backend: "webgpu" | "cpu") =>
      on(backend, async () => {
        const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 3 });
        const opt = tf.train.sgd(0.1);
        const x = nchwToNhwc(g.input_28);
        const y = tf.tensor1d(g.labels, "int32");
        const w0 = (await net.params.get("b1.0.weight")!.data()) as Float32Array;
        const { loss, correct } = trainStep(net, opt, x, y);
        const after = new Map<string, Float32Array>();
        for (const [name, v] of net.params) after.set(name, (await v.data()) as Float32Array);
        const l = (await loss.data())[0];
        tf.dispose([x, y, loss, correct]);
        opt.dispose();
        net.dispose();
        return { loss: l, after, moved: maxAbsDiff(after.get("b1.0.weight")!, w0) };
      });
    const gpu = await step("webgpu");
    const cpu = await step("cpu");
    assertClose([gpu.loss], [cpu.loss], 1e-6, 1e-5, "loss");
    assert(gpu.moved > 1e-3, `the step moved the stem's weights (max change ${gpu.moved})`);
    let changed = 0;
    for (const [name, want] of cpu.after) {
      assertClose(gpu.after.get(name)!, want, 1e-6, 1e-4, name);
      changed++;
    }
    assert.equal(changed, 62, "every parameter compared");
  },
});

Deno.test({
  name: "webgpu: releasing the device is orderly (destroyed, not reported as lost)",
  ignore,
  fn: async () => {
    await tf.setBackend("webgpu");
    const dev = currentDevice();
    assert(dev, "the backend made its device");
    await releaseWebGPU();
    assert.equal((await dev.lost).reason, "destroyed");
    assert.equal(deviceLostInfo(), null);
    assert.equal(tf.getBackend(), "cpu");
  },
});
