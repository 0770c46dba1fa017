/**
 * The arithmetic of one training image: the multiply-adds of the network's forward pass, counted
 * from its shape, and the training FLOPs derived from them, the numerator of the bench's "% peak"
 * column. Any network `ResNet` builds: d2l's or torchvision's form, basic, bottleneck or
 * pre-activation blocks, grouped convolutions, either stem.
 *
 * Forward: every convolution of lib/model/shapes.ts' `convShapes` (the stem, each block's
 * convolutions, the 1x1 shortcuts) costs `H_out x W_out x C_out x K x K x C_in / groups`
 * multiply-adds, the dense layer `in x out` ({@linkcode forwardMacs}, the usual count, as
 * torchvision's and fvcore's). The FLOPs behind "% peak" count only the multiply-adds whose input
 * pixel is inside the image ({@linkcode inputMacs}): those on the zero padding need not be done,
 * and at 28x28 they are 46% of ResNet-18's count (its last stage runs 3x3 kernels on 1x1 maps,
 * where 8 of 9 taps see padding); counted, the native test pass, which skips them, stood at 101%
 * of the FMA peak (28x28, batch 256, Zen 5). Training: x2 (a multiply-add is two FLOPs) x3 (the
 * forward product, the backward product for the input gradient and the one for the weight
 * gradient have the same size). BatchNorm, ReLU, pooling, the residual adds, the loss and SGD are
 * not counted: they are memory-bound and a few percent of the FLOPs. ResNet-18: 0.107 GFLOP per
 * training image at 28x28 (0.198 with the padding), 1.59 at 96x96 (1.91); torchvision's ResNet-50
 * at 224x224 (3 channels, 1,000 classes): 4.09 G multiply-adds forward by the usual count, the
 * "4.1 GFLOPs" usually quoted. The test pass (inference) is the forward product alone: a third.
 *
 * @example
 * ```ts
 * import { forwardMacs, trainingGflopPerImage } from "./flops.ts";
 * forwardMacs({ depth: 18 }, 28); // 33010944
 * trainingGflopPerImage({ depth: 18 }, 96).toFixed(2); // "1.91"
 * ```
 * @module
 */
import { EXPANSION, outputSizes, type ResNetOptions, resolveConfig } from "../lib/model/resnet.ts";
import { convShapes } from "../lib/model/shapes.ts";

/**
 * Multiply-adds of one image's forward pass through the convolutions and the dense layer.
 *
 * @example
 * ```ts
 * import { forwardMacs } from "./flops.ts";
 * forwardMacs({ depth: 18 }, 96); // 318657536
 * ```
 */
export function forwardMacs(model: ResNetOptions, size: number): number {
  const c = resolveConfig(model);
  outputSizes(size, c.stem); // refuses a size that is not a positive integer
  const convs = convShapes(c, size).reduce(
    (sum, v) =>
      sum + v.outSize * v.outSize * v.outChannels * v.kernel * v.kernel * v.inChannels / v.groups,
    0,
  );
  return convs + c.width * 8 * EXPANSION[c.block] * c.numClasses;
}

/** Kernel taps along one axis that meet the input, summed over the output positions. */
function tapsOnInput(inSize: number, outSize: number, kernel: number, stride: number): number {
  const pad = Math.floor(kernel / 2); // every ResNet convolution's (lib/model/shapes.ts)
  let taps = 0;
  for (let o = 0; o < outSize; o++) {
    const first = o * stride - pad;
    taps += Math.min(kernel, inSize - first) - Math.max(0, -first);
  }
  return taps;
}

/**
 * Multiply-adds of one image's forward pass whose input is inside the image (not the zero
 * padding): {@linkcode forwardMacs} without the taps that only multiply padding.
 *
 * @example
 * ```ts
 * import { forwardMacs, inputMacs } from "./flops.ts";
 * inputMacs({ depth: 18 }, 28); // 17864704, of forwardMacs' 33010944
 * inputMacs({ depth: 18 }, 96) < forwardMacs({ depth: 18 }, 96); // true
 * ```
 */
export function inputMacs(model: ResNetOptions, size: number): number {
  const c = resolveConfig(model);
  outputSizes(size, c.stem); // refuses a size that is not a positive integer
  const convs = convShapes(c, size).reduce((sum, v) => {
    const taps = tapsOnInput(v.inSize, v.outSize, v.kernel, v.stride);
    return sum + taps * taps * v.outChannels * v.inChannels / v.groups;
  }, 0);
  return convs + c.width * 8 * EXPANSION[c.block] * c.numClasses;
}

/**
 * Training GFLOP per image: the forward multiply-adds on the input ({@linkcode inputMacs}) x2
 * FLOPs x3 products (forward, gradient of the input, gradient of the weights).
 *
 * @example
 * ```ts
 * import { trainingGflopPerImage } from "./flops.ts";
 * trainingGflopPerImage({ stages: [1, 1, 1, 1], width: 8 }, 16) < 0.01; // true
 * ```
 */
export function trainingGflopPerImage(model: ResNetOptions, size: number): number {
  return inputMacs(model, size) * 2 * 3 / 1e9;
}

/**
 * GFLOP per image of a task: training's ({@linkcode trainingGflopPerImage}), or the forward pass
 * alone for the test pass (x2 FLOPs per multiply-add).
 *
 * @example
 * ```ts
 * import { gflopPerImage } from "./flops.ts";
 * gflopPerImage({ depth: 18 }, 96, "eval").toFixed(3); // "0.529"
 * ```
 */
export function gflopPerImage(model: ResNetOptions, size: number, task: "train" | "eval"): number {
  return task === "eval" ? inputMacs(model, size) * 2 / 1e9 : trainingGflopPerImage(model, size);
}
