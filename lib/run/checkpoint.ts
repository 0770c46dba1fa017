/**
 * Checkpoints of a training run: the model in the tfjs layers format (`model.json` +
 * `weights.bin`) plus `checkpoint.json`, which holds what resuming needs (position, seed,
 * settings, architecture, `numBatchesTracked`) and the SHA-256 of `weights.bin`, so a torn or
 * corrupted checkpoint is detected instead of silently loaded.
 *
 * @example
 * ```ts
 * import { ResNet } from "../model/resnet.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const settings = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * await saveCheckpoint("runs/demo", net, { epoch: 1, batch: 0, settings, partial: null });
 * const { net: back, checkpoint } = await loadCheckpoint("runs/demo");
 * console.log(checkpoint.epoch); // 1
 * back.dispose();
 * ```
 * @module
 */
import { ResNet, type ResNetConfig } from "../model/resnet.ts";
import { errorText, UserError } from "../errors.ts";
import type { TrainSettings } from "./metrics.ts";
import { encodeLayersModel, loadLayersWeights } from "../io/layers_model.ts";
import { readJsonFile, requireRunDir, RUN_FILES, runPath } from "./run_dir.ts";
import { writeFilesAtomic } from "../io/atomic.ts";

/** Sums of an epoch interrupted part-way, so a resumed epoch reports the same metrics. */
export interface PartialEpoch {
  /** Sum of per-example losses so far. */
  lossSum: number;
  /** Correct training predictions so far. */
  correct: number;
  /** Training examples seen so far. */
  examples: number;
  /** Seconds spent in training steps so far. */
  trainSeconds: number;
  /** Wall-clock seconds of the epoch so far. */
  wallSeconds: number;
}

/** Where a run stands; `checkpoint.json`. */
export interface Checkpoint {
  /** Marks the file as ours. */
  format: "resnet-d2l-checkpoint";
  /** Layout version of this file. */
  version: 1;
  /** Epochs fully finished. */
  epoch: number;
  /** Batches of epoch `epoch + 1` already trained (0 at an epoch boundary). */
  batch: number;
  /** Metric sums of the unfinished epoch when `batch > 0`. */
  partial: PartialEpoch | null;
  /** The architecture, to rebuild the network. */
  config: ResNetConfig;
  /** The training settings, to continue identically. */
  settings: TrainSettings;
  /** PyTorch's `num_batches_tracked` of the saved network. */
  numBatchesTracked: number;
  /** SHA-256 of `weights.bin`, hex. */
  weightsSha256: string;
  /** When it was written (ISO 8601). */
  savedAt: string;
}

/** What the caller supplies to {@linkcode saveCheckpoint}; the rest comes from the network. */
export type CheckpointPosition = Pick<Checkpoint, "epoch" | "batch" | "settings" | "partial">;

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256File(path: string): Promise<string> {
  let data: Uint8Array<ArrayBuffer>;
  try {
    data = await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${errorText(e)}`);
  }
  return sha256(data);
}

/**
 * Saves `net` and its position into the run directory `dir`. The three files are written in full
 * to temporary files first and then renamed together; `checkpoint.json` goes last and names the
 * checksum of the weights it belongs to, so a torn save is detected on load.
 */
export async function saveCheckpoint(
  dir: string,
  net: ResNet,
  pos: CheckpointPosition,
): Promise<Checkpoint> {
  const files = await encodeLayersModel(net, pos.settings.size);
  const ckpt: Checkpoint = {
    format: "resnet-d2l-checkpoint",
    version: 1,
    ...pos,
    config: net.config,
    numBatchesTracked: net.numBatchesTracked,
    weightsSha256: await sha256(files.weights),
    savedAt: new Date().toISOString(),
  };
  await writeFilesAtomic([
    [runPath(dir, RUN_FILES.weights), files.weights],
    [runPath(dir, RUN_FILES.model), files.modelJson],
    [runPath(dir, RUN_FILES.checkpoint), JSON.stringify(ckpt, null, 2) + "\n"],
  ]);
  return ckpt;
}

/** Reads and validates `checkpoint.json` of `dir` (which must be a run directory). */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  await requireRunDir(dir);
  const path = runPath(dir, RUN_FILES.checkpoint);
  const c = await readJsonFile(path) as Checkpoint;
  const int = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  const ok = typeof c === "object" && c !== null && c.format === "resnet-d2l-checkpoint" &&
    c.version === 1 && int(c.epoch) && int(c.batch) && int(c.numBatchesTracked) &&
    typeof c.config === "object" && c.config !== null && Array.isArray(c.config.stages) &&
    typeof c.settings === "object" && c.settings !== null && int(c.settings.size) &&
    typeof c.weightsSha256 === "string";
  if (!ok) throw new UserError(`${path} is corrupt (unexpected structure): restore it`);
  return c;
}

/**
 * Loads the checkpoint of run directory `dir`: a new {@linkcode ResNet} of the saved architecture
 * with the saved weights and BatchNorm statistics. Missing, torn or corrupt files are one-line
 * {@linkcode UserError}s. The caller disposes `net`.
 */
export async function loadCheckpoint(
  dir: string,
): Promise<{ net: ResNet; checkpoint: Checkpoint }> {
  const checkpoint = await readCheckpoint(dir);
  const weightsPath = runPath(dir, RUN_FILES.weights);
  if (await sha256File(weightsPath) !== checkpoint.weightsSha256) {
    throw new UserError(
      `${weightsPath} is corrupt (its checksum differs from checkpoint.json): restore it or ` +
        "train again",
    );
  }
  const c = checkpoint.config;
  let net: ResNet;
  try {
    net = new ResNet({
      stages: c.stages,
      width: c.width,
      inChannels: c.inChannels,
      numClasses: c.numClasses,
    });
  } catch (e) {
    throw new UserError(
      `${runPath(dir, RUN_FILES.checkpoint)} is corrupt (${errorText(e)})`,
    );
  }
  try {
    await loadLayersWeights(net, dir);
  } catch (e) {
    net.dispose();
    throw e;
  }
  net.numBatchesTracked = checkpoint.numBatchesTracked;
  return { net, checkpoint };
}
