/**
 * The confusion matrix as a heatmap (SVG): one cell per (true, predicted) pair, shaded by the
 * share of the true class's images it holds (white to dark blue, matplotlib's "Blues"), with its
 * count written in; rows are true classes, columns predictions, the diagonal is right.
 *
 * @example
 * ```ts
 * import { confusionHeatmap } from "./heatmap.ts";
 * import assert from "node:assert/strict";
 * const svg = confusionHeatmap([[8, 2], [1, 9]], ["cat", "dog"]);
 * assert.equal(svg.match(/class="cell/g)?.length, 4);
 * ```
 * @module
 */
import { escapeXml, num, svgDocument } from "./svg.ts";

/** White to dark blue for a share in [0, 1] (matplotlib's "Blues" end points). */
export function blues(share: number): string {
  const t = Math.min(1, Math.max(0, share));
  const lo = [247, 251, 255], hi = [8, 48, 107];
  const c = lo.map((l, i) => Math.round(l + (hi[i] - l) * t));
  return `rgb(${c.join(",")})`;
}

/** The heatmap of `confusion[true][predicted]` with class `names`, as an SVG document. */
export function confusionHeatmap(confusion: readonly number[][], names: readonly string[]): string {
  const k = confusion.length, cell = 34, left = 92, top = 96;
  const cells = confusion.flatMap((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, p) => {
      const share = total > 0 ? count / total : 0, x = left + p * cell, y = top + t * cell;
      const cls = p === t ? "cell diagonal" : "cell";
      const label = `${names[t] ?? t} predicted as ${names[p] ?? p}: ${count}`;
      return `<g class="${cls}" data-true="${t}" data-predicted="${p}" data-count="${count}">` +
        `<title>${escapeXml(label)}</title><rect x="${x}" y="${y}" width="${cell}" ` +
        `height="${cell}" fill="${blues(share)}" stroke="#fff"/>` +
        (count > 0
          ? `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" ` +
            `font-size="10" fill="${share > 0.5 ? "white" : "#222"}">${count}</text>`
          : "") +
        "</g>";
    });
  });
  const rowNames = names.slice(0, k).map((n, t) =>
    `<text x="${left - 6}" y="${top + t * cell + cell / 2 + 4}" text-anchor="end">` +
    `${escapeXml(n)}</text>`
  );
  const colNames = names.slice(0, k).map((n, p) => {
    const x = left + p * cell + cell / 2 + 4, y = top - 6;
    return `<text transform="translate(${num(x)},${y}) rotate(-50)">${escapeXml(n)}</text>`;
  });
  const axes = `<text x="${left + (k * cell) / 2}" y="14" text-anchor="middle" font-size="12">` +
    `predicted</text><text transform="translate(14,${top + (k * cell) / 2}) rotate(-90)" ` +
    `text-anchor="middle" font-size="12">true</text>`;
  const body = `${axes}<g font-size="10">${rowNames.join("")}${colNames.join("")}</g>` +
    cells.join("");
  return svgDocument(left + k * cell + 60, top + k * cell + 10, body, { class: "heatmap" });
}
