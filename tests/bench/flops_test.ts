/**
 * bench/flops.ts: the training (and test-pass) FLOPs per image of a ResNet, counted from the
 * network shape, against multiply-adds worked out by hand (below), the 0.198 / 1.91 GFLOP
 * and torchvision's ResNet-50 count.
 */
import assert from "node:assert/strict";
import { forwardMacs, gflopPerImage, inputMacs, trainingGflopPerImage } from "../../bench/flops.ts";
import { ConfigError } from "../../lib/errors.ts";

Deno.test("ResNet-18: 0.107 GFLOP per training image at 28x28 (0.198 with padding), 1.59 at 96x96", () => {
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
  // Without the taps on padding (per axis, output positions times the taps inside the input):
  // stem 7x7/2 28->14: 4+6+7x11+5 = 92 of 98 taps; 3x3 at 7x7: 2+3x5+2 = 19 of 21; 3x3/2 7->4
  // and 3x3 at 4x4: 10 of 12; 3x3/2 4->2: 5 of 6; at 2x2: 4 of 6; 3x3/2 2->1 2 of 3; at 1x1: 1
  // of 3. The 1x1 shortcuts have no padding.
  const b3 = 100 * 64 * 128 + 3 * 100 * 128 * 128 + 16 * 64 * 128;
  const b4 = 25 * 128 * 256 + 3 * 16 * 256 * 256 + 4 * 128 * 256;
  const b5 = 4 * 256 * 512 + 3 * 512 * 512 + 256 * 512;
  const onInput = 92 * 92 * 64 + 4 * 19 * 19 * 64 * 64 + b3 + b4 + b5 + 5_120;
  assert.equal(inputMacs({ depth: 18 }, 28), onInput);
  assert.equal(onInput, 17_864_704);
  assert.equal(trainingGflopPerImage({ depth: 18 }, 28).toFixed(3), "0.107");
  assert.equal(trainingGflopPerImage({ depth: 18 }, 96).toFixed(2), "1.59");
  // x2 FLOPs per multiply-add, x3 products (forward, input gradient, weight gradient).
  assert.equal(trainingGflopPerImage({ depth: 18 }, 28), inputMacs({ depth: 18 }, 28) * 6e-9);
  // Every padded convolution loses some taps at its borders.
  for (const size of [16, 28, 32, 96, 224]) {
    assert.ok(inputMacs({ depth: 34 }, size) < forwardMacs({ depth: 34 }, size), `${size}`);
  }
});

Deno.test("gflopPerImage: training's, or the forward pass alone for the test pass", () => {
  assert.equal(gflopPerImage({ depth: 18 }, 28, "train"), trainingGflopPerImage({ depth: 18 }, 28));
  assert.equal(gflopPerImage({ depth: 34 }, 96, "eval"), inputMacs({ depth: 34 }, 96) * 2e-9);
  assert.equal(gflopPerImage({ depth: 18 }, 96, "eval").toFixed(3), "0.529");
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

Deno.test("ResNet-50: torchvision's 4.09 G multiply-adds forward at 224x224; bottleneck, grouped", () => {
  const zoo = { depth: 50, arch: "torchvision", inChannels: 3, numClasses: 1000 } as const;
  // torchvision's resnet50 with forward hooks on every Conv2d and Linear counts the same
  // (tests/bench/torch_reference_test.ts runs that count live): the "4.1 GFLOPs" usually quoted.
  assert.equal(forwardMacs(zoo, 224), 4_089_184_256);
  // resnext50_32x4d: the grouped 3x3 convs cost 1/32 of a full one at 4x the width.
  assert.equal(forwardMacs({ ...zoo, groups: 32, widthPerGroup: 4 }, 224), 4_230_479_872);
  // d2l's form has the same products (its biases are not multiply-adds).
  assert.equal(forwardMacs({ ...zoo, arch: "d2l" }, 224), 4_089_184_256);
  // The bench's network: 1 channel, 10 classes. Its stem at 28x28 is 14x14x64x49 and the dense
  // layer 2048x10; training is x6.
  const fm = { depth: 50, arch: "torchvision" } as const;
  assert.equal(forwardMacs(fm, 28), 77_951_232);
  assert.equal(trainingGflopPerImage(fm, 96).toFixed(2), "4.07"); // 4.42 with the padding
  // A tiny bottleneck net by hand (width 8, [1,1,1,1], 16x16). A block from n x n to o x o
  // pixels: the 1x1 cin->mid at n x n, the 3x3 mid->mid (strided) and the 1x1 mid->4 mid at
  // o x o, the shortcut 1x1 cin->4 mid (strided) at o x o.
  const block = (n: number, o: number, cin: number, mid: number) =>
    n * n * cin * mid + o * o * mid * mid * 9 + o * o * mid * 4 * mid + o * o * cin * 4 * mid;
  // Stem 8x8x8x49, max pool to 4x4; b2 4->4, b3 4->2, b4 2->1, b5 1->1; dense 256x10.
  const tiny = 8 * 8 * 8 * 49 + block(4, 4, 8, 8) + block(4, 2, 32, 16) + block(2, 1, 64, 32) +
    block(1, 1, 128, 64) + 256 * 10;
  assert.equal(tiny, 199_680);
  assert.equal(forwardMacs({ stages: [1, 1, 1, 1], width: 8, block: "bottleneck" }, 16), tiny);
});
