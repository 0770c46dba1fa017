import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backends/choose.ts";
import { ResNet } from "../../lib/model/resnet.ts";
import { evaluate } from "../../lib/run/evaluate.ts";
import { argMax, findMistakes, pickImages, predict, topClasses } from "../../lib/run/predict.ts";
import { syntheticSplit } from "../synthetic_split.ts";

await initBackend("cpu");

const net = () => new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 5 });

Deno.test("predict: probabilities sum to 1, argmax agrees with evaluate's predictions", async () => {
  const n = net(), split = syntheticSplit(20, 16, 3);
  const before = tf.memory().numTensors;
  const probs = await predict(n, split, { size: 16, batchSize: 6 });
  const ev = await evaluate(n, split, { size: 16, batchSize: 7, predictions: true });
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  assert.equal(probs.length, 20);
  for (const p of probs) {
    assert.equal(p.length, 10);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  }
  assert.deepEqual(probs.map(argMax), [...ev.predicted!]);
  // The confusion matrix counts exactly those predictions.
  const counts = Array.from({ length: 10 }, () => new Array(10).fill(0));
  ev.predicted!.forEach((p, i) => counts[split.labels[i]][p]++);
  assert.deepEqual(counts, ev.confusion);
  assert.equal((await evaluate(n, split, { size: 16, batchSize: 7 })).predicted, undefined);
  n.dispose();
});

Deno.test("findMistakes: the first wrong images in order, stopping at count; pickImages", async () => {
  const n = net(), split = syntheticSplit(40, 16, 4);
  const probs = await predict(n, split, { size: 16, batchSize: 8 });
  const wrong = probs.map((p, i) => [i, argMax(p)]).filter(([i, p]) => p !== split.labels[i]);
  assert.ok(wrong.length >= 3, "an untrained network gets most wrong");
  const found = await findMistakes(n, split, { size: 16, batchSize: 8, count: 3 });
  assert.deepEqual(
    found,
    wrong.slice(0, 3).map(([i, p]) => ({ index: i, label: split.labels[i], predicted: p })),
  );
  const picked = pickImages(split, found.map((m) => m.index));
  assert.deepEqual([...picked.labels], found.map((m) => m.label));
  const again = await predict(n, picked, { size: 16, batchSize: 8 });
  assert.deepEqual(again.map(argMax), found.map((m) => m.predicted));
  n.dispose();
});

Deno.test("topClasses: most probable first, ties by class, names attached", () => {
  assert.deepEqual(topClasses([0.2, 0.5, 0.2, 0.1], 3, ["a", "b", "c", "d"]), [
    { class: 1, name: "b", probability: 0.5 },
    { class: 0, name: "a", probability: 0.2 },
    { class: 2, name: "c", probability: 0.2 },
  ]);
  assert.equal(
    topClasses(new Float32Array(10).fill(0.1).map((v, i) => (i === 6 ? 0.9 : v)), 1)[0].name,
    "Shirt",
  );
});
