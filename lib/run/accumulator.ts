/**
 * d2l's `Accumulator` for training steps, kept on the device: each step's mean loss (times its
 * examples) and correct count are added to two device scalars, and {@linkcode Accumulator.read}
 * brings the sums to the host. Reading is a sync that stalls the device's queue, so callers read
 * only when {@linkcode Accumulator.due} says so: every few steps, or when steps are slow enough
 * that progress would otherwise stand still. {@linkcode EpochAccumulator} adds what an epoch
 * needs on top: the sums of its earlier part (a resumed epoch), its timing, and the check that
 * the loss is finite ({@linkcode DivergedError}). Used by `train` (lib/run/train.ts) and the web
 * page (web/session.ts); browser-safe.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backends/choose.ts";
 * import { Accumulator } from "./accumulator.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const acc = new Accumulator({ readEvery: 10 });
 * acc.add({ loss: tf.scalar(2.3), correct: tf.scalar(3, "int32") }, 32); // disposes the step's scalars
 * assert.equal(acc.due(), false);
 * const sums = await acc.read();
 * assert.deepEqual({ ...sums, lossSum: Math.round(sums.lossSum * 1000) / 1000 }, { lossSum: 73.6, correct: 3, examples: 32 });
 * acc.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { StepResult } from "../model/step.ts";
import { UserError } from "../errors.ts";
import type { PartialEpoch } from "./checkpoint.ts";
import type { ProgressStats } from "./progress.ts";

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
  #loss: tf.Scalar;
  #correct: tf.Scalar;
  #examples: number;
  #sinceRead = 0;
  #lastRead = performance.now();

  /**
   * @param policy How often {@linkcode Accumulator.due} asks for a read.
   * @param start Sums to add on to (an earlier part's read-back; default zeros).
   */
  constructor(readonly policy: ReadPolicy = {}, start?: AccumulatedSums) {
    // Starting the device sums from a read-back (exact in float32) repeats the float32 additions
    // of a run that never stopped, bit for bit; adding it on the host afterwards would not.
    this.#loss = tf.scalar(start?.lossSum ?? 0);
    this.#correct = tf.scalar(start?.correct ?? 0, "int32");
    this.#examples = start?.examples ?? 0;
  }

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

/** Training stopped because the loss became NaN or infinite; the last good checkpoint stays. */
export class DivergedError extends UserError {
  /** Always `"DivergedError"`. */
  override name = "DivergedError";
  /**
   * @param loss The loss sum that was not finite.
   * @param epoch 1-based epoch it happened in.
   * @param step Steps of that epoch done by the read-back that saw it.
   * @param lr The learning rate of the epoch.
   * @param dir The run directory; null when there is none (the web page's session).
   * @param lastGoodEpoch The epoch of the checkpoint that stays (null without a run directory).
   * @param baseLr The run's base rate (the `lr` setting), which the schedule scales; default `lr`.
   * @param lastGoodBatch Steps into the epoch after `lastGoodEpoch` the checkpoint was saved at
   *   (a checkpoint part-way through an epoch); default 0.
   */
  constructor(
    readonly loss: number,
    readonly epoch: number,
    readonly step: number,
    readonly lr: number,
    readonly dir: string | null,
    readonly lastGoodEpoch: number | null,
    readonly baseLr: number = lr,
    readonly lastGoodBatch: number = 0,
  ) {
    const what = `the loss became ${loss} in epoch ${epoch} (by step ${step}) with learning ` +
      `rate ${lr}`;
    const where = lastGoodBatch > 0
      ? `epoch ${lastGoodEpoch} and ${lastGoodBatch} steps of epoch ${(lastGoodEpoch ?? 0) + 1}`
      : `epoch ${lastGoodEpoch}`;
    super(
      dir === null
        ? `${what}: train a new network with a lower rate`
        : `${what}; the last good checkpoint (${where}) in ${dir} stays: resume it ` +
          `with a lower base rate, e.g. ${baseLr / 10}`,
    );
  }
}

/** Where an epoch stands, for the {@linkcode DivergedError} when its loss is not finite. */
export interface EpochContext {
  /** 1-based epoch. */
  epoch: number;
  /** The epoch's learning rate. */
  lr: number;
  /** The run's base rate (the `lr` setting, which a schedule scales); default `lr`. */
  baseLr?: number;
  /**
   * The run directory and its last good checkpoint: after `lastGoodEpoch` epochs and
   * `lastGoodBatch` steps of the next (default 0); none on the web page.
   */
  resume?: { dir: string; lastGoodEpoch: number; lastGoodBatch?: number } | null;
}

/**
 * An epoch's loss and accuracy, summed on the device ({@linkcode Accumulator}) and brought to
 * the host by {@linkcode EpochAccumulator.read}, which adds the sums of the epoch's earlier part
 * (`prior`: an epoch stopped and resumed reports what an uninterrupted one does), times the
 * training steps, and throws {@linkcode DivergedError} on a loss that is not finite.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { initBackend } from "../backends/choose.ts";
 * import { EpochAccumulator, epochStats } from "./accumulator.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const acc = new EpochAccumulator(null, { epoch: 1, lr: 0.05 }, { readEvery: 10 });
 * acc.add({ loss: tf.scalar(0.5), correct: tf.scalar(7, "int32") }, 8);
 * const sums = await acc.read(1); // { lossSum: 4, correct: 7, examples: 8, trainSeconds, wallSeconds }
 * assert.equal(epochStats(sums).acc, 0.875);
 * acc.dispose();
 * ```
 */
export class EpochAccumulator {
  /** The sums of the epoch's part trained before (zeros for a new epoch). */
  readonly prior: PartialEpoch;
  readonly #sums: Accumulator;
  #t0 = performance.now();
  readonly #wall0 = performance.now();
  /** Seconds of this session's training steps in the epoch, up to the last read. */
  seconds = 0;

  /**
   * @param prior The sums of the epoch's earlier part, or null for a new epoch.
   * @param context The epoch, for the error on a loss that is not finite.
   * @param policy When {@linkcode EpochAccumulator.due} asks for a read.
   */
  constructor(prior: PartialEpoch | null, readonly context: EpochContext, policy: ReadPolicy = {}) {
    this.prior = prior ?? { lossSum: 0, correct: 0, examples: 0, trainSeconds: 0, wallSeconds: 0 };
    this.#sums = new Accumulator(policy, this.prior);
  }

  /** Adds one step's results for `n` examples and disposes the step's scalars. */
  add(r: StepResult, n: number): void {
    this.#sums.add(r, n);
  }

  /** Every `readEvery` steps, or sooner when steps are slow, so progress keeps moving. */
  due(): boolean {
    return this.#sums.due();
  }

  /**
   * The epoch's sums so far, earlier parts included (a host sync); throws
   * {@linkcode DivergedError} when the loss is not finite. `step`: the epoch's steps done.
   */
  async read(step: number): Promise<PartialEpoch> {
    const r = await this.#sums.read(); // the prior part's sums included
    this.seconds += (performance.now() - this.#t0) / 1000;
    this.#t0 = performance.now();
    const lossSum = r.lossSum;
    if (!Number.isFinite(lossSum)) {
      const c = this.context, where = c.resume ?? null;
      throw new DivergedError(
        lossSum,
        c.epoch,
        step,
        c.lr,
        where?.dir ?? null,
        where?.lastGoodEpoch ?? null,
        c.baseLr ?? c.lr,
        where?.lastGoodBatch ?? 0,
      );
    }
    return {
      lossSum,
      correct: r.correct,
      examples: r.examples,
      trainSeconds: this.prior.trainSeconds + this.seconds,
      wallSeconds: this.wallSeconds(),
    };
  }

  /** Counts the time since the last read as no step's: it went to something else (a save). */
  restartClock(): void {
    this.#t0 = performance.now();
  }

  /** Wall-clock seconds of the epoch so far, earlier parts included. */
  wallSeconds(): number {
    return this.prior.wallSeconds + (performance.now() - this.#wall0) / 1000;
  }

  /** Frees the device sums. */
  dispose(): void {
    this.#sums.dispose();
  }
}

/**
 * The running loss, accuracy and speed of an epoch's sums, as progress displays show them.
 *
 * @example
 * ```ts
 * import { epochStats } from "./accumulator.ts";
 * epochStats({ lossSum: 4, correct: 6, examples: 8, trainSeconds: 2 });
 * // { loss: 0.5, acc: 0.75, examplesPerSec: 4 }
 * ```
 */
export function epochStats(
  t: Pick<PartialEpoch, "lossSum" | "correct" | "examples" | "trainSeconds">,
): ProgressStats {
  return {
    loss: t.lossSum / t.examples,
    acc: t.correct / t.examples,
    examplesPerSec: t.examples / t.trainSeconds,
  };
}
