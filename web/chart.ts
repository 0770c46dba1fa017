/**
 * d2l's training plot (its `Animator`) as plain SVG markup: train loss, train accuracy and test
 * accuracy against epochs on one axis, redrawn after each read-back. No chart library, nothing
 * fetched: the page works offline.
 *
 * @example
 * ```ts
 * import { curvesSvg } from "./chart.ts";
 * const svg = curvesSvg([{ name: "train loss", color: "#1f77b4", points: [[0.5, 1.2], [1, 0.8]] }], 2);
 * document.querySelector("#curves")!.innerHTML = svg;
 * ```
 * @module
 */

/** One line of the plot. */
export interface Series {
  /** Legend text, e.g. "train loss". */
  name: string;
  /** Stroke colour. */
  color: string;
  /** `[epoch, value]` pairs, epoch as a fraction (1.5 = half-way through epoch 2). */
  points: [number, number][];
  /** Mark each point (for once-an-epoch values such as test accuracy). */
  markers?: boolean;
}

const W = 480, H = 260, LEFT = 40, RIGHT = 12, TOP = 12, BOTTOM = 34;

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** Round tick values for an axis from 0 to `max`. */
function ticks(max: number, count: number): number[] {
  const raw = max / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  return Array.from({ length: Math.floor(max / step + 1e-9) + 1 }, (_, i) => i * step);
}

/**
 * The plot of `series` over epochs 0..`epochs` as an `<svg>` element's markup; the y axis runs from
 * 0 to 1, or to the largest value when a loss exceeds 1. The series are also kept, as JSON, in the
 * element's `data-series` attribute (the tests read them).
 */
export function curvesSvg(series: readonly Series[], epochs: number): string {
  const yMax = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const xMax = Math.max(1, epochs);
  const x = (v: number) => LEFT + (v / xMax) * (W - LEFT - RIGHT);
  const y = (v: number) => TOP + (1 - v / yMax) * (H - TOP - BOTTOM);
  const parts: string[] = [];
  for (const t of ticks(yMax, 5)) {
    parts.push(
      `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`,
      `<text x="${LEFT - 4}" y="${y(t) + 4}" text-anchor="end">${+t.toFixed(2)}</text>`,
    );
  }
  for (const t of ticks(xMax, Math.min(10, xMax))) {
    parts.push(`<text x="${x(t)}" y="${H - BOTTOM + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${(LEFT + W - RIGHT) / 2}" y="${H - 4}" text-anchor="middle">epoch</text>`);
  series.forEach((s, i) => {
    const pts = s.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ");
    parts.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>`,
      ...(s.markers ? s.points : []).map(([a, b]) =>
        `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${s.color}"/>`
      ),
      `<rect x="${W - RIGHT - 110}" y="${TOP + 6 + 16 * i}" width="12" height="3" ` +
        `fill="${s.color}"/>`,
      `<text x="${W - RIGHT - 94}" y="${TOP + 11 + 16 * i}">${escape(s.name)}</text>`,
    );
  });
  const data = escape(JSON.stringify(series));
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" ` +
    `aria-label="training curves" data-series="${data}">${parts.join("")}</svg>`;
}
