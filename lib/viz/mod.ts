/**
 * What a person looks at (`@resnet-d2l/viz`, lib/viz/): d2l's Animator curves, test accuracy
 * against wall time, image grids, the confusion heatmap, PNG rendering, report.html and the live
 * page of `train --serve`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { curvesSvg } from "./mod.ts";
 * const svg = curvesSvg([{
 *   epoch: 1, train_loss: 0.52, train_acc: 0.81, test_acc: 0.84,
 *   examples_per_sec: 950, epoch_seconds: 63.2, lr: 0.05,
 * }]);
 * assert.equal(svg.match(/<polyline /g)?.length, 3); // train loss, train acc, test acc
 * ```
 * @module
 */
export { curvesSvg, writeCurves } from "./curves.ts";
export { ANIMATOR_STYLES, animatorSeries, lineChart, niceTicks } from "./chart.ts";
export type { ChartOptions, ChartSeries, LivePoint } from "./chart.ts";
export { accuracyTimeSvg } from "./time_chart.ts";
export type { RunCurve } from "./time_chart.ts";
export { labelledImages, showImages } from "./grid.ts";
export type { GridImage, GridOptions } from "./grid.ts";
export { blues, confusionHeatmap } from "./heatmap.ts";
export { FONT_CANDIDATES, svgToPng } from "./png.ts";
export { escapeXml, FONT_FAMILY, num, svgDocument } from "./svg.ts";
export { writeFigure } from "./figure.ts";
export { REPORT_FILE, REPORT_MISTAKES, reportHtml, writeReport } from "./report.ts";
export type { ReportData } from "./report.ts";
export { LiveBoard } from "./live.ts";
export type { LiveOptions } from "./live.ts";
export { LIVE_PAGE } from "./live_page.ts";
