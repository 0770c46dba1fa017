/**
 * The finished epochs of a run directory, whichever kind it is: a training run's as far as its
 * checkpoint goes (history.json is written before checkpoint.json, so a run killed in between has
 * one record more, which `--resume` retrains), or every epoch of a recorded run, kept as
 * history.json without a checkpoint (docs/runs/). What `export` and `report --compare` read.
 *
 * @example
 * ```ts
 * import { readEpochs } from "./recorded.ts";
 * import { writeHistory } from "./metrics.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir(); // a recorded run: history.json only
 * const settings = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: null, testLimit: null };
 * const epochs = [{
 *   epoch: 1, train_loss: 1, train_acc: 0.5, test_acc: 0.5, examples_per_sec: 9, epoch_seconds: 1, lr: 0.05,
 * }];
 * const config = resolveConfig({ stages: [1, 1, 1, 1], width: 8 });
 * await writeHistory(dir, { config, settings, versions: {}, backends: [], epochs, finished: true });
 * assert.deepEqual(await readEpochs(dir), epochs);
 * ```
 * @module
 */
import { UserError } from "../errors.ts";
import { readCheckpoint } from "./checkpoint.ts";
import { type EpochRecord, readHistory, readRunHistory } from "./metrics.ts";
import { RUN_FILES, runPath } from "./run_dir.ts";

/** The finished epochs of the run in `dir` (see the module's doc); a {@linkcode UserError} if none. */
export async function readEpochs(dir: string): Promise<EpochRecord[]> {
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  if (!await exists(dir)) {
    throw new UserError(
      `run directory ${dir} does not exist: give the directory a train run wrote`,
    );
  }
  if (await exists(runPath(dir, RUN_FILES.checkpoint))) {
    return (await readRunHistory(dir, await readCheckpoint(dir))).epochs;
  }
  if (!await exists(runPath(dir, RUN_FILES.history))) {
    throw new UserError(`${dir} holds no ${RUN_FILES.history}: give a run directory of train`);
  }
  return (await readHistory(dir)).epochs;
}
