/**
 * Time to accuracy: when a run's test accuracy first reached each of a few levels, in wall-clock
 * seconds since training began. The clock is the sum of the finished epochs' `epoch_seconds`
 * (training steps and the test pass after each epoch); a run stopped and resumed counts only the
 * time it trained, not the pause, and the start-up before the first step (data, backend) is not
 * in it. Each level is read at the end of an epoch, the only time the test set is evaluated.
 *
 * @example
 * ```ts
 * import { timeTo } from "./time_to.ts";
 * import assert from "node:assert/strict";
 * const record = (epoch: number, test_acc: number) => ({
 *   epoch, train_loss: 0.5, train_acc: 0.8, test_acc, examples_per_sec: 900, epoch_seconds: 60, lr: 0.05,
 * });
 * const rows = timeTo([record(1, 0.84), record(2, 0.9), record(3, 0.89)], [0.85, 0.9, 0.95]);
 * assert.deepEqual(rows, [
 *   { level: 0.85, epoch: 2, seconds: 120, test_acc: 0.9 },
 *   { level: 0.9, epoch: 2, seconds: 120, test_acc: 0.9 },
 *   { level: 0.95, epoch: null, seconds: null, test_acc: null },
 * ]);
 * ```
 * @module
 */
import { stringify } from "csv-stringify/sync";
import type { EpochRecord } from "./metrics.ts";

/** When one accuracy level was first reached, or nulls when the run never reached it. */
export interface TimeToLevel {
  /** The test accuracy asked for, in [0, 1]. */
  level: number;
  /** The first epoch whose test accuracy is at least `level`. */
  epoch: number | null;
  /** Wall-clock seconds from the start of training to the end of that epoch's test pass. */
  seconds: number | null;
  /** That epoch's test accuracy. */
  test_acc: number | null;
}

/**
 * The wall-clock seconds at the end of each record's epoch: the running sum of `epoch_seconds`.
 *
 * @example
 * ```ts
 * import { elapsedSeconds } from "./time_to.ts";
 * const r = { epoch: 1, train_loss: 1, train_acc: 0.5, test_acc: 0.5, examples_per_sec: 9, lr: 0.05 };
 * elapsedSeconds([{ ...r, epoch_seconds: 61.5 }, { ...r, epoch: 2, epoch_seconds: 60 }]); // [61.5, 121.5]
 * ```
 */
export function elapsedSeconds(records: readonly EpochRecord[]): number[] {
  let total = 0;
  return records.map((r) => total += r.epoch_seconds);
}

/**
 * For each of `levels`, the first epoch of `records` (in epoch order) whose test accuracy reached
 * it and the wall time at its end; see the module's example.
 *
 * @example
 * ```ts
 * import { timeTo } from "./time_to.ts";
 * timeTo([], [0.9]); // [{ level: 0.9, epoch: null, seconds: null, test_acc: null }]
 * ```
 */
export function timeTo(records: readonly EpochRecord[], levels: readonly number[]): TimeToLevel[] {
  const elapsed = elapsedSeconds(records);
  return levels.map((level) => {
    const i = records.findIndex((r) => r.test_acc >= level);
    if (i < 0) return { level, epoch: null, seconds: null, test_acc: null };
    return {
      level,
      epoch: records[i].epoch,
      seconds: Math.round(elapsed[i] * 1000) / 1000,
      test_acc: records[i].test_acc,
    };
  });
}

/** One run's {@linkcode TimeToLevel}, labelled with the run (a table of several runs). */
export interface RunTimeTo extends TimeToLevel {
  /** The run, e.g. its directory. */
  run: string;
}

/** The columns of {@linkcode timeToCsv}, in order. */
export const TIME_TO_COLUMNS = ["run", "level", "epoch", "seconds", "test_acc"] as const;

/**
 * Rows of {@linkcode RunTimeTo} as CSV with a header; a level never reached has empty cells.
 *
 * @example
 * ```ts
 * import { timeToCsv } from "./time_to.ts";
 * import assert from "node:assert/strict";
 * const csv = timeToCsv([
 *   { run: "runs/a", level: 0.9, epoch: 3, seconds: 185.2, test_acc: 0.905 },
 *   { run: "runs/a", level: 0.95, epoch: null, seconds: null, test_acc: null },
 * ]);
 * assert.equal(csv, "run,level,epoch,seconds,test_acc\nruns/a,0.9,3,185.2,0.905\nruns/a,0.95,,,\n");
 * ```
 */
export function timeToCsv(rows: readonly RunTimeTo[]): string {
  return stringify(rows.map((r) => TIME_TO_COLUMNS.map((c) => r[c] ?? "")), {
    header: true,
    columns: [...TIME_TO_COLUMNS],
  });
}
