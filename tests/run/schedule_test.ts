import assert from "node:assert/strict";
import {
  lrAt,
  perStep,
  SCHEDULES,
  type ScheduleSettings,
  warmupOf,
} from "../../lib/run/schedule.ts";
import { assertClose } from "../golden.ts";

const lrs = (s: ScheduleSettings) => Array.from({ length: s.epochs }, (_, e) => lrAt(s, e));

Deno.test("constant: the given rate itself every epoch (d2l's recipe, bit for bit)", () => {
  assert.deepEqual(lrs({ lr: 0.05, epochs: 4 }), [0.05, 0.05, 0.05, 0.05]);
  assert.deepEqual(lrs({ lr: 0.05, epochs: 3, schedule: "constant" }), [0.05, 0.05, 0.05]);
});

Deno.test("step: x0.1 from 50% and x0.01 from 75% of the epochs (MultiStepLR)", () => {
  assertClose(
    lrs({ lr: 0.1, epochs: 8, schedule: "step" }),
    [0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001],
    1e-15,
  );
  // 10 epochs: milestones after epoch 5 (t = 0.5) and epoch 8 (t = 0.8 >= 0.75).
  assertClose(
    lrs({ lr: 1, epochs: 10, schedule: "step" }),
    [1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01],
    1e-15,
  );
});

Deno.test("cosine: PyTorch's CosineAnnealingLR(T_max = epochs) stepped per epoch", () => {
  const E = 5,
    want = Array.from({ length: E }, (_, e) => 0.1 * (1 + Math.cos(Math.PI * e / E)) / 2);
  assertClose(lrs({ lr: 0.1, epochs: E, schedule: "cosine" }), want, 1e-15);
  // By hand: [0.1, 0.0905, 0.0655, 0.0345, 0.0095].
  assertClose(lrs({ lr: 0.1, epochs: E, schedule: "cosine" }), [
    0.1,
    0.09045,
    0.06545,
    0.03455,
    0.00955,
  ], 1e-5);
});

Deno.test("warm-up: a linear ramp of W epochs to the rate, then the schedule over the rest", () => {
  // W = 2: lr/3, 2lr/3, then cosine over the 4 epochs left.
  assertClose(lrs({ lr: 0.3, epochs: 6, schedule: "cosine", warmupEpochs: 2 }), [
    0.1,
    0.2,
    0.3,
    0.3 * (1 + Math.cos(Math.PI / 4)) / 2,
    0.15,
    0.3 * (1 + Math.cos(3 * Math.PI / 4)) / 2,
  ], 1e-15);
  assertClose(lrs({ lr: 0.1, epochs: 3, warmupEpochs: 1 }), [0.05, 0.1, 0.1], 1e-15);
  // Step milestones count from the end of the warm-up: 4 epochs after it, x0.1 from its third.
  assertClose(
    lrs({ lr: 1, epochs: 5, schedule: "step", warmupEpochs: 1 }),
    [0.5, 1, 1, 0.1, 0.01],
    1e-15,
  );
});

Deno.test("onecycle: warm-up over 30% of the epochs unless given, then cosine to 0", () => {
  assert.equal(warmupOf({ lr: 1, epochs: 10, schedule: "onecycle" }), 3);
  assert.equal(warmupOf({ lr: 1, epochs: 2, schedule: "onecycle" }), 1);
  assert.equal(warmupOf({ lr: 1, epochs: 1, schedule: "onecycle" }), 0);
  assert.equal(warmupOf({ lr: 1, epochs: 10, schedule: "onecycle", warmupEpochs: 1 }), 1);
  assert.equal(warmupOf({ lr: 1, epochs: 10, schedule: "cosine" }), 0);
  const cos = (t: number) => (1 + Math.cos(Math.PI * t)) / 2;
  assertClose(
    lrs({ lr: 1, epochs: 10, schedule: "onecycle" }),
    [0.25, 0.5, 0.75, ...[0, 1, 2, 3, 4, 5, 6].map((k) => cos(k / 7))],
    1e-15,
  );
  assert.deepEqual(lrs({ lr: 1, epochs: 1, schedule: "onecycle" }), [1]);
});

Deno.test("every schedule starts at or below the rate and never rises after the warm-up", () => {
  for (const schedule of SCHEDULES) {
    for (const warmupEpochs of [0, 2]) {
      const r = lrs({ lr: 0.1, epochs: 12, schedule, warmupEpochs });
      const w = warmupOf({ lr: 0.1, epochs: 12, schedule, warmupEpochs });
      assert.ok(r.every((x) => x > 0 && x <= 0.1), `${schedule}: ${r}`);
      for (let e = w + 1; e < r.length; e++) assert.ok(r[e] <= r[e - 1], `${schedule} at ${e}`);
    }
  }
});

Deno.test("linear: falls every step to lr / steps at the last one; the others ignore steps", () => {
  const s: ScheduleSettings = { lr: 0.2, epochs: 2, schedule: "linear" };
  const steps = 4;
  const r = [0, 1].flatMap((e) => Array.from({ length: steps }, (_, b) => lrAt(s, e, b / steps)));
  assertClose(r, [0.2, 0.175, 0.15, 0.125, 0.1, 0.075, 0.05, 0.025], 1e-12);
  assert.ok(perStep("linear") && !perStep("cosine") && !perStep(undefined));
  // A per-epoch schedule gives the epoch's rate at every step of it.
  const c: ScheduleSettings = { lr: 0.2, epochs: 2, schedule: "cosine" };
  assert.equal(lrAt(c, 1, 0.75), lrAt(c, 1));
  // Warm-up epochs stay per-epoch ramps; the decay starts after them.
  const w: ScheduleSettings = { ...s, epochs: 3, warmupEpochs: 1 };
  assertClose([lrAt(w, 0, 0.5), lrAt(w, 1, 0), lrAt(w, 2, 0.5)], [0.1, 0.2, 0.05], 1e-12);
});
