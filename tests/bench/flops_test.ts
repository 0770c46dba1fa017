/**
 * bench/flops.ts: the training (and test-pass) FLOPs per image of d2l's ResNet, counted from the network shape,
 * against multiply-adds worked out by hand (below) and the 0.198 / 1.91 GFLOP.
 */
import assert from "node:assert/strict";
import { forwardMacs, gflopPerImage, trainingGflopPerImage } from "../../bench/flops.ts";
import { ConfigError } from "../../lib/errors.ts";

Deno.test("ResNet-18: 0.198 GFLOP per training image at 28x28, 1.91 at 96x96", () => {
  // 28x28: stem 14x14x64x49 = 614,656; b2 at 7x7: 4 x (49x64x64x9) = 7,225,344; b3 (4x4), b4
  // (2x2) and b5 (1x1) each 8,388,608 (a strided 3x3, three 3x3 and the 1x1 shortcut); dense
  // 512x10 = 5,120.
  assert.equal(forwardMacs({ depth: 18 }, 28), 614_656 + 7_225_344 + 3 * 8_388_608 + 5_120);
  // 96x96: stem 48x48x64x49; b2 at 24x24; b3..b5 at 12, 6 and 3 pixels: 524,288 per pixel at
  // 12x12, 2,097,152 at 6x6, 8,388,608 at 3x3.
  assert.equal(
    forwardMacs({ depth: 18 }, 96),
    7_225_344 + 576 * 64 * 64 * 9 * 4 + 144 * 524_288 + 36 * 2_097_152 + 9 * 8_388_608 + 5_120,
  );
  assert.equal(trainingGflopPerImage({ depth: 18 }, 28).toFixed(3), "0.198");
  assert.equal(trainingGflopPerImage({ depth: 18 }, 96).toFixed(2), "1.91");
  // x2 FLOPs per multiply-add, x3 products (forward, input gradient, weight gradient).
  assert.equal(trainingGflopPerImage({ depth: 18 }, 28), forwardMacs({ depth: 18 }, 28) * 6e-9);
});

Deno.test("gflopPerImage: training's, or the forward pass alone for the test pass", () => {
  assert.equal(gflopPerImage({ depth: 18 }, 28, "train"), trainingGflopPerImage({ depth: 18 }, 28));
  assert.equal(gflopPerImage({ depth: 34 }, 96, "eval"), forwardMacs({ depth: 34 }, 96) * 2e-9);
  assert.equal(gflopPerImage({ depth: 18 }, 96, "eval").toFixed(3), "0.637");
});

Deno.test("other depths, widths and sizes follow the shape", () => {
  // ResNet-34 at 28x28: b2 3 blocks, b3 4, b4 6, b5 3 (stride and shortcut in the first each).
  const b3 = 1_179_648 + 2_359_296 + 131_072 + 3 * 2 * 2_359_296;
  const b4 = 1_179_648 + 2_359_296 + 131_072 + 5 * 2 * 2_359_296;
  const b5 = 1_179_648 + 2_359_296 + 131_072 + 2 * 2 * 2_359_296;
  assert.equal(forwardMacs({ depth: 34 }, 28), 614_656 + 6 * 1_806_336 + b3 + b4 + b5 + 5_120);
  // The tests' tiny net (one block per stage, width 8) at 16x16: stem 8x8x8x49; b2 at 4x4 two
  // 3x3 8->8; b3 at 2x2 8->16; b4 at 1x1 16->32; b5 at 1x1 32->64; dense 64x10.
  const tiny = 25_088 + 2 * 16 * 8 * 8 * 9 + 4 * (16 * 8 * 9 + 16 * 16 * 9 + 16 * 8) +
    (32 * 16 * 9 + 32 * 32 * 9 + 32 * 16) + (64 * 32 * 9 + 64 * 64 * 9 + 64 * 32) + 640;
  assert.equal(forwardMacs({ stages: [1, 1, 1, 1], width: 8 }, 16), tiny);
  // Doubling the width quadruples every product but the stem's and the dense layer's.
  const w = (width: number) => forwardMacs({ depth: 18, width }, 28);
  const stem = (width: number) => 14 * 14 * width * 49, dense = (width: number) => 8 * width * 10;
  assert.equal(w(128) - stem(128) - dense(128), 4 * (w(64) - stem(64) - dense(64)));
});

Deno.test("a size or stages the network cannot take: its ConfigError", () => {
  assert.throws(() => forwardMacs({ depth: 18 }, 0), ConfigError);
  assert.throws(() => trainingGflopPerImage({ stages: [1, 1, 1] }, 28), ConfigError);
});
