/**
 * The deeper and wider networks against PyTorch on WebGPU: the same references and checks as
 * deeper_golden_test.ts (tests/golden/deeper_*.safetensors from tools/golden/deeper.py: state_dict
 * layout, logits in both modes, one SGD step's gradients, BatchNorm's running statistics) and the
 * same tolerances (tests/golden.ts' DEEPER_*), for the small bottleneck, grouped (ResNeXt, both
 * forms) and pre-activation nets. WebGPU runs grouped convolutions as tfjs' composite, one
 * convolution per group (lib/model/fused.ts). Runs on any adapter, the software one (Mesa
 * llvmpipe) included; skipped with the probe's reason where no adapter exists.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import "../../lib/backends/setup.ts"; // the cpu backend and every gradient
import { initBackend } from "../../lib/backends/choose.ts";
import { probeAdapter } from "../../lib/backends/webgpu.ts";
import { checkDeeperGolden } from "../golden.ts";

const NETS = ["tv_bottleneck", "tv_resnext", "d2l_resnext", "d2l_preact_cifar"];

const probe = await probeAdapter();
const ignore = probe.adapter === null;
if (ignore) console.log(`webgpu deeper parity tests skipped: ${probe.reason}`);
else {
  await initBackend("webgpu");
  // Otherwise tfjs runs small ops with CPU-resident inputs on the CPU, and we would not test WebGPU.
  tf.env().set("WEBGPU_CPU_FORWARD", false);
}

for (const name of NETS) {
  Deno.test({
    name: `webgpu: ${name} equals PyTorch (logits, gradients, running statistics)` +
      (ignore ? ` (ignored: ${probe.reason})` : ""),
    ignore,
    fn: async () => {
      await tf.setBackend("webgpu");
      assert.equal(tf.getBackend(), "webgpu");
      await checkDeeperGolden(name);
    },
  });
}
