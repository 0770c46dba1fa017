/**
 * d2l's `predict_ch3` for our ResNet: class probabilities (softmax of the logits, inference mode)
 * of images given as a {@linkcode Split}, through training's own input pipeline (batches.ts:
 * pixels / 255, bilinear resize with half-pixel centres); the top classes of one image; and the
 * first misclassified images of a split, for a grid of mistakes.
 *
 * @example
 * ```ts
 * import { ResNet } from "../model/resnet.ts";
 * import { initBackend } from "../backends/choose.ts";
 * import { loadFashionMnist } from "../data/fashion_mnist.ts";
 * import { predict, topClasses } from "./predict.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const { test } = await loadFashionMnist({ quiet: true });
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const probs = await predict(net, test, { size: 28, batchSize: 64, limit: 3 });
 * const top = topClasses(probs[0], 3); // [{ class: 4, name: "Coat", probability: 0.13 }, ...]
 * assert.equal(top.length, 3);
 * assert.ok(top[0].probability >= top[1].probability && top[1].probability >= top[2].probability);
 * net.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ResNet } from "../model/resnet.ts";
import { CLASS_NAMES, type Split } from "../data/fashion_mnist.ts";
import { batches } from "../data/batches.ts";

/** Options of {@linkcode predict}. */
export interface PredictOptions {
  /** The network's input side (images are resized to it, as in training). */
  size: number;
  /** Images per forward pass. */
  batchSize: number;
  /** Only the first `limit` images (default all). */
  limit?: number;
}

/** One class and its probability. */
export interface ClassProbability {
  /** Class index. */
  class: number;
  /** Its name, e.g. "Shirt". */
  name: string;
  /** Softmax probability in [0, 1]. */
  probability: number;
}

/** A misclassified image of a split. */
export interface Mistake {
  /** Its index in the split. */
  index: number;
  /** Its label. */
  label: number;
  /** The class the network predicted. */
  predicted: number;
}

/** The softmax probabilities of batch `x`, read back (one sync per batch). */
async function probabilities(net: ResNet, x: tf.Tensor4D): Promise<Float32Array> {
  const p = tf.tidy(() => tf.softmax(net.apply(x, { training: false })));
  try {
    return (await p.data()) as Float32Array;
  } finally {
    p.dispose();
  }
}

/**
 * Class probabilities of the first `limit` images of `split` (all by default), one array of
 * `numClasses` per image, in order.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { predict } from "./predict.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 4 });
 * const split = { images: new Uint8Array(2 * 784), labels: new Uint8Array(2), count: 2, height: 28, width: 28 };
 * const probs = await predict(net, split, { size: 28, batchSize: 2 });
 * assert.deepEqual([probs.length, probs[0].length], [2, 10]);
 * assert.deepEqual(probs.map((p) => Math.round(p.reduce((a, b) => a + b, 0) * 1000) / 1000), [1, 1]);
 * net.dispose();
 * ```
 */
export async function predict(
  net: ResNet,
  split: Split,
  opts: PredictOptions,
): Promise<Float32Array[]> {
  const k = net.config.numClasses, out: Float32Array[] = [];
  for (
    const b of batches(split, { batchSize: opts.batchSize, size: opts.size, limit: opts.limit })
  ) {
    try {
      const p = await probabilities(net, b.x);
      for (let i = 0; i < b.n; i++) out.push(p.slice(i * k, (i + 1) * k));
    } finally {
      tf.dispose([b.x, b.y]);
    }
  }
  return out;
}

/**
 * The `k` most probable classes of one image's probabilities, most probable first (ties: lower
 * class first); `names` label them (indices where shorter).
 *
 * @example
 * ```ts
 * import { topClasses } from "./predict.ts";
 * topClasses(new Float32Array([0.1, 0.7, 0.2]), 2, ["a", "b", "c"]);
 * // [{ class: 1, name: "b", probability: 0.7 }, { class: 2, name: "c", probability: 0.2 }]
 * ```
 */
export function topClasses(
  probs: ArrayLike<number>,
  k: number,
  names: readonly string[] = CLASS_NAMES,
): ClassProbability[] {
  return Array.from(probs, (p, i) => ({ class: i, name: names[i] ?? String(i), probability: p }))
    .sort((a, b) => b.probability - a.probability || a.class - b.class)
    .slice(0, k);
}

/**
 * The index of the largest value (the first on ties).
 *
 * @example
 * ```ts
 * import { argMax } from "./predict.ts";
 * argMax([0.1, 0.7, 0.7, 0.2]); // 1
 * ```
 */
export function argMax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * The first `count` images of `split` (in order, among the first `limit`) that `net` gets wrong;
 * it stops predicting once it has them.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { findMistakes } from "./predict.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 4 });
 * const split = { images: new Uint8Array(4 * 784), labels: Uint8Array.from([0, 1, 2, 3]), count: 4, height: 28, width: 28 };
 * const wrong = await findMistakes(net, split, { size: 28, batchSize: 4, count: 2 });
 * // e.g. [{ index: 0, label: 0, predicted: 7 }, { index: 1, label: 1, predicted: 7 }]
 * assert.equal(wrong.length, 2); // identical images: one prediction, so 3 of the 4 are wrong
 * assert.ok(wrong.every((m) => m.predicted !== m.label && m.label === split.labels[m.index]));
 * net.dispose();
 * ```
 */
export async function findMistakes(
  net: ResNet,
  split: Split,
  opts: PredictOptions & { count: number },
): Promise<Mistake[]> {
  const k = net.config.numClasses, found: Mistake[] = [];
  let index = 0;
  const it = batches(split, { batchSize: opts.batchSize, size: opts.size, limit: opts.limit });
  for (const b of it) {
    try {
      const p = await probabilities(net, b.x);
      for (let i = 0; i < b.n && found.length < opts.count; i++, index++) {
        const predicted = argMax(p.subarray(i * k, (i + 1) * k));
        const label = split.labels[index];
        if (predicted !== label) found.push({ index, label, predicted });
      }
    } finally {
      tf.dispose([b.x, b.y]);
    }
    if (found.length >= opts.count) break; // for-of closes the generator
  }
  return found;
}

/**
 * The images at `indices` of `split` as a split of their own (labels kept), e.g. `--test 3,7`.
 *
 * @example
 * ```ts
 * import { pickImages } from "./predict.ts";
 * const split = { images: new Uint8Array(3 * 4), labels: new Uint8Array([0, 1, 2]), count: 3, height: 2, width: 2 };
 * pickImages(split, [2, 0]).labels; // Uint8Array [2, 0]
 * ```
 */
export function pickImages(split: Split, indices: readonly number[]): Split {
  const px = split.height * split.width;
  const images = new Uint8Array(indices.length * px);
  indices.forEach((i, k) => images.set(split.images.subarray(i * px, (i + 1) * px), k * px));
  return {
    images,
    labels: Uint8Array.from(indices, (i) => split.labels[i]),
    count: indices.length,
    height: split.height,
    width: split.width,
  };
}
