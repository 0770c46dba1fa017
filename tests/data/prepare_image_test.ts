import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backends/choose.ts";
import { borderMedian, toFashionMnist } from "../../lib/data/prepare_image.ts";
import type { GrayImage } from "../../lib/io/image.ts";

const image = (width: number, height: number, f: (x: number, y: number) => number): GrayImage => {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = f(x, y);
  return { width, height, pixels };
};

Deno.test("a 28x28 dark-background image passes unchanged under auto", () => {
  const img = image(28, 28, (x, y) => (x * 7 + y * 3) % 60 + (x > 8 && x < 20 ? 150 : 0));
  const r = toFashionMnist(img);
  assert.equal(r.inverted, false);
  assert.deepEqual(r.pixels, img.pixels);
});

Deno.test("auto inverts a light background (judged by the border's median), yes/no force it", () => {
  // Light border, except a dark garment that touches the bottom edge in the middle.
  const img = image(28, 28, (x, y) => (x > 9 && x < 18 && y > 5 ? 20 : 230));
  assert.equal(borderMedian(img), 230);
  const auto = toFashionMnist(img);
  assert.equal(auto.inverted, true);
  assert.equal(auto.pixels[0], 25);
  assert.equal(auto.pixels[27 * 28 + 14], 235);
  assert.equal(toFashionMnist(img, { invert: "no" }).pixels[0], 230);
  const dark = image(28, 28, () => 10);
  assert.equal(toFashionMnist(dark, { invert: "yes" }).pixels[0], 245);
});

Deno.test("a large image is area-averaged to 28x28; blocks of 10x10 become their value", () => {
  const small = image(28, 28, (x, y) => (x * 9 + y * 5) % 256);
  const big = image(280, 280, (x, y) => small.pixels[Math.floor(y / 10) * 28 + Math.floor(x / 10)]);
  assert.deepEqual(toFashionMnist(big, { invert: "no" }).pixels, small.pixels);
  // A fine checkerboard averages to grey (a 2-tap bilinear filter would alias it).
  const checker = image(280, 280, (x, y) => ((x + y) % 2 ? 255 : 0));
  const grey = toFashionMnist(checker, { invert: "no" }).pixels;
  assert.ok(grey.every((p) => p === 128), String(grey.slice(0, 5)));
});

Deno.test("a wide picture is padded to a square with its border, keeping its aspect ratio", () => {
  // 56x28: black border, a white 20x10 block (on even rows, so it halves exactly).
  const wide = image(56, 28, (x, y) => (x >= 18 && x < 38 && y >= 8 && y < 18 ? 255 : 0));
  const r = toFashionMnist(wide, { invert: "no" }).pixels;
  const white = [...r].filter((p) => p === 255).length;
  assert.equal(white, 10 * 5, "the 20x10 block becomes 10x5, not 10x10");
  assert.equal(r[14 * 28 + 14], 255);
  assert.equal(r[2 * 28 + 14], 0, "padding above is the border's colour");
});

Deno.test("a small picture is enlarged with tf.image.resizeBilinear's half-pixel centres", async () => {
  await initBackend("cpu");
  const img = image(7, 7, (x, y) => (x * 30 + y * 7) % 256);
  const r = toFashionMnist(img, { invert: "no" }).pixels;
  const want = tf.tidy(() =>
    tf.image.resizeBilinear(tf.tensor3d(img.pixels, [7, 7, 1], "float32"), [28, 28], false, true)
  );
  const expected = Array.from(await want.data(), (v) => Math.round(v));
  want.dispose();
  assert.deepEqual([...r], expected);
});
