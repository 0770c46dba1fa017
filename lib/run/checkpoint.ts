/**
 * Checkpoints of a training run, safe against a kill at any instant. Each checkpoint's model (the
 * tfjs layers format, `model.json` + `weights.bin`) goes into a directory of its own,
 * `model-N`, written in full under a temporary name and renamed; then `checkpoint.json`, which
 * names that directory and holds what resuming needs (position, seed, settings, architecture,
 * `numBatchesTracked`), replaces the previous one by one rename: the commit. Before that rename
 * the previous checkpoint is whole, after it the new one; older `model-N` directories are removed
 * after it, and left-overs of a killed save on the next save, start or resume.
 *
 * A run with momentum also keeps SGD's momentum buffers there, as `optimizer.safetensors` (one
 * float32 tensor per trainable parameter, by its name), so that a resumed run continues exactly.
 *
 * `checkpoint.json` holds the SHA-256 of `model.json`, of `weights.bin`, of
 * `optimizer.safetensors` and of itself, so every byte a load reads is checked: a torn, corrupted
 * or edited checkpoint is reported, never loaded.
 * Runs saved before this layout (`model.json` and `weights.bin` beside `checkpoint.json`, only
 * the weights' checksum) still load.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * const dir = await Deno.makeTempDir(); // a run directory
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const settings = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * await saveCheckpoint(dir, net, { epoch: 1, batch: 0, settings, partial: null });
 * const { net: back, checkpoint } = await loadCheckpoint(dir);
 * assert.equal(checkpoint.epoch, 1);
 * assert.equal(checkpoint.model, "model-1");
 * net.dispose();
 * back.dispose();
 * ```
 * @module
 */
import { ResNet, type ResNetConfig } from "../model/resnet.ts";
import { errorText, UserError } from "../errors.ts";
import type { TrainSettings } from "./recipe.ts";
import {
  encodeLayersModel,
  layersArtifacts,
  type LayersFiles,
  readLayersFiles,
  setLayersWeights,
  weightsFinite,
} from "../io/layers_model.ts";
import { readJsonFile, requireRunDir, RUN_FILES, runPath } from "./run_dir.ts";
import {
  decodeSafetensors,
  encodeSafetensors,
  type SafetensorsInput,
  toFloat32,
} from "../io/safetensors.ts";
import { removeStaleTemps, tempPathFor, writeFileAtomic } from "../io/atomic.ts";

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
  /** Layout version: 2 (model in `model`, every file checksummed); 1 in runs saved before. */
  version: 1 | 2;
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
  /** The directory of this checkpoint's `model.json` and `weights.bin` in the run (version 2). */
  model?: string;
  /** SHA-256 of `model.json`, hex (version 2). */
  modelSha256?: string;
  /** SHA-256 of `weights.bin`, hex. */
  weightsSha256: string;
  /** SHA-256 of `optimizer.safetensors`, hex (only when the checkpoint has one). */
  optimizerSha256?: string;
  /** When it was written (ISO 8601). */
  savedAt: string;
  /** SHA-256 of this file's JSON without this field, hex (version 2). */
  sha256?: string;
}

/** What the caller supplies to {@linkcode saveCheckpoint}; the rest comes from the network. */
export type CheckpointPosition = Pick<Checkpoint, "epoch" | "batch" | "settings" | "partial">;

/** `model-N`: the directory of the N-th checkpoint saved into a run. */
const MODEL_DIR = /^model-(\d+)$/;

async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The text of `checkpoint.json`; `sha256` is computed over the same text without it. */
const checkpointText = (c: Checkpoint) => JSON.stringify(c, null, 2) + "\n";

/** The `model-N` directories in `dir`, by N. */
async function modelDirs(dir: string): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for await (const e of Deno.readDir(dir)) {
    const m = MODEL_DIR.exec(e.name);
    if (m && e.isDirectory) found.set(Number(m[1]), e.name);
  }
  return found;
}

/** The optimizer's tensors (momentum buffers) by parameter name, as a checkpoint holds them. */
export type OptimizerState = Map<string, Float32Array>;

/** Writes the model files into a new `model-N` directory (complete before it has that name). */
async function writeModelDir(
  dir: string,
  files: LayersFiles,
  optimizer: Uint8Array | null,
): Promise<string> {
  const name = `model-${Math.max(0, ...(await modelDirs(dir)).keys()) + 1}`;
  const tmp = tempPathFor(runPath(dir, name));
  try {
    await Deno.mkdir(tmp);
    await Deno.writeFile(runPath(tmp, RUN_FILES.weights), files.weights);
    await Deno.writeTextFile(runPath(tmp, RUN_FILES.model), files.modelJson);
    if (optimizer) await Deno.writeFile(runPath(tmp, RUN_FILES.optimizer), optimizer);
    await Deno.rename(tmp, runPath(dir, name));
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw new UserError(`cannot write a checkpoint into ${dir}: ${errorText(e)}`);
  }
  return name;
}

/**
 * Saves `net` and its position into the run directory `dir` as a new checkpoint: the model into
 * a new `model-N` directory, then `checkpoint.json` by one rename (the commit), then the older
 * checkpoints are removed. A kill at any instant leaves the previous or the new one loadable.
 * `optimizer` (SGD's momentum buffers by parameter name) is saved beside the model when given.
 */
export async function saveCheckpoint(
  dir: string,
  net: ResNet,
  pos: CheckpointPosition,
  optimizer: readonly SafetensorsInput[] | null = null,
): Promise<Checkpoint> {
  const files = await encodeLayersModel(net, pos.settings.size);
  return await commitCheckpoint(dir, net, pos, files, optimizer);
}

/**
 * {@linkcode saveCheckpoint}, unless a weight, a BatchNorm statistic or a momentum value is not
 * finite: then nothing is written and null is returned (the checkpoint before stays the last).
 * The values are checked on the host, in the bytes about to be written: no kernel runs, so the
 * weights stay where and how the backend keeps them.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import assert from "node:assert/strict";
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { saveCheckpointIfFinite } from "./checkpoint.ts";
 * await initBackend("cpu");
 * const dir = await Deno.makeTempDir();
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 8 });
 * const settings = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * const pos = { epoch: 0, batch: 3, settings, partial: null };
 * assert.ok(await saveCheckpointIfFinite(dir, net, pos));
 * const w = net.params.get("fc.bias")!;
 * w.assign(tf.fill(w.shape, NaN));
 * assert.equal(await saveCheckpointIfFinite(dir, net, pos), null);
 * net.dispose();
 * ```
 */
export async function saveCheckpointIfFinite(
  dir: string,
  net: ResNet,
  pos: CheckpointPosition,
  optimizer: readonly SafetensorsInput[] | null = null,
): Promise<Checkpoint | null> {
  const files = await encodeLayersModel(net, pos.settings.size);
  const finite = (t: SafetensorsInput) =>
    !(t.data instanceof Float32Array) || t.data.every(Number.isFinite);
  if (!weightsFinite(files) || !(optimizer ?? []).every(finite)) return null;
  return await commitCheckpoint(dir, net, pos, files, optimizer);
}

/** The model directory, then `checkpoint.json` (the commit), then the older ones removed. */
async function commitCheckpoint(
  dir: string,
  net: ResNet,
  pos: CheckpointPosition,
  files: LayersFiles,
  optimizer: readonly SafetensorsInput[] | null,
): Promise<Checkpoint> {
  const state = optimizer ? encodeSafetensors(optimizer) as Uint8Array<ArrayBuffer> : null;
  const model = await writeModelDir(dir, files, state);
  const ckpt: Checkpoint = {
    format: "resnet-d2l-checkpoint",
    version: 2,
    ...pos,
    config: net.config,
    numBatchesTracked: net.numBatchesTracked,
    model,
    modelSha256: await sha256(files.modelJson),
    weightsSha256: await sha256(files.weights),
    ...(state ? { optimizerSha256: await sha256(state) } : {}),
    savedAt: new Date().toISOString(),
  };
  ckpt.sha256 = await sha256(checkpointText(ckpt));
  await writeFileAtomic(runPath(dir, RUN_FILES.checkpoint), checkpointText(ckpt));
  await pruneCheckpoints(dir, ckpt);
  return ckpt;
}

/**
 * Removes what a run directory holds besides checkpoint `keep` (or besides nothing, when null):
 * older or uncommitted `model-N` directories, the model files of the version-1 layout, and
 * temporary files of killed writers. Call it only while holding the directory's lock.
 *
 * @example
 * ```ts
 * import { pruneCheckpoints } from "./checkpoint.ts";
 * // In a run directory, after reading its checkpoint: await pruneCheckpoints(dir, checkpoint)
 * await pruneCheckpoints(await Deno.makeTempDir(), null); // a new run's: nothing to remove
 * ```
 */
export async function pruneCheckpoints(dir: string, keep: Checkpoint | null): Promise<void> {
  for (const name of (await modelDirs(dir)).values()) {
    if (name !== keep?.model) await Deno.remove(runPath(dir, name), { recursive: true });
  }
  if (keep?.model) {
    for (const f of [RUN_FILES.model, RUN_FILES.weights]) {
      await Deno.remove(runPath(dir, f)).catch(() => {});
    }
  }
  await removeStaleTemps(dir, 0);
}

/** Checks the structure (and, for version 2, the checksum) of a parsed `checkpoint.json`. */
async function validCheckpoint(c: Checkpoint): Promise<boolean> {
  const int = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  const hex = (v: unknown) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);
  const ok = typeof c === "object" && c !== null && c.format === "resnet-d2l-checkpoint" &&
    (c.version === 1 || c.version === 2) && int(c.epoch) && int(c.batch) &&
    int(c.numBatchesTracked) && typeof c.config === "object" && c.config !== null &&
    Array.isArray(c.config.stages) && typeof c.settings === "object" && c.settings !== null &&
    int(c.settings.size) && hex(c.weightsSha256) &&
    (c.optimizerSha256 === undefined || hex(c.optimizerSha256));
  if (!ok || c.version === 1) return ok;
  if (typeof c.model !== "string" || !MODEL_DIR.test(c.model) || !hex(c.modelSha256)) return false;
  const { sha256: own, ...rest } = c;
  return own === await sha256(checkpointText(rest as Checkpoint));
}

/** Reads and validates `checkpoint.json` of `dir` (which must be a run directory). */
export async function readCheckpoint(dir: string): Promise<Checkpoint> {
  await requireRunDir(dir);
  const path = runPath(dir, RUN_FILES.checkpoint);
  const c = await readJsonFile(path) as Checkpoint;
  if (!await validCheckpoint(c)) {
    throw new UserError(`${path} is corrupt (unexpected structure or checksum): restore it`);
  }
  return c;
}

/** Reads the model files of `checkpoint` and checks them against its checksums. */
async function readModelFiles(dir: string, checkpoint: Checkpoint) {
  const where = checkpoint.model ? runPath(dir, checkpoint.model) : dir;
  const files = await readLayersFiles(where);
  const corrupt = (file: string) =>
    new UserError(
      `${runPath(where, file)} is corrupt (its checksum differs from checkpoint.json): restore ` +
        "it or train again",
    );
  if (await sha256(files.weights) !== checkpoint.weightsSha256) throw corrupt(RUN_FILES.weights);
  if (checkpoint.modelSha256 && await sha256(files.modelJson) !== checkpoint.modelSha256) {
    throw corrupt(RUN_FILES.model);
  }
  const optimizer = checkpoint.optimizerSha256 ? await readOptimizer(where, checkpoint) : null;
  return { art: layersArtifacts(files.modelJson, files.weights, where), where, optimizer };
}

/** Reads `optimizer.safetensors` of a checkpoint, checked against its checksum. */
async function readOptimizer(where: string, checkpoint: Checkpoint): Promise<OptimizerState> {
  const path = runPath(where, RUN_FILES.optimizer);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${errorText(e)}`, { cause: e });
  }
  if (await sha256(bytes) !== checkpoint.optimizerSha256) {
    throw new UserError(
      `${path} is corrupt (its checksum differs from checkpoint.json): restore it or train again`,
    );
  }
  const state: OptimizerState = new Map();
  for (const [name, t] of decodeSafetensors(bytes, path).tensors) {
    state.set(name, toFloat32(t, name, path));
  }
  return state;
}

/** A new network of the checkpoint's architecture (untrained). */
function networkOf(dir: string, c: ResNetConfig): ResNet {
  try {
    return new ResNet(c); // a config builds its network (runs saved before a field: its default)
  } catch (e) {
    throw new UserError(`${runPath(dir, RUN_FILES.checkpoint)} is corrupt (${errorText(e)})`);
  }
}

/** Whether `e` says a checkpoint's file vanished (a training run pruned it meanwhile). */
const vanished = (e: unknown) => e instanceof UserError && e.cause instanceof Deno.errors.NotFound;

/**
 * Loads the checkpoint of run directory `dir`: a new {@linkcode ResNet} of the saved architecture
 * with the saved weights and BatchNorm statistics, and the optimizer's saved state (null when it
 * has none). Missing, torn or corrupt files are one-line {@linkcode UserError}s. The caller
 * disposes `net`. `read`: its checkpoint.json as {@linkcode readCheckpoint} read it already (a
 * run's plan holds it, under the run's lock), so it is not read again.
 */
export async function loadCheckpoint(
  dir: string,
  read: Checkpoint | null = null,
): Promise<{ net: ResNet; checkpoint: Checkpoint; optimizer: OptimizerState | null }> {
  for (let attempt = 1;; attempt++) {
    const checkpoint = attempt === 1 && read ? read : await readCheckpoint(dir);
    let files: Awaited<ReturnType<typeof readModelFiles>>;
    try {
      files = await readModelFiles(dir, checkpoint);
    } catch (e) {
      // A run training meanwhile committed a newer checkpoint and removed this one: read again.
      if (vanished(e) && checkpoint.model && attempt < 3) continue;
      throw e;
    }
    const net = networkOf(dir, checkpoint.config);
    try {
      setLayersWeights(net, files.art, files.where);
    } catch (e) {
      net.dispose();
      throw e;
    }
    net.numBatchesTracked = checkpoint.numBatchesTracked;
    return { net, checkpoint, optimizer: files.optimizer };
  }
}
