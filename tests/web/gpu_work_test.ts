/**
 * The page's GPU-work diagnostics (web/gpu_work.ts) on a counter driven by hand: the warm-up ends
 * at a training's first read-back, then per-step work between read-backs of one epoch; intervals
 * across a test pass, without steps or with a smaller last batch are not a step's measure.
 */
import assert from "node:assert/strict";
import { type GpuCounts, NO_WORK } from "../../lib/backends/webgpu_counts.ts";
import { StepWorkMeter } from "../../web/gpu_work.ts";

function fakeDevice() {
  let c: GpuCounts = { ...NO_WORK }, t = 0;
  return {
    counter: { counts: () => ({ ...c }) },
    now: () => t,
    /** `steps` steps of `dispatches` each over `ms`, plus the given extra work. */
    run(steps: number, ms: number, extra: Partial<GpuCounts> = {}) {
      c = { ...c, dispatches: c.dispatches + 100 * steps };
      for (const [k, v] of Object.entries(extra)) c[k as keyof GpuCounts] += v;
      t += ms;
    },
  };
}

Deno.test("web gpu work: warm-up apart, then per step between read-backs of one epoch", () => {
  const d = fakeDevice(), meter = new StepWorkMeter(d.counter, d.now);
  assert.equal(meter.mark(1, 2, 16, 8), null, "no training started");
  meter.restart(1, 0);
  d.run(2, 500, { buffersCreated: 30, pipelines: 80, readbacks: 2 });
  const warm = meter.mark(1, 2, 16, 8)!;
  assert.deepEqual([warm.warmup, warm.first, warm.last], [true, 1, 2]);
  assert.deepEqual([warm.total.buffersCreated, warm.total.pipelines], [30, 80]);
  d.run(2, 100, { readbacks: 2 });
  const w = meter.mark(1, 4, 32, 8)!;
  assert.deepEqual([w.warmup, w.epoch, w.first, w.last], [false, 1, 3, 4]);
  assert.deepEqual(w.perStep, { ...NO_WORK, dispatches: 100, readbacks: 1 });
  assert.equal(w.examplesPerSec, 160); // 16 images in 0.1 s
  // The epoch's end reads again without a step: no measure; the next epoch's first read-back
  // follows the test pass: no measure either; the one after it is.
  d.run(0, 10, { readbacks: 2 });
  assert.equal(meter.mark(1, 4, 32, 8), null);
  d.run(2, 900, { buffersCreated: 5, readbacks: 40 });
  assert.equal(meter.mark(2, 2, 16, 8), null);
  d.run(2, 100, { readbacks: 2 });
  assert.deepEqual(meter.mark(2, 4, 32, 8)!.perStep.readbacks, 1);
  // A smaller last batch (30 images in 4 steps of 8) is a shape of its own: no measure.
  d.run(1, 100, { pipelines: 3 });
  assert.equal(meter.mark(2, 5, 38, 8), null);
  // Continue from step 3 of epoch 3: its first read-back is a warm-up again, from step 4.
  meter.restart(3, 3);
  d.run(2, 100);
  assert.deepEqual(
    [meter.mark(3, 5, 40, 8)].map((r) => [r!.warmup, r!.first, r!.last]),
    [[true, 4, 5]],
  );
});
