/**
 * Generated stand-ins for Fashion-MNIST splits, so training tests never need the real data:
 * class k is a bright 4x4 square at the k-th of ten positions on a noisy background.
 * @module
 */
import type { Split } from "../lib/data/fashion_mnist.ts";
import { mulberry32 } from "../lib/data/rng.ts";

/** `count` images of `size`x`size` (size >= 16) with labels 0..9, deterministic in `seed`. */
export function syntheticSplit(count: number, size = 16, seed = 1): Split {
  const rand = mulberry32(seed);
  const images = new Uint8Array(count * size * size);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = Math.floor(rand() * 10);
    labels[i] = k;
    const img = images.subarray(i * size * size, (i + 1) * size * size);
    for (let p = 0; p < img.length; p++) img[p] = Math.floor(rand() * 60);
    const top = k < 5 ? 2 : size - 6, left = 1 + (k % 5) * Math.floor((size - 4) / 5);
    for (let r = top; r < top + 4; r++) {
      for (let c = left; c < left + 4; c++) img[r * size + c] = 200 + Math.floor(rand() * 55);
    }
  }
  return { images, labels, count, height: size, width: size };
}
