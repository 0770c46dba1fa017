/**
 * A training run planned once, before anything slow: the run directory checked and locked, the
 * settings resolved from the recipe table and checked, the architecture, and on resume the
 * checkpoint read once (what a killed run left beside it cleared). `train` (./train.ts) trusts
 * the {@linkcode RunPlan} it is given; the CLI makes one and prints what it found before the
 * backend and the data load. {@linkcode checkFits} checks the batch against the backend's limits
 * once the backend is up (WebGPU only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planRun } from "./plan.ts";
 * const out = `${await Deno.makeTempDir()}/run`;
 * const plan = await planRun({ out, model: { stages: [1, 1, 1, 1], width: 8 }, settings: { size: 28 } });
 * assert.equal(plan.settings.lr, 0.05); // d2l's, where nothing is given
 * assert.equal(plan.checkpoint, null); // a new run
 * await plan.lock.release();
 * await Deno.remove(out, { recursive: true });
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  outputSizes,
  type ResNetConfig,
  type ResNetOptions,
  resolveConfig,
} from "../model/resnet.ts";
import { checkTrainingFits } from "../backends/tensor_limit.ts";
import { type Checkpoint, pruneCheckpoints, readCheckpoint } from "./checkpoint.ts";
import { lockRunDir, type RunLock } from "./lock.ts";
import {
  checkSettings,
  networkOf,
  type ResolvedSettings,
  resolveSettings,
  resumeSettings,
  SettingError,
  type TrainSettings,
} from "./recipe.ts";
import { ensureNewRunDir, ensureWritableDir, requireRunDir } from "./run_dir.ts";

/** What a run is asked to be. */
export interface RunRequest {
  /** The run directory (created for a new run; must hold a run when resuming). */
  out: string;
  /** Continue the run in `out` from its checkpoint. */
  resume?: boolean;
  /** Architecture of a new run (ignored when resuming); `seed` comes from the settings. */
  model?: Omit<ResNetOptions, "seed">;
  /**
   * A new run's settings: what is given, the recipe's (d2l's by default) where not. When
   * resuming only the options `RESUMABLE` lists (the epochs, the base rate) are taken from here.
   */
  settings?: Partial<TrainSettings>;
}

/** A run ready to train: see the module's doc. */
export interface RunPlan {
  /** The run directory, locked by `lock`. */
  readonly out: string;
  /** Whether it continues the run in `out`. */
  readonly resume: boolean;
  /** Every option resolved and checked. */
  readonly settings: ResolvedSettings;
  /** The architecture (the run's own when resuming). */
  readonly config: ResNetConfig;
  /** A new run's architecture as asked (`config` resolves it); null when resuming. */
  readonly model: Omit<ResNetOptions, "seed"> | null;
  /** The run's checkpoint as read when planning (null for a new run). */
  readonly checkpoint: Checkpoint | null;
  /** The lock of `out`; whoever made the plan releases it. */
  readonly lock: RunLock;
  /** Whether planning created `out` (a caller whose run fails before writing may remove it). */
  readonly created: boolean;
  /** The backend {@linkcode checkFits} last passed it on (it checks once per backend). */
  fitsOn?: string;
}

/**
 * Plans a run (see the module's doc). Bad settings are {@linkcode SettingError}s, a directory that
 * holds another run or is locked by one a `UserError`, all before anything is written.
 */
export async function planRun(req: RunRequest): Promise<RunPlan> {
  return req.resume ? await planResume(req) : await planNew(req);
}

/** Releases `lock` (and removes `out` when planning created it) if `work` fails. */
async function undoing<T>(lock: RunLock, out: string, created: boolean, work: () => Promise<T>) {
  try {
    return await work();
  } catch (e) {
    await lock.release();
    if (created) await Deno.remove(out).catch(() => {});
    throw e;
  }
}

async function planNew(req: RunRequest): Promise<RunPlan> {
  const settings = resolveSettings(req.settings ?? {});
  checkSettings(settings);
  const model = networkOf(settings.recipe, req.model ?? {}), config = resolveConfig(model);
  outputSizes(settings.size); // too small an input: a ConfigError now, not after loading
  const out = req.out;
  const created = await ensureWritableDir(out);
  const lock = await lockRunDir(out);
  return await undoing(lock, out, created, async () => {
    await ensureNewRunDir(out); // again, now that no other run can start in it
    await pruneCheckpoints(out, null); // what a run killed in its first save left
    return { out, resume: false, settings, config, model, checkpoint: null, lock, created };
  });
}

async function planResume(req: RunRequest): Promise<RunPlan> {
  const out = req.out;
  await requireRunDir(out);
  const lock = await lockRunDir(out);
  return await undoing(lock, out, false, async () => {
    const checkpoint = await readCheckpoint(out);
    const settings = resumeSettings(checkpoint.settings, req.settings ?? {});
    checkSettings(settings);
    const n = settings.epochs, done = checkpoint.epoch;
    if (n < done) {
      throw new SettingError(
        "epochs",
        n,
        (name) => `${name("epochs")} ${n} is fewer than the ${done} epochs ${out} has finished`,
      );
    }
    if (n === done && checkpoint.batch === 0) {
      throw new SettingError(
        "epochs",
        n,
        (name) =>
          `${out} already finished its ${done} epochs: give ${name("epochs")} N (more than ` +
          `${done}) to train further`,
      );
    }
    await ensureWritableDir(out);
    // What a killed run left (a half-written checkpoint, temporary files) goes first.
    await pruneCheckpoints(out, checkpoint);
    const config = checkpoint.config;
    return { out, resume: true, settings, config, model: null, checkpoint, lock, created: false };
  });
}

/**
 * Refuses, on WebGPU, a batch whose tensors exceed the adapter's limits (../backends/
 * tensor_limit.ts); call it once the backend is initialised. Checks once per backend.
 */
export function checkFits(plan: RunPlan): void {
  const backend = tf.getBackend();
  if (plan.fitsOn === backend) return;
  checkTrainingFits(plan.config, plan.settings.size, plan.settings.batchSize);
  plan.fitsOn = backend;
}
