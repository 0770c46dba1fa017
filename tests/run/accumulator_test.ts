import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import {
  Accumulator,
  DivergedError,
  EpochAccumulator,
  epochStats,
} from "../../lib/run/accumulator.ts";

await initBackend("cpu");

const step = (loss: number, correct: number) => ({
  loss: tf.scalar(loss),
  correct: tf.scalar(correct, "int32"),
});

Deno.test("Accumulator: sums loss x examples and correct counts, frees every step's scalars", async () => {
  const before = tf.memory().numTensors;
  const acc = new Accumulator({ readEvery: 100, readAfterMs: 1e9 });
  acc.add(step(2, 3), 4);
  acc.add(step(1, 5), 2);
  assert.deepEqual(await acc.read(), { lossSum: 10, correct: 8, examples: 6 });
  acc.add(step(0.5, 1), 2);
  assert.deepEqual(await acc.read(), { lossSum: 11, correct: 9, examples: 8 });
  acc.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("Accumulator: due every readEvery steps, restarted by a read, and after readAfterMs", async () => {
  const acc = new Accumulator({ readEvery: 3, readAfterMs: 1e9 });
  const seen: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    acc.add(step(1, 1), 1);
    seen.push(acc.due());
    if (acc.due()) await acc.read();
  }
  assert.deepEqual(seen, [false, false, true, false]);
  acc.dispose();
  const slow = new Accumulator({ readEvery: 100, readAfterMs: 20 });
  slow.add(step(1, 1), 1);
  assert.equal(slow.due(), false);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(slow.due(), true);
  slow.dispose();
});

Deno.test("EpochAccumulator: adds the prior part's sums and times this part's steps", async () => {
  const before = tf.memory().numTensors;
  const prior = { lossSum: 6, correct: 2, examples: 4, trainSeconds: 1, wallSeconds: 3 };
  const acc = new EpochAccumulator(prior, { epoch: 2, lr: 0.1 }, { readEvery: 100 });
  acc.add(step(1, 3), 4);
  await new Promise((r) => setTimeout(r, 20));
  const sums = await acc.read(2);
  assert.deepEqual([sums.lossSum, sums.correct, sums.examples], [10, 5, 8]);
  assert.ok(acc.seconds >= 0.015 && sums.trainSeconds === 1 + acc.seconds, `${acc.seconds}`);
  assert.ok(sums.wallSeconds >= 3.015 && acc.wallSeconds() >= sums.wallSeconds);
  assert.deepEqual(epochStats(sums), {
    loss: 10 / 8,
    acc: 5 / 8,
    examplesPerSec: 8 / sums.trainSeconds,
  });
  acc.dispose();
  const fresh = new EpochAccumulator(null, { epoch: 1, lr: 0.1 });
  assert.deepEqual(fresh.prior, {
    lossSum: 0,
    correct: 0,
    examples: 0,
    trainSeconds: 0,
    wallSeconds: 0,
  });
  fresh.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("EpochAccumulator: a loss that is not finite is one DivergedError line", async () => {
  const context = { epoch: 3, lr: 0.02, baseLr: 0.2 };
  const inRun = new EpochAccumulator(null, {
    ...context,
    resume: { dir: "runs/x", lastGoodEpoch: 2 },
  });
  inRun.add(step(NaN, 1), 4);
  await assert.rejects(inRun.read(7), (e: unknown) => {
    assert.ok(e instanceof DivergedError);
    assert.deepEqual([e.loss, e.epoch, e.step, e.lr, e.dir, e.lastGoodEpoch, e.baseLr], [
      NaN,
      3,
      7,
      0.02,
      "runs/x",
      2,
      0.2,
    ]);
    assert.equal(
      e.message,
      "the loss became NaN in epoch 3 (by step 7) with learning rate 0.02; the last good " +
        "checkpoint (epoch 2) in runs/x stays: resume it with a lower base rate, e.g. 0.02",
    );
    return true;
  });
  inRun.dispose();
  // The web page's session has no run directory: it says to start again.
  const page = new EpochAccumulator(null, context);
  page.add(step(Infinity, 1), 4);
  await assert.rejects(
    page.read(1),
    (e: unknown) =>
      e instanceof DivergedError &&
      e.message === "the loss became Infinity in epoch 3 (by step 1) with learning rate 0.02: " +
          "train a new network with a lower rate",
  );
  page.dispose();
});

Deno.test("EpochAccumulator: an epoch stopped and resumed sums bit for bit as one that never stopped", async () => {
  const before = tf.memory().numTensors;
  // Per-step mean losses whose float32 running sum rounds differently from a float64 sum of parts.
  const losses = [0.1, 0.7, 1.3, 2.9, 0.37, 1.11, 0.93, 2.3, 0.013, 1.7];
  const feed = (acc: EpochAccumulator, from: number, to: number) => {
    for (let i = from; i < to; i++) acc.add(step(losses[i], i % 3), 7);
  };
  const whole = new EpochAccumulator(null, { epoch: 1, lr: 0.1 });
  feed(whole, 0, losses.length);
  const once = await whole.read(losses.length);
  whole.dispose();
  const first = new EpochAccumulator(null, { epoch: 1, lr: 0.1 });
  feed(first, 0, 4);
  // The checkpoint's JSON round trip of the sums at the stop, as train saves them.
  const saved = JSON.parse(JSON.stringify(await first.read(4)));
  first.dispose();
  const rest = new EpochAccumulator(saved, { epoch: 1, lr: 0.1 });
  feed(rest, 4, losses.length);
  const resumed = await rest.read(losses.length);
  rest.dispose();
  assert.equal(resumed.lossSum, once.lossSum);
  assert.equal(resumed.correct, once.correct);
  assert.equal(resumed.examples, once.examples);
  // What the host-side sum of the two parts gave: not the uninterrupted run's value.
  const fresh = new EpochAccumulator(null, { epoch: 1, lr: 0.1 });
  feed(fresh, 4, losses.length);
  assert.notEqual(saved.lossSum + (await fresh.read(6)).lossSum, once.lossSum);
  fresh.dispose();
  assert.equal(tf.memory().numTensors, before);
});
