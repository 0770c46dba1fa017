/**
 * One training epoch, as torchvision's `train_one_epoch`: the epoch's (augmented) batches, one
 * SGD step each at the epoch's scheduled rate with the run's label smoothing, loss and accuracy
 * summed on the device and read back every few steps only, a stop honoured between steps; then
 * {@linkcode testEpoch}: the test pass and the epoch's record. No file IO and no Deno API: the CLI's
 * `train` (./train.ts, which saves the run directory around it) and the web page's session
 * (web/session.ts) run the same code.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { makeOptimizer } from "./optimizer.ts";
 * import { resolveSettings } from "./recipe.ts";
 * import { testEpoch, trainEpoch } from "./epoch.ts";
 * import { loadFashionMnist } from "../data/fashion_mnist.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const data = await loadFashionMnist();
 * const settings = resolveSettings({ recipe: "modern", epochs: 1, batchSize: 32, size: 16, limit: 64, testLimit: 32 });
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 4, seed: 0 });
 * const optimizer = makeOptimizer(net, settings, null);
 * const t = { net, optimizer, settings, data };
 * const r = await trainEpoch(t, { epoch: 0 });
 * assert.equal(r.stopped, false);
 * const { record } = await testEpoch(t, 0, r);
 * assert.equal(record.epoch, 1);
 * optimizer.dispose();
 * net.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ResNet } from "../model/resnet.ts";
import { trainStep } from "../model/step.ts";
import { SGD } from "../model/fused.ts";
import type { Split } from "../data/idx_dataset.ts";
import { type Batch, batches } from "../data/batches.ts";
import { warmup, type WarmupReport } from "../backends/warmup.ts";
import type { TensorLimit } from "../backends/tensor_limit.ts";
import { EpochAccumulator, type EpochContext, type ReadPolicy } from "./accumulator.ts";
import { epochStats } from "./accumulator.ts";
import type { PartialEpoch } from "./checkpoint.ts";
import { evaluate, type Evaluation } from "./evaluate.ts";
import type { EpochRecord } from "./metrics.ts";
import type { ResolvedSettings } from "./recipe.ts";
import { lrAt, perStep } from "./schedule.ts";
import type { PassProgress, ProgressSink } from "./progress.ts";

/** What an epoch trains: the network, its optimizer, the run's settings and images. */
export interface Trainee {
  readonly net: ResNet;
  readonly optimizer: SGD;
  readonly settings: ResolvedSettings;
  /** The training images (the first `settings.limit`) and the test images. */
  readonly data: { readonly train: Split; readonly test: Split };
}

/** Options of {@linkcode trainEpoch}. */
export interface EpochOptions {
  /** The 0-based epoch. */
  epoch: number;
  /** Batches of it trained before (a resumed epoch; default 0). */
  startBatch?: number;
  /** The sums of those batches (null or absent: none). */
  prior?: PartialEpoch | null;
  /** The run directory and its last good epoch, for the {@linkcode DivergedError}'s message. */
  resume?: EpochContext["resume"];
  /** How often the sums are read back (../accumulator.ts' defaults). */
  read?: ReadPolicy;
  /** Progress display (none by default). */
  progress?: ProgressSink;
  /** Asked after each step: true stops the epoch there (after its sums are read). */
  stop?: () => boolean;
  /**
   * Awaited after each step, so a stop request (Ctrl-C, a click) is seen: by default a macrotask
   * turn (`setTimeout(0)`), which lets a signal handler run even when the backend never awaits.
   */
  pause?: () => Promise<void>;
  /** Called after every step with the 0-based step; tests inject faults with it. */
  afterStep?: (step: number) => void;
  /**
   * Saves the epoch part-way (./train.ts writes a mid-epoch checkpoint): called between
   * steps, after the sums are read back, once `every` seconds have passed since the epoch began
   * or since the last save; never after the epoch's last step. The save's time is not counted as
   * training time.
   */
  checkpoint?: { every: number; save: (step: number, sums: PartialEpoch) => Promise<void> };
}

/** What {@linkcode trainEpoch} did. */
export interface EpochTrained {
  /** True when `stop` ended it part-way. */
  stopped: boolean;
  /** Steps of the epoch done (earlier sessions' included). */
  step: number;
  /** The epoch's sums so far, earlier parts included. */
  sums: PartialEpoch;
  /** Wall-clock seconds of the epoch so far, earlier parts included (read when called). */
  wallSeconds: () => number;
  /** This call's training images and the seconds its steps took (a session's speed). */
  images: number;
  seconds: number;
}

/** The training batches of `epoch` from `startBatch` on, augmented as the settings say. */
function trainBatches(t: Trainee, epoch: number, startBatch: number) {
  const s = t.settings;
  return batches(t.data.train, {
    batchSize: s.batchSize,
    shuffle: true,
    seed: s.seed,
    epoch,
    size: s.size,
    limit: s.limit ?? undefined,
    startBatch,
    augment: s.augment,
  });
}

/**
 * Trains one epoch (from `startBatch` when it resumes one); see the module's doc. A loss that is
 * not finite throws {@linkcode DivergedError} at the read-back that sees it.
 */
export async function trainEpoch(t: Trainee, o: EpochOptions): Promise<EpochTrained> {
  const s = t.settings, epoch = o.epoch, startBatch = o.startBatch ?? 0;
  const lr = lrAt(s, epoch);
  if (t.optimizer.lr !== lr) t.optimizer.setLearningRate(lr);
  const context = { epoch: epoch + 1, lr, baseLr: s.lr, resume: o.resume ?? null };
  const acc = new EpochAccumulator(startBatch > 0 ? o.prior ?? null : null, context, o.read);
  const count = Math.min(s.limit ?? Infinity, t.data.train.count);
  const steps = Math.ceil(count / s.batchSize);
  const progress = o.progress;
  const pause = o.pause ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
  progress?.start(epoch + 1, s.epochs, count, acc.prior.examples);
  const read = async (step: number) => {
    const sums = await acc.read(step); // a host sync; throws DivergedError on a NaN loss
    progress?.update(sums.examples, epochStats(sums));
    return sums;
  };
  const it = trainBatches(t, epoch, startBatch);
  // The batch after the current one, made before anything awaits (disposed if left over).
  let next: IteratorResult<Batch> | null = null;
  let step = startBatch, stopped = false, saved = performance.now();
  const smoothing = { labelSmoothing: s.labelSmoothing };
  const stepped = perStep(s.schedule); // the rate is a function of (epoch, step): resumes exactly
  try {
    next = it.next();
    while (!next.done) {
      const b = next.value;
      if (stepped) t.optimizer.setLearningRate(lrAt(s, epoch, step / steps));
      acc.add(trainStep(t.net, t.optimizer, b.x, b.y, smoothing), b.n);
      tf.dispose([b.x, b.y]);
      // Counted outside the optional hook: `f?.(step++)` skips its arguments when f is absent.
      step++;
      o.afterStep?.(step - 1);
      // The next batch is gathered on the host and its upload queued while the device still
      // works on this step: the device never waits for it after a read-back below.
      next = it.next();
      if (acc.due()) await read(step);
      await pause();
      if (o.stop?.() && step < steps) {
        stopped = true;
        break;
      }
      const save = o.checkpoint;
      if (save && step < steps && performance.now() - saved >= save.every * 1000) {
        await save.save(step, await read(step));
        acc.restartClock();
        saved = performance.now();
      }
    }
    const sums = await read(step);
    progress?.stop();
    const images = sums.examples - acc.prior.examples;
    return {
      stopped,
      step,
      sums,
      wallSeconds: () => acc.wallSeconds(),
      images,
      seconds: acc.seconds,
    };
  } finally {
    progress?.stop();
    if (next && !next.done) tf.dispose([next.value.x, next.value.y]);
    it.return(undefined);
    acc.dispose();
  }
}

/** Options of {@linkcode testEpoch}. */
export interface TestEpochOptions {
  /** The test pass' progress display. */
  progress?: PassProgress;
  /** Also return each image's predicted class (the CLI's report). */
  predictions?: boolean;
  /** The size no tensor may exceed (default: the active backend's; the page passes its own). */
  tensorLimit?: TensorLimit | null;
}

/** The epoch's test accuracy and its record (the `lr` its schedule gave it). */
export async function testEpoch(
  t: Trainee,
  epoch: number,
  trained: Pick<EpochTrained, "sums" | "wallSeconds">,
  o: TestEpochOptions = {},
): Promise<{ record: EpochRecord; evaluation: Evaluation }> {
  const s = t.settings, sums = trained.sums;
  const evaluation = await evaluate(t.net, t.data.test, {
    size: s.size,
    batchSize: s.batchSize,
    limit: s.testLimit,
    progress: o.progress,
    predictions: o.predictions,
    tta: s.tta,
    ...(o.tensorLimit !== undefined ? { tensorLimit: o.tensorLimit } : {}),
  });
  const record: EpochRecord = {
    epoch: epoch + 1,
    train_loss: sums.lossSum / sums.examples,
    train_acc: sums.correct / sums.examples,
    test_acc: evaluation.accuracy,
    examples_per_sec: round(sums.examples / sums.trainSeconds, 2),
    epoch_seconds: round(trained.wallSeconds(), 3), // the test pass included
    lr: lrAt(s, epoch),
  };
  return { record, evaluation };
}

/**
 * Compiles the step's WebGPU pipelines ahead of the first step, in parallel (../backends/
 * warmup.ts), with an optimizer like the run's (its pipelines too); nothing off WebGPU.
 */
export function warmupTraining(
  net: ResNet,
  s: ResolvedSettings,
  opts: { workers?: number } = {},
): Promise<WarmupReport> {
  const { momentum, nesterov, weightDecay } = s;
  return warmup(net, {
    batch: s.batchSize,
    size: s.size,
    evalBatch: s.batchSize,
    optimizer: () => new SGD(s.lr, { momentum, nesterov, weightDecay }),
    workers: opts.workers,
  });
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
