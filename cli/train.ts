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
import { MODEL_DEFAULTS, type ResNetOptions, resolveConfig } from "../lib/model/resnet.ts";
import {
  type BackendInfo,
  backendLabel,
  backendSummary,
  initBackend,
} from "../lib/backends/choose.ts";
import { loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { loadTorchWeights } from "../lib/io/torch_weights.ts";
import { train, type TrainResult } from "../lib/run/train.ts";
import { checkFits, planRun, type RunPlan } from "../lib/run/plan.ts";
import {
  D2L_DEFAULTS,
  RECIPE_NAMES,
  RESUMABLE,
  SETTING_NAMES,
  SettingError,
  type SettingName,
  TRAIN_OPTIONS,
  type TrainSettings,
} from "../lib/run/recipe.ts";
import { formatEpoch } from "../lib/run/metrics.ts";
import { defaultRunDir, RUN_FILES, RunDirError, runPath } from "../lib/run/run_dir.ts";
import {
  addFlags,
  BACKEND_FLAGS,
  DATA_FLAGS,
  type FlagName,
  FLAGS,
  type FlagUses,
  type OptionsOf,
  UsageError,
} from "./options.ts";
import { Interrupted } from "./errors.ts";
import { StopWatcher } from "./stop_signals.ts";
import { dataLoadOptions } from "./data.ts";
import { EpochProgress } from "./progress.ts";
import { flaggedModel, planInitFrom } from "./net_source.ts";
import { LiveBoard } from "../lib/viz/live.ts";
import { writeReport } from "../lib/viz/report.ts";
import { writeCurves } from "../lib/viz/curves.ts";

const D = D2L_DEFAULTS;

/** Every training option's flag (FLAGS declares one per option, under the option's name). */
const SETTING_FLAGS: Readonly<Record<SettingName, { flags: string }>> = FLAGS;

/** How a flag is spelt: `--weight-decay`. */
const flagOf = (name: FlagName) => FLAGS[name].flags.split(" ")[0];

/**
 * The CLI's words for the library's refusals of a run: a {@linkcode SettingError} with its
 * settings named by their flags, a {@linkcode RunDirError} with a fix that names them.
 */
function worded(e: unknown, resume: boolean): unknown {
  if (e instanceof SettingError) {
    return new UsageError(e.wording((k) => SETTING_FLAGS[k].flags.split(" ")[0]));
  }
  if (!(e instanceof RunDirError)) return e;
  const fix = runDirFix(e, resume);
  return fix === e.fix ? e : new RunDirError(e.problem, e.dir, e.reason, fix);
}

/** A run directory's fix in flags: `--out` for a new run's, `--resume` for a run's. */
function runDirFix(e: RunDirError, resume: boolean): string {
  switch (e.problem) {
    case "missing":
      return "give the --out of a train run";
    case "not-a-directory":
      return resume ? "give a run directory" : "choose another --out";
    case "not-writable":
      return `${
        e.fix.startsWith("free some space") ? "free some space or " : ""
      }choose another --out`;
    case "holds-a-run":
      return `resume it with --resume ${e.dir}, or choose another --out`;
    case "in-use":
      return "wait for it to end or stop it, or choose another --out";
    default:
      return e.fix;
  }
}

/** What the help adds to an option's default. */
const NOTES: Partial<Record<SettingName, string>> = {
  lr: "on --resume it replaces the base rate the schedule scales",
  warmupEpochs: "onecycle: 30% of the epochs unless given",
  tta: "in each epoch's test pass",
  size: "inputs are resized to it",
  limit: "of the training set",
};

/** An option's help note: what {@linkcode NOTES} says, its default (`d2l 0, modern 0.9`). */
function settingNote(k: SettingName): string {
  const show = (v: unknown) =>
    Array.isArray(v)
      ? (v.length ? v.join(",") : "none")
      : v === null
      ? "all"
      : typeof v === "boolean"
      ? (v ? "on" : "off")
      : String(v);
  const values = RECIPE_NAMES.map((r) => show(TRAIN_OPTIONS[k][r]));
  const byRecipe = values.every((v) => v === values[0])
    ? `default ${values[0]}`
    : RECIPE_NAMES.map((r, i) => `${r} ${values[i]}`).join(", ");
  return NOTES[k] ? `${NOTES[k]}; ${byRecipe}` : byRecipe;
}

/**
 * Minutes between mid-epoch checkpoints: a kill without one loses the epoch so far (d2l's 96x96
 * epochs: about 9 minutes here), while writing one took 2.2-2.4 s for ResNet-18 with momentum
 * buffers (90 MB with their SHA-256; native, Zen 5, idle), 0.8% of 5 minutes.
 */
export const DEFAULT_SAVE_EVERY_MINUTES = 5;

/** The port of a bare `--serve`. */
export const DEFAULT_SERVE_PORT = 8700;

/** The architecture flags: a resumed run keeps its own architecture. */
const MODEL_FLAGS = {
  depth: `default ${MODEL_DEFAULTS.depth}`,
  stages: "",
  width: `default ${MODEL_DEFAULTS.width}`,
  arch: `default ${MODEL_DEFAULTS.arch}`,
  block: "default: the depth's, else basic",
  groups: `default ${MODEL_DEFAULTS.groups}`,
  widthPerGroup: `default ${MODEL_DEFAULTS.widthPerGroup}`,
  stem: `default ${MODEL_DEFAULTS.stem}`,
  zeroInitResidual: "default off",
} as const satisfies FlagUses;

/** The flags of `train`: the architecture, every training option (../lib/run/recipe.ts), the rest. */
export const TRAIN_FLAGS = {
  ...MODEL_FLAGS,
  ...Object.fromEntries(SETTING_NAMES.map((k) => [k, settingNote(k)])) as Record<
    SettingName,
    string
  >,
  ...BACKEND_FLAGS,
  out: "the run directory; default runs/<timestamp>-resnet<depth>",
  resume: "",
  saveEvery: `a kill loses at most that much training; default ${DEFAULT_SAVE_EVERY_MINUTES}`,
  initFrom: "",
  json: "one object per line",
  serve: `default off; bare --serve: port ${DEFAULT_SERVE_PORT}`,
  ...DATA_FLAGS,
};

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

/** Flags that fix a run's identity; `--resume` takes them from the run instead. */
const FIXED_ON_RESUME: readonly (keyof TrainCliOptions)[] = [
  ...Object.keys(MODEL_FLAGS) as (keyof typeof MODEL_FLAGS)[],
  ...SETTING_NAMES.filter((k) => !RESUMABLE.includes(k)),
  "out",
  "initFrom",
];

/** The training options given as flags (the rest come from the recipe). */
function givenSettings(o: TrainCliOptions): Partial<TrainSettings> {
  const given = SETTING_NAMES.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]);
  return Object.fromEntries(given);
}

/** `--resume DIR`: the run's own settings, with `--epochs` and `--lr` allowed to change. */
async function planResume(o: TrainCliOptions, dir: string): Promise<RunPlan> {
  const given = FIXED_ON_RESUME.filter((k) => o[k] !== undefined).map(flagOf);
  if (given.length) {
    throw new UsageError(
      `${given.join(", ")} cannot be combined with --resume: a resumed run keeps its own ` +
        `settings (only ${RESUMABLE.map(flagOf).join(", ")}, --backend, --save-every, the data ` +
        "options and --json may change)",
    );
  }
  return await planRun({ out: dir, resume: true, settings: givenSettings(o) });
}

/** A new run: d2l's recipe where a flag is not given; bad --out or --init-from fail at once. */
async function planNew(o: TrainCliOptions): Promise<RunPlan> {
  // --init-from's file says the architecture and input size (a contradicting flag is refused);
  // it is read first, so that a refused run leaves no empty directory.
  const init = o.initFrom === undefined ? null : await planInitFrom(o.initFrom, o);
  if (init) console.error(init.line);
  const model: ResNetOptions = init?.model ??
    { ...flaggedModel(o), zeroInitResidual: o.zeroInitResidual };
  const settings = givenSettings(o);
  if (init && settings.size === undefined && init.size !== undefined) settings.size = init.size;
  const out = o.out ?? defaultRunDir(resolveConfig(model).depth);
  return await planRun({ out, model, settings });
}

/** The run's plan (../lib/run/plan.ts), its refusals in the CLI's words. */
async function planFor(o: TrainCliOptions): Promise<RunPlan> {
  try {
    return o.resume !== undefined ? await planResume(o, o.resume) : await planNew(o);
  } catch (e) {
    throw worded(e, o.resume !== undefined);
  }
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
    const plan = await planFor(o);
    if (plan.lock.previous) {
      console.error(
        `note: taking over the lock of ${plan.out} from a run that is gone (${plan.lock.previous})`,
      );
    }
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

/** The run itself, once it is planned (its directory locked). */
async function trainPlanned(
  o: TrainCliOptions,
  plan: RunPlan,
  board: LiveBoard | null,
): Promise<void> {
  const progress = new EpochProgress();
  // The worker has printed the notice already; the bar must not be drawn over it again.
  const stop = await StopWatcher.start(() => progress.halt());
  let result: TrainResult, backend: BackendInfo;
  try {
    await stop.removeOnQuit(plan.lock.path); // a quit without saving leaves no lock file behind
    await stop.quitUntilTraining(true); // while the backend and data load there is nothing to save
    // auto passes over a WebGPU adapter this job cannot run on, even in parts of the batch.
    const job = { config: plan.config, size: plan.settings.size, batch: plan.settings.batchSize };
    backend = await initBackend(o.backend ?? "auto", { threads: o.threads, job });
    console.error(backendSummary(backend));
    // On WebGPU a batch over the adapter's limits is refused before the data are loaded.
    checkFits(plan);
    const data = await loadFashionMnist(dataLoadOptions(o, o.json));
    const initFrom = o.initFrom;
    await stop.quitUntilTraining(false);
    result = await train({
      plan,
      data: { train: data.train, test: data.test },
      backend,
      initWeights: initFrom ? (net) => loadTorchWeights(net, initFrom) : undefined,
      signal: stop.signal,
      saveEvery: (o.saveEvery ?? DEFAULT_SAVE_EVERY_MINUTES) * 60,
      progress: board ? board.progress(progress) : progress,
      versions: { "resnet-d2l": denoJson.version },
      onWarmup: (w) =>
        console.error(`warm-up: ${w.pipelines} WebGPU pipelines in ${(w.ms / 1000).toFixed(1)} s`),
      afterEpoch: async (e) => {
        const { out, history, evaluation, test } = e;
        await writeCurves(runPath(out, RUN_FILES.curves), history.epochs);
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
      examples_per_sec: result.examplesPerSec,
      backend,
      out,
    }));
    return;
  }
  console.log(
    `loss ${last.train_loss.toFixed(3)}, train acc ${last.train_acc.toFixed(3)}, ` +
      `test acc ${last.test_acc.toFixed(3)}`,
  );
  console.log(`${result.examplesPerSec.toFixed(1)} examples/sec on ${backend}`);
  console.error(`run saved in ${out}`);
}
