/**
 * The training recipe a run uses when nothing else is said: d2l's `train_ch6` settings for the
 * ResNet chapter. Declared once; the CLI's help texts and defaults are derived from it.
 *
 * @example
 * ```ts
 * import { D2L_DEFAULTS } from "./recipe.ts";
 * console.log(D2L_DEFAULTS.lr, D2L_DEFAULTS.batchSize, D2L_DEFAULTS.size); // 0.05 256 96
 * ```
 * @module
 */
import type { TrainSettings } from "./metrics.ts";

/** d2l's recipe: SGD lr 0.05, batch 256, 10 epochs, 96x96 inputs, seed 0. */
export const D2L_DEFAULTS: Readonly<Omit<TrainSettings, "limit" | "testLimit">> = Object.freeze({
  epochs: 10,
  batchSize: 256,
  lr: 0.05,
  size: 96,
  seed: 0,
});
