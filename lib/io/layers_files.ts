/**
 * The file names of the tfjs layers format (`tf.io` writes and reads them so): a module of its
 * own, below both the format (./layers_model.ts) and the run directory that holds one per
 * checkpoint (../run/run_dir.ts), which needs the names but not tfjs-layers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LAYERS_FILES } from "./layers_files.ts";
 * assert.equal(LAYERS_FILES.model, "model.json");
 * ```
 * @module
 */

/** The two files of the tfjs layers format, as tfjs names them. */
export const LAYERS_FILES: Readonly<{
  /** The model topology and the weights manifest. */
  model: "model.json";
  /** The weights the manifest lists, one binary file. */
  weights: "weights.bin";
}> = Object.freeze({ model: "model.json", weights: "weights.bin" });
