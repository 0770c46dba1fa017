/**
 * bench/report.ts: the table (warm-up, first step and first result for WebGPU rows, % peak, the
 * ratio to the faster PyTorch reference), the notes under it, the profile table and the results
 * file.
 */
import assert from "node:assert/strict";
import {
  appendResults,
  fastestTorch,
  formatNotes,
  formatProfile,
  formatTable,
  netLabel,
  readResults,
  runNote,
} from "../../bench/report.ts";
import { type BenchRow, INSIDE_DNNL, newRow } from "../../bench/row.ts";
import { environment } from "../../bench/environment.ts";
import { UserError } from "../../lib/errors.ts";

const R18 = { depth: 18, stages: null, width: 64 };

Deno.test("formatTable shows warm-up, first step and their sum for WebGPU rows", () => {
  const base: BenchRow = {
    impl: "webgpu",
    depth: 18,
    stages: [2, 2, 2, 2],
    width: 64,
    size: 28,
    batch: 64,
    img_per_s: 10,
    gflop_per_image: 0.198,
    peak_fraction: null,
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
  assert.match(t[0], /img\/s +% peak +warm-up +first step +first result +peak RSS/);
  assert.match(t[1], /^webgpu +18 +28 +64 +10\.0 +- +6\.00 s +0\.50 s +6\.50 s +500 MiB/);
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
function done(impl: BenchRow["impl"], size: number, imgPerS: number, peak: number | null) {
  const r = newRow(impl, R18, { size, batch: 64 });
  return { ...r, img_per_s: imgPerS, peak_fraction: peak, first_step_s: 1, peak_rss_mb: 400 };
}

Deno.test("vs torch: against the faster of torch and torch-cl of the same shape", () => {
  const rows = [
    done("native", 28, 200, 0.4),
    done("torch", 28, 150, 0.3),
    done("torch-cl", 28, 100, 0.2),
    done("native", 96, 20, 0.65),
    done("torch", 96, 30, 0.97),
    done("torch-cl", 96, 40, 1.3),
    { ...newRow("native", R18, { size: 96, batch: 256 }), img_per_s: 21 },
  ];
  assert.equal(fastestTorch(rows, rows[0])?.impl, "torch");
  assert.equal(fastestTorch(rows, rows[3])?.impl, "torch-cl");
  assert.equal(fastestTorch(rows, rows[6]), undefined); // no PyTorch at batch 256
  const t = formatTable(rows).split("\n");
  assert.match(t[0], /^impl +depth +size +batch +img\/s +% peak +first step +peak RSS +vs torch/);
  assert.match(t[1], /^native +18 +28 +64 +200\.0 +40\.0% +1\.00 s +400 MiB +1\.33x$/);
  assert.match(t[2], /^torch +18 +28 +64 +150\.0 +30\.0% .* 1\.00x$/);
  assert.match(t[3], /^torch-cl +18 +28 +64 +100\.0 +20\.0% .* 0\.67x$/);
  assert.match(t[4], /^native +18 +96 +64 +20\.0 +65\.0% .* 0\.50x$/);
  assert.match(t[5], /^torch +18 +96 +64 +30\.0 +97\.0% .* 0\.75x$/);
  assert.match(t[6], /^torch-cl +18 +96 +64 +40\.0 +130\.0% .* 1\.00x$/);
  assert.match(t[7], /^native +18 +96 +256 +21\.0 +- +- +- +-$/);
  // A reference that did not finish is no reference.
  const failed = { ...rows[1], img_per_s: null, status: "did not finish in 240 s" };
  assert.equal(fastestTorch([rows[0], failed], rows[0]), undefined);
});

Deno.test("formatNotes: what % peak and vs torch divide by, and what was left out", () => {
  const rows = [done("native", 28, 200, 0.4), done("native", 96, 20, 0.6)];
  const sgemm = { gflops: 58.94, n: 2048, repeats: 3, threads: 2, library: "libopenblas.so.0" };
  const skipped = ["cpu (pure JS, > 1 min per ResNet-18 step here; --impls cpu to run it)"];
  const [peak, vs, skip] = formatNotes(rows, sgemm, skipped);
  assert.match(
    peak,
    /^% peak: img\/s x training GFLOP per image \(0\.198 at 28x28, 1\.91 at 96x96;/,
  );
  assert.match(peak, /sgemm 2048\^3 on 2 threads, 58\.9 GFLOP\/s/);
  assert.match(vs, /faster of torch and torch-cl/);
  assert.equal(skip, `skipped: ${skipped[0]}`);
  assert.equal(formatNotes(rows, sgemm, []).length, 2);
  assert.match(
    formatNotes(rows, { error: "no BLAS" }, [])[0],
    /^% peak: no sgemm rate \(no BLAS\)/,
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
