/**
 * One training step of d2l's `train_ch6`: forward in training mode, mean softmax cross-entropy,
 * gradients, an optimizer update. Shared by training and the benchmarks so both measure the same
 * work.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "../backends/setup.ts"; // the cpu backend and every gradient
 * import { ResNet } from "./resnet.ts";
 * import { SGD } from "./fused.ts";
 * import { trainStep } from "./step.ts";
 * import assert from "node:assert/strict";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const opt = new SGD(0.05); // tf.train.sgd, with a one-pass update where the backend has one
 * const { loss, correct } = trainStep(net, opt, tf.zeros([4, 28, 28, 1]), tf.tensor1d([0, 1, 2, 3], "int32"));
 * const [l] = await loss.data(), [c] = await correct.data();
 * assert.ok(Number.isFinite(l) && l > 0); // the batch's mean cross-entropy
 * assert.ok(c >= 0 && c <= 4); // how many of the 4 labels the logits got right
 * tf.dispose([loss, correct]);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ResNet } from "./resnet.ts";
import type { ChunkPlan } from "../backends/tensor_limit.ts";
import { applyFitting } from "./chunked.ts";

/** Device-side results of one step; the caller disposes both (reading them is a host sync). */
export interface StepResult {
  /** Mean cross-entropy of the batch, before the update. */
  loss: tf.Scalar;
  /** Number of correct predictions in the batch (int32), before the update. */
  correct: tf.Scalar;
}

/** Options of {@linkcode trainStep}. */
export interface StepOptions {
  /**
   * Label smoothing `e` in [0, 1): the targets are `(1 - e) * onehot + e / classes`, as PyTorch's
   * `CrossEntropyLoss(label_smoothing=e)` (tfjs' `softmaxCrossEntropy` does the same); default 0.
   */
  labelSmoothing?: number;
  /** How the batch runs in parts (./chunked.ts); default: as the backend's tensor limit needs. */
  plan?: ChunkPlan | null;
}

/**
 * Runs one optimisation step on `x` (`[n, h, w, c]`, float32) with integer `labels` (`[n]`).
 * Nothing is read back to the host. The loss is the (smoothed) cross-entropy SGD minimises.
 */
export function trainStep(
  net: ResNet,
  optimizer: tf.Optimizer,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  opts: StepOptions = {},
): StepResult {
  const smoothing = opts.labelSmoothing ?? 0;
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels, net.config.numClasses);
    let correct: tf.Scalar | null = null;
    const loss = optimizer.minimize(
      () => {
        const logits = applyFitting(net, x, { training: true, plan: opts.plan });
        // Kept: the gradient scope disposes everything else it made.
        correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "int32")));
        return (smoothing > 0
          ? tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, smoothing)
          : tf.losses.softmaxCrossEntropy(oneHot, logits)) as tf.Scalar;
      },
      true,
      net.trainableVariables(),
    ) as tf.Scalar;
    return { loss, correct: correct! };
  });
}

/** Logits-free evaluation of one batch: the number of correct predictions (int32 scalar). */
export function evalStep(net: ResNet, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() =>
    tf.sum(
      tf.cast(tf.equal(tf.argMax(applyFitting(net, x, { training: false }), 1), labels), "int32"),
    )
  );
}
