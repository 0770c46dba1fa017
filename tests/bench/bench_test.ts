/**
 * `deno task bench` end to end (bench/bench.ts): bad flags are one line and exit 2 (numbers
 * through cli/options.ts' parseNumber, each element of a list); tiny runs show the row fields,
 * the table with its "% peak", "% sgemm" and "vs torch" notes, the grid of depths and tasks
 * (training, the test pass), the default implementations and what they leave out, and where
 * results go (`--save FILE`, a git-ignored default). Also the WebGPU flags
 * of issue 8 (--compile-ahead, --submit-batch, --read-every, --stages/--width) and the
 * deferred-submit batch size of lib/backends/webgpu.ts.
 */
import assert from "node:assert/strict";
import type { BenchRow } from "../../bench/row.ts";
import { DEFAULT_RESULTS } from "../../bench/report.ts";
import { gflopPerImage, trainingGflopPerImage } from "../../bench/flops.ts";
import { detectIsa } from "../../bench/fma_peak.ts";
import { findTorchPython } from "../../bench/environment.ts";
import { countParams } from "../../lib/model/shapes.ts";
import {
  DEFAULT_SUBMIT_BATCH,
  probeAdapter,
  SUBMIT_BATCH_ENV,
  submitBatchSize,
} from "../../lib/backends/webgpu.ts";
import { UserError } from "../../lib/errors.ts";
import { describeError } from "../../cli/errors.ts";
import { runScript } from "../run_cli.ts";

const BENCH = new URL("../../bench/bench.ts", import.meta.url).pathname;
// Tiny network, 16x16, batch 4, half a second measured: a few seconds per run on the CPU.
const TINY = ["--stages", "1,1,1,1", "--width", "8", "--sizes", "16", "--batch", "4"];
const SHORT = ["--quick", "--seconds", "0.5", "--no-save"];

const bench = (args: string[], env: Record<string, string> = {}) => runScript(BENCH, args, env);

// Whether bench/fma_peak.ts has a loop for this CPU (else "% peak" is null and says why).
const fma = "isa" in
  detectIsa(await Deno.readTextFile("/proc/cpuinfo").catch(() => null), Deno.build.arch);
/**
 * Whether a bench's stderr says it measured the FMA peak. With a loop for this CPU, the only
 * excuse is other work keeping its process from finishing within its cap (a loaded test machine).
 */
function peakMeasured(stderr: string): boolean {
  const measured = /^bench: FMA peak \(/m.test(stderr);
  if (fma && !measured) assert.match(stderr, /^bench: peak: not measured \(did not finish in /m);
  if (!fma) assert.match(stderr, /^bench: peak: not measured \(/m);
  return measured;
}

const jsonRows = (stdout: string): BenchRow[] =>
  stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

for (
  const [args, pattern] of [
    [["--compile-ahead", "sometimes"], /--compile-ahead.*'sometimes'.*off, on, both/],
    [["--submit-batch", "0"], /--submit-batch.*'0'.*positive integer/],
    [["--submit-batch", "1,x"], /--submit-batch.*'1,x'.*x: give a positive integer/],
    [["--read-every", "-1"], /--read-every.*'-1'.*positive integer/],
    [["--stages", "1,1,1"], /--stages.*'1,1,1'.*four positive integers/],
    [["--width", "0"], /--width.*'0'.*positive integer/],
    [["--depth", "200"], /--depth 200: use 18, 34, 50, 101, 152 \(or --stages/],
    [["--depth", "18,51"], /--depth 51: use 18, 34, 50, 101, 152/],
    [["--depth", "50", "--block", "basic"], /depth 50 is a bottleneck ResNet, not basic/],
    [["--depth", "18", "--groups", "2"], /groups 2 and widthPerGroup 64 need the bottleneck/],
    [["--arch", "keras"], /--arch.*'keras'.*d2l, torchvision/],
    [["--stem", "resnet"], /--stem.*'resnet'.*d2l, cifar/],
    [["--tasks", "train,infer"], /--tasks.*unknown task infer: use train, eval/],
    [["--tasks", ","], /--tasks is empty/],
    [["--sizes", ","], /--sizes is empty/],
    [
      ["--batches", "fixed,streamed"],
      /--batches.*unknown batch source streamed: use fixed, inline/,
    ],
    // One number parser (cli/options.ts): integers are digits only, numbers may have exponents.
    [["--sizes", "28,1e2"], /--sizes.*'28,1e2'.*1e2: give a positive integer/],
    [["--batch", "6.4"], /--batch.*'6.4'.*positive integer/],
    [["--threads", "0x2"], /--threads.*'0x2'.*positive integer/],
    [["--seconds", "0"], /--seconds.*'0'.*positive number/],
    [["--cap", "1e400"], /--cap.*'1e400'.*positive number/],
    [
      ["--impls", "native,gpu"],
      /--impls.*unknown implementation gpu: use native, webgpu, cpu, torch, torch-cl/,
    ],
    [["--impls", ","], /--impls is empty/],
    [["--save", "--quick"], /--save.*'--quick'.*give a file name/],
    [["--worker", "cpu"], /unknown option '--worker'/],
  ] as const
) {
  Deno.test(`bench ${args.join(" ")}: one line on stderr, exit 2`, async () => {
    const r = await bench([...args, "--no-save"]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], pattern);
  });
}

Deno.test("bench --read-every 1,2 --batches fixed,ahead on cpu: a row each, whole groups", async () => {
  const r = await bench([
    ...["--impls", "cpu", ...TINY, ...SHORT],
    ...["--read-every", "1,2", "--batches", "fixed,ahead", "--json", "--seconds", "5e-1"],
    ...["--tasks", "train"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rows = jsonRows(r.stdout);
  assert.deepEqual(rows.map((q) => [q.read_every, q.batches]), [
    [1, "fixed"],
    [1, "ahead"],
    [2, "fixed"],
    [2, "ahead"],
  ]);
  const gflop = trainingGflopPerImage({ stages: [1, 1, 1, 1], width: 8 }, 16);
  const measured = peakMeasured(r.stderr);
  for (const q of rows) {
    assert.equal(q.status, "ok", q.status);
    assert.equal(q.impl, "cpu");
    assert.deepEqual(q.stages, [1, 1, 1, 1]);
    assert.equal(q.width, 8);
    assert.equal(q.depth, null);
    // Off WebGPU there is no compile-ahead and no submit batch; the first result is the step.
    assert.equal(q.compile_ahead, null);
    assert.equal(q.submit_batch, null);
    assert.equal(q.warmup_s, null);
    assert.equal(q.first_result_s, q.first_step_s);
    assert.ok(q.first_step_s! > 0);
    assert.ok(q.examples_per_sec! > 0);
    assert.equal(q.steps % q.read_every!, 0, `steps ${q.steps}`);
    assert.ok(q.steps >= 2);
    // 5e-1 s measured: the number parser takes exponents.
    assert.ok(q.seconds >= 0.5, `${q.seconds}`);
    assert.equal(q.gflop_per_image, gflop);
    assert.ok(q.sgemm_fraction! > 0, `${q.sgemm_fraction}`);
    if (measured) assert.ok(q.peak_fraction! > 0 && q.peak_fraction! < 1, `${q.peak_fraction}`);
    else assert.equal(q.peak_fraction, null);
  }
});

Deno.test("bench table: the net, % peak, the note column and read every", async () => {
  const r = await bench([
    ...["--impls", "cpu,torch", ...TINY, ...SHORT, "--read-every", "3", "--tasks", "train"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const measured = peakMeasured(r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0], /^ResNet 1,1,1,1 w8 train, images\/s/);
  assert.match(
    lines[1],
    /^impl +depth +task +size +batch +img\/s +% peak +% sgemm +first step +peak RSS +params +vs torch +note$/,
  );
  assert.match(
    lines[2],
    new RegExp(
      `^cpu +1,1,1,1 w8 +train +16 +4 +\\d+\\.\\d +${
        measured ? "\\d+\\.\\d%" : "-"
      } +\\d+\\.\\d% +\\d+\\.\\d\\d s .* read every 3$`,
    ),
  );
  // d2l's PyTorch code re-staged and narrowed: the same network, run (or said why not).
  assert.match(
    lines[3],
    await findTorchPython()
      ? /^torch +1,1,1,1 w8 +train +16 +4 +\d+\.\d /
      : /^torch .*skipped: no python3 with PyTorch/,
  );
  // The notes say what the columns divide by; nothing was left out (--impls given).
  if (measured) {
    assert.match(lines[4], /^% peak: img\/s x GFLOP per image \(0\.000318 train at 16x16;/);
    assert.match(lines[4], /the FMA peak, \d+\.\d GFLOP\/s on 2 threads \(AVX/);
    assert.match(r.stderr, /bench: FMA peak \(AVX[^)]*, 12 accumulators\) on 2 threads: \d+\.\d/);
  } else assert.match(lines[4], /^% peak: peak: not measured \(/);
  assert.match(lines[5], /^% sgemm: .*sgemm 2048\^3 on 2 threads, \d+\.\d GFLOP\/s/);
  assert.match(lines[6], /^vs torch: .*faster of torch and torch-cl/);
  assert.equal(lines.length, 7, r.stdout);
  assert.match(r.stderr, /bench: sgemm 2048\^3 on 2 threads: \d+\.\d GFLOP\/s/);
});

Deno.test("bench --depth 18,34 --tasks train,eval: depths, then tasks; eval counts the forward pass", async () => {
  const r = await bench([
    ...["--impls", "native", "--depth", "18,34", "--tasks", "train,eval", "--sizes", "16"],
    ...["--batch", "2", ...SHORT, "--seconds", "0.2", "--threads", "1", "--json"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rows = jsonRows(r.stdout);
  assert.deepEqual(rows.map((q) => [q.depth, q.task, q.status]), [
    [18, "train", "ok"],
    [18, "eval", "ok"],
    [34, "train", "ok"],
    [34, "eval", "ok"],
  ]);
  for (const q of rows) {
    assert.equal(q.gflop_per_image, gflopPerImage({ depth: q.depth! }, 16, q.task));
    assert.ok(q.examples_per_sec! > 0);
  }
  assert.deepEqual(rows.map((q) => q.read_every), [1, null, 1, null]);
});

const torchvision = await (async () => {
  const python = await findTorchPython();
  if (!python) return false;
  const args = ["-c", "import torchvision"];
  return (await new Deno.Command(python, { args, stderr: "null" }).output()).success;
})();

Deno.test({
  name: "bench --arch torchvision --block bottleneck: native and torchvision's own class, " +
    "the same network (parameters) side by side" +
    (torchvision ? "" : " (ignored: no python3 with torch and torchvision)"),
  ignore: !torchvision,
  async fn() {
    const net = ["--stages", "1,1,1,1", "--width", "8", "--block", "bottleneck"];
    const r = await bench([
      ...["--impls", "native,torch", ...net, "--arch", "torchvision", "--sizes", "16"],
      ...["--batch", "2", ...SHORT, "--seconds", "0.2", "--threads", "1", "--tasks", "train"],
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = jsonRows(r.stdout);
    const model = {
      stages: [1, 1, 1, 1],
      width: 8,
      block: "bottleneck",
      arch: "torchvision",
    } as const;
    assert.deepEqual(rows.map((q) => [q.impl, q.status, q.arch, q.block]), [
      ["native", "ok", "torchvision", "bottleneck"],
      ["torch", "ok", "torchvision", "bottleneck"],
    ]);
    for (const q of rows) {
      assert.equal(q.params, countParams(model), q.impl);
      assert.equal(q.gflop_per_image, gflopPerImage(model, 16, "train"));
      assert.ok(q.examples_per_sec! > 0);
    }
    assert.match(rows[1].detail!, /^torch \S+, torchvision \S+, 1 threads$/);
    assert.doesNotMatch(r.stderr, /DIFFERENT NETWORKS/);
  },
});

const torchHere = await findTorchPython() !== null;

Deno.test({
  name: "bench --stem cifar: native and d2l's torch code, the same network, the stem in the rows" +
    (torchHere ? "" : " (ignored: no python3 with torch)"),
  ignore: !torchHere,
  async fn() {
    const r = await bench([
      ...["--impls", "native,torch", ...TINY, "--stem", "cifar", ...SHORT, "--seconds", "0.2"],
      ...["--threads", "1", "--tasks", "train"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0], /^ResNet 1,1,1,1 w8 cifar train, images\/s/);
    assert.match(lines[2], /^native +1,1,1,1 w8 cifar +train +16 +4 +\d/);
    assert.match(lines[3], /^torch +1,1,1,1 w8 cifar +train +16 +4 +\d/);
    const params = countParams({ stages: [1, 1, 1, 1], width: 8, stem: "cifar" });
    for (const l of lines.slice(2, 4)) {
      assert.match(l, new RegExp(` ${params.toLocaleString("en-US")} `));
    }
    assert.doesNotMatch(r.stdout, /DIFFERENT NETWORKS/);
  },
});

Deno.test("bench without --impls: native, torch, torch-cl, train and eval; cpu is skipped, and said so", async () => {
  const r = await bench([...TINY, ...SHORT, "--threads", "1"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  const impls = lines.slice(2).map((l) => l.split(" ")[0]);
  assert.ok(!impls.includes("cpu"), r.stdout);
  // Rows for PyTorch when it is here (d2l's code of the same tiny network), else a skipped note.
  const torch = await findTorchPython() !== null;
  const each = torch ? ["native", "torch", "torch-cl"] : ["native"];
  // Training rows, then the test pass's (the default --tasks train,eval).
  assert.deepEqual(impls.filter((i) => each.includes(i)), [...each, ...each]);
  const tasks = lines.slice(2).filter((l) => each.includes(l.split(" ")[0]));
  assert.deepEqual(tasks.map((l) => / (train|eval) /.exec(l)?.[1]), [
    ...each.map(() => "train"),
    ...each.map(() => "eval"),
  ]);
  const skipped = lines.at(-1)!;
  assert.match(skipped, /^skipped: .*cpu \(pure JS, > 1 min per ResNet-18 step here; --impls cpu/);
  if (!torch) assert.match(skipped, /torch \(no python3 with PyTorch/);
  const probe = await probeAdapter();
  if (probe.adapter?.software) {
    assert.match(skipped, /webgpu \(software adapter .*; --impls webgpu to run it\)/);
    assert.ok(!impls.includes("webgpu"));
  }
  assert.match(r.stderr, /sgemm 2048\^3 on 1 threads/);
});

Deno.test("bench --save FILE appends rows with the environment and keeps what was there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/sub/rows.jsonl`;
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(file, '{"old":true}'); // no final newline
    const r = await bench([
      ...["--impls", "native", ...TINY, "--quick", "--seconds", "0.3", "--threads", "1"],
      ...["--save", file, "--tasks", "train"],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`results appended to ${file}`));
    const lines = (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { old: true });
    assert.equal(lines.length, 2);
    const row = lines[1];
    assert.equal(row.impl, "native");
    assert.equal(row.status, "ok");
    assert.match(row.command, /^deno task bench --impls native .*--save /);
    assert.equal(row.sgemm.n, 2048);
    assert.equal(row.sgemm.threads, 1);
    assert.ok(row.sgemm.gflops > 0);
    // % peak and % sgemm = img/s x GFLOP per image / the FMA peak and the sgemm rate of the same
    // invocation, both stored with the row.
    const ofSgemm = row.examples_per_sec * row.gflop_per_image / row.sgemm.gflops;
    assert.ok(Math.abs(row.sgemm_fraction - ofSgemm) < 1e-12, `${row.sgemm_fraction} ${ofSgemm}`);
    if (peakMeasured(r.stderr)) {
      assert.equal(row.fma_peak.threads, 1);
      const ofPeak = row.examples_per_sec * row.gflop_per_image / row.fma_peak.gflops;
      assert.ok(Math.abs(row.peak_fraction - ofPeak) < 1e-12, `${row.peak_fraction} ${ofPeak}`);
    } else {
      assert.equal(typeof row.fma_peak.error, "string");
      assert.equal(row.peak_fraction, null);
    }
    assert.match(row.detail, /OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1/);
    assert.equal(typeof row.machine.cpu, "string");
    assert.equal(row.loadavg_at_end.length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bench --save into a file that cannot be written: one line, exit 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plain`, "");
    const r = await bench([
      ...["--impls", "native", ...TINY, "--quick", "--seconds", "0.2", "--threads", "1"],
      ...["--save", `${dir}/plain/rows.jsonl`],
    ]);
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trim().split("\n").at(-1)!;
    assert.match(last, /^error: cannot append to .*plain\/rows\.jsonl: /);
    assert.ok(!r.stderr.includes("    at "), r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "the default results file is git-ignored, so a bench leaves a clone clean",
  ignore: !(await Deno.stat(new URL("../../.git", import.meta.url)).catch(() => null)),
  async fn() {
    assert.match(DEFAULT_RESULTS, /bench\/results\/local\.jsonl$/);
    const root = new URL("../../", import.meta.url).pathname;
    const out = await new Deno.Command("git", {
      args: ["-C", root, "check-ignore", "-q", "bench/results/local.jsonl"],
    }).output();
    assert.equal(out.code, 0, "bench/results/local.jsonl is not ignored by git");
  },
});

Deno.test("the deferred-submit batch size: default, environment override, bad value", () => {
  const old = Deno.env.get(SUBMIT_BATCH_ENV);
  try {
    Deno.env.delete(SUBMIT_BATCH_ENV);
    assert.equal(submitBatchSize(), DEFAULT_SUBMIT_BATCH);
    Deno.env.set(SUBMIT_BATCH_ENV, "7");
    assert.equal(submitBatchSize(), 7);
    for (const bad of ["0", "2.5", "many", "-3"]) {
      Deno.env.set(SUBMIT_BATCH_ENV, bad);
      assert.throws(submitBatchSize, (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(describeError(e)?.code, 2);
        assert.ok(!e.message.includes("\n"));
        assert.match(e.message, new RegExp(`^${SUBMIT_BATCH_ENV}=${bad}: give a positive integer`));
        return true;
      });
    }
  } finally {
    if (old === undefined) Deno.env.delete(SUBMIT_BATCH_ENV);
    else Deno.env.set(SUBMIT_BATCH_ENV, old);
  }
});

const probe = await probeAdapter();
Deno.test({
  name: "bench webgpu --compile-ahead both --submit-batch 5: two rows that say how they started",
  ignore: probe.adapter === null,
  async fn() {
    const r = await bench(
      [
        ...["--impls", "webgpu", ...TINY, ...SHORT],
        ...["--compile-ahead", "both", "--submit-batch", "5", "--json", "--tasks", "train"],
      ],
      { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    );
    assert.equal(r.code, 0, r.stderr);
    const [off, on] = jsonRows(r.stdout);
    for (const q of [off, on]) {
      assert.equal(q.status, "ok", q.status);
      assert.equal(q.submit_batch, 5);
      assert.equal(q.read_every, 1);
      assert.equal(q.batches, "fixed");
      assert.ok(q.examples_per_sec! > 0);
      // The sgemm rate is the CPU's: no fraction for WebGPU, and only WebGPU ran: none measured.
      assert.equal(q.peak_fraction, null);
    }
    assert.doesNotMatch(r.stderr, /bench: sgemm|bench: FMA peak/);
    assert.equal(off.compile_ahead, "off");
    assert.equal(off.warmup_s, null);
    assert.equal(off.first_result_s, off.first_step_s);
    assert.equal(on.compile_ahead, "on");
    assert.ok(on.warmup_s! > 0);
    assert.ok(Math.abs(on.first_result_s! - (on.warmup_s! + on.first_step_s!)) < 1e-9);
  },
});
