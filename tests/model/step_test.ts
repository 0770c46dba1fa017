/**
 * trainStep's loss with label smoothing against PyTorch's `CrossEntropyLoss(label_smoothing=e)`,
 * computed by hand here from the network's logits and by torch (ignored, saying so, without it).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "../../lib/backends/setup.ts"; // the cpu backend and every gradient
import assert from "node:assert/strict";
import { ResNet } from "../../lib/model/resnet.ts";
import { SGD } from "../../lib/model/fused.ts";
import { trainStep } from "../../lib/model/step.ts";
import { mulberry32 } from "../../lib/data/rng.ts";
import { runTorchPython, torchTest } from "../torch_python.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

const N = 6, SIZE = 16;
const rand = mulberry32(11);
const PIXELS = Float32Array.from({ length: N * SIZE * SIZE }, () => rand());
const LABELS = [3, 0, 9, 3, 7, 1];

/** PyTorch's label-smoothed cross-entropy (mean over the batch) in float64. */
function smoothedCrossEntropy(logits: number[][], labels: number[], e: number): number {
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i], k = z.length, m = Math.max(...z);
    const logSum = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
    for (let c = 0; c < k; c++) {
      const target = (c === labels[i] ? 1 - e : 0) + e / k;
      sum -= target * (z[c] - logSum);
    }
  }
  return sum / logits.length;
}

/** The logits a training-mode forward pass gives, and the loss trainStep reports, on a new net. */
async function stepLoss(e: number) {
  const net = new ResNet({ stages: [1, 1, 1, 1], width: 8, seed: 5 });
  const x = tf.tensor4d(PIXELS, [N, SIZE, SIZE, 1]), y = tf.tensor1d(LABELS, "int32");
  // Batch statistics make the training-mode logits a function of the batch alone.
  const logits = tf.tidy(() => net.apply(x, { training: true }));
  const rows = await logits.array() as number[][];
  const opt = new SGD(0.01);
  const before = tf.memory().numTensors;
  const r = trainStep(net, opt, x, y, { labelSmoothing: e });
  const loss = (await r.loss.data())[0];
  tf.dispose([r.loss, r.correct]);
  assert.equal(tf.memory().numTensors, before, "trainStep leaked tensors");
  tf.dispose([logits, x, y]);
  opt.dispose();
  net.dispose();
  return { rows, loss };
}

Deno.test("label smoothing: trainStep's loss is PyTorch's smoothed cross-entropy", async () => {
  for (const e of [0, 0.1, 0.3]) {
    const { rows, loss } = await stepLoss(e);
    const want = smoothedCrossEntropy(rows, LABELS, e);
    assert.ok(Math.abs(loss - want) < 1e-5, `e=${e}: ${loss} vs ${want}`);
  }
  // Smoothing changes the loss (the logits are far from uniform after the init).
  const [plain, smooth] = [await stepLoss(0), await stepLoss(0.1)];
  assert.ok(Math.abs(plain.loss - smooth.loss) > 1e-3, `${plain.loss} vs ${smooth.loss}`);
});

Deno.test(
  torchTest("label smoothing: the hand formula equals torch's CrossEntropyLoss", async () => {
    const { rows } = await stepLoss(0.1);
    const script = "import json,sys,torch\n" +
      "a=json.load(sys.stdin)\n" +
      "l=torch.nn.CrossEntropyLoss(label_smoothing=a['e'])(torch.tensor(a['z'],dtype=torch.float64)," +
      "torch.tensor(a['y']))\n" +
      "print(l.item())";
    const out = await runTorchPython(
      ["-c", script],
      JSON.stringify({ z: rows, y: LABELS, e: 0.1 }),
    );
    const torchLoss = Number(out);
    assert.ok(Math.abs(torchLoss - smoothedCrossEntropy(rows, LABELS, 0.1)) < 1e-12);
  }),
);
