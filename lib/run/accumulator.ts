/**
 * d2l's `Accumulator` for training steps, kept on the device: each step's mean loss (times its
 * examples) and correct count are added to two device scalars, and {@linkcode Accumulator.read}
 * brings the sums to the host. Reading is a sync that stalls the device's queue, so callers read
 * only when {@linkcode Accumulator.due} says so: every few steps, or when steps are slow enough
 * that progress would otherwise stand still. Used by `train` (lib/run/train.ts) and the web page.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { Accumulator } from "./accumulator.ts";
 * const acc = new Accumulator({ readEvery: 10 });
 * acc.add({ loss: tf.scalar(2.3), correct: tf.scalar(3, "int32") }, 32); // disposes the step's scalars
 * console.log(acc.due(), await acc.read()); // false { lossSum: 73.6, correct: 3, examples: 32 }
 * acc.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { StepResult } from "../model/step.ts";

/** When {@linkcode Accumulator.due} turns true. */
export interface ReadPolicy {
  /** Read every this many steps (default {@linkcode READ_DEFAULTS}: 10). */
  readEvery?: number;
  /** Read sooner when this many milliseconds passed since the last read (default 2000). */
  readAfterMs?: number;
}

/**
 * The read policy when not told: every 10 steps, or after 2 s when steps are slow (so progress
 * never stands still for long; each read is a sync that stalls the device's queue).
 */
export const READ_DEFAULTS: Readonly<Required<ReadPolicy>> = Object.freeze({
  readEvery: 10,
  readAfterMs: 2000,
});

/** The sums on the host. */
export interface AccumulatedSums {
  /** Sum over the examples of their cross-entropy (each step's mean times its examples). */
  lossSum: number;
  /** Correct predictions. */
  correct: number;
  /** Examples added. */
  examples: number;
}

/** Sums of training steps on the device, read back when due; see the module docs. */
export class Accumulator {
  #loss: tf.Scalar = tf.scalar(0);
  #correct: tf.Scalar = tf.scalar(0, "int32");
  #examples = 0;
  #sinceRead = 0;
  #lastRead = performance.now();

  /** @param policy How often {@linkcode Accumulator.due} asks for a read. */
  constructor(readonly policy: ReadPolicy = {}) {}

  /** Adds one step's results for `n` examples and disposes the step's scalars. */
  add(r: StepResult, n: number): void {
    const [loss, correct] = tf.tidy(() => [
      tf.add(this.#loss, tf.mul(r.loss, n)) as tf.Scalar,
      tf.add(this.#correct, r.correct) as tf.Scalar,
    ]);
    tf.dispose([this.#loss, this.#correct, r.loss, r.correct]);
    this.#loss = loss;
    this.#correct = correct;
    this.#examples += n;
    this.#sinceRead++;
  }

  /** Whether a read is due: `readEvery` steps since the last, or `readAfterMs` passed. */
  due(): boolean {
    const every = Math.max(1, this.policy.readEvery ?? READ_DEFAULTS.readEvery);
    return this.#sinceRead >= every ||
      performance.now() - this.#lastRead >= (this.policy.readAfterMs ?? READ_DEFAULTS.readAfterMs);
  }

  /** Reads the sums (a host sync; it waits for every queued step) and restarts the countdown. */
  async read(): Promise<AccumulatedSums> {
    const [l, c] = await Promise.all([this.#loss.data(), this.#correct.data()]);
    this.#sinceRead = 0;
    this.#lastRead = performance.now();
    return { lossSum: l[0], correct: c[0], examples: this.#examples };
  }

  /** Frees the device scalars. */
  dispose(): void {
    tf.dispose([this.#loss, this.#correct]);
  }
}
