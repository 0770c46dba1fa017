/**
 * d2l's `Animator` picture as SVG: train loss, train acc and test acc against the epoch on one
 * pair of axes, with d2l's line styles (blue solid, magenta dashed, green dash-dot) and legend.
 * The run's `curves.svg` (./curves.ts) and the report draw the per-epoch records; the live page
 * (`train --serve`) and the web page redraw it at every read-back of the running loss and
 * accuracy, at fractional epochs, as d2l's `train_ch6` does. Plain SVG text, no chart library:
 * browser-safe. Every point is a `<circle class="point">`, every tick label a `<text
 * class="xtick">` or `<text class="ytick">`, so a reader (or a test) can count them.
 *
 * @example
 * ```ts
 * import { animatorSeries, lineChart } from "./chart.ts";
 * import assert from "node:assert/strict";
 * const svg = lineChart(animatorSeries([{
 *   epoch: 1, train_loss: 0.52, train_acc: 0.81, test_acc: 0.84,
 *   examples_per_sec: 950, epoch_seconds: 63.2, lr: 0.05,
 * }]), { xlim: [0, 10] });
 * assert.equal(svg.match(/class="point"/g)?.length, 3);
 * ```
 * @module
 */
import type { EpochRecord } from "../run/metrics.ts";
import { escapeXml, num, svgDocument } from "./svg.ts";

/** One curve: its legend label, its points `[x, y]` and its style. */
export interface ChartSeries {
  /** Legend label, e.g. "train loss". */
  label: string;
  /** Points in order of x. */
  points: readonly (readonly [number, number])[];
  /** Stroke colour. */
  color: string;
  /** SVG `stroke-dasharray` (none: solid). */
  dash?: string;
}

/** Options of {@linkcode lineChart}. */
export interface ChartOptions {
  /** Picture width in pixels (default 480). */
  width?: number;
  /** Picture height in pixels (default 300). */
  height?: number;
  /** x axis label (default "epoch"). */
  xlabel?: string;
  /** x range (default: 0 to the largest x, at least 1). */
  xlim?: readonly [number, number];
  /** y range (default: 0, or below when a value is, to the largest value, at least 1). */
  ylim?: readonly [number, number];
  /** A title above the axes (default none). */
  title?: string;
}

/** d2l's styles of its three curves (matplotlib's '-' in C0, 'm--', 'g-.'). */
export const ANIMATOR_STYLES = {
  "train loss": { color: "#1f77b4" },
  "train acc": { color: "#bf00bf", dash: "6 4" },
  "test acc": { color: "#008000", dash: "8 3 2 3" },
} as const;

/** A live point of the running training loss and accuracy at fractional epoch `x`. */
export interface LivePoint {
  /** Epochs done, fractional (e.g. 1.25: a quarter into the second epoch). */
  x: number;
  /** Mean loss so far in that epoch. */
  loss: number;
  /** Training accuracy so far in that epoch. */
  acc: number;
}

/**
 * d2l's three curves: train loss and acc from `live` read-backs when given (else from the
 * epoch records), test acc from the epoch records.
 */
export function animatorSeries(
  records: readonly EpochRecord[],
  live?: readonly LivePoint[],
): ChartSeries[] {
  const s = (label: keyof typeof ANIMATOR_STYLES, points: [number, number][]) => ({
    label,
    points,
    ...ANIMATOR_STYLES[label],
  });
  return [
    s(
      "train loss",
      live ? live.map((p) => [p.x, p.loss]) : records.map((r) => [r.epoch, r.train_loss]),
    ),
    s(
      "train acc",
      live ? live.map((p) => [p.x, p.acc]) : records.map((r) => [r.epoch, r.train_acc]),
    ),
    s("test acc", records.map((r) => [r.epoch, r.test_acc])),
  ];
}

/**
 * About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten).
 *
 * @example
 * ```ts
 * import { niceTicks } from "./chart.ts";
 * niceTicks(0, 2.3, 5); // [0, 0.5, 1, 1.5, 2, 2.5]
 * ```
 */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1, raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t < hi + step - 1e-9; t += step) {
    ticks.push(Math.round(t / step) * step);
  }
  return ticks.map((t) => Number(t.toPrecision(12)));
}

/** The ranges drawn: the options', else from the data (ticks round the y range outwards). */
function ranges(series: readonly ChartSeries[], opts: ChartOptions) {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const xlim = opts.xlim ?? [0, Math.max(1, ...xs)];
  const yticks = niceTicks(Math.min(0, ...ys), Math.max(1, ...ys), 5);
  const ylim = opts.ylim ?? [yticks[0], yticks[yticks.length - 1]];
  return { xlim, ylim, yticks: opts.ylim ? niceTicks(ylim[0], ylim[1], 5) : yticks };
}

/** The legend in the top right corner: a line sample and the label per series. */
function legend(series: readonly ChartSeries[], right: number, top: number): string {
  // 6.2 px a character at font-size 11: d2l's labels fit the 96 px box, a run's name widens it.
  const longest = Math.max(0, ...series.map((s) => s.label.length));
  const w = Math.max(96, Math.ceil(34 + 6.2 * longest)), h = series.length * 16 + 8;
  const x = right - w - 6, y = top + 6;
  const rows = series.map((s, i) => {
    const ly = y + 12 + i * 16, dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    return `<line x1="${x + 6}" y1="${ly}" x2="${x + 28}" y2="${ly}" stroke="${s.color}" ` +
      `stroke-width="1.8"${dash}/><text x="${x + 34}" y="${ly + 4}" font-size="11">` +
      `${escapeXml(s.label)}</text>`;
  });
  return `<g class="legend"><rect x="${x}" y="${y}" width="${w}" height="${h}" fill="white" ` +
    `fill-opacity="0.85" stroke="#ccc"/>${rows.join("")}</g>`;
}

/** Draws `series` as lines with a point marker each, axes, grid and legend; an SVG document. */
export function lineChart(series: readonly ChartSeries[], opts: ChartOptions = {}): string {
  const width = opts.width ?? 480, height = opts.height ?? 300;
  const m = { left: 46, right: 12, top: opts.title ? 30 : 12, bottom: 40 };
  const { xlim, ylim, yticks } = ranges(series, opts);
  const pw = width - m.left - m.right, ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + ((x - xlim[0]) / (xlim[1] - xlim[0] || 1)) * pw;
  const sy = (y: number) => m.top + ph - ((y - ylim[0]) / (ylim[1] - ylim[0] || 1)) * ph;
  const xticks = niceTicks(xlim[0], xlim[1], Math.min(10, Math.ceil(xlim[1] - xlim[0]) || 1))
    .filter((t) => t >= xlim[0] - 1e-9 && t <= xlim[1] + 1e-9);
  const grid = [
    ...xticks.map((t) =>
      `<line x1="${num(sx(t))}" y1="${m.top}" x2="${num(sx(t))}" y2="${m.top + ph}"/>`
    ),
    ...yticks.map((t) =>
      `<line x1="${m.left}" y1="${num(sy(t))}" x2="${m.left + pw}" y2="${num(sy(t))}"/>`
    ),
  ].join("");
  const labels = [
    ...xticks.map((t) =>
      `<text class="xtick" x="${num(sx(t))}" y="${
        m.top + ph + 15
      }" text-anchor="middle">${t}</text>`
    ),
    ...yticks.map((t) =>
      `<text class="ytick" x="${m.left - 5}" y="${num(sy(t) + 4)}" text-anchor="end">${t}</text>`
    ),
    `<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle" font-size="12">` +
    `${escapeXml(opts.xlabel ?? "epoch")}</text>`,
  ].join("");
  const curves = series.map((s) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    const xy = pts.map(([x, y]) => `${num(sx(x))},${num(sy(y))}`);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    const dots = pts.map(([x, y]) =>
      `<circle class="point" cx="${num(sx(x))}" cy="${num(sy(y))}" r="2.2" data-x="${num(x)}" ` +
      `data-y="${y.toFixed(4)}"/>`
    ).join("");
    return `<g class="series" data-series="${escapeXml(s.label)}" stroke="${s.color}" ` +
      `fill="${s.color}"><polyline points="${xy.join(" ")}" fill="none" stroke-width="1.8"` +
      `${dash}/>${dots}</g>`;
  }).join("");
  const frame = `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" ` +
    `stroke="#444"/>`;
  const title = opts.title
    ? `<text class="title" x="${m.left + pw / 2}" y="19" text-anchor="middle" font-size="13" ` +
      `fill="#222">${escapeXml(opts.title)}</text>`
    : "";
  const body = `${title}<g stroke="#e6e6e6">${grid}</g>${frame}<g font-size="10" fill="#333">` +
    `${labels}</g>${curves}${legend(series, m.left + pw, m.top)}`;
  return svgDocument(width, height, body, { class: "chart" });
}
