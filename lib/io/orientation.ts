/**
 * EXIF orientation applied to decoded pixels: a phone stores a picture as the sensor saw it and
 * says in the EXIF orientation (1-8) how to turn it; viewers turn it, so must we, or a sideways
 * shirt is classified sideways.
 *
 * @example
 * ```ts
 * import { orient } from "./orientation.ts";
 * import assert from "node:assert/strict";
 * // 2 wide, 1 high: [a b]; orientation 6 (turn 90 degrees clockwise) gives 1 wide, 2 high.
 * const up = orient({ width: 2, height: 1, pixels: new Uint8Array([1, 2]) }, 6);
 * assert.deepEqual([up.width, up.height, [...up.pixels]], [1, 2, [1, 2]]);
 * ```
 * @module
 */

/** Pixels (one value each, row-major) with their size, as image.ts's `GrayImage`. */
export interface Pixels {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** One value per pixel, row after row. */
  pixels: Uint8Array;
}

/** For output pixel (x, y), the stored one: EXIF orientations 1-8 (TIFF 6.0's table). */
const SOURCE: Record<number, (x: number, y: number, w: number, h: number) => [number, number]> = {
  1: (x, y) => [x, y],
  2: (x, y, w) => [w - 1 - x, y], // mirrored
  3: (x, y, w, h) => [w - 1 - x, h - 1 - y], // upside down
  4: (x, y, _w, h) => [x, h - 1 - y], // mirrored upside down
  5: (x, y) => [y, x], // transposed
  6: (x, y, _w, h) => [y, h - 1 - x], // stored turned left: turn right
  7: (x, y, w, h) => [w - 1 - y, h - 1 - x], // transversed
  8: (x, y, w) => [w - 1 - y, x], // stored turned right: turn left
};

/** `img` turned upright by EXIF `orientation` (1 or an unknown value: unchanged). */
export function orient(img: Pixels, orientation: number): Pixels {
  const from = SOURCE[orientation];
  if (!from || orientation === 1) return img;
  const { width: w, height: h } = img;
  const turned = orientation >= 5;
  const ow = turned ? h : w, oh = turned ? w : h;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const [sx, sy] = from(x, y, w, h);
      out[y * ow + x] = img.pixels[sy * w + sx];
    }
  }
  return { width: ow, height: oh, pixels: out };
}
