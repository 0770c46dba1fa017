/**
 * The training curves of a run (train loss, train accuracy and test accuracy per epoch on one pair
 * of axes, like d2l's `Animator`) as an SVG document: a run's `curves.svg` (the CLI writes it after
 * each epoch, beside report.html) and `export --plot`. Drawn by ./chart.ts, the chart of
 * report.html, the live page and the web page, with integer epoch ticks and a point per epoch on
 * each curve.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "./curves.ts";
 * import assert from "node:assert/strict";
 * const svg = curvesSvg([{
 *   epoch: 1, train_loss: 0.52, train_acc: 0.81, test_acc: 0.84,
 *   examples_per_sec: 950, epoch_seconds: 63.2, lr: 0.05,
 * }]);
 * assert.equal(svg.startsWith("<svg"), true);
 * assert.equal(svg.match(/<polyline /g)?.length, 3);
 * ```
 * @module
 */
import type { EpochRecord } from "../run/metrics.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { animatorSeries, lineChart } from "./chart.ts";

/**
 * The curves of `records` as an SVG document: the x axis from 0 to the last epoch (at least 1),
 * `title` above (default "ResNet training").
 *
 * @example
 * ```ts
 * import { curvesSvg } from "./curves.ts";
 * curvesSvg([], "no epochs yet").includes("no epochs yet"); // true
 * ```
 */
export function curvesSvg(records: readonly EpochRecord[], title = "ResNet training"): string {
  const last = Math.max(1, ...records.map((r) => r.epoch));
  return lineChart(animatorSeries(records), { xlim: [0, last], title });
}

/**
 * Writes the curves of `records` to `path` atomically.
 *
 * @example
 * ```ts
 * import { writeCurves } from "./curves.ts";
 * const dir = await Deno.makeTempDir(); // a run directory
 * await writeCurves(`${dir}/curves.svg`, []);
 * ```
 */
export async function writeCurves(
  path: string,
  records: readonly EpochRecord[],
  title?: string,
): Promise<void> {
  await writeFileAtomic(path, curvesSvg(records, title));
}
