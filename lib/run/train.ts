/**
 * d2l's `train_ch6` for our ResNet: minibatch SGD on softmax cross-entropy, one test evaluation
 * per epoch, and a run directory that makes every run reproducible, resumable and exportable
 * (checkpoint after every epoch, `history.json`, `metrics.csv`). The settings may
 * add momentum and weight decay, a learning-rate schedule, label smoothing, augmentation and
 * test-time flips (./recipe.ts); without them it is d2l's recipe, exactly.
 *
 * It reads as torchvision's reference trainer: {@linkcode train} starts or resumes a run and loops
 * over epochs; `runEpoch` trains one (./epoch.ts, the code the web page runs too) and saves it:
 * a mid-epoch checkpoint when stopped, else `endEpoch`'s history and checkpoint; what a person
 * looks at (curves.svg, report.html: lib/viz/) the caller draws in `afterEpoch`.
 * The data come in as {@linkcode Split}s (dependency injection: tests pass generated images).
 * The run is planned once (./plan.ts: the directory locked and cleared of what killed runs left,
 * the settings resolved and checked, the checkpoint read); `train` plans it itself unless given
 * a plan, and on WebGPU refuses a batch over the adapter's buffer limits before anything is
 * written (../backends/tensor_limit.ts).
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
import { ResNet } from "../model/resnet.ts";
import type { SGD } from "../model/fused.ts";
import type { Split } from "../data/fashion_mnist.ts";
import type { BackendInfo } from "../backends/choose.ts";
import type { WarmupReport } from "../backends/warmup.ts";
import { UserError } from "../errors.ts";
import {
  type Checkpoint,
  type CheckpointPosition,
  loadCheckpoint,
  type PartialEpoch,
  saveCheckpoint,
  saveCheckpointIfFinite,
} from "./checkpoint.ts";
import {
  backendRecord,
  type EpochRecord,
  type History,
  readRunHistory,
  writeHistory,
} from "./metrics.ts";
import type { Evaluation } from "./evaluate.ts";
import { makeOptimizer, momentumState } from "./optimizer.ts";
import { RUN_FILES, runPath } from "./run_dir.ts";
import type { ProgressSink } from "./progress.ts";
import { checkFits, planRun, type RunPlan, type RunRequest } from "./plan.ts";
import { testEpoch, type Trainee, trainEpoch, warmupTraining } from "./epoch.ts";

// Where it has always been imported from (cli/errors.ts, mod.ts): the accumulator throws it.
export { DivergedError } from "./accumulator.ts";

/** The training and test images. */
export interface TrainData {
  /** Images SGD trains on (the first `settings.limit` of them when a limit is set). */
  train: Split;
  /** Images each epoch's test accuracy is measured on (the first `settings.testLimit`). */
  test: Split;
}

/**
 * Options of {@linkcode train}: the run, as a {@linkcode RunPlan} (`plan`) or as what
 * {@linkcode planRun} is asked (`out`, `resume`, `model`, `settings`), and what it reports to.
 */
export interface TrainOptions extends Partial<RunRequest> {
  /** The run, planned by the caller ({@linkcode planRun}); it keeps and releases its lock. */
  plan?: RunPlan;
  /** The training and test images. */
  data: TrainData;
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
   * prediction included): the CLI writes the run's curves.svg and report.html from it (lib/viz/).
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
   * Also checkpoint part-way through an epoch once this many seconds have passed since the last
   * checkpoint (a kill then loses about that much training at most); 0 or absent: only at the
   * end of each epoch and when stopped.
   */
  saveEvery?: number;
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
  examplesPerSec: number;
}

/** A run's mutable state while it trains. */
interface RunState extends Trainee {
  readonly plan: RunPlan;
  readonly history: History;
  readonly opts: TrainOptions;
  ckpt: Checkpoint;
  /** This session's training images and seconds (for {@linkcode TrainResult.examplesPerSec}). */
  images: number;
  seconds: number;
}

/**
 * Trains (or resumes) a run. Every finished epoch is checkpointed atomically with its metrics;
 * a non-finite loss stops with {@linkcode DivergedError} and leaves the last good checkpoint.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  if (opts.plan) {
    checkFits(opts.plan);
    return await trainPlanned(opts.plan, opts);
  }
  if (opts.out === undefined) throw new TypeError("train: give a plan or an out directory");
  const plan = await planRun({ ...opts, out: opts.out });
  try {
    checkFits(plan); // before anything is written
    return await trainPlanned(plan, opts);
  } finally {
    await plan.lock.release();
  }
}

/** {@linkcode train} once the run is planned (its directory locked). */
async function trainPlanned(plan: RunPlan, opts: TrainOptions): Promise<TrainResult> {
  const started = plan.checkpoint ? await resumeRun(plan, opts) : await startRun(plan, opts);
  const { net, optimizer } = started;
  try {
    if (tf.getBackend() === "webgpu") opts.onWarmup?.(await warmupTraining(net, plan.settings));
    const run: RunState = { ...started, plan, settings: plan.settings, data: opts.data, opts };
    const epochs = plan.settings.epochs;
    for (let epoch = run.ckpt.epoch; epoch < epochs; epoch++) {
      const stopped = await runEpoch(run, epoch);
      if (stopped || (opts.signal?.aborted && epoch + 1 < epochs)) {
        return result(run, "interrupted");
      }
    }
    if (!run.history.finished) {
      run.history.finished = true;
      await writeHistory(plan.out, run.history);
    }
    return result(run, "finished");
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}

/** The network and its optimizer, the run's history and checkpoint. */
interface Started {
  net: ResNet;
  optimizer: SGD;
  ckpt: Checkpoint;
  history: History;
  images: number;
  seconds: number;
}

/** A new run: the network, history.json and an epoch-0 checkpoint to resume from. */
async function startRun(plan: RunPlan, opts: TrainOptions): Promise<Started> {
  const settings = plan.settings;
  const net = new ResNet({ ...plan.model, seed: settings.seed });
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
    await writeHistory(plan.out, history);
    const pos = { epoch: 0, batch: 0, settings, partial: null };
    const ckpt = await save(plan.out, net, optimizer, pos);
    return { net, optimizer, ckpt, history, images: 0, seconds: 0 };
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

/** The run at the plan's checkpoint, with the plan's settings (only epochs and lr may differ). */
async function resumeRun(plan: RunPlan, opts: TrainOptions): Promise<Started> {
  const out = plan.out, settings = plan.settings;
  const loaded = await loadCheckpoint(out, plan.checkpoint);
  const { net, checkpoint: ckpt, optimizer: saved } = loaded;
  try {
    const history = await readRunHistory(out, ckpt);
    if (settings.momentum > 0 && !saved) {
      throw new UserError(
        `${runPath(out, RUN_FILES.checkpoint)} has no momentum buffers though the run uses ` +
          "momentum: the checkpoint is incomplete; restore it or train again",
      );
    }
    const where = runPath(out, `${ckpt.model ?? "."}/${RUN_FILES.optimizer}`);
    const optimizer = makeOptimizer(net, settings, saved, where);
    ckpt.settings = history.settings = settings;
    history.backends.push(backendRecord(opts.backend));
    return { net, optimizer, ckpt, history, images: 0, seconds: 0 };
  } catch (e) {
    net.dispose();
    throw e;
  }
}

/**
 * One epoch (from the checkpoint's batch when it resumes one) through ./epoch.ts, then saved:
 * a mid-epoch checkpoint when `signal` stopped it part-way (returns true), else
 * {@linkcode endEpoch}.
 */
async function runEpoch(run: RunState, epoch: number): Promise<boolean> {
  const opts = run.opts, out = run.plan.out, s = run.settings;
  const startBatch = epoch === run.ckpt.epoch ? run.ckpt.batch : 0;
  // What a DivergedError names as the checkpoint that stays; a save part-way moves it.
  const resume = { dir: out, lastGoodEpoch: run.ckpt.epoch, lastGoodBatch: run.ckpt.batch };
  const trained = await trainEpoch(run, {
    epoch,
    startBatch,
    prior: run.ckpt.partial,
    resume,
    read: { readEvery: opts.readEvery },
    progress: opts.progress,
    stop: () => opts.signal?.aborted ?? false,
    afterStep: (step) => opts.afterStep?.(run.net, epoch, step),
    checkpoint: opts.saveEvery
      ? {
        every: opts.saveEvery,
        save: (step, sums) => saveMidEpoch(run, resume, epoch, step, sums),
      }
      : undefined,
  });
  run.images += trained.images;
  run.seconds += trained.seconds;
  if (trained.stopped) {
    const pos = { epoch, batch: trained.step, settings: s, partial: trained.sums };
    run.ckpt = await save(out, run.net, run.optimizer, pos);
    return true;
  }
  const { record, evaluation } = await testEpoch(run, epoch, trained, {
    progress: opts.progress?.testPass?.(epoch + 1, s.epochs),
    predictions: opts.afterEpoch !== undefined,
  });
  await endEpoch(run, epoch, record, evaluation);
  return false;
}

/**
 * A checkpoint `step` steps into `epoch`, the one a stop writes, unless a value in it is not
 * finite (the step after would diverge: the last good checkpoint must stay the last one).
 */
async function saveMidEpoch(
  run: RunState,
  resume: { lastGoodBatch?: number },
  epoch: number,
  step: number,
  sums: PartialEpoch,
): Promise<void> {
  const pos = { epoch, batch: step, settings: run.settings, partial: sums };
  const state = await momentumState(run.net, run.optimizer);
  const saved = await saveCheckpointIfFinite(run.plan.out, run.net, pos, state);
  if (!saved) return;
  run.ckpt = saved;
  resume.lastGoodBatch = step;
}

/** The epoch's record into history.json, then the checkpoint, in that order; then the hooks. */
async function endEpoch(
  run: RunState,
  epoch: number,
  record: EpochRecord,
  evaluation: Evaluation,
): Promise<void> {
  const s = run.settings, out = run.plan.out;
  run.history.epochs.push(record);
  run.history.finished = epoch + 1 === s.epochs;
  // History first: a crash in between leaves a record the checkpoint lacks, which resume drops,
  // never a checkpoint without its record.
  await writeHistory(out, run.history);
  const pos = { epoch: epoch + 1, batch: 0, settings: s, partial: null };
  run.ckpt = await save(out, run.net, run.optimizer, pos);
  const test = run.opts.data.test;
  await run.opts.afterEpoch?.({ out, record, history: run.history, evaluation, test });
  run.opts.onEpoch?.(record, s.epochs);
}

function result(run: RunState, status: TrainResult["status"]): TrainResult {
  return {
    status,
    history: run.history,
    checkpoint: run.ckpt,
    examplesPerSec: run.seconds > 0 ? run.images / run.seconds : NaN,
  };
}
