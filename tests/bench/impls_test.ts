/**
 * bench/impls.ts: what a run without --impls measures and what it leaves out, with the reason
 * and the flag that asks for it.
 */
import assert from "node:assert/strict";
import { defaultImpls, webgpuSkipReason } from "../../bench/impls.ts";
import type { AdapterDetails, AdapterProbe } from "../../lib/backends/webgpu.ts";

const adapter = (description: string, software: boolean): AdapterProbe => ({
  adapter: {
    vendor: software ? "65541" : "nvidia",
    architecture: "",
    description,
    software,
    api: "default",
    limits: {} as AdapterDetails["limits"],
    features: [],
  },
  gpu: {} as GPUAdapter,
});

Deno.test("the default: native, torch, torch-cl; cpu always left out, and how to ask for it", () => {
  const c = defaultImpls({ webgpu: "software adapter llvmpipe", torch: true });
  assert.deepEqual(c.impls, ["native", "torch", "torch-cl"]);
  assert.deepEqual(c.skipped, [
    "webgpu (software adapter llvmpipe; --impls webgpu to run it)",
    "cpu (pure JS, > 1 min per ResNet-18 step here; --impls cpu to run it)",
  ]);
});

Deno.test("the default with a GPU and without PyTorch", () => {
  const c = defaultImpls({ webgpu: null, torch: false });
  assert.deepEqual(c.impls, ["native", "webgpu"]);
  assert.equal(c.skipped.length, 3);
  assert.match(c.skipped[0], /^cpu /);
  assert.match(c.skipped[1], /^torch \(no python3 with PyTorch: apt-get install python3-torch/);
  assert.match(c.skipped[2], /^torch-cl \(no python3 with PyTorch/);
});

Deno.test("webgpuSkipReason: software adapters and missing ones are left out, GPUs are not", () => {
  assert.equal(webgpuSkipReason(adapter("NVIDIA H100", false)), null);
  assert.match(
    webgpuSkipReason(adapter("llvmpipe (LLVM 15.0.6, 256 bits)", true))!,
    /^software adapter llvmpipe \(LLVM 15\.0\.6, 256 bits\).*about 90 s per ResNet-18 step here$/,
  );
  const none: AdapterProbe = { adapter: null, gpu: null, reason: "no WebGPU adapter was found" };
  assert.equal(webgpuSkipReason(none), "no WebGPU adapter was found");
});
