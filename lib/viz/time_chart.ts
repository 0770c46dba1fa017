/**
 * Test accuracy against wall time, several runs on one pair of axes: how fast each recipe gets
 * where it gets. x is minutes since training began (the running sum of `epoch_seconds`,
 * ../run/time_to.ts), one point per evaluated epoch; y is test accuracy on a range rounded to
 * tenths around the runs' values, so that 0.87 and 0.92 do not sit on one line at the top of [0, 1].
 * Drawn by ./chart.ts: browser-safe SVG text, one `<g class="series">` per run.
 *
 * @example
 * ```ts
 * import { accuracyTimeSvg } from "./time_chart.ts";
 * import assert from "node:assert/strict";
 * const record = (epoch: number, test_acc: number) => ({
 *   epoch, train_loss: 0.5, train_acc: 0.8, test_acc, examples_per_sec: 900, epoch_seconds: 60, lr: 0.05,
 * });
 * const svg = accuracyTimeSvg([
 *   { label: "d2l-28", records: [record(1, 0.84), record(2, 0.87)] },
 *   { label: "fast", records: [record(1, 0.9)] },
 * ]);
 * assert.equal(svg.match(/class="series"/g)?.length, 2);
 * assert.equal(svg.match(/class="point"/g)?.length, 3);
 * ```
 * @module
 */
import type { EpochRecord } from "../run/metrics.ts";
import { elapsedSeconds } from "../run/time_to.ts";
import { type ChartSeries, lineChart } from "./chart.ts";

/** One run's curve: its legend label and its per-epoch records. */
export interface RunCurve {
  /** Legend label, e.g. the run directory's name. */
  label: string;
  /** The run's finished epochs, in order. */
  records: readonly EpochRecord[];
}

/** matplotlib's tab10 colours, one per run in order (repeating past ten). */
const COLORS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/**
 * The curves of `runs` as an SVG document (see the module's example); `title` above the axes
 * (default "test accuracy against wall time").
 *
 * @example
 * ```ts
 * import { accuracyTimeSvg } from "./time_chart.ts";
 * accuracyTimeSvg([], "no runs").includes("no runs"); // true
 * ```
 */
export function accuracyTimeSvg(
  runs: readonly RunCurve[],
  title = "test accuracy against wall time",
): string {
  const series: ChartSeries[] = runs.map((run, i) => {
    const minutes = elapsedSeconds(run.records).map((s) => s / 60);
    return {
      label: run.label,
      points: run.records.map((r, j) => [minutes[j], r.test_acc] as const),
      color: COLORS[i % COLORS.length],
    };
  });
  const ys = runs.flatMap((r) => r.records.map((e) => e.test_acc)).filter(Number.isFinite);
  const lo = ys.length ? Math.floor(Math.min(...ys) * 10) / 10 : 0;
  const hi = ys.length ? Math.min(1, Math.ceil(Math.max(...ys) * 10) / 10) : 1;
  return lineChart(series, {
    xlabel: "wall time (minutes)",
    ylim: [lo, hi > lo ? hi : lo + 0.1],
    title,
  });
}
