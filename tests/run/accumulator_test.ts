import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { Accumulator } from "../../lib/run/accumulator.ts";

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
