/**
 * bench/report.ts: the table (warm-up, first step and first result for WebGPU rows, % peak and
 * % sgemm, a row above the FMA peak flagged, the ratio to the faster PyTorch reference of the same
 * task), the notes under it, the profile table, the step's split and the results file.
 */
import assert from "node:assert/strict";
import {
  aboveFmaPeak,
  appendResults,
  differentNetworks,
  fastestTorch,
  formatNotes,
  formatProfile,
  formatSplit,
  formatTable,
  netLabel,
  readResults,
  runNote,
} from "../../bench/report.ts";
import { type BenchRow, INSIDE_DNNL, type NetShape, newRow } from "../../bench/row.ts";
import { environment } from "../../bench/environment.ts";
import { peakFraction } from "../../bench/peak.ts";
import { trainingGflopPerImage } from "../../bench/flops.ts";
import { UserError } from "../../lib/errors.ts";

const R18 = { depth: 18, stages: null, width: 64 };

Deno.test("formatTable shows warm-up, first step and their sum for WebGPU rows", () => {
  const base: BenchRow = {
    impl: "webgpu",
    task: "train",
    depth: 18,
    stages: [2, 2, 2, 2],
    width: 64,
    size: 28,
    batch: 64,
    examples_per_sec: 10,
    gflop_per_image: 0.198,
    peak_fraction: null,
    sgemm_fraction: null,
    first_step_s: 0.5,
    compile_ahead: "on",
    warmup_s: 6,
    first_result_s: 6.5,
    submit_batch: 15,
    read_every: 10,
    batches: "ahead",
    steps: 20,
    seconds: 128,
    peak_rss_mb: 500,
    status: "ok",
  };
  const off: BenchRow = {
    ...base,
    compile_ahead: "off",
    warmup_s: null,
    first_step_s: 9,
    first_result_s: 9,
    status: "did not finish 20 s of steps (3 measured) in 60 s",
  };
  const t = formatTable([base, off]).split("\n");
  assert.match(t[0], /img\/s +% peak +% sgemm +warm-up +first step +first result +peak RSS/);
  assert.match(t[1], /^webgpu +18 +train +28 +64 +10\.0 +- +- +6\.00 s +0\.50 s +6\.50 s +500 MiB/);
  assert.match(t[1], /compile-ahead on, submit 15, read every 10, batches ahead$/);
  assert.match(
    t[2],
    / - +9\.00 s +9\.00 s .*off, submit 15, read every 10, batches ahead, did not/,
  );
  assert.equal(netLabel(base), "18");
  assert.equal(netLabel({ depth: null, stages: [1, 2, 1, 1], width: 16 }), "1,2,1,1 w16");
  const plain = { compile_ahead: null, submit_batch: null, read_every: 1, batches: "fixed" };
  assert.equal(runNote({ ...base, ...plain } as BenchRow), "");
});

/** A finished row of ResNet-18 at `size`, batch 64. */
function done(
  impl: BenchRow["impl"],
  size: number,
  examplesPerSec: number,
  peak: number | null,
  task: BenchRow["task"] = "train",
) {
  const r = newRow(impl, R18, { size, batch: 64, task });
  return {
    ...r,
    examples_per_sec: examplesPerSec,
    peak_fraction: peak,
    sgemm_fraction: peak === null ? null : peak * 2,
    first_step_s: 1,
    peak_rss_mb: 400,
  };
}

Deno.test("vs torch: against the faster of torch and torch-cl of the same shape", () => {
  const rows = [
    done("native", 28, 200, 0.4),
    done("torch", 28, 150, 0.3),
    done("torch-cl", 28, 100, 0.2),
    done("native", 96, 20, 0.65),
    done("torch", 96, 30, 0.97),
    done("torch-cl", 96, 40, 1.3),
    { ...newRow("native", R18, { size: 96, batch: 256 }), examples_per_sec: 21 },
  ];
  assert.equal(fastestTorch(rows, rows[0])?.impl, "torch");
  assert.equal(fastestTorch(rows, rows[3])?.impl, "torch-cl");
  assert.equal(fastestTorch(rows, rows[6]), undefined); // no PyTorch at batch 256
  const t = formatTable(rows).split("\n");
  assert.match(
    t[0],
    /^impl +depth +task +size +batch +img\/s +% peak +% sgemm +first step +peak RSS +params +vs torch/,
  );
  assert.match(
    t[1],
    /^native +18 +train +28 +64 +200\.0 +40\.0% +80\.0% +1\.00 s +400 MiB +- +1\.33x$/,
  );
  assert.match(t[2], /^torch +18 +train +28 +64 +150\.0 +30\.0% .* 1\.00x$/);
  assert.match(t[3], /^torch-cl +18 +train +28 +64 +100\.0 +20\.0% .* 0\.67x$/);
  assert.match(t[4], /^native +18 +train +96 +64 +20\.0 +65\.0% .* 0\.50x$/);
  assert.match(t[5], /^torch +18 +train +96 +64 +30\.0 +97\.0% .* 0\.75x$/);
  // Above 100% of the FMA peak: "!" in the column and the note says what it means.
  assert.match(t[6], /^torch-cl +18 +train +96 +64 +40\.0 +130\.0%! .* 1\.00x +ABOVE THE FMA PEAK/);
  assert.match(t[7], /^native +18 +train +96 +256 +21\.0 +- +- +- +- +- +-$/);
  // A reference that did not finish is no reference.
  const failed = { ...rows[1], examples_per_sec: null, status: "did not finish in 240 s" };
  assert.equal(fastestTorch([rows[0], failed], rows[0]), undefined);
});

const SGEMM = { gflops: 58.94, n: 2048, repeats: 3, threads: 2, library: "libopenblas.so.0" };
const FMA = {
  gflops: 387.04,
  gflops_1thread: 208.0,
  isa: "AVX-512",
  threads: 2,
  accumulators: 12,
  iterations: 1e8,
  repeats: 5,
};

Deno.test("formatNotes: what % peak, % sgemm and vs torch divide by, what was left out", () => {
  const rows = [
    done("native", 28, 200, 0.4),
    done("native", 96, 20, 0.6),
    done("native", 96, 60, 0.1, "eval"),
  ];
  const skipped = ["cpu (pure JS, > 1 min per ResNet-18 step here; --impls cpu to run it)"];
  const [peak, ofSgemm, vs, skip] = formatNotes(rows, { fma: FMA, sgemm: SGEMM }, skipped);
  assert.match(
    peak,
    /^% peak: img\/s x GFLOP per image \(0\.107 train at 28x28, 1\.59 train at 96x96, 0\.529 eval at 96x96;/,
  );
  assert.match(
    peak,
    /the FMA peak, 387\.0 GFLOP\/s on 2 threads \(AVX-512, 12 accumulators; one thread 208\.0;/,
  );
  assert.match(ofSgemm, /^% sgemm: .*sgemm 2048\^3 on 2 threads, 58\.9 GFLOP\/s/);
  assert.match(vs, /faster of torch and torch-cl .* same shape and task/);
  assert.equal(skip, `skipped: ${skipped[0]}`);
  assert.equal(formatNotes(rows, { fma: FMA, sgemm: SGEMM }, []).length, 3);
  const none = formatNotes(
    rows,
    { fma: { error: "aarch64: why" }, sgemm: { error: "no BLAS" } },
    [],
  );
  assert.equal(none[0], "% peak: peak: not measured (aarch64: why)");
  assert.match(none[1], /^% sgemm: no sgemm rate \(no BLAS\)/);
});

Deno.test("aboveFmaPeak: img/s x GFLOP per image over the FMA peak, flagged above 100%", () => {
  const gflop = trainingGflopPerImage({ depth: 18 }, 96); // 1.586... GFLOP per training image
  // 387 GFLOP/s allow 387 / 1.586 = 244.0 training images/s at 96x96 and no more.
  const at = (examplesPerSec: number) => ({
    peak_fraction: peakFraction(examplesPerSec, gflop, 387),
  });
  assert.ok(Math.abs(387 / gflop - 244.0) < 0.1);
  assert.equal(aboveFmaPeak(at(243.9)), false);
  assert.equal(aboveFmaPeak(at(244.1)), true);
  assert.equal(aboveFmaPeak(at(387 / gflop)), false); // exactly the peak is possible
  assert.equal(aboveFmaPeak({ peak_fraction: null }), false); // no peak: nothing to flag
  // The figures: native 125.8 img/s at 96x96 was 62% of 387 and 749 img/s at 28x28 38%
  // with the padding counted; without it 52% and 21%.
  assert.equal(peakFraction(125.8, gflop, 387)!.toFixed(2), "0.52");
  assert.equal(
    peakFraction(749, trainingGflopPerImage({ depth: 18 }, 28), 387)!.toFixed(2),
    "0.21",
  );
  const rows = [done("native", 28, 200, 0.4), done("torch", 28, 150, 1.07)];
  const lines = formatNotes(rows, { fma: FMA, sgemm: SGEMM }, []);
  assert.deepEqual(lines.filter((l) => l.startsWith("IMPLAUSIBLE")), [
    "IMPLAUSIBLE: torch ResNet-18 train 28x28 batch 64 at 107.0% of the measured FMA peak: " +
    "a FLOP count or a timing is wrong",
  ]);
});

Deno.test("vs torch: eval rows against eval rows, training against training", () => {
  const rows = [
    done("native", 28, 900, 0.4, "eval"),
    done("torch", 28, 2000, 0.3, "train"),
    done("torch", 28, 600, 0.3, "eval"),
  ];
  assert.equal(fastestTorch(rows, rows[0]), rows[2]);
  assert.match(formatTable(rows).split("\n")[1], /^native +18 +eval .* 1\.50x$/);
});

Deno.test("formatSplit: where a step's wall time went, with shares of the wall time", () => {
  assert.equal(
    formatSplit({
      wall_ms: 200,
      unprofiled_ms: 190,
      dnnl_ms: 120,
      blas_ms: 10,
      kernel_js_ms: 30,
      between_ms: 40,
      dnnl_calls: 300,
      blas_calls: 6,
      kernels: 450,
    }),
    "step 200.0 ms (190.0 without tf.profile): oneDNN 120.0 ms 60.0% (300 calls), " +
      "BLAS sgemm 10.0 ms 5.0% (6 calls), kernels' JS 30.0 ms 15.0% (450 kernels), " +
      "between kernels 40.0 ms 20.0%",
  );
});

Deno.test("formatProfile: ms per kernel, share, calls, and the total", () => {
  const p = formatProfile([
    { kernel: "Conv2D", ms: 75, calls: 19 },
    { kernel: "Add", ms: 25, calls: 52 },
  ]).split("\n");
  assert.match(p[0], /^Conv2D +75\.0 ms +75\.0% +19 calls$/);
  assert.match(p[1], /^Add +25\.0 ms +25\.0% +52 calls$/);
  assert.match(p[2], /^total +100\.0 ms$/);
});

Deno.test("appendResults: one line per row with the environment; old lines kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/new/rows.jsonl`;
    assert.equal(await readResults(file), "");
    const env = await environment(null, null);
    const row = { ...done("native", 28, 200, 0.4), profile: [{ kernel: "Add", ms: 1, calls: 1 }] };
    await appendResults(file, env, [row], "deno task bench a");
    await appendResults(file, { ...env, loadavg_at_end: [1, 2, 3] }, [row, row], "b");
    const lines = (await Deno.readTextFile(file)).split("\n");
    assert.equal(lines.at(-1), "");
    const rows = lines.slice(0, -1).map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => r.command), ["deno task bench a", "b", "b"]);
    assert.equal(rows[0].impl, "native");
    assert.equal(rows[0].date, env.date);
    assert.equal(rows[0].profile, undefined); // profiles are printed, not stored
    assert.deepEqual(rows[2].loadavg_at_end, [1, 2, 3]);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(`${dir}/new`))).map((e) => e.name), [
      "rows.jsonl",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readResults: a folder that is a file is one line (UserError)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "");
    await assert.rejects(readResults(`${dir}/f/rows.jsonl`), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^cannot append to .*\/f\/rows\.jsonl: /);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatProfile shows the time inside oneDNN apart, not added to the total", () => {
  const lines = formatProfile([
    { kernel: "Conv2D", ms: 30, calls: 2 },
    { kernel: "Add", ms: 10, calls: 4 },
    { kernel: INSIDE_DNNL, ms: 25, calls: 2 },
  ]).split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[2], /^total\s+40\.0 ms$/);
  assert.match(lines[3], /^\(inside oneDNN\)\s+25\.0 ms\s+62\.5%\s+2 calls \(part of/);
});

Deno.test("netLabel: the form, a block the depth does not imply, ResNeXt's groups", () => {
  const tv50 = { depth: 50, stages: null, width: 64, arch: "torchvision" as const };
  const row = (net: NetShape) => newRow("native", net, { size: 28, batch: 64 });
  assert.equal(netLabel(row(tv50)), "50 tv");
  assert.equal(netLabel(row({ ...tv50, arch: "d2l" })), "50");
  assert.equal(netLabel(row({ ...tv50, groups: 32, widthPerGroup: 4 })), "50 32x4d tv");
  assert.equal(netLabel(row({ ...R18, block: "preact" })), "18 preact");
  const tiny = { depth: 18, stages: [1, 1, 1, 1], width: 8, block: "bottleneck" as const };
  assert.equal(netLabel(row(tiny)), "1,1,1,1 w8 bottleneck");
  // Rows saved before the fields: d2l's basic ResNets.
  assert.equal(netLabel({ depth: 34, stages: [3, 4, 6, 3], width: 64 }), "34");
  // The row records the resolved form.
  const r = row(tv50);
  assert.deepEqual([r.arch, r.block, r.groups, r.width_per_group, r.depth], [
    "torchvision",
    "bottleneck",
    1,
    64,
    50,
  ]);
  assert.deepEqual(r.stages, [3, 4, 6, 3]);
  assert.equal(r.stem, "d2l");
});

Deno.test("netLabel and the row: the cifar stem (train --recipe fast's network) is named", () => {
  const fast = { depth: 18, stages: null, width: 16, stem: "cifar" as const };
  const row = (net: NetShape) => newRow("torch", net, { size: 28, batch: 256 });
  const r = row(fast);
  assert.equal(r.stem, "cifar");
  assert.equal(JSON.parse(JSON.stringify(r)).stem, "cifar"); // a field of --json and the file
  assert.equal(netLabel(r), "18 w16 cifar");
  assert.equal(netLabel(row({ ...fast, width: 64 })), "18 cifar");
  assert.equal(netLabel(row({ ...fast, arch: "torchvision" })), "18 w16 cifar tv");
  // Only the stem differs: a different label, so "vs torch" never compares across stems.
  assert.notEqual(netLabel(row({ ...fast, stem: "d2l" })), netLabel(r));
  assert.equal(netLabel(row({ ...fast, stem: "d2l" })), "18 w16");
  // The FLOPs of "% peak" are the cifar stem's: 28x28 all the way into b2.
  assert.equal(
    r.gflop_per_image,
    trainingGflopPerImage({ depth: 18, width: 16, stem: "cifar" }, 28),
  );
  assert.ok(r.gflop_per_image > row({ ...fast, stem: "d2l" }).gflop_per_image);
});

Deno.test("params: a column, and rows compared with different counts are called out", () => {
  const tv50 = { depth: 50, stages: null, width: 64, arch: "torchvision" as const };
  const at = (impl: BenchRow["impl"], params: number, net: NetShape = tv50) => ({
    ...newRow(impl, net, { size: 28, batch: 64 }),
    examples_per_sec: 100,
    params,
  });
  const same = [at("native", 23_522_250), at("torch", 23_522_250)];
  assert.match(formatTable(same).split("\n")[1], /^native +50 tv +train .* 23,522,250 +1\.00x$/);
  assert.deepEqual(differentNetworks(same), []);
  const unlike = [at("native", 23_522_250), at("torch", 23_528_522)];
  assert.deepEqual(differentNetworks(unlike), [
    "DIFFERENT NETWORKS: native ResNet-50 tv has 23,522,250 parameters, torch 23,528,522: " +
    "the ratio compares unlike nets",
  ]);
  const notes = formatNotes(unlike, { fma: null, sgemm: null }, []);
  assert.ok(notes.some((n) => n.startsWith("DIFFERENT NETWORKS")));
  // A torch row of another form is neither the reference nor a mismatch.
  const d2l = at("torch", 25_000_000, { ...tv50, arch: "d2l" });
  assert.equal(fastestTorch([same[0], d2l], same[0]), undefined);
  assert.deepEqual(differentNetworks([same[0], d2l]), []);
});
