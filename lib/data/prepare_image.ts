/**
 * A picture of one's own made to look like a Fashion-MNIST image: greyscale, square, 28x28, a
 * light garment on black. The network then sees it through the very pipeline of training
 * (../data/batches.ts: pixels / 255, bilinear resize with half-pixel centres to its input size).
 *
 * Steps: (1) judge the background from the border pixels (the outermost rows and columns):
 * Fashion-MNIST's is black, so a light one (median above 127.5; the median, as a garment may
 * touch the border) means "invert" under `auto`; (2) pad to a square with that median, keeping
 * the aspect ratio (Fashion-MNIST's images were made so); (3) resample to 28x28: an area average when shrinking (a photo's detail would
 * alias under a 2x2-tap bilinear filter), bilinear with half-pixel centres when enlarging;
 * (4) invert when asked or judged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toFashionMnist } from "./prepare_image.ts";
 * const white = { width: 100, height: 50, pixels: new Uint8Array(5000).fill(250) };
 * const r = toFashionMnist(white, { invert: "auto" });
 * assert.equal(r.pixels.length, 784);
 * assert.equal(r.inverted, true);
 * assert.equal(r.pixels[0], 5);
 * ```
 * @module
 */
import type { GrayImage } from "../io/image.ts";

/** Fashion-MNIST's image side in pixels. */
export const FASHION_MNIST_SIZE = 28;

/** Whether to invert: judged from the border (`auto`), always, or never. */
export type InvertMode = "auto" | "yes" | "no";

/** The invert modes, for flag choices. */
export const INVERT_MODES: readonly InvertMode[] = ["auto", "yes", "no"];

/** A picture in Fashion-MNIST's form. */
export interface PreparedImage {
  /** `size * size` pixels 0-255, row-major, light garment on black when inverted right. */
  pixels: Uint8Array;
  /** The side (28 by default). */
  size: number;
  /** Whether the picture was inverted. */
  inverted: boolean;
  /** Median of the original's border pixels, 0-255 (what `auto` judged). */
  border: number;
}

/**
 * Median of the pixels on the outermost rows and columns (each pixel counted once).
 *
 * @example
 * ```ts
 * import { borderMedian } from "./prepare_image.ts";
 * borderMedian({ width: 3, height: 3, pixels: new Uint8Array([9, 9, 0, 9, 0, 9, 9, 9, 9]) }); // 9
 * ```
 */
export function borderMedian(img: GrayImage): number {
  const { width: w, height: h, pixels } = img;
  const counts = new Uint32Array(256);
  let n = 0;
  for (let y = 0; y < h; y++) {
    const edgeRow = y === 0 || y === h - 1;
    for (let x = 0; x < w; x += edgeRow || w === 1 ? 1 : w - 1) {
      counts[pixels[y * w + x]]++;
      n++;
    }
  }
  // The middle value (the mean of the two middle ones for an even count).
  const at = (k: number) => {
    for (let v = 0, seen = 0; v < 256; v++) if ((seen += counts[v]) > k) return v;
    return 255;
  };
  return (at(Math.floor((n - 1) / 2)) + at(Math.floor(n / 2))) / 2;
}

/** `img` centred in a square of side max(w, h), the rest filled with `fill`. */
function padToSquare(img: GrayImage, fill: number): GrayImage {
  const { width: w, height: h } = img, side = Math.max(w, h);
  if (w === h) return img;
  const out = new Uint8Array(side * side).fill(fill);
  const x0 = Math.floor((side - w) / 2), y0 = Math.floor((side - h) / 2);
  for (let y = 0; y < h; y++) {
    out.set(img.pixels.subarray(y * w, (y + 1) * w), (y0 + y) * side + x0);
  }
  return { width: side, height: side, pixels: out };
}

/** Area average of a square image down to `size` (each output pixel: the mean of what it covers). */
function areaResize(img: GrayImage, size: number): Float64Array {
  const side = img.width, scale = side / size, out = new Float64Array(size * size);
  // Weights of the input columns (and rows) each output column covers, fractions at the edges.
  const spans = Array.from({ length: size }, (_, o) => {
    const a = o * scale, b = (o + 1) * scale, w: [number, number][] = [];
    for (let i = Math.floor(a); i < Math.min(side, Math.ceil(b)); i++) {
      w.push([i, Math.min(b, i + 1) - Math.max(a, i)]);
    }
    return w;
  });
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      let sum = 0;
      for (const [iy, wy] of spans[oy]) {
        for (const [ix, wx] of spans[ox]) sum += img.pixels[iy * side + ix] * wy * wx;
      }
      out[oy * size + ox] = sum / (scale * scale);
    }
  }
  return out;
}

/** Bilinear resize of a square image with half-pixel centres (tf.image.resizeBilinear's). */
function bilinearResize(img: GrayImage, size: number): Float64Array {
  const side = img.width, scale = side / size, out = new Float64Array(size * size);
  const tap = (o: number) => {
    const s = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(s), side - 1);
    return [lo, Math.min(lo + 1, side - 1), s - lo] as const;
  };
  for (let oy = 0; oy < size; oy++) {
    const [y0, y1, fy] = tap(oy);
    for (let ox = 0; ox < size; ox++) {
      const [x0, x1, fx] = tap(ox), p = img.pixels;
      const top = p[y0 * side + x0] * (1 - fx) + p[y0 * side + x1] * fx;
      const bottom = p[y1 * side + x0] * (1 - fx) + p[y1 * side + x1] * fx;
      out[oy * size + ox] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/**
 * `img` in Fashion-MNIST's form: padded to a square, resampled to `size` (default 28) and
 * inverted when `invert` says so (`auto`: when the border is light).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toFashionMnist } from "./prepare_image.ts";
 * const dark = { width: 56, height: 56, pixels: new Uint8Array(56 * 56).fill(10) };
 * const r = toFashionMnist(dark, { invert: "auto", size: 28 });
 * assert.equal(r.pixels.length, 784);
 * assert.equal(r.inverted, false);
 * assert.equal(r.border, 10);
 * ```
 */
export function toFashionMnist(
  img: GrayImage,
  opts: { invert?: InvertMode; size?: number } = {},
): PreparedImage {
  const size = opts.size ?? FASHION_MNIST_SIZE, mode = opts.invert ?? "auto";
  const border = borderMedian(img);
  const inverted = mode === "yes" || (mode === "auto" && border > 127.5);
  const square = padToSquare(img, Math.round(border));
  const values = square.width > size
    ? areaResize(square, size)
    : square.width === size
    ? Float64Array.from(square.pixels)
    : bilinearResize(square, size);
  const pixels = new Uint8Array(size * size);
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.min(255, Math.max(0, Math.round(values[i])));
    pixels[i] = inverted ? 255 - v : v;
  }
  return { pixels, size, inverted, border };
}
