/**
 * d2l's `train_ch6` for our ResNet: minibatch SGD on softmax cross-entropy, one test evaluation
 * per epoch, and a run directory that makes every run reproducible, resumable and exportable
 * (checkpoint after every epoch, `history.json`, `metrics.csv`, `curves.svg`). The settings may
 * add momentum and weight decay, a learning-rate schedule, label smoothing, augmentation and
 * test-time flips (./recipe.ts); without them it is d2l's recipe, exactly.
 *
 * It reads as torchvision's reference trainer: {@linkcode train} starts or resumes a run and loops
 * over epochs; `trainOneEpoch` steps through one epoch's batches; `endEpoch` evaluates and saves.
 * The data come in as {@linkcode Split}s (dependency injection: tests pass generated images).
 * Loss and accuracy are summed on the device and read back every few steps only. The run
 * directory is locked for the life of the run (./lock.ts) and cleared of what killed runs left;
 * on WebGPU a batch over the adapter's buffer limits is refused before anything is written
 * (../backends/tensor_limit.ts).
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from "../data/fashion_mnist.ts";
 * import { initBackend } from "../backends/choose.ts";
 * import { train } from "./train.ts";
 * import assert from "node:assert/strict";
 * const backend = await initBackend("auto");
 * const { train: trainSplit, test } = await loadFashionMnist();
 * const out = `${await Deno.makeTempDir()}/run`;
 * const r = await train({
 *   data: { train: trainSplit, test },
 *   out,
 *   model: { stages: [1, 1, 1, 1], width: 8 },
 *   settings: { epochs: 1, batchSize: 64, lr: 0.05, size: 28, seed: 0, limit: 2048, testLimit: 512 },
 *   backend,
 * });
 * assert.equal(r.status, "finished");
 * assert.equal(r.history.epochs.at(-1)?.epoch, 1);
 * await Deno.remove(out, { recursive: true });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { ResNet, type ResNetOptions, resolveConfig } from "../model/resnet.ts";
import { trainStep } from "../model/step.ts";
import { SGD } from "../model/fused.ts";
import type { Split } from "../data/fashion_mnist.ts";
import { type Batch, batches } from "../data/batches.ts";
import type { BackendInfo } from "../backends/choose.ts";
import { warmup, type WarmupReport } from "../backends/warmup.ts";
import { checkTrainingFits, tensorLimit } from "../backends/tensor_limit.ts";
import { UserError } from "../errors.ts";
import {
  type Checkpoint,
  type CheckpointPosition,
  loadCheckpoint,
  type PartialEpoch,
  pruneCheckpoints,
  readCheckpoint,
  saveCheckpoint,
} from "./checkpoint.ts";
import { lockRunDir, type RunLock } from "./lock.ts";
import {
  backendRecord,
  type EpochRecord,
  type History,
  readRunHistory,
  type TrainSettings,
  writeHistory,
} from "./metrics.ts";
import { evaluate, type Evaluation } from "./evaluate.ts";
import { EpochAccumulator, epochStats } from "./accumulator.ts";

// Where it has always been imported from (cli/errors.ts, mod.ts): the accumulator throws it.
export { DivergedError } from "./accumulator.ts";
import { checkSettings, type ResolvedSettings, resolveSettings } from "./recipe.ts";
import { lrAt } from "./schedule.ts";
import { makeOptimizer, momentumState } from "./optimizer.ts";
import { writeCurves } from "./plot.ts";
import {
  ensureNewRunDir,
  ensureWritableDir,
  requireRunDir,
  RUN_FILES,
  runPath,
} from "./run_dir.ts";
import { type ProgressSink, SILENT_PROGRESS } from "./progress.ts";

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
  /**
   * Called once each epoch is saved, before `onEpoch`, with its test pass (each image's
   * prediction included): the CLI writes the run's report.html from it (lib/viz/report.ts).
   */
  afterEpoch?: (end: EpochEnd) => Promise<void> | void;
  /** Called once the WebGPU pipelines are compiled ahead of the first step (WebGPU only). */
  onWarmup?: (report: WarmupReport) => void;
  /** Progress display (silent by default). */
  progress?: ProgressSink;
  /** Read the device-side sums back every this many steps (default 10), or after 2 s. */
  readEvery?: number;
  /** Called after every step with the 0-based epoch and step; tests inject faults with it. */
  afterStep?: (net: ResNet, epoch: number, step: number) => void;
  /** Extra version strings for history.json (e.g. the app version). */
  versions?: Record<string, string>;
  /**
   * The lock of `out` when the caller took it ({@linkcode lockRunDir}; the CLI does, before
   * anything slow); otherwise `train` takes it and releases it at the end.
   */
  lock?: RunLock;
}

/** What {@linkcode TrainOptions.afterEpoch} is told about a finished epoch. */
export interface EpochEnd {
  /** The run directory. */
  out: string;
  /** The epoch's record (also the last of `history.epochs`). */
  record: EpochRecord;
  /** The run's history as just written. */
  history: History;
  /** The epoch's test pass, with `predicted` for every image evaluated. */
  evaluation: Evaluation;
  /** The test images (the first `evaluation.n` were evaluated). */
  test: Split;
}

/** What {@linkcode train} returns. */
export interface TrainResult {
  /** "finished": all epochs done; "interrupted": stopped by `signal` with a checkpoint. */
  status: "finished" | "interrupted";
  /** The run's history as written to history.json, earlier sessions' epochs included. */
  history: History;
  /** The checkpoint last saved to the run directory (what `resume` continues from). */
  checkpoint: Checkpoint;
  /** Training images per second over this session's training steps. */
  imagesPerSec: number;
}

/** A run's mutable state while it trains. */
interface RunState {
  readonly net: ResNet;
  /** The run's settings, every training option resolved. */
  readonly settings: ResolvedSettings;
  readonly history: History;
  readonly opts: TrainOptions;
  readonly optimizer: SGD;
  readonly progress: ProgressSink;
  ckpt: Checkpoint;
  /** This session's training images and seconds (for {@linkcode TrainResult.imagesPerSec}). */
  images: number;
  seconds: number;
}

/**
 * Trains (or resumes) a run. Every finished epoch is checkpointed atomically with its metrics;
 * a non-finite loss stops with {@linkcode DivergedError} and leaves the last good checkpoint.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  if (!opts.resume) checkSettings(resolveSettings(opts.settings)); // before anything is written
  await checkFits(opts);
  const lock = opts.lock ?? await lockFor(opts);
  try {
    return await trainLocked(opts);
  } finally {
    if (!opts.lock) await lock.release();
  }
}

/** On WebGPU, refuses a batch whose tensors exceed the adapter's limits (tensor_limit.ts). */
async function checkFits(opts: TrainOptions): Promise<void> {
  if (tensorLimit() === null) return;
  const saved = opts.resume ? await readCheckpoint(opts.out) : null; // a resumed run keeps its own
  const s = saved?.settings ?? opts.settings;
  checkTrainingFits(saved?.config ?? resolveConfig(opts.model), s.size, s.batchSize);
}

/** Takes the lock of the run directory (created for a new run). */
async function lockFor(opts: TrainOptions): Promise<RunLock> {
  if (opts.resume) await requireRunDir(opts.out);
  else await ensureWritableDir(opts.out);
  return await lockRunDir(opts.out);
}

/** {@linkcode train} once the run directory is locked. */
async function trainLocked(opts: TrainOptions): Promise<TrainResult> {
  const started = opts.resume ? await resumeRun(opts) : await startRun(opts);
  const { net, ckpt, history, optimizer, settings } = started;
  try {
    if (tf.getBackend() === "webgpu") {
      // Compile every pipeline of the step ahead, in parallel (../backends/warmup.ts).
      const s = settings, { momentum, nesterov, weightDecay } = s;
      const like = () => new SGD(s.lr, { momentum, nesterov, weightDecay }); // its pipelines too
      opts.onWarmup?.(
        await warmup(net, {
          batch: s.batchSize,
          size: s.size,
          evalBatch: s.batchSize,
          optimizer: like,
        }),
      );
    }
    const run: RunState = {
      net,
      settings,
      history,
      opts,
      optimizer,
      progress: opts.progress ?? SILENT_PROGRESS,
      ckpt,
      images: 0,
      seconds: 0,
    };
    for (let epoch = ckpt.epoch; epoch < settings.epochs; epoch++) {
      const stopped = await trainOneEpoch(run, epoch);
      if (stopped || (opts.signal?.aborted && epoch + 1 < settings.epochs)) {
        return result(run, "interrupted");
      }
    }
    if (!history.finished) {
      history.finished = true;
      await writeHistory(opts.out, history);
    }
    return result(run, "finished");
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}

/** The network and its optimizer, the run's history and checkpoint, its resolved settings. */
interface Started {
  net: ResNet;
  optimizer: SGD;
  ckpt: Checkpoint;
  history: History;
  settings: ResolvedSettings;
}

/** A new run: the network, history.json and an epoch-0 checkpoint to resume from. */
async function startRun(opts: TrainOptions): Promise<Started> {
  await ensureNewRunDir(opts.out);
  await pruneCheckpoints(opts.out, null); // what a run killed in its first save left
  const settings = resolveSettings(opts.settings);
  const net = new ResNet({ ...opts.model, seed: settings.seed });
  let optimizer: SGD | null = null;
  try {
    if (opts.initWeights) await opts.initWeights(net);
    optimizer = makeOptimizer(net, settings, null);
    const history: History = {
      config: net.config,
      settings,
      versions: {
        deno: Deno.version.deno,
        typescript: Deno.version.typescript,
        "tfjs-core": tf.version_core,
        ...opts.versions,
      },
      backends: [backendRecord(opts.backend)],
      epochs: [],
      finished: false,
    };
    // Epoch 0: a checkpoint to resume from, and the last good one if the first epoch diverges.
    await writeHistory(opts.out, history);
    const pos = { epoch: 0, batch: 0, settings, partial: null };
    const ckpt = await save(opts.out, net, optimizer, pos);
    return { net, optimizer, ckpt, history, settings };
  } catch (e) {
    optimizer?.dispose();
    net.dispose();
    throw e;
  }
}

/** Saves a checkpoint of the network with the optimizer's momentum buffers. */
async function save(out: string, net: ResNet, optimizer: SGD, pos: CheckpointPosition) {
  return await saveCheckpoint(out, net, pos, await momentumState(net, optimizer));
}

/** The run in `opts.out` at its checkpoint; only the epochs and the learning rate may change. */
async function resumeRun(opts: TrainOptions): Promise<Started> {
  // What a killed run left (a half-written checkpoint, temporary files) goes first.
  await pruneCheckpoints(opts.out, await readCheckpoint(opts.out));
  const { net, checkpoint: ckpt, optimizer: saved } = await loadCheckpoint(opts.out);
  try {
    const history = await readRunHistory(opts.out, ckpt);
    const { epochs, lr } = opts.settings;
    const settings = resolveSettings({ ...ckpt.settings, epochs, lr });
    checkSettings(settings);
    if (settings.momentum > 0 && !saved) {
      throw new UserError(
        `${runPath(opts.out, RUN_FILES.checkpoint)} has no momentum buffers though the run uses ` +
          "momentum: the checkpoint is incomplete; restore it or train again",
      );
    }
    const where = runPath(opts.out, `${ckpt.model ?? "."}/${RUN_FILES.optimizer}`);
    const optimizer = makeOptimizer(net, settings, saved, where);
    ckpt.settings = history.settings = settings;
    history.backends.push(backendRecord(opts.backend));
    return { net, optimizer, ckpt, history, settings };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/**
 * One epoch (from the checkpoint's batch when it resumes one): steps through the epoch's batches,
 * then ends it with {@linkcode endEpoch}. Returns true when `signal` stopped it part-way, after
 * saving a mid-epoch checkpoint.
 */
async function trainOneEpoch(run: RunState, epoch: number): Promise<boolean> {
  const s = run.settings, opts = run.opts;
  const lr = lrAt(s, epoch);
  if (run.optimizer.lr !== lr) run.optimizer.setLearningRate(lr);
  const startBatch = epoch === run.ckpt.epoch ? run.ckpt.batch : 0;
  const acc = accumulatorFor(run, epoch, startBatch);
  const count = Math.min(s.limit ?? Infinity, opts.data.train.count);
  const stepsPerEpoch = Math.ceil(count / s.batchSize);
  run.progress.start(epoch + 1, s.epochs, count, acc.prior.examples);
  const read = async (step: number) => {
    const sums = await acc.read(step); // a host sync; throws DivergedError on a NaN loss
    run.progress.update(sums.examples, epochStats(sums));
    return sums;
  };
  const it = trainBatches(run, epoch, startBatch);
  // The batch after the current one, made before anything awaits (disposed if left over).
  let next: IteratorResult<Batch> | null = null;
  let step = startBatch, interrupted = false;
  const smoothing = { labelSmoothing: s.labelSmoothing };
  try {
    next = it.next();
    while (!next.done) {
      const b = next.value;
      acc.add(trainStep(run.net, run.optimizer, b.x, b.y, smoothing), b.n);
      tf.dispose([b.x, b.y]);
      // Counted outside the optional hook: `f?.(step++)` skips its arguments when f is absent.
      step++;
      opts.afterStep?.(run.net, epoch, step - 1);
      // The next batch is gathered on the host and its upload queued while the device still
      // works on this step: the device never waits for it after a read-back below.
      next = it.next();
      if (acc.due()) await read(step);
      // A macrotask turn lets a Ctrl-C handler run even when the backend never awaits.
      await new Promise((r) => setTimeout(r, 0));
      if (opts.signal?.aborted && step < stepsPerEpoch) {
        interrupted = true;
        break;
      }
    }
    const sums = await read(step);
    run.progress.stop();
    run.images += sums.examples - acc.prior.examples;
    run.seconds += acc.seconds;
    if (interrupted) {
      const pos = { epoch, batch: step, settings: s, partial: sums };
      run.ckpt = await save(opts.out, run.net, run.optimizer, pos);
      return true;
    }
    await endEpoch(run, epoch, sums, () => acc.wallSeconds());
    return false;
  } finally {
    run.progress.stop();
    if (next && !next.done) tf.dispose([next.value.x, next.value.y]);
    it.return(undefined);
    acc.dispose();
  }
}

/**
 * The accumulator of `epoch`: with the sums of its part trained before when it resumes
 * mid-epoch, and what a {@linkcode DivergedError} says (the run, its last good checkpoint).
 */
function accumulatorFor(run: RunState, epoch: number, startBatch: number): EpochAccumulator {
  const s = run.settings, opts = run.opts;
  const context = {
    epoch: epoch + 1,
    lr: lrAt(s, epoch),
    baseLr: s.lr,
    resume: { dir: opts.out, lastGoodEpoch: run.ckpt.epoch },
  };
  const prior = startBatch > 0 ? run.ckpt.partial : null;
  return new EpochAccumulator(prior, context, { readEvery: opts.readEvery });
}

/** The (augmented) training batches of `epoch` from `startBatch` on. */
function trainBatches(run: RunState, epoch: number, startBatch: number) {
  const s = run.settings;
  return batches(run.opts.data.train, {
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

/** Test accuracy, the epoch's record, history.json, the checkpoint and the curves, in that order. */
async function endEpoch(
  run: RunState,
  epoch: number,
  sums: Omit<PartialEpoch, "wallSeconds">,
  wallSeconds: () => number,
): Promise<void> {
  const s = run.settings, out = run.opts.out;
  const ev = await evaluate(run.net, run.opts.data.test, {
    size: s.size,
    batchSize: s.batchSize,
    limit: s.testLimit,
    progress: run.progress.testPass?.(epoch + 1, s.epochs),
    predictions: run.opts.afterEpoch !== undefined,
    tta: s.tta,
  });
  const record: EpochRecord = {
    epoch: epoch + 1,
    train_loss: sums.lossSum / sums.examples,
    train_acc: sums.correct / sums.examples,
    test_acc: ev.accuracy,
    examples_per_sec: round(sums.examples / sums.trainSeconds, 2),
    epoch_seconds: round(wallSeconds(), 3),
    lr: lrAt(s, epoch),
  };
  run.history.epochs.push(record);
  run.history.finished = epoch + 1 === s.epochs;
  // History first: a crash in between leaves a record the checkpoint lacks, which resume drops,
  // never a checkpoint without its record.
  await writeHistory(out, run.history);
  const pos = { epoch: epoch + 1, batch: 0, settings: s, partial: null };
  run.ckpt = await save(out, run.net, run.optimizer, pos);
  await writeCurves(runPath(out, RUN_FILES.curves), run.history.epochs);
  const test = run.opts.data.test;
  await run.opts.afterEpoch?.({ out, record, history: run.history, evaluation: ev, test });
  run.opts.onEpoch?.(record, s.epochs);
}

function result(run: RunState, status: TrainResult["status"]): TrainResult {
  return {
    status,
    history: run.history,
    checkpoint: run.ckpt,
    imagesPerSec: run.seconds > 0 ? run.images / run.seconds : NaN,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
