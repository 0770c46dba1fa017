/**
 * `info` states no machine's figure as if it held everywhere: only what the bench measured on
 * this machine, from its saved results, or nothing.
 */
import assert from "node:assert/strict";
import { benchLine, type BenchRow } from "../../cli/bench_results.ts";
import { SOFTWARE_ADAPTER_NOTE } from "../../lib/backends/webgpu.ts";

const HERE = { cpu: "Some CPU", cores: 8, os: "linux" };
const row = (over: Partial<BenchRow>): BenchRow => ({
  date: "2026-01-01T00:00:00Z",
  machine: HERE,
  impl: "native",
  depth: 18,
  size: 28,
  batch: 64,
  examples_per_sec: 100,
  status: "ok",
  ...over,
});

Deno.test("benchLine: this machine's latest measurement per implementation, else nothing", () => {
  const rows = [
    row({ examples_per_sec: 100 }),
    row({ date: "2026-02-01T00:00:00Z", examples_per_sec: 120.25 }),
    row({ impl: "torch", examples_per_sec: 90 }),
    row({ impl: "torch", machine: { ...HERE, cores: 2 }, examples_per_sec: 9999 }), // another machine
    row({
      impl: "webgpu",
      status: "did not finish its first step in 150 s",
      examples_per_sec: null,
    }),
    row({ size: 96, examples_per_sec: 5555 }),
    // Not d2l's ResNet-18: torchvision's form, another width.
    row({ date: "2026-03-01T00:00:00Z", arch: "torchvision", examples_per_sec: 7777 }),
    row({ date: "2026-03-01T00:00:00Z", width: 8, examples_per_sec: 8888 }),
  ];
  assert.equal(
    benchLine(rows, HERE),
    "bench here (Some CPU, 8 cores; latest 2026-02-01): ResNet-18 training at 28x28, batch 64: " +
      "native 120.3, torch 90.0 images/s",
  );
  assert.equal(benchLine(rows, { ...HERE, cpu: "Other CPU" }), null);
});

Deno.test("the software-adapter note printed by train, eval and info carries no figure", () => {
  assert.doesNotMatch(SOFTWARE_ADAPTER_NOTE, /\d/);
});
