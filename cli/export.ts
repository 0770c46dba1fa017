/**
 * `export`: a run's per-epoch metrics as CSV or JSON (stdout without `--out`), its curves as SVG
 * (`--plot`), when it first reached given test accuracies (`--time-to`), several runs' test
 * accuracy against wall time in one picture (`--compare` with `--plot`), or its weights as d2l
 * safetensors / a tfjs layers model. The metrics of a recorded run (docs/runs/, history.json
 * without a checkpoint) export too.
 *
 * @example
 * ```ts ignore
 * // not run: it needs a trained run in runs/demo (tests/cli/ train one first)
 * import { exportCommand } from "./export.ts";
 * await exportCommand().parseAsync(["--run", "runs/demo", "--format", "csv"], { from: "user" });
 * ```
 * @module
 */
import { Command } from "commander";
import { outputSizes } from "../lib/model/resnet.ts";
import { backendSummary, initBackend } from "../lib/backends/choose.ts";
import { saveTorchWeights } from "../lib/io/torch_weights.ts";
import { saveLayersModel } from "../lib/io/layers_model.ts";
import { checkReplaceableDir, writeFileAtomic } from "../lib/io/atomic.ts";
import { metricsCsv } from "../lib/run/metrics.ts";
import { readEpochs } from "../lib/run/recorded.ts";
import { curvesSvg } from "../lib/viz/curves.ts";
import { type RunTimeTo, timeTo, timeToCsv } from "../lib/run/time_to.ts";
import { accuracyTimeSvg } from "../lib/viz/time_chart.ts";
import { basename } from "node:path";
import { writeFigure } from "../lib/viz/figure.ts";
import { ensureWritableDir, requireRunDir, RUN_FILES } from "../lib/run/run_dir.ts";
import { addFlags, type OptionsOf, UsageError } from "./options.ts";
import { checkNetSource, checkWritableFile, loadNet, NET_SOURCE_FLAGS } from "./net_source.ts";

const FLAGS = {
  ...NET_SOURCE_FLAGS,
  format: "default csv",
  out: "a file, a directory for layers; metrics go to stdout without it",
  plot: "the curves as .svg or .png; with --compare, test accuracy against wall time",
  timeTo: "a table of run, level, epoch, seconds, test_acc instead of the per-epoch metrics",
  compare: "for --plot and --time-to",
  size: "where the weights file does not record it (else refused if it differs)",
  backend: "default cpu",
} as const;

/** Parsed options of `export`. */
export type ExportCliOptions = OptionsOf<typeof FLAGS>;

/** The `export` subcommand. */
export function exportCommand(): Command {
  return addFlags(
    new Command("export").description(
      "a run's metrics as CSV/JSON and curves as SVG, or its weights for d2l/browsers",
    ),
    FLAGS,
  ).action(runExport);
}

/** Runs `export`: metrics (csv, json) or weights (safetensors, layers). */
export async function runExport(o: ExportCliOptions): Promise<void> {
  const format = o.format ?? "csv";
  if (format === "csv" || format === "json") return await exportMetrics(o, format);
  if (o.out === undefined) throw new UsageError(`export --format ${format} needs --out`);
  if (o.plot !== undefined) throw new UsageError("--plot needs --run and --format csv or json");
  if (o.timeTo !== undefined || o.compare !== undefined) {
    throw new UsageError("--time-to and --compare need --run and --format csv or json");
  }
  checkNetSource(o, "export");
  if (format === "safetensors") await checkWritableFile(o.out, "--out", "weights.safetensors");
  else {
    await ensureWritableDir(o.out);
    await checkReplaceableDir(o.out, [RUN_FILES.model, RUN_FILES.weights]);
  }
  if (o.run !== undefined) await requireRunDir(o.run);
  console.error(backendSummary(await initBackend(o.backend ?? "cpu")));
  const { net, size, sizeKnown } = await loadNet(o, "export");
  try {
    outputSizes(size);
    if (format === "safetensors") {
      // The input size goes with the weights, so eval/predict read them at that size.
      await saveTorchWeights(net, o.out, sizeKnown ? { size } : {});
    } else {
      await saveLayersModel(net, size, o.out);
    }
    console.error(`wrote ${o.out}`);
  } finally {
    net.dispose();
  }
}

async function exportMetrics(o: ExportCliOptions, format: "csv" | "json"): Promise<void> {
  if (o.run === undefined) throw new UsageError(`export --format ${format} needs --run DIR`);
  if (o.weights !== undefined) {
    throw new UsageError(`--weights is for --format safetensors or layers, not ${format}`);
  }
  if (o.compare !== undefined && o.plot === undefined && o.timeTo === undefined) {
    throw new UsageError("--compare sets runs side by side in --plot or --time-to: give one");
  }
  const runs = [o.run, ...o.compare ?? []];
  const epochs = await Promise.all(runs.map(readEpochs));
  if (o.out !== undefined) await checkWritableFile(o.out, "--out", `metrics.${format}`);
  if (o.plot !== undefined) {
    // The picture is what its name says: SVG, or resvg's PNG of it.
    if (!/\.(svg|png)$/i.test(o.plot)) {
      throw new UsageError(`--plot ${o.plot}: give a file name ending in .svg or .png`);
    }
    await checkWritableFile(o.plot, "--plot", "curves.svg");
  }
  let text: string;
  if (o.timeTo !== undefined) {
    const levels = o.timeTo;
    const rows: RunTimeTo[] = runs.flatMap((run, i) =>
      timeTo(epochs[i], levels).map((t) => ({ run, ...t }))
    );
    text = format === "csv" ? timeToCsv(rows) : JSON.stringify(rows, null, 2) + "\n";
  } else {
    const first = epochs[0];
    text = format === "csv" ? metricsCsv(first) : JSON.stringify(first, null, 2) + "\n";
  }
  if (o.out !== undefined) await writeFileAtomic(o.out, text);
  else await writeAll(Deno.stdout, new TextEncoder().encode(text));
  if (o.plot === undefined) return;
  const picture = o.compare === undefined
    ? curvesSvg(epochs[0])
    : accuracyTimeSvg(runs.map((run, i) => ({ label: basename(run), records: epochs[i] })));
  await writeFigure(o.plot, picture);
}

/**
 * Writes all of `bytes` to `w`: one `write` may take only part of them (a pipe whose reader is
 * slow), so it is called until nothing is left.
 *
 * @example
 * ```ts
 * import { writeAll } from "./export.ts";
 * await writeAll(Deno.stdout, new TextEncoder().encode("epoch,train_loss\n"));
 * ```
 */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  bytes: Uint8Array,
): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await w.write(bytes.subarray(done));
}
