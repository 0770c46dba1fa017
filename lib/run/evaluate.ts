/**
 * Test-set evaluation of a network: accuracy, per-class accuracy and the confusion matrix, all
 * accumulated on the device and read back once at the end. Browser-safe (the web page evaluates
 * with it); the confusion matrix as CSV is ./confusion_csv.ts.
 *
 * @example
 * ```ts
 * import { ResNet } from "../model/resnet.ts";
 * import { loadFashionMnist } from "../data/fashion_mnist.ts";
 * import { initBackend } from "../backends/choose.ts";
 * import { evaluate, formatEvaluation } from "./evaluate.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const { test } = await loadFashionMnist();
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const r = await evaluate(net, test, { size: 28, batchSize: 256, limit: 1000 });
 * assert.equal(r.n, 1000);
 * assert.match(formatEvaluation(r), /^test acc \d\.\d{4} \(\d+\/1000\)\n/); // "test acc 0.1000 (100/1000)\n..."
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ResNet } from "../model/resnet.ts";
import type { Split } from "../data/idx_dataset.ts";
import { batches } from "../data/batches.ts";
import {
  evalBatchThatFits,
  inferenceBatch,
  type TensorLimit,
  tensorLimit,
} from "../backends/tensor_limit.ts";
import type { PassProgress } from "./progress.ts";

/** Options of {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Input height and width (images are resized to it). */
  size: number;
  /**
   * Images per forward pass: on WebGPU at most as many as the adapter's limits allow, elsewhere
   * as many as keep every tensor within `INFERENCE_TENSOR_BYTES` (../backends/tensor_limit.ts).
   */
  batchSize: number;
  /** Evaluate the first `limit` images only (null or undefined: all). */
  limit?: number | null;
  /**
   * The size no tensor may exceed; batches are split to fit it (default: the active backend's,
   * {@linkcode tensorLimit}: the WebGPU adapter's limits; null: the CPU backends' memory bound).
   */
  tensorLimit?: TensorLimit | null;
  /**
   * With no adapter limit, the most bytes a tensor of a pass may take; larger batches are split
   * (default `INFERENCE_TENSOR_BYTES`, ../backends/tensor_limit.ts).
   */
  tensorBytes?: number;
  /** Told how many images are done, about once a second (default: nothing is shown). */
  progress?: PassProgress;
  /**
   * Also return each image's predicted class ({@linkcode Evaluation.predicted}: kept on the
   * device and read back once with the counts; for the report's grid of misclassified images).
   */
  predictions?: boolean;
  /**
   * Test-time augmentation: predict from the mean of the softmax probabilities of each image and
   * of its left-right mirror image (two forward passes; default false).
   */
  tta?: boolean;
}

/** Seconds between two progress reports (each is a read-back, which waits for the device). */
const REPORT_EVERY_MS = 1000;

/** Accuracy of one class. */
export interface ClassAccuracy {
  /** Class index. */
  class: number;
  /** Class name, e.g. "T-shirt/top". */
  name: string;
  /** Correct predictions among the images of this class, in [0, 1] (NaN when there are none). */
  accuracy: number;
  /** Images of this class evaluated. */
  n: number;
}

/** What {@linkcode evaluate} measured. */
export interface Evaluation {
  /** `correct / n`, in [0, 1] (NaN when no image was evaluated). */
  accuracy: number;
  /** Images whose predicted class (the largest logit) is the label. */
  correct: number;
  /** Images evaluated. */
  n: number;
  /** Accuracy of each class, in class-index order. */
  perClass: ClassAccuracy[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** The predicted class of each image evaluated, in order (with `predictions: true` only). */
  predicted?: Int32Array;
}

/**
 * Runs `net` in inference mode over the first `limit` images of `split` (in order) and counts
 * correct predictions per class. `classNames` label the classes (indices when shorter).
 */
export async function evaluate(
  net: ResNet,
  split: Split,
  opts: EvaluateOptions,
  classNames: readonly string[] = [],
): Promise<Evaluation> {
  const k = net.config.numClasses;
  const { flat, predicted } = await confusionCounts(net, split, opts);
  const matrix = Array.from({ length: k }, (_, i) => flat.slice(i * k, (i + 1) * k));
  let correct = 0, n = 0;
  const perClass = matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    correct += row[i];
    n += total;
    return { class: i, name: classNames[i] ?? String(i), accuracy: row[i] / total, n: total };
  });
  const r: Evaluation = {
    accuracy: n > 0 ? correct / n : NaN,
    correct,
    n,
    perClass,
    confusion: matrix,
  };
  if (predicted) r.predicted = predicted;
  return r;
}

/** `confusion[true][predicted]` counts, row after row, summed on the device. */
async function confusionCounts(net: ResNet, split: Split, opts: EvaluateOptions) {
  const k = net.config.numClasses, limit = opts.limit ?? undefined, progress = opts.progress;
  // A tensor over the WebGPU adapter's limits gives wrong numbers silently: split the batch. Off
  // WebGPU, split it where a larger one would cost memory and gain no speed.
  const limits = opts.tensorLimit === undefined ? tensorLimit() : opts.tensorLimit;
  const batchSize = limits
    ? evalBatchThatFits(net.config, opts.size, opts.batchSize, limits)
    : inferenceBatch(net.config, opts.size, opts.batchSize, opts.tensorBytes);
  // float32 counts: exact up to 2^24 and supported by every backend's matMul (int32 is not).
  let confusion: tf.Tensor2D = tf.zeros([k, k]), done = 0, reported = performance.now();
  const kept: tf.Tensor1D[] = []; // each batch's predicted classes, when asked for
  progress?.start(Math.min(limit ?? Infinity, split.count));
  try {
    for (const b of batches(split, { batchSize, size: opts.size, limit })) {
      const [next, predicted] = tf.tidy(() => {
        const predicted = tf.argMax(scores(net, b.x, { tta: opts.tta ?? false }), 1) as tf.Tensor1D;
        const truth = tf.cast(tf.oneHot(b.y, k), "float32");
        const guess = tf.cast(tf.oneHot(predicted, k), "float32");
        return [tf.add(confusion, tf.matMul(truth, guess, true, false)) as tf.Tensor2D, predicted];
      });
      tf.dispose([confusion, b.x, b.y]);
      if (opts.predictions) kept.push(predicted);
      else predicted.dispose();
      confusion = next;
      done += b.n;
      if (progress && performance.now() - reported >= REPORT_EVERY_MS) {
        await confusion.data(); // the images counted are done on the device, not just queued
        progress.update(done);
        reported = performance.now();
      }
    }
    const flat = Array.from(await confusion.data(), Math.round);
    const predicted = opts.predictions ? await readPredictions(kept) : undefined;
    progress?.update(done);
    return { flat, predicted };
  } finally {
    tf.dispose([confusion, ...kept]);
    progress?.stop();
  }
}

/** The predicted classes of every batch, in order, read back at once. */
async function readPredictions(kept: tf.Tensor1D[]): Promise<Int32Array> {
  if (kept.length === 0) return new Int32Array(0);
  const all = kept.length === 1 ? kept[0] : tf.concat(kept);
  try {
    return Int32Array.from(await all.data());
  } finally {
    if (all !== kept[0]) all.dispose();
  }
}

/**
 * What the predicted class is the largest of: the logits, or with `opts.tta` the sum of the softmax
 * probabilities of the images and of their mirror images (the mean's argmax, one division fewer).
 */
function scores(net: ResNet, x: tf.Tensor4D, opts: { tta: boolean }): tf.Tensor2D {
  const logits = net.apply(x, { training: false });
  if (!opts.tta) return logits;
  const mirrored = net.apply(tf.reverse(x, 2), { training: false });
  return tf.add(tf.softmax(logits), tf.softmax(mirrored));
}

/** The evaluation as text: overall accuracy, then one line per class. */
export function formatEvaluation(r: Evaluation): string {
  const w = Math.max(5, ...r.perClass.map((c) => c.name.length));
  const lines = [`test acc ${r.accuracy.toFixed(4)} (${r.correct}/${r.n})`, ""];
  lines.push(`${"class".padEnd(w)}  accuracy      n`);
  for (const c of r.perClass) {
    const acc = Number.isNaN(c.accuracy) ? "-" : c.accuracy.toFixed(4);
    lines.push(`${c.name.padEnd(w)}  ${acc.padStart(8)}  ${String(c.n).padStart(5)}`);
  }
  return lines.join("\n");
}
