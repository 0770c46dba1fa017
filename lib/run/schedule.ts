/**
 * Learning-rate schedules, one rate per epoch (the `lr` column of metrics.csv). With `E` epochs,
 * `W` warm-up epochs, base rate `lr` and 0-based epoch `e`:
 *
 * - warm-up (every schedule): `e < W` trains at `lr * (e + 1) / (W + 1)`, a linear ramp that
 *   ends one step below `lr`;
 * - afterwards `t = (e - W) / (E - W)`, the fraction of the remaining epochs already done, in
 *   [0, 1), and the rate is `lr` times
 *   - `constant`: 1 (d2l's recipe);
 *   - `step`: 1, then 0.1 from `t >= 0.5`, then 0.01 from `t >= 0.75` (torchvision's
 *     `MultiStepLR` at 50% and 75% of the epochs);
 *   - `cosine`: `(1 + cos(pi t)) / 2`, PyTorch's `CosineAnnealingLR(T_max = E - W)` stepped once
 *     per epoch: it would reach 0 at the end of the last epoch;
 *   - `onecycle`: `cosine` after a warm-up that is never omitted: `W` when given, otherwise 30% of
 *     the epochs (`OneCycleLR`'s `pct_start`, rounded, at least 1 and at most `E - 1`);
 *   - `linear`: `1 - t`, where `t` also counts the steps done in the epoch (`fraction`, in [0, 1)):
 *     the rate falls every step and its last step trains at `lr / steps` (airbench's linear decay
 *     to 0; in runs of a few epochs a per-epoch schedule spends a whole epoch at each rate).
 *
 * `lr` is the run's base rate: resuming with another `lr` replaces it, and the epochs still to come
 * follow the same schedule times the new rate. Resuming with more `epochs` stretches the
 * schedule over the new total (epochs already trained keep their recorded rates).
 *
 * @example
 * ```ts
 * import { lrAt } from "./schedule.ts";
 * const s = { lr: 0.1, epochs: 4, schedule: "cosine" as const, warmupEpochs: 0 };
 * [0, 1, 2, 3].map((e) => lrAt(s, e)); // [0.1, 0.0854, 0.05, 0.0146] (rounded)
 * ```
 * @module
 */

/** The schedules, by name. */
export const SCHEDULES = ["constant", "step", "cosine", "onecycle", "linear"] as const;

/** A schedule's name. */
export type Schedule = typeof SCHEDULES[number];

/** What a schedule depends on (a subset of the run's settings). */
export interface ScheduleSettings {
  /** The base (peak) learning rate. */
  lr: number;
  /** Epochs in all. */
  epochs: number;
  /** The schedule (default `constant`). */
  schedule?: Schedule;
  /** Warm-up epochs (default 0). */
  warmupEpochs?: number;
}

/**
 * The warm-up epochs of `s`: its own, or for `onecycle` without one 30% of the epochs.
 *
 * @example
 * ```ts
 * warmupOf({ lr: 0.1, epochs: 10, schedule: "onecycle" }); // 3
 * ```
 */
export function warmupOf(s: ScheduleSettings): number {
  const w = s.warmupEpochs ?? 0;
  if (s.schedule !== "onecycle" || w > 0) return w;
  return Math.max(0, Math.min(s.epochs - 1, Math.max(1, Math.round(0.3 * s.epochs))));
}

/** The factor of the base rate after the warm-up, at fraction `t` in [0, 1) of those epochs. */
function shape(schedule: Schedule, t: number): number {
  switch (schedule) {
    case "constant":
      return 1;
    case "step":
      return t >= 0.75 ? 0.01 : t >= 0.5 ? 0.1 : 1;
    case "cosine":
    case "onecycle":
      return (1 + Math.cos(Math.PI * t)) / 2;
    case "linear":
      return 1 - t;
  }
}

/**
 * Whether the schedule changes the rate within an epoch (then give {@linkcode lrAt} the step's
 * `fraction`).
 *
 * @example
 * ```ts
 * perStep("linear"); // true
 * perStep("cosine"); // false
 * ```
 */
export function perStep(schedule: Schedule | undefined): boolean {
  return schedule === "linear";
}

/**
 * The learning rate of 0-based epoch `epoch`, at `fraction` of its steps done (only `linear` reads
 * it; see the module's description). The constant
 * schedule returns `lr` itself, so d2l's recipe trains with exactly the rate it was given.
 *
 * @example
 * ```ts
 * lrAt({ lr: 0.1, epochs: 8, schedule: "step", warmupEpochs: 0 }, 4); // 0.01 (rounded)
 * lrAt({ lr: 0.1, epochs: 8, schedule: "constant", warmupEpochs: 1 }, 0); // 0.05
 * lrAt({ lr: 0.1, epochs: 2, schedule: "linear", warmupEpochs: 0 }, 1, 0.5); // 0.025
 * ```
 */
export function lrAt(s: ScheduleSettings, epoch: number, fraction = 0): number {
  const schedule = s.schedule ?? "constant", w = warmupOf(s);
  if (epoch < w) return s.lr * (epoch + 1) / (w + 1);
  const within = perStep(schedule) ? fraction : 0;
  const f = shape(schedule, (epoch - w + within) / (s.epochs - w));
  return f === 1 ? s.lr : s.lr * f;
}

/**
 * Why `s` is not a schedule that can run, or null: warm-up must leave at least one epoch. `name`
 * says how the message names the two settings (the CLI: by their flags).
 *
 * @example
 * ```ts
 * scheduleProblem({ lr: 0.1, epochs: 3, warmupEpochs: 3 }); // "warmupEpochs 3 must be ..."
 * ```
 */
export function scheduleProblem(
  s: ScheduleSettings,
  name: (setting: "warmupEpochs" | "epochs") => string = (k) => k,
): string | null {
  const w = s.warmupEpochs ?? 0;
  if (!Number.isInteger(w) || w < 0 || w >= s.epochs) {
    return `${name("warmupEpochs")} ${w} must be a whole number below ${name("epochs")} ` +
      `${s.epochs}: lower it or train more epochs`;
  }
  return null;
}
