/**
 * bench/dnnl_probe.ts: the ceiling it prints (the most of the FMA peak a ResNet-18 training step
 * could reach in its convolutions' time alone), against the arithmetic worked out by hand.
 */
import assert from "node:assert/strict";
import { peakCeiling } from "../../bench/dnnl_probe.ts";
import { inputMacs } from "../../bench/flops.ts";

Deno.test("peakCeiling: the step's FLOPs at the peak over the step's time", () => {
  // 28x28, batch 64: 17,864,704 multiply-adds an image forward (flops_test.ts), x2 FLOPs x3
  // passes x64 images = 6.859 GFLOP a step; at 400 GFLOP/s that is 17.15 ms.
  const gflop = 17_864_704 * 2 * 3 * 64 / 1e9;
  assert.equal(inputMacs({ depth: 18 }, 28), 17_864_704);
  const atPeakMs = gflop / 400 * 1e3;
  const c = (ms: number) => peakCeiling({ size: 28, batch: 64, ms, peakGflops: 400 });
  assert.ok(Math.abs(c(atPeakMs) - 1) < 1e-12);
  assert.ok(Math.abs(c(2 * atPeakMs) - 0.5) < 1e-12);
  assert.ok(Math.abs(c(30) - 17.1483 / 30) < 1e-4);
});
