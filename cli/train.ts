/**
 * `train`: checks the output directory (and a run to resume) before anything slow, initialises
 * the backend, loads the data, trains with a progress display on stderr and per-epoch lines on
 * stdout, and ends with d2l's summary. Ctrl-C, SIGTERM and SIGHUP save and end with
 * {@linkcode Interrupted} (./stop_signals.ts).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainCommand } from "./train.ts";
 * const out = `${await Deno.makeTempDir()}/run`;
 * await trainCommand().parseAsync(["--stages", "1,1,1,1", "--width", "8", "--size", "28",
 *   "--epochs", "1", "--limit", "512", "--test-limit", "256", "--out", out], { from: "user" });
 * assert.ok((await Deno.stat(`${out}/checkpoint.json`)).isFile);
 * await Deno.remove(out, { recursive: true });
 * ```
 * @module
 */
import { Command } from "commander";
import denoJson from "../deno.json" with { type: "json" };
import {
  MODEL_DEFAULTS,
  outputSizes,
  type ResNetConfig,
  resolveConfig,
} from "../lib/model/resnet.ts";
import { checkTrainingFits } from "../lib/backends/tensor_limit.ts";
import {
  type BackendInfo,
  backendLabel,
  backendSummary,
  initBackend,
} from "../lib/backends/choose.ts";
import { UserError } from "../lib/errors.ts";
import { loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { loadTorchWeights } from "../lib/io/torch_weights.ts";
import { readCheckpoint } from "../lib/run/checkpoint.ts";
import { train, type TrainResult } from "../lib/run/train.ts";
import {
  checkSettings,
  D2L_DEFAULTS,
  type Recipe,
  RECIPE_NAMES,
  RECIPES,
  resolveSettings,
} from "../lib/run/recipe.ts";
import { formatEpoch, type TrainSettings } from "../lib/run/metrics.ts";
import {
  defaultRunDir,
  ensureNewRunDir,
  ensureWritableDir,
  requireRunDir,
} from "../lib/run/run_dir.ts";
import { lockRunDir, type RunLock } from "../lib/run/lock.ts";
import { addFlags, BACKEND_FLAGS, DATA_FLAGS, type OptionsOf, UsageError } from "./options.ts";
import { Interrupted } from "./errors.ts";
import { StopWatcher } from "./stop_signals.ts";
import { dataLoadOptions } from "./data.ts";
import { EpochProgress } from "./progress.ts";
import { planInitFrom } from "./net_source.ts";
import { LiveBoard } from "../lib/viz/live.ts";
import { writeReport } from "../lib/viz/report.ts";

const D = D2L_DEFAULTS;

/** A flag's default under each recipe, e.g. `d2l 0, modern 0.9`. */
function byRecipe(key: keyof Recipe): string {
  const show = (v: unknown) => Array.isArray(v) ? (v.length ? v.join(",") : "none") : String(v);
  return RECIPE_NAMES.map((r) => `${r} ${show(RECIPES[r][key])}`).join(", ");
}

/** The port of a bare `--serve`. */
export const DEFAULT_SERVE_PORT = 8700;

/** The flags of `train`, with their defaults (d2l's recipe, {@linkcode D2L_DEFAULTS}). */
export const TRAIN_FLAGS = {
  depth: `default ${MODEL_DEFAULTS.depth}`,
  stages: "",
  width: `default ${MODEL_DEFAULTS.width}`,
  recipe: "default d2l",
  epochs: byRecipe("epochs"),
  batchSize: byRecipe("batchSize"),
  lr: `${byRecipe("lr")}; on --resume it replaces the base rate the schedule scales`,
  momentum: byRecipe("momentum"),
  nesterov: byRecipe("nesterov"),
  weightDecay: byRecipe("weightDecay"),
  schedule: byRecipe("schedule"),
  warmupEpochs: `${byRecipe("warmupEpochs")}; onecycle: 30% of the epochs unless given`,
  labelSmoothing: byRecipe("labelSmoothing"),
  augment: byRecipe("augment"),
  tta: "in each epoch's test pass; default off",
  size: `inputs are resized to it; default ${D.size}`,
  limit: "of the training set",
  testLimit: "",
  seed: `default ${D.seed}`,
  ...BACKEND_FLAGS,
  out: "the run directory; default runs/<timestamp>-resnet<depth>",
  resume: "",
  initFrom: "",
  json: "one object per line",
  serve: `default off; bare --serve: port ${DEFAULT_SERVE_PORT}`,
  ...DATA_FLAGS,
} as const;

/** Parsed {@linkcode TRAIN_FLAGS}. */
export type TrainCliOptions = OptionsOf<typeof TRAIN_FLAGS>;

/** The `train` subcommand. */
export function trainCommand(): Command {
  return addFlags(
    new Command("train").description(
      "train the ResNet on Fashion-MNIST as d2l's train_ch6; one run directory per run",
    ),
    TRAIN_FLAGS,
  ).action(runTrain);
}

/** Options that fix a run's identity; `--resume` takes them from the run instead. */
const FIXED_ON_RESUME = [
  ["depth", "--depth"],
  ["stages", "--stages"],
  ["width", "--width"],
  ["batchSize", "--batch-size"],
  ["size", "--size"],
  ["limit", "--limit"],
  ["testLimit", "--test-limit"],
  ["seed", "--seed"],
  ["out", "--out"],
  ["initFrom", "--init-from"],
  ["recipe", "--recipe"],
  ["momentum", "--momentum"],
  ["nesterov", "--nesterov"],
  ["weightDecay", "--weight-decay"],
  ["schedule", "--schedule"],
  ["warmupEpochs", "--warmup-epochs"],
  ["labelSmoothing", "--label-smoothing"],
  ["augment", "--augment"],
  ["tta", "--tta"],
] as const;

/** What a run will be: its directory (locked), settings and (for a new run) architecture. */
interface RunPlan {
  out: string;
  settings: TrainSettings;
  model?: { stages: number[]; width: number };
  /** The architecture (of the run, when resuming). */
  config: ResNetConfig;
  lock: RunLock;
  /** Whether this run created `out` (removed again when it fails before writing anything). */
  created: boolean;
}

/** Locks `dir`, saying so when a run that died had held it. */
async function lock(dir: string): Promise<RunLock> {
  const l = await lockRunDir(dir);
  if (l.previous) {
    console.error(`note: taking over the lock of ${dir} from a run that is gone (${l.previous})`);
  }
  return l;
}

/** `--resume DIR`: the run's own settings, with `--epochs` and `--lr` allowed to change. */
async function planResume(o: TrainCliOptions, dir: string): Promise<RunPlan> {
  const given = FIXED_ON_RESUME.filter(([k]) => o[k] !== undefined).map(([, f]) => f);
  if (given.length) {
    throw new UsageError(
      `${given.join(", ")} cannot be combined with --resume: a resumed run keeps its own ` +
        "settings (only --epochs, --lr, --backend, the data options and --json may change)",
    );
  }
  await requireRunDir(dir);
  const runLock = await lock(dir);
  try {
    return { ...await resumeSettings(o, dir), lock: runLock, created: false };
  } catch (e) {
    await runLock.release();
    throw e;
  }
}

/** The settings of the run in `dir`, with `--epochs` and `--lr` applied. */
async function resumeSettings(o: TrainCliOptions, dir: string) {
  const ckpt = await readCheckpoint(dir);
  const settings = {
    ...ckpt.settings,
    epochs: o.epochs ?? ckpt.settings.epochs,
    lr: o.lr ?? ckpt.settings.lr,
  };
  if (settings.epochs < ckpt.epoch) {
    throw new UsageError(
      `--epochs ${settings.epochs} is fewer than the ${ckpt.epoch} epochs ${dir} has finished`,
    );
  }
  if (settings.epochs === ckpt.epoch && ckpt.batch === 0) {
    throw new UserError(
      `${dir} already finished its ${ckpt.epoch} epochs: give --epochs N (more than ` +
        `${ckpt.epoch}) with --resume to train further`,
    );
  }
  await ensureWritableDir(dir);
  return { out: dir, settings, config: ckpt.config };
}

/**
 * The settings of a new run: the flags given, the recipe's (d2l's by default) where not. An
 * explicit `--momentum 0` drops the recipe's Nesterov momentum with it.
 */
function newSettings(o: TrainCliOptions): TrainSettings {
  const recipe = o.recipe ?? "d2l", r = RECIPES[recipe];
  const momentum = o.momentum ?? r.momentum;
  const settings = resolveSettings({
    epochs: o.epochs ?? r.epochs,
    batchSize: o.batchSize ?? r.batchSize,
    lr: o.lr ?? r.lr,
    size: o.size ?? D.size,
    seed: o.seed ?? D.seed,
    limit: o.limit ?? null,
    testLimit: o.testLimit ?? null,
    recipe,
    momentum,
    nesterov: o.nesterov ?? (momentum > 0 && r.nesterov),
    weightDecay: o.weightDecay,
    schedule: o.schedule,
    warmupEpochs: o.warmupEpochs,
    labelSmoothing: o.labelSmoothing,
    augment: o.augment,
    tta: o.tta,
  });
  checkSettings(settings); // one line, exit 2, before anything is created
  return settings;
}

/** A new run: d2l's recipe where a flag is not given; bad --out or --init-from fail at once. */
async function planNew(o: TrainCliOptions): Promise<RunPlan> {
  // --init-from's file says the architecture and input size (a contradicting flag is refused).
  const init = o.initFrom === undefined ? null : await planInitFrom(o.initFrom, o);
  if (init) console.error(init.line);
  const config = resolveConfig(init?.model ?? { depth: o.depth, stages: o.stages, width: o.width });
  const settings = newSettings(init ? { ...o, size: o.size ?? init.size } : o);
  outputSizes(settings.size); // too small an input is a ConfigError now, not after loading
  const out = o.out ?? defaultRunDir(config.depth);
  // --init-from was read first, so that a refused run leaves no empty directory.
  const created = await ensureWritableDir(out);
  const runLock = await lock(out);
  try {
    await ensureNewRunDir(out); // again, now that no other run can start in it
  } catch (e) {
    await runLock.release();
    throw e;
  }
  const model = { stages: config.stages, width: config.width };
  return { out, settings, model, config, lock: runLock, created };
}

/**
 * Runs `train`: the live page's server (`--serve`; a port in use fails here, before anything),
 * plan, backend, data, the training itself under a stop-signal watcher, the summary.
 */
export async function runTrain(o: TrainCliOptions): Promise<void> {
  const board = o.serve === undefined
    ? null
    : LiveBoard.listen({ port: o.serve === true ? DEFAULT_SERVE_PORT : o.serve });
  if (board) console.error(`live page: ${board.url}`);
  let ended: "finished" | "stopped" = "stopped";
  try {
    const plan = o.resume !== undefined ? await planResume(o, o.resume) : await planNew(o);
    board?.follow(plan.out);
    try {
      await trainPlanned(o, plan, board);
      ended = "finished";
    } finally {
      await plan.lock.release();
      // A new run that failed before writing anything leaves no empty directory behind.
      if (plan.created) await Deno.remove(plan.out).catch(() => {});
    }
  } finally {
    await board?.close(ended);
  }
}

/** The run itself, once its directory is locked. */
async function trainPlanned(
  o: TrainCliOptions,
  plan: RunPlan,
  board: LiveBoard | null,
): Promise<void> {
  const progress = new EpochProgress();
  // The worker has printed the notice already; the bar must not be drawn over it again.
  const stop = await StopWatcher.start(() => progress.halt());
  stop.removeOnQuit(plan.lock.path); // a quit without saving leaves no lock file behind
  stop.quitUntilTraining(true); // while the backend and the data load there is nothing to save
  let result: TrainResult, backend: BackendInfo;
  try {
    backend = await initBackend(o.backend ?? "auto", { threads: o.threads });
    console.error(backendSummary(backend));
    // On WebGPU a batch over the adapter's limits is refused before the data are loaded.
    checkTrainingFits(plan.config, plan.settings.size, plan.settings.batchSize);
    const data = await loadFashionMnist(dataLoadOptions(o, o.json));
    const initFrom = o.initFrom;
    stop.quitUntilTraining(false);
    result = await train({
      data: { train: data.train, test: data.test },
      out: plan.out,
      resume: o.resume !== undefined,
      model: plan.model,
      settings: plan.settings,
      backend,
      initWeights: initFrom ? (net) => loadTorchWeights(net, initFrom) : undefined,
      signal: stop.signal,
      progress: board ? board.progress(progress) : progress,
      versions: { "resnet-d2l": denoJson.version },
      lock: plan.lock,
      onWarmup: (w) =>
        console.error(`warm-up: ${w.pipelines} WebGPU pipelines in ${(w.ms / 1000).toFixed(1)} s`),
      afterEpoch: async (e) => {
        const { out, history, evaluation, test } = e;
        await writeReport({ dir: out, history, evaluation, test, epoch: e.record.epoch });
        await board?.epochEnded(history);
      },
      onEpoch: (r, epochs) => {
        console.log(o.json ? JSON.stringify({ type: "epoch", ...r }) : formatEpoch(r, epochs));
      },
    });
  } finally {
    stop.close();
  }
  if (result.status === "interrupted") {
    const c = result.checkpoint, epochs = plan.settings.epochs;
    throw new Interrupted(
      `interrupted; saved epoch ${c.epoch}${c.batch ? ` + ${c.batch} batches` : ""} to ` +
        `${plan.out}. Resume with: deno task train --resume ${plan.out}` +
        (epochs !== D.epochs ? ` --epochs ${epochs}` : ""),
      stop.stoppedBy ?? "SIGINT",
    );
  }
  printSummary(result, backendLabel(backend), plan.out, o.json);
}

/** d2l's two closing lines (or one JSON object). */
function printSummary(result: TrainResult, backend: string, out: string, json?: boolean) {
  const last = result.history.epochs.at(-1);
  if (!last) return;
  if (json) {
    console.log(JSON.stringify({
      type: "summary",
      loss: last.train_loss,
      train_acc: last.train_acc,
      test_acc: last.test_acc,
      examples_per_sec: result.imagesPerSec,
      backend,
      out,
    }));
    return;
  }
  console.log(
    `loss ${last.train_loss.toFixed(3)}, train acc ${last.train_acc.toFixed(3)}, ` +
      `test acc ${last.test_acc.toFixed(3)}`,
  );
  console.log(`${result.imagesPerSec.toFixed(1)} examples/sec on ${backend}`);
  console.error(`run saved in ${out}`);
}
