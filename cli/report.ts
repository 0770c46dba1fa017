/**
 * `report`: (re)writes a run's `report.html` from its checkpoint and history: the network is
 * evaluated on the run's test images (its `--test-limit`, or `--limit`) for the per-class
 * accuracy, the confusion matrix and the grid of mistakes. Training writes the same page after
 * every epoch; this command makes it for a run trained before, or after an interrupted epoch.
 *
 * @example
 * ```ts ignore
 * // not run: it needs a trained run in runs/demo (tests/cli/ train one first)
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
import { readEpochs } from "../lib/run/recorded.ts";
import { basename } from "node:path";
import { requireRunDir, runPath } from "../lib/run/run_dir.ts";
import { REPORT_FILE, writeReport } from "../lib/viz/report.ts";
import { addFlags, BACKEND_FLAGS, DATA_FLAGS, type OptionsOf, UsageError } from "./options.ts";
import { dataLoadOptions } from "./data.ts";
import { PassDisplay } from "./progress.ts";
import { checkWritableFile, usedLine } from "./net_source.ts";

const FLAGS = {
  run: "",
  limit: "of the test set; default: the run's --test-limit; fewer need --out",
  out: "the page's file; default the run's report.html (written from the whole run only)",
  compare: "drawn beside this run in the page's test accuracy against wall time",
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
  const out = await reportPath(o, history.settings.testLimit);
  const compare = await Promise.all(
    (o.compare ?? []).map(async (run) => ({
      label: basename(run),
      records: await readEpochs(run),
    })),
  );
  const backend = await initBackend(o.backend ?? "auto", { threads: o.threads });
  console.error(backendSummary(backend));
  const { net, checkpoint } = await loadCheckpoint(dir);
  try {
    const s = checkpoint.settings;
    console.error(usedLine(`run ${dir}, epoch ${checkpoint.epoch}`, net, s.size, "the run's"));
    const { test } = await loadFashionMnist(dataLoadOptions(o));
    const evaluation = await evaluate(net, test, {
      size: s.size,
      batchSize: s.batchSize,
      limit: o.limit ?? s.testLimit,
      progress: new PassDisplay("report: test pass"),
      predictions: true,
      tta: s.tta, // as each epoch's test pass of the run
    }, CLASS_NAMES);
    const data = { dir, history, evaluation, test, epoch: checkpoint.epoch, compare };
    console.log(await writeReport(data, out));
  } finally {
    net.dispose();
  }
}

/**
 * Where the page goes: `--out`, else the run's own report.html, which only a pass over the run's
 * whole test set may rewrite (a `--limit` below it would put a partial figure beside the curves).
 */
async function reportPath(o: ReportCliOptions, testLimit: number | null): Promise<string> {
  if (o.out !== undefined) {
    await checkWritableFile(o.out, "--out", "report.html");
    return o.out;
  }
  if (o.limit !== undefined && (testLimit === null || o.limit < testLimit)) {
    throw new UsageError(
      `--limit ${o.limit} would rewrite the run's ${REPORT_FILE} from part of its test set: ` +
        "give --out FILE.html for this page",
    );
  }
  return runPath(o.run!, REPORT_FILE);
}
