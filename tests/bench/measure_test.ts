/**
 * bench/measure.ts: a row per run from its own process: a tfjs backend through bench/worker.ts,
 * PyTorch (plain and channels_last) through bench/torch_reference.py, what is skipped and why,
 * and a run killed at its cap.
 */
import assert from "node:assert/strict";
import { measure, type RunOptions, torchNetArgs } from "../../bench/measure.ts";
import { findTorchPython } from "../../bench/environment.ts";
import { gflopPerImage, trainingGflopPerImage } from "../../bench/flops.ts";
import { type NetShape, newRow, type StepSplit } from "../../bench/row.ts";
import { countParams } from "../../lib/model/shapes.ts";

const TINY: RunOptions = {
  net: { depth: 18, stages: [1, 1, 1, 1], width: 8 },
  task: "train",
  size: 16,
  batch: 2,
  seconds: 0.2,
  warmup: 0,
  cap: 120,
  profile: false,
  python: null,
  threads: 1,
  compileAhead: "off",
  submitBatch: null,
  readEvery: 1,
  batches: "fixed",
};
const R18 = { depth: 18, stages: null, width: 64 };

Deno.test("native, tiny: an ok row with its profile and the threads it was given", async () => {
  const row = await measure("native", { ...TINY, profile: true });
  assert.equal(row.status, "ok", row.status);
  assert.equal(row.impl, "native");
  assert.ok(row.examples_per_sec! > 0 && row.steps >= 2);
  assert.ok(Math.abs(row.examples_per_sec! - row.steps * 2 / row.seconds) < 1e-9);
  assert.equal(row.gflop_per_image, trainingGflopPerImage({ stages: [1, 1, 1, 1], width: 8 }, 16));
  assert.equal(row.peak_fraction, null); // the CLI fills it in with its sgemm rate
  // --threads reaches OpenBLAS and OpenMP (which oneDNN reads) in the worker.
  assert.match(row.detail!, /OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1$/);
  assert.ok(row.profile!.length > 0);
  assert.ok(row.profile!.every((k) => k.ms >= 0 && k.calls > 0 && !k.kernel.endsWith("__op")));
});

/** The split's four parts add up to the profiled step's wall time; none is negative. */
function checkSplit(s: StepSplit) {
  const parts = [s.dnnl_ms, s.blas_ms, s.kernel_js_ms, s.between_ms];
  assert.ok(Math.abs(parts.reduce((a, b) => a + b, 0) - s.wall_ms) < 1e-6, JSON.stringify(s));
  assert.ok(parts.every((p) => p >= 0), JSON.stringify(s));
  assert.ok(s.kernels > 0 && s.unprofiled_ms > 0, JSON.stringify(s));
}

Deno.test("native, tiny: the profiled step's wall time split by where it ran", async () => {
  const row = await measure("native", { ...TINY, profile: true });
  checkSplit(row.profile_split!);
});

Deno.test("native eval, tiny: batches of the test pass, forward FLOPs, its split", async () => {
  const row = await measure("native", { ...TINY, task: "eval", profile: true });
  assert.equal(row.status, "ok", row.status);
  assert.equal(row.task, "eval");
  assert.ok(row.examples_per_sec! > 0 && row.steps >= 2);
  assert.equal(row.gflop_per_image, gflopPerImage({ stages: [1, 1, 1, 1], width: 8 }, 16, "eval"));
  assert.equal(row.read_every, null); // the pass reads every batch and makes its own batches
  assert.equal(row.batches, null);
  assert.ok(!row.profile!.some((k) => k.kernel.includes("Grad"))); // no backward pass
  checkSplit(row.profile_split!);
});

Deno.test("a run killed at its cap says how far it got", async () => {
  const row = await measure("native", { ...TINY, net: R18, size: 96, batch: 64, cap: 0.5 });
  assert.equal(row.status, "did not finish its first step in 0.5 s");
  assert.equal(row.examples_per_sec, null);
});

// train --recipe fast's network: ResNet-18's stages, the cifar stem, width 16.
const FAST: NetShape = { depth: 18, stages: null, width: 16, stem: "cifar" };

Deno.test("torchNetArgs: d2l's and torchvision's stages, width and stem; null for preact", () => {
  const args = (net: NetShape) => torchNetArgs(newRow("torch", net, { size: 28, batch: 64 }));
  assert.deepEqual(args(FAST), ["--stages", "2,2,2,2", "--width", "16", "--stem", "cifar"]);
  assert.deepEqual(args(R18), ["--stages", "2,2,2,2", "--width", "64", "--stem", "d2l"]);
  assert.deepEqual(args({ depth: 34, stages: null, width: 64 }), [
    ...["--stages", "3,4,6,3", "--width", "64", "--stem", "d2l"],
  ]);
  assert.deepEqual(args({ ...FAST, arch: "torchvision" }), [
    ...["--arch", "torchvision", "--stages", "2,2,2,2", "--width", "16", "--block", "basic"],
    ...["--stem", "cifar", "--groups", "1", "--width-per-group", "64"],
  ]);
  assert.equal(args({ ...FAST, block: "preact" }), null);
  assert.equal(args({ ...R18, depth: 50 }), null); // d2l's form of the bottleneck
});

Deno.test("torch and torch-cl: skipped for other networks, and without PyTorch", async () => {
  for (const impl of ["torch", "torch-cl"] as const) {
    const preact: NetShape = { ...TINY.net, block: "preact" };
    const tiny = await measure(impl, { ...TINY, net: preact, python: "/usr/bin/python3" });
    assert.match(
      tiny.status,
      /^skipped: bench\/torch_reference\.py builds d2l's basic-block ResNets/,
    );
    const none = await measure(impl, { ...TINY, net: R18, python: null });
    assert.match(none.status, /^skipped: no python3 with PyTorch \(Debian: apt-get install/);
    assert.equal(none.impl, impl);
    assert.equal(none.read_every, null);
    assert.equal(none.batches, null);
  }
});

const python = await findTorchPython();
Deno.test({
  name: "torch-cl: d2l's ResNet-18 in channels_last, a row of its own",
  ignore: python === null,
  async fn() {
    const row = await measure("torch-cl", { ...TINY, net: R18, size: 28, python });
    assert.equal(row.status, "ok", row.status);
    assert.equal(row.impl, "torch-cl");
    assert.match(row.detail!, /^torch \S+, channels_last, 1 threads$/);
    assert.ok(row.examples_per_sec! > 0 && row.steps >= 2);
    assert.equal(row.first_result_s, row.first_step_s);
    assert.equal(row.gflop_per_image, trainingGflopPerImage({ depth: 18 }, 28));
  },
});

Deno.test({
  name: "torch: train --recipe fast's network (cifar stem, width 16), as many parameters as ours",
  ignore: python === null,
  async fn() {
    const row = await measure("torch", { ...TINY, net: FAST, size: 16, python });
    assert.equal(row.status, "ok", row.status);
    assert.equal(row.stem, "cifar");
    assert.equal(row.params, 701_930);
    assert.equal(row.params, countParams({ depth: 18, width: 16, stem: "cifar" }));
    assert.equal(
      row.gflop_per_image,
      trainingGflopPerImage({ depth: 18, width: 16, stem: "cifar" }, 16),
    );
  },
});

Deno.test({
  name: "torch --eval: d2l's test pass, forward FLOPs, compared with eval rows",
  ignore: python === null,
  async fn() {
    const row = await measure("torch", { ...TINY, net: R18, size: 28, python, task: "eval" });
    assert.equal(row.status, "ok", row.status);
    assert.equal(row.task, "eval");
    assert.ok(row.examples_per_sec! > 0 && row.steps >= 2);
    assert.equal(row.gflop_per_image, gflopPerImage({ depth: 18 }, 28, "eval"));
  },
});

Deno.test({
  name: "torch_reference.py --channels-last: the model and input really are channels_last",
  ignore: python === null,
  async fn() {
    // The script's own step: parameters and input stay channels_last through an SGD step.
    const code = [
      "import sys, torch; sys.path.insert(0, 'bench'); import torch_reference as R",
      "step, net, X = R.training_step(18, 28, 2, 0.05, channels_last=True)",
      "loss, _ = step()",
      "w = net[1][0].conv1.weight  # 64x64x3x3: the layouts differ",
      "cl = torch.channels_last",
      "print(X.is_contiguous(memory_format=cl), w.is_contiguous(memory_format=cl),",
      "      w.is_contiguous(), loss > 0)",
      "_, plain, _ = R.training_step(18, 28, 2, 0.05)",
      "print(plain[1][0].conv1.weight.is_contiguous())",
    ].join("\n");
    const root = new URL("../../", import.meta.url).pathname;
    const out = await new Deno.Command(python!, { args: ["-c", code], cwd: root }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assert.equal(text, "True True False True\nTrue", new TextDecoder().decode(out.stderr));
  },
});
