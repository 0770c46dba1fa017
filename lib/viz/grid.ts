/**
 * d2l's `show_images` as SVG: greyscale images in a grid, each drawn pixel for pixel (scaled up
 * without smoothing) with two lines under it, the true label and the prediction, as d2l's
 * `predict_ch3` titles them; a wrong prediction is red and its image framed in red. The images
 * are PNG `data:` URIs, so the file stands alone (and resvg renders it to PNG, ./png.ts).
 *
 * @example
 * ```ts
 * import { showImages } from "./grid.ts";
 * import assert from "node:assert/strict";
 * const svg = showImages([
 *   { pixels: new Uint8Array(784), width: 28, height: 28, lines: ["Shirt", "Coat"], wrong: true },
 * ]);
 * assert.ok(svg.includes('class="cell wrong"'));
 * ```
 * @module
 */
import { grayPngDataUri } from "../io/image.ts";
import { escapeXml, svgDocument } from "./svg.ts";
import { CLASS_NAMES, type Split } from "../data/fashion_mnist.ts";

/** One image of the grid. */
export interface GridImage {
  /** `width * height` greyscale pixels, row-major. */
  pixels: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Text lines under the image (d2l: true label, then prediction). */
  lines: readonly string[];
  /** Marks the image as misclassified (red frame, red last line). */
  wrong?: boolean;
}

/** Options of {@linkcode showImages}. */
export interface GridOptions {
  /** Images per row (default 9: d2l's 2 x 9 grid of 18). */
  cols?: number;
  /** Side of each drawn image in pixels (default 84: 28 x 3). */
  cell?: number;
  /** A title above the grid. */
  title?: string;
}

const RED = "#d62728";

/** Longer text cut to `n` characters with an ellipsis. */
function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** One cell: the image, its frame when wrong, its lines. */
function cellSvg(img: GridImage, x: number, y: number, side: number, pad: number): string {
  const cls = img.wrong ? "cell wrong" : "cell";
  const uri = grayPngDataUri(img.pixels, img.width, img.height);
  const chars = Math.floor((side + pad) / 6.2);
  const text = img.lines.map((l, i) => {
    const red = img.wrong && i === img.lines.length - 1;
    return `<text x="${x + side / 2}" y="${y + side + 14 + i * 13}" text-anchor="middle" ` +
      `font-size="11"${red ? ` fill="${RED}"` : ""}>${escapeXml(clip(l, chars))}</text>`;
  }).join("");
  const frame = img.wrong
    ? `<rect x="${x - 1.5}" y="${y - 1.5}" width="${side + 3}" height="${side + 3}" fill="none" ` +
      `stroke="${RED}" stroke-width="3"/>`
    : "";
  return `<g class="${cls}"><title>${escapeXml(img.lines.join(" / "))}</title>` +
    `<image x="${x}" y="${y}" width="${side}" height="${side}" preserveAspectRatio="none" ` +
    `image-rendering="optimizeSpeed" href="${uri}"/>` +
    `${frame}${text}</g>`;
}

/** The grid of `images` as an SVG document. */
export function showImages(images: readonly GridImage[], opts: GridOptions = {}): string {
  const cols = Math.max(1, Math.min(opts.cols ?? 9, images.length)), side = opts.cell ?? 84;
  const pad = 14, lines = Math.max(1, ...images.map((i) => i.lines.length));
  const cw = side + pad, ch = side + 10 + lines * 13 + pad / 2;
  const top = opts.title ? 28 : 8, rows = Math.ceil(images.length / cols);
  const cells = images.map((img, k) =>
    cellSvg(img, pad / 2 + (k % cols) * cw, top + Math.floor(k / cols) * ch, side, pad)
  );
  const title = opts.title
    ? `<text x="${(cols * cw) / 2}" y="18" text-anchor="middle" font-size="13">` +
      `${escapeXml(opts.title)}</text>`
    : "";
  return svgDocument(cols * cw, top + rows * ch, title + cells.join(""), { class: "grid" });
}

/**
 * The grid images of test images: image `indices[k]` of `split` with its label and the
 * prediction `predicted[k]` (d2l's `predict_ch3` titles), wrong ones marked.
 *
 * @example
 * ```ts
 * import { labelledImages, showImages } from "./grid.ts";
 * const split = { images: new Uint8Array(2 * 784), labels: new Uint8Array([0, 1]), count: 2, height: 28, width: 28 };
 * showImages(labelledImages(split, [0, 1], [0, 3]));
 * ```
 */
export function labelledImages(
  split: Split,
  indices: readonly number[],
  predicted: readonly number[],
  names: readonly string[] = CLASS_NAMES,
): GridImage[] {
  const px = split.height * split.width;
  return indices.map((i, k) => ({
    pixels: split.images.subarray(i * px, (i + 1) * px),
    width: split.width,
    height: split.height,
    lines: [names[split.labels[i]] ?? String(split.labels[i]), names[predicted[k]] ?? "?"],
    wrong: split.labels[i] !== predicted[k],
  }));
}
