/**
 * d2l's `train_ch6` for our ResNet: minibatch SGD on softmax cross-entropy, one test evaluation
 * per epoch, and a run directory that makes every run reproducible, resumable and exportable
 * (checkpoint after every epoch, `history.json`, `metrics.csv`, `curves.svg`).
 *
 * The data come in as {@linkcode Split}s (dependency injection: tests pass generated images).
 * Loss and accuracy are summed on the device and read back every few steps only.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from "../data/fashion_mnist.ts";
 * import { initBackend } from "../backends/choose.ts";
 * import { train } from "./train.ts";
 * const backend = await initBackend("auto");
 * const { train: trainSplit, test } = await loadFashionMnist();
 * const r = await train({
 *   data: { train: trainSplit, test },
 *   out: "runs/demo",
 *   model: { stages: [1, 1, 1, 1], width: 8 },
 *   settings: { epochs: 1, batchSize: 64, lr: 0.05, size: 28, seed: 0, limit: 2048, testLimit: 512 },
 *   backend,
 * });
 * console.log(r.status, r.history.epochs.at(-1));
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ResNet, type ResNetOptions } from "../model/resnet.ts";
import { trainStep } from "../model/step.ts";
import { SGD } from "../model/fused.ts";
import type { Split } from "../data/fashion_mnist.ts";
import { type Batch, batches } from "../data/batches.ts";
import type { BackendInfo } from "../backends/choose.ts";
import { warmup } from "../backends/warmup.ts";
import { UserError } from "../../cli/options.ts";
import {
  type Checkpoint,
  loadCheckpoint,
  type PartialEpoch,
  saveCheckpoint,
} from "./checkpoint.ts";
import {
  type EpochRecord,
  type History,
  readHistory,
  type TrainSettings,
  writeHistory,
} from "./metrics.ts";
import { evaluate } from "./evaluate.ts";
import { writeCurves } from "./plot.ts";
import { ensureNewRunDir, RUN_FILES, runPath } from "./run_dir.ts";
import { type ProgressSink, SILENT_PROGRESS } from "./progress.ts";

/** d2l's recipe: SGD lr 0.05, batch 256, 10 epochs, 96x96 inputs. */
export const D2L_DEFAULTS: Readonly<Omit<TrainSettings, "limit" | "testLimit">> = Object.freeze({
  epochs: 10,
  batchSize: 256,
  lr: 0.05,
  size: 96,
  seed: 0,
});

/** A read-back also happens when this much time passed since the last one (slow steps). */
const READ_AFTER_MS = 2000;

/** The training and test images. */
export interface TrainData {
  /** Images SGD trains on (the first `settings.limit` of them when a limit is set). */
  train: Split;
  /** Images each epoch's test accuracy is measured on (the first `settings.testLimit`). */
  test: Split;
}

/** Options of {@linkcode train}. */
export interface TrainOptions {
  /** The training and test images. */
  data: TrainData;
  /** The run directory (created; must not hold a run unless `resume`). */
  out: string;
  /** Continue the run in `out` from its checkpoint; `model` is then ignored. */
  resume?: boolean;
  /** Architecture of a new run; `seed` comes from `settings.seed`. */
  model?: Omit<ResNetOptions, "seed">;
  /** Settings of a new run; when resuming only `epochs` and `lr` may differ from the saved ones. */
  settings: TrainSettings;
  /** What runs the computation, recorded in history.json. */
  backend: BackendInfo;
  /** Initialises a new network's weights (e.g. from a d2l safetensors file). */
  initWeights?: (net: ResNet) => Promise<void>;
  /** Aborting finishes the current step, saves a checkpoint and returns "interrupted". */
  signal?: AbortSignal;
  /** Called with each finished epoch (the CLI prints it). */
  onEpoch?: (record: EpochRecord, epochs: number) => void;
  /** Progress display (silent by default). */
  progress?: ProgressSink;
  /** Read the device-side sums back every this many steps (default 10), or after 2 s. */
  readEvery?: number;
  /** Called after every step with the 0-based epoch and step; tests inject faults with it. */
  afterStep?: (net: ResNet, epoch: number, step: number) => void;
  /** Extra version strings for history.json (e.g. the app version). */
  versions?: Record<string, string>;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** "finished": all epochs done; "interrupted": stopped by `signal` with a checkpoint. */
  status: "finished" | "interrupted";
  /** The run's history as written to history.json, earlier sessions' epochs included. */
  history: History;
  /** The checkpoint last saved to the run directory (what `resume` continues from). */
  checkpoint: Checkpoint;
  /** Training examples per second over this session's training steps. */
  examplesPerSec: number;
}

/** Training stopped because the loss became NaN or infinite; the last good checkpoint stays. */
export class DivergedError extends UserError {
  /** Always `"DivergedError"`. */
  override name = "DivergedError";
}

/**
 * Trains (or resumes) a run. Every finished epoch is checkpointed atomically with its metrics;
 * a non-finite loss stops with {@linkcode DivergedError} and leaves the last good checkpoint.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const out = opts.out;
  const progress = opts.progress ?? SILENT_PROGRESS;
  const readEvery = Math.max(1, opts.readEvery ?? 10);
  let net: ResNet;
  let ckpt: Checkpoint;
  let history: History;
  if (opts.resume) {
    ({ net, checkpoint: ckpt } = await loadCheckpoint(out));
    history = await readHistoryFor(out, ckpt);
    // Only the number of epochs and the learning rate may change on resume.
    ckpt.settings = { ...ckpt.settings, epochs: opts.settings.epochs, lr: opts.settings.lr };
    history.settings = ckpt.settings;
    history.backends.push(opts.backend);
  } else {
    await ensureNewRunDir(out);
    net = new ResNet({ ...opts.model, seed: opts.settings.seed });
    try {
      if (opts.initWeights) await opts.initWeights(net);
      history = {
        config: net.config,
        settings: opts.settings,
        versions: {
          deno: Deno.version.deno,
          typescript: Deno.version.typescript,
          "tfjs-core": tf.version_core,
          ...opts.versions,
        },
        backends: [opts.backend],
        epochs: [],
        finished: false,
      };
      // Epoch 0: a checkpoint to resume from, and the last good one if the first epoch diverges.
      await writeHistory(out, history);
      ckpt = await saveCheckpoint(out, net, {
        epoch: 0,
        batch: 0,
        settings: opts.settings,
        partial: null,
      });
    } catch (e) {
      net.dispose();
      throw e;
    }
  }
  try {
    if (tf.getBackend() === "webgpu") {
      // Compile every pipeline of the step ahead, in parallel (lib/warmup.ts); no-op elsewhere.
      const s = ckpt.settings;
      const w = await warmup(net, { batch: s.batchSize, size: s.size, evalBatch: s.batchSize });
      console.error(`warm-up: ${w.pipelines} WebGPU pipelines in ${(w.ms / 1000).toFixed(1)} s`);
    }
    return await loop(net, ckpt, history, opts, progress, readEvery);
  } finally {
    net.dispose();
  }
}

async function loop(
  net: ResNet,
  ckpt: Checkpoint,
  history: History,
  opts: TrainOptions,
  progress: ProgressSink,
  readEvery: number,
): Promise<TrainResult> {
  const s = ckpt.settings;
  const out = opts.out;
  const optimizer = new SGD(s.lr); // tf.train.sgd, one pass per update where fused
  const trainCount = Math.min(s.limit ?? Infinity, opts.data.train.count);
  const stepsPerEpoch = Math.ceil(trainCount / s.batchSize);
  let sessionExamples = 0, sessionSeconds = 0;
  try {
    for (let epoch = ckpt.epoch; epoch < s.epochs; epoch++) {
      const startBatch = epoch === ckpt.epoch ? ckpt.batch : 0;
      const prior: PartialEpoch = (startBatch > 0 ? ckpt.partial : null) ?? {
        lossSum: 0,
        correct: 0,
        examples: 0,
        trainSeconds: 0,
        wallSeconds: 0,
      };
      const wall0 = performance.now();
      progress.start(epoch + 1, s.epochs, trainCount, prior.examples);
      let lossAcc: tf.Scalar = tf.scalar(0);
      let correctAcc: tf.Scalar = tf.scalar(0, "int32");
      let examples = 0, step = startBatch, sinceRead = 0;
      let trainSeconds = 0;
      let t0 = performance.now();
      // Reads the device sums (a host sync) and checks the loss is still finite.
      const readBack = async () => {
        const [l, c] = await Promise.all([lossAcc.data(), correctAcc.data()]);
        trainSeconds += (performance.now() - t0) / 1000;
        t0 = performance.now();
        const lossSum = prior.lossSum + l[0], correct = prior.correct + c[0];
        const n = prior.examples + examples;
        if (!Number.isFinite(lossSum)) {
          throw new DivergedError(
            `the loss became ${lossSum} in epoch ${epoch + 1} (by step ${step}) with --lr ` +
              `${s.lr}: resume from the last good checkpoint (epoch ${ckpt.epoch}) with a lower ` +
              `learning rate: deno task train --resume ${out} --lr ${s.lr / 10}`,
          );
        }
        const secs = prior.trainSeconds + trainSeconds;
        progress.update(n, { loss: lossSum / n, acc: correct / n, imagesPerSec: n / secs });
        return { lossSum, correct, n, trainSeconds: secs };
      };
      let interrupted = false;
      const it = batches(opts.data.train, {
        batchSize: s.batchSize,
        shuffle: true,
        seed: s.seed,
        epoch,
        size: s.size,
        limit: s.limit ?? undefined,
        startBatch,
      });
      // The batch after the current one, made before anything awaits (disposed if left over).
      let next: IteratorResult<Batch> | null = null;
      try {
        next = it.next();
        while (!next.done) {
          const b = next.value;
          const { loss, correct } = trainStep(net, optimizer, b.x, b.y);
          const [nextLoss, nextCorrect] = tf.tidy(() => [
            tf.add(lossAcc, tf.mul(loss, b.n)) as tf.Scalar,
            tf.add(correctAcc, correct) as tf.Scalar,
          ]);
          tf.dispose([lossAcc, correctAcc, loss, correct, b.x, b.y]);
          lossAcc = nextLoss;
          correctAcc = nextCorrect;
          examples += b.n;
          step++;
          opts.afterStep?.(net, epoch, step - 1);
          // The next batch is gathered on the host and its upload queued while the device still
          // works on this step: the device never waits for it after a read-back below.
          next = it.next();
          // Every few steps, or sooner when steps are slow, so progress keeps moving.
          if (++sinceRead >= readEvery || performance.now() - t0 >= READ_AFTER_MS) {
            sinceRead = 0;
            await readBack();
          }
          // A macrotask turn lets a Ctrl-C handler run even when the backend never awaits.
          await new Promise((r) => setTimeout(r, 0));
          if (opts.signal?.aborted && step < stepsPerEpoch) {
            interrupted = true;
            break;
          }
        }
        const sums = await readBack();
        if (interrupted) {
          progress.stop();
          ckpt = await saveCheckpoint(out, net, {
            epoch,
            batch: step,
            settings: s,
            partial: {
              lossSum: sums.lossSum,
              correct: sums.correct,
              examples: sums.n,
              trainSeconds: sums.trainSeconds,
              wallSeconds: prior.wallSeconds + (performance.now() - wall0) / 1000,
            },
          });
          sessionExamples += examples;
          sessionSeconds += trainSeconds;
          return result("interrupted");
        }
        progress.stop();
        const ev = await evaluate(net, opts.data.test, {
          size: s.size,
          batchSize: s.batchSize,
          limit: s.testLimit,
        });
        const record: EpochRecord = {
          epoch: epoch + 1,
          train_loss: sums.lossSum / sums.n,
          train_acc: sums.correct / sums.n,
          test_acc: ev.accuracy,
          examples_per_sec: round(sums.n / sums.trainSeconds, 2),
          epoch_seconds: round(prior.wallSeconds + (performance.now() - wall0) / 1000, 3),
          lr: s.lr,
        };
        sessionExamples += examples;
        sessionSeconds += trainSeconds;
        history.epochs.push(record);
        history.finished = epoch + 1 === s.epochs;
        // History first: a crash in between leaves a record the checkpoint lacks, which resume
        // drops, never a checkpoint without its record.
        await writeHistory(out, history);
        ckpt = await saveCheckpoint(out, net, {
          epoch: epoch + 1,
          batch: 0,
          settings: s,
          partial: null,
        });
        await writeCurves(runPath(out, RUN_FILES.curves), history.epochs);
        opts.onEpoch?.(record, s.epochs);
        if (opts.signal?.aborted && epoch + 1 < s.epochs) return result("interrupted");
      } finally {
        progress.stop();
        if (next && !next.done) tf.dispose([next.value.x, next.value.y]);
        it.return(undefined);
        tf.dispose([lossAcc, correctAcc]);
      }
    }
    if (!history.finished) {
      history.finished = true;
      await writeHistory(out, history);
    }
    return result("finished");
  } finally {
    optimizer.dispose();
  }

  function result(status: TrainResult["status"]): TrainResult {
    return {
      status,
      history,
      checkpoint: ckpt,
      examplesPerSec: sessionSeconds > 0 ? sessionExamples / sessionSeconds : NaN,
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function readHistoryFor(out: string, ckpt: Checkpoint): Promise<History> {
  const h = await readHistory(out);
  // history.json is written before checkpoint.json: keep only epochs the checkpoint has.
  h.epochs = h.epochs.filter((r) => r.epoch <= ckpt.epoch);
  if (h.epochs.length !== ckpt.epoch) {
    throw new UserError(
      `${runPath(out, RUN_FILES.history)} has ${h.epochs.length} epochs but the checkpoint ` +
        `has ${ckpt.epoch}: the run directory is inconsistent`,
    );
  }
  return h;
}
