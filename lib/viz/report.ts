/**
 * `report.html`: one page about a run that opens from disk in any browser, with nothing fetched
 * (CSS inline, pictures as inline SVG, images as `data:` URIs, no script): the run's settings,
 * backend and timing, d2l's curves (./chart.ts), test accuracy against wall time beside any
 * runs given to compare (./time_chart.ts), the per-class accuracy, the confusion matrix as
 * a heatmap (./heatmap.ts) and a grid of misclassified test images (./grid.ts). Training rewrites
 * it after every epoch from that epoch's test pass (no extra evaluation); `deno task report`
 * rewrites it from the checkpoint.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backends/choose.ts";
 * import { ResNet } from "../model/resnet.ts";
 * import { evaluate } from "../run/evaluate.ts";
 * import { writeReport } from "./report.ts";
 * import assert from "node:assert/strict";
 * await initBackend("cpu");
 * // An untrained network before its first epoch (a run's: readHistory and loadCheckpoint).
 * const net = new ResNet({ stages: [1, 1, 1, 1], width: 4 });
 * const test = { images: new Uint8Array(4 * 784), labels: Uint8Array.from([0, 1, 2, 3]), count: 4, height: 28, width: 28 };
 * const evaluation = await evaluate(net, test, { size: 28, batchSize: 4, predictions: true });
 * const settings = { epochs: 1, batchSize: 4, lr: 0.05, size: 28, seed: 0, limit: 4, testLimit: 4 };
 * const history = { config: net.config, settings, versions: {}, backends: [], epochs: [], finished: false };
 * const dir = await Deno.makeTempDir(); // the run directory
 * assert.equal(await writeReport({ dir, history, evaluation, test, epoch: 0 }), `${dir}/report.html`);
 * net.dispose();
 * ```
 * @module
 */
import type { Split } from "../data/fashion_mnist.ts";
import { CLASS_NAMES } from "../data/fashion_mnist.ts";
import type { Evaluation } from "../run/evaluate.ts";
import type { History } from "../run/metrics.ts";
import { runPath } from "../run/run_dir.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { shapeTable } from "../model/shapes.ts";
import { animatorSeries, lineChart } from "./chart.ts";
import { accuracyTimeSvg, type RunCurve } from "./time_chart.ts";
import { confusionHeatmap } from "./heatmap.ts";
import { labelledImages, showImages } from "./grid.ts";
import { escapeXml, FONT_FAMILY } from "./svg.ts";

/** The report's file name in a run directory. */
export const REPORT_FILE = "report.html";

/** Misclassified test images shown at most (3 rows of d2l's 9). */
export const REPORT_MISTAKES = 27;

/** What {@linkcode reportHtml} shows. */
export interface ReportData {
  /** The run directory (its name heads the page). */
  dir: string;
  /** The run's history.json. */
  history: History;
  /** The test pass of the network at `epoch`, with `predicted` for the mistakes' grid. */
  evaluation: Evaluation;
  /** The test images that were evaluated (the first `evaluation.n`). */
  test: Split;
  /** The epoch of the network evaluated (the checkpoint's). */
  epoch: number;
  /** When the page was made (default now). */
  now?: Date;
  /** Other runs drawn beside this one in the wall-time chart (`report --compare`). */
  compare?: readonly RunCurve[];
}

const CSS = `
body{font-family:${FONT_FAMILY};margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h3{font-size:14px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#666;margin:0 0 12px}table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}th{color:#555;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}.kpi{display:flex;gap:24px;flex-wrap:wrap}
.kpi div{background:#f4f6f9;border-radius:6px;padding:8px 14px}.kpi b{display:block;font-size:20px}
.bar{background:#dde6f3;height:12px;width:200px;border-radius:2px}.bar i{display:block;height:12px;
background:#1f77b4;border-radius:2px}.cols{display:flex;gap:32px;flex-wrap:wrap;align-items:start}
.empty{color:#888;font-style:italic}svg image{image-rendering:pixelated}code{background:#f4f4f4;padding:1px 4px;border-radius:3px}`;

/** A two-column table of `rows`. */
function keyValues(rows: [string, string][]): string {
  return `<table>${
    rows.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join("")
  }</table>`;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "-");

/** The page head: title, state of the run and its latest numbers. */
function header(d: ReportData): string {
  const h = d.history, last = h.epochs.at(-1), s = h.settings;
  const state = h.finished ? "finished" : `${h.epochs.length} of ${s.epochs} epochs done`;
  const kpi = (label: string, v: string) => `<div>${escapeXml(label)}<b>${v}</b></div>`;
  const net = h.config.depth
    ? `ResNet-${h.config.depth}`
    : `ResNet (stages ${h.config.stages.join(",")}, width ${h.config.width})`;
  return `<h1>${net} on Fashion-MNIST</h1><p class="sub">` +
    `${escapeXml(d.dir)} · ${state} · report of ${(d.now ?? new Date()).toISOString()}</p>` +
    // The count says what the headline figure is of (a partial pass is no run's accuracy).
    `<div class="kpi">${kpi(`test acc, ${d.evaluation.n} images`, pct(d.evaluation.accuracy))}` +
    kpi("train acc", last ? pct(last.train_acc) : "-") +
    kpi("train loss", last ? last.train_loss.toFixed(4) : "-") +
    kpi("examples/sec", last ? last.examples_per_sec.toFixed(1) : "-") + "</div>";
}

/** Architecture, every setting of history.json (new ones included) and the versions. */
function settings(h: History): string {
  const c = h.config;
  let params = "-";
  try {
    params = shapeTable({
      stages: c.stages,
      width: c.width,
      inChannels: c.inChannels,
      numClasses: c.numClasses,
    }, { size: h.settings.size }).params
      .toLocaleString("en-US");
  } catch { /* an architecture shapes cannot size: leave it out */ }
  const arch: [string, string][] = [
    ["stages", c.stages.join(",")],
    ["width", String(c.width)],
    ["parameters", params],
  ];
  const set = Object.entries(h.settings).map(([k, v]) => [k, v === null ? "all" : String(v)]);
  const versions = Object.entries(h.versions).map(([k, v]) => [k, String(v)]);
  return `<div class="cols"><div><h3>architecture</h3>${keyValues(arch)}</div>` +
    `<div><h3>settings</h3>${keyValues(set as [string, string][])}</div>` +
    `<div><h3>versions</h3>${keyValues(versions as [string, string][])}</div></div>`;
}

/** Each session's backend and each epoch's seconds, speed and learning rate. */
function timing(h: History): string {
  const sessions = h.backends.map((b) => `<li><code>${escapeXml(b.summary)}</code></li>`).join("");
  const total = h.epochs.reduce((a, r) => a + r.epoch_seconds, 0);
  const rows = h.epochs.map((r) =>
    `<tr><td class="n">${r.epoch}</td><td class="n">${r.epoch_seconds.toFixed(1)}</td>` +
    `<td class="n">${r.examples_per_sec.toFixed(1)}</td><td class="n">${r.lr}</td></tr>`
  ).join("");
  return `<ul>${sessions}</ul><p>${h.epochs.length} epochs in ${total.toFixed(1)} s ` +
    `(wall clock, test passes and saving included).</p>` +
    (rows
      ? `<table><tr><th>epoch</th><th>seconds</th><th>examples/sec</th><th>lr</th></tr>${rows}` +
        "</table>"
      : "");
}

/** The per-class table with a bar each. */
function perClass(e: Evaluation): string {
  const rows = e.perClass.map((c) => {
    const w = Number.isFinite(c.accuracy) ? Math.round(c.accuracy * 200) : 0;
    return `<tr class="class-row"><td>${escapeXml(CLASS_NAMES[c.class] ?? c.name)}</td>` +
      `<td class="n">${pct(c.accuracy)}</td><td class="n">${c.n}</td>` +
      `<td><div class="bar"><i style="width:${w}px"></i></div></td></tr>`;
  }).join("");
  return `<table id="per-class-table"><tr><th>class</th><th>accuracy</th><th>images</th><th></th>` +
    `</tr>${rows}</table>`;
}

/** The grid of the first misclassified test images. */
function mistakes(d: ReportData): string {
  const p = d.evaluation.predicted;
  if (!p) return `<p class="empty">no predictions were kept for this report</p>`;
  const wrong: number[] = [];
  for (let i = 0; i < p.length && wrong.length < REPORT_MISTAKES; i++) {
    if (p[i] !== d.test.labels[i]) wrong.push(i);
  }
  if (!wrong.length) return `<p class="empty">no test image was misclassified</p>`;
  const grid = showImages(labelledImages(d.test, wrong, wrong.map((i) => p[i])));
  return `<p>The first ${wrong.length} misclassified of the ${d.evaluation.n} test images ` +
    `evaluated: true class, then the prediction in red.</p>${grid}`;
}

/**
 * The report page of a run as HTML text.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "../model/resnet.ts";
 * import { reportHtml } from "./report.ts";
 * import assert from "node:assert/strict";
 * const settings = { epochs: 1, batchSize: 8, lr: 0.05, size: 28, seed: 0, limit: 2, testLimit: 2 };
 * const record = {
 *   epoch: 1, train_loss: 2.1, train_acc: 0.5, test_acc: 0.5,
 *   examples_per_sec: 100, epoch_seconds: 1, lr: 0.05,
 * };
 * const history = {
 *   config: resolveConfig({ stages: [1, 1, 1, 1], width: 8 }), settings, versions: {},
 *   backends: [], epochs: [record], finished: true,
 * };
 * const confusion = Array.from({ length: 10 }, () => new Array(10).fill(0));
 * confusion[0][0] = 1;
 * confusion[1][0] = 1;
 * const evaluation = {
 *   accuracy: 0.5, correct: 1, n: 2, confusion, predicted: new Int32Array([0, 0]),
 *   perClass: confusion.map((row, i) => ({ class: i, name: String(i), accuracy: i < 2 ? row[i] : NaN, n: i < 2 ? 1 : 0 })),
 * };
 * const test = { images: new Uint8Array(2 * 784), labels: Uint8Array.from([0, 1]), count: 2, height: 28, width: 28 };
 * const html = reportHtml({ dir: "runs/demo", history, evaluation, test, epoch: 1 });
 * assert.ok(html.includes("1 of 2 test images right"));
 * ```
 */
export function reportHtml(d: ReportData): string {
  const h = d.history, e = d.evaluation;
  const curves = h.epochs.length
    ? lineChart(animatorSeries(h.epochs), { xlim: [0, Math.max(1, h.settings.epochs)] })
    : `<p class="empty">no epoch has finished yet</p>`;
  const title = `report: ${d.dir}`;
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<link rel="icon" href="data:,"><title>${
      escapeXml(title)
    }</title><style>${CSS}</style></head><body>` +
    header(d) +
    `<h2>Curves</h2><div id="curves">${curves}</div>` +
    `<h2>Test accuracy against wall time</h2><div id="time">${wallTime(d)}</div>` +
    `<h2>Settings</h2><div id="settings">${settings(h)}</div>` +
    `<h2>Backend and timing</h2><div id="timing">${timing(h)}</div>` +
    `<h2>Test set after epoch ${d.epoch}</h2><p>${e.correct} of ${e.n} test images right ` +
    `(${pct(e.accuracy)}).</p><div class="cols"><div id="per-class">${perClass(e)}</div>` +
    `<div id="confusion">${confusionHeatmap(e.confusion, CLASS_NAMES)}</div></div>` +
    `<h2>Misclassified test images</h2><div id="mistakes">${mistakes(d)}</div>` +
    `</body></html>\n`;
}

/** This run's test accuracy against wall time, and the compared runs' (none: only this one). */
function wallTime(d: ReportData): string {
  const compare = d.compare ?? [];
  if (!d.history.epochs.length && !compare.length) {
    return `<p class="empty">no epoch has finished yet</p>`;
  }
  // The run's folder name, as export --compare labels it (no node:path: the page is browser-safe).
  const label = d.dir.replace(/\/+$/, "").split("/").pop() || d.dir;
  return accuracyTimeSvg([{ label, records: d.history.epochs }, ...compare], "");
}

/**
 * Writes the report atomically to `path` (default: `report.html` in the run directory `d.dir`);
 * returns its path.
 *
 * @example
 * ```ts ignore
 * import { writeReport } from "./report.ts";
 * import assert from "node:assert/strict";
 * // `data` as for reportHtml, with `dir` the run directory
 * assert.equal(await writeReport(data), "runs/demo/report.html");
 * ```
 */
export async function writeReport(
  d: ReportData,
  path: string = runPath(d.dir, REPORT_FILE),
): Promise<string> {
  await writeFileAtomic(path, reportHtml(d));
  return path;
}
