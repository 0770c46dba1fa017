/**
 * `report`: (re)writes a run's `report.html` from its checkpoint and history: the network is
 * evaluated on the run's test images (its `--test-limit`, or `--limit`) for the per-class
 * accuracy, the confusion matrix and the grid of mistakes. Training writes the same page after
 * every epoch; this command makes it for a run trained before, or after an interrupted epoch.
 *
 * @example
 * ```ts
 * import { reportCommand } from "./report.ts";
 * await reportCommand().parseAsync(["--run", "runs/demo"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { backendSummary, initBackend } from "../lib/backends/choose.ts";
import { CLASS_NAMES, loadFashionMnist } from "../lib/data/fashion_mnist.ts";
import { loadCheckpoint, readCheckpoint } from "../lib/run/checkpoint.ts";
import { evaluate } from "../lib/run/evaluate.ts";
import { readRunHistory } from "../lib/run/metrics.ts";
import { requireRunDir } from "../lib/run/run_dir.ts";
import { writeReport } from "../lib/viz/report.ts";
import { addFlags, BACKEND_FLAGS, DATA_FLAGS, type OptionsOf, UsageError } from "./options.ts";
import { dataLoadOptions } from "./data.ts";
import { PassDisplay } from "./progress.ts";

const FLAGS = {
  run: "",
  limit: "of the test set; default: the run's --test-limit",
  ...BACKEND_FLAGS,
  ...DATA_FLAGS,
} as const;

/** Parsed options of `report`. */
export type ReportCliOptions = OptionsOf<typeof FLAGS>;

/** The `report` subcommand. */
export function reportCommand(): Command {
  return addFlags(
    new Command("report").description(
      "write the run's report.html: settings, timing, curves, per-class accuracy, confusion " +
        "matrix, misclassified images",
    ),
    FLAGS,
  ).action(runReport);
}

/** Runs `report`: the run is checked before the backend starts. */
export async function runReport(o: ReportCliOptions): Promise<void> {
  if (o.run === undefined) throw new UsageError("report needs --run DIR (a train run)");
  const dir = o.run;
  await requireRunDir(dir);
  const history = await readRunHistory(dir, await readCheckpoint(dir));
  const backend = await initBackend(o.backend ?? "auto", { threads: o.threads });
  console.error(backendSummary(backend));
  const { net, checkpoint } = await loadCheckpoint(dir);
  try {
    const s = checkpoint.settings;
    const { test } = await loadFashionMnist(dataLoadOptions(o));
    const evaluation = await evaluate(net, test, {
      size: s.size,
      batchSize: s.batchSize,
      limit: o.limit ?? s.testLimit,
      progress: new PassDisplay("report: test pass"),
      predictions: true,
      tta: s.tta, // as each epoch's test pass of the run
    }, CLASS_NAMES);
    console.log(await writeReport({ dir, history, evaluation, test, epoch: checkpoint.epoch }));
  } finally {
    net.dispose();
  }
}
