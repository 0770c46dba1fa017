/**
 * The training curves of a run (loss, train accuracy, test accuracy per epoch on one axis, like
 * d2l's `Animator`), as a vega-lite chart rendered to SVG by vega's headless view.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "./plot.ts";
 * const svg = await curvesSvg([{
 *   epoch: 1, train_loss: 0.52, train_acc: 0.81, test_acc: 0.84,
 *   examples_per_sec: 950, epoch_seconds: 63.2, lr: 0.05,
 * }]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { EpochRecord } from "./metrics.ts";
import { writeFileAtomic } from "../io/atomic.ts";

/** The series drawn, with d2l's legend labels. */
const SERIES = [
  ["train_loss", "train loss"],
  ["train_acc", "train acc"],
  ["test_acc", "test acc"],
] as const;

/** The vega-lite specification of the curves of `records`. */
export function curvesSpec(
  records: readonly EpochRecord[],
  title = "ResNet training",
): vl.TopLevelSpec {
  const values = records.flatMap((r) =>
    SERIES.map(([key, label]) => ({ epoch: r.epoch, series: label, value: r[key] }))
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 420,
    height: 260,
    background: "white",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: "epoch",
        type: "quantitative",
        title: "epoch",
        axis: { tickMinStep: 1, format: "d" },
      },
      y: { field: "value", type: "quantitative", title: null },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        sort: SERIES.map(([, label]) => label),
      },
    },
  };
}

/** Renders the curves of `records` to an SVG document. */
export async function curvesSvg(records: readonly EpochRecord[], title?: string): Promise<string> {
  const compiled = vl.compile(curvesSpec(records, title)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes the curves of `records` to `path` atomically. */
export async function writeCurves(
  path: string,
  records: readonly EpochRecord[],
  title?: string,
): Promise<void> {
  await writeFileAtomic(path, await curvesSvg(records, title));
}
