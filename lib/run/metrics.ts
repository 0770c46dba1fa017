/**
 * Per-epoch training metrics: the record of one epoch, the run's `history.json`, and the CSV
 * table (`metrics.csv`, `export --format csv`) written through csv-stringify.
 *
 * @example
 * ```ts
 * import { metricsCsv } from "./metrics.ts";
 * const csv = metricsCsv([{
 *   epoch: 1, train_loss: 0.52, train_acc: 0.81, test_acc: 0.84,
 *   examples_per_sec: 950, epoch_seconds: 63.2, lr: 0.05,
 * }]);
 * // "epoch,train_loss,train_acc,test_acc,examples_per_sec,epoch_seconds,lr\n1,0.52,0.81,..."
 * ```
 * @module
 */
import { stringify } from "csv-stringify/sync";
import type { ResNetConfig } from "../model/resnet.ts";
import { type BackendInfo, backendSummary } from "../backends/choose.ts";
import { UserError } from "../errors.ts";
import { readJsonFile, RUN_FILES, runPath } from "./run_dir.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { TrainSettings } from "./recipe.ts";

/** The CSV columns, in order; each is a key of {@linkcode EpochRecord}. */
export const METRICS_COLUMNS = [
  "epoch",
  "train_loss",
  "train_acc",
  "test_acc",
  "examples_per_sec",
  "epoch_seconds",
  "lr",
] as const;

/** The metrics of one finished epoch (the names are the CSV header). */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training cross-entropy over the epoch's examples (weights changing as in d2l). */
  train_loss: number;
  /** Training accuracy over the epoch, in [0, 1]. */
  train_acc: number;
  /** Accuracy on the test images after the epoch, in [0, 1]. */
  test_acc: number;
  /** Training examples per second (training steps only, as d2l's timer). */
  examples_per_sec: number;
  /** Wall-clock seconds of the epoch, test evaluation included. */
  epoch_seconds: number;
  /** Learning rate used in the epoch. */
  lr: number;
}

/** `history.json`: what ran, on what, and one record per finished epoch. */
export interface History {
  /** The architecture. */
  config: ResNetConfig;
  /** The settings (as of the latest session). */
  settings: TrainSettings;
  /** Deno, TypeScript, tfjs-core and this tool's versions of the first session. */
  versions: Record<string, string>;
  /** What ran each session (a resumed run adds one). */
  backends: BackendRecord[];
  /** One record per finished epoch. */
  epochs: EpochRecord[];
  /** Whether all epochs finished. */
  finished: boolean;
}

/** A session's backend as history.json records it: {@linkcode BackendInfo}'s fields and its line. */
export interface BackendRecord {
  /** The tfjs backend name. */
  name: string;
  /** The line the run printed, from {@linkcode backendSummary}. */
  summary: string;
  /** Why it was chosen. */
  reason: string;
  /** The WebGPU adapter, or null. */
  adapter: BackendInfo["adapter"];
  /** The native kernel library, or null. */
  library: string | null;
}

/**
 * The record of `info` for history.json (the same fields it has always had).
 *
 * @example
 * ```ts
 * import { backendRecord } from "./metrics.ts";
 * backendRecord({ name: "cpu", detail: "tfjs pure-JS kernels", reason: "requested", adapter: null, library: null }).summary;
 * // "backend: cpu (tfjs pure-JS kernels); requested"
 * ```
 */
export function backendRecord(info: BackendInfo): BackendRecord {
  const { name, reason, adapter, library } = info;
  return { name, summary: backendSummary(info), reason, adapter, library };
}

/** Renders records as CSV with {@linkcode METRICS_COLUMNS} as the header. */
export function metricsCsv(records: readonly EpochRecord[]): string {
  return stringify(records.map((r) => METRICS_COLUMNS.map((c) => r[c])), {
    header: true,
    columns: [...METRICS_COLUMNS],
  });
}

/** Writes `metrics.csv` and `history.json` of a run atomically. */
export async function writeHistory(dir: string, history: History): Promise<void> {
  await writeFileAtomic(runPath(dir, RUN_FILES.history), JSON.stringify(history, null, 2) + "\n");
  await writeFileAtomic(runPath(dir, RUN_FILES.metrics), metricsCsv(history.epochs));
}

/** Reads `history.json` of a run, checking its shape; a bad file is a {@linkcode UserError}. */
export async function readHistory(dir: string): Promise<History> {
  const path = runPath(dir, RUN_FILES.history);
  const h = await readJsonFile(path) as History;
  const ok = typeof h === "object" && h !== null && Array.isArray(h.epochs) &&
    h.epochs.every((r) =>
      typeof r === "object" && r !== null &&
      METRICS_COLUMNS.every((c) => typeof r[c] === "number")
    ) && typeof h.settings === "object" && typeof h.config === "object";
  if (!ok) throw new UserError(`${path} is corrupt (unexpected structure): restore it`);
  return h;
}

/**
 * The history of the run in `dir` as far as its checkpoint goes: history.json is written before
 * checkpoint.json, so a run killed in between has one record more than its checkpoint, which
 * `--resume` retrains; that record is dropped here. A history with fewer epochs than the
 * checkpoint is a {@linkcode UserError} (the run directory is inconsistent). What `train
 * --resume`, `report` and `export` read.
 *
 * @example
 * ```ts
 * import { readRunHistory, writeHistory } from "./metrics.ts";
 * import assert from "node:assert/strict";
 * import { resolveConfig } from "../model/resnet.ts";
 * const dir = await Deno.makeTempDir(); // a run killed after history.json got epoch 2's record
 * const settings = { epochs: 2, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * const record = (epoch: number) => ({
 *   epoch, train_loss: 1, train_acc: 0.5, test_acc: 0.5, examples_per_sec: 9, epoch_seconds: 1, lr: 0.05,
 * });
 * const config = resolveConfig({ stages: [1, 1, 1, 1], width: 8 });
 * const epochs = [record(1), record(2)];
 * await writeHistory(dir, { config, settings, versions: {}, backends: [], epochs, finished: false });
 * const h = await readRunHistory(dir, { epoch: 1 }); // its checkpoint.json: epoch 1
 * assert.equal(h.epochs.length, 1);
 * ```
 */
export async function readRunHistory(
  dir: string,
  checkpoint: { readonly epoch: number },
): Promise<History> {
  const h = await readHistory(dir);
  h.epochs = h.epochs.filter((r) => r.epoch <= checkpoint.epoch);
  if (h.epochs.length !== checkpoint.epoch) {
    throw new UserError(
      `${runPath(dir, RUN_FILES.history)} has ${h.epochs.length} epochs but the checkpoint ` +
        `has ${checkpoint.epoch}: the run directory is inconsistent`,
    );
  }
  return h;
}

/** One epoch as a line for the terminal. */
export function formatEpoch(r: EpochRecord, epochs: number): string {
  const w = String(epochs).length;
  return `epoch ${String(r.epoch).padStart(w)}/${epochs}  loss ${r.train_loss.toFixed(4)}  ` +
    `train acc ${r.train_acc.toFixed(3)}  test acc ${r.test_acc.toFixed(3)}  ` +
    `${r.examples_per_sec.toFixed(1)} examples/sec  ${r.epoch_seconds.toFixed(1)} s`;
}
