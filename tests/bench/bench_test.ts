/**
 * `deno task bench`'s WebGPU flags (issue 8): --compile-ahead, --submit-batch, --read-every,
 * --stages/--width. Bad values are one line and exit 2; tiny runs show the new row fields; the
 * deferred-submit batch size of lib/webgpu.ts and its environment override.
 */
import assert from "node:assert/strict";
import { type BenchRow, formatTable, netLabel, runNote } from "../../bench/bench.ts";
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

const jsonRows = (stdout: string): BenchRow[] =>
  stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

for (
  const [args, pattern] of [
    [["--compile-ahead", "sometimes"], /--compile-ahead.*'sometimes'.*off, on, both/],
    [["--submit-batch", "0"], /--submit-batch.*'0'.*positive integer/],
    [["--submit-batch", "1,x"], /--submit-batch.*'1,x'.*positive integer/],
    [["--read-every", "-1"], /--read-every.*'-1'.*positive integer/],
    [["--stages", "1,1,1"], /--stages.*'1,1,1'.*four positive integers/],
    [["--width", "0"], /--width.*'0'.*positive integer/],
    [["--depth", "50"], /--depth 50: use 18 or 34/],
    [["--sizes", ","], /--sizes is empty/],
    [
      ["--batches", "fixed,streamed"],
      /--batches.*unknown batch source streamed: use fixed, inline/,
    ],
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
    ...["--read-every", "1,2", "--batches", "fixed,ahead", "--json"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rows = jsonRows(r.stdout);
  assert.deepEqual(rows.map((q) => [q.read_every, q.batches]), [
    [1, "fixed"],
    [1, "ahead"],
    [2, "fixed"],
    [2, "ahead"],
  ]);
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
    assert.ok(q.img_per_s! > 0);
    assert.equal(q.steps % q.read_every!, 0, `steps ${q.steps}`);
    assert.ok(q.steps >= 2);
  }
});

Deno.test("bench table: the net, the note column and read every", async () => {
  const r = await bench(["--impls", "cpu,torch", ...TINY, ...SHORT, "--read-every", "3"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0], /^ResNet 1,1,1,1 w8 training/);
  assert.match(
    lines[1],
    /^impl +depth +size +batch +img\/s +first step +peak RSS +vs torch +note$/,
  );
  assert.match(lines[2], /^cpu +1,1,1,1 w8 +16 +4 +\d+\.\d +\d+\.\d\d s .* read every 3$/);
  // d2l's PyTorch code builds only ResNet-18/34 of width 64: said, not run.
  assert.match(lines[3], /^torch .*skipped: bench\/torch_reference\.py builds ResNet-18 and -34/);
});

Deno.test("formatTable shows warm-up, first step and their sum for WebGPU rows", () => {
  const base: BenchRow = {
    impl: "webgpu",
    depth: 18,
    stages: [2, 2, 2, 2],
    width: 64,
    size: 28,
    batch: 64,
    img_per_s: 10,
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
  assert.match(t[0], /img\/s +warm-up +first step +first result +peak RSS/);
  assert.match(t[1], /^webgpu +18 +28 +64 +10\.0 +6\.00 s +0\.50 s +6\.50 s +500 MiB/);
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
        ...["--compile-ahead", "both", "--submit-batch", "5", "--json"],
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
      assert.ok(q.img_per_s! > 0);
    }
    assert.equal(off.compile_ahead, "off");
    assert.equal(off.warmup_s, null);
    assert.equal(off.first_result_s, off.first_step_s);
    assert.equal(on.compile_ahead, "on");
    assert.ok(on.warmup_s! > 0);
    assert.ok(Math.abs(on.first_result_s! - (on.warmup_s! + on.first_step_s!)) < 1e-9);
  },
});
