/**
 * The arithmetic of one training image: the multiply-adds of the network's forward pass, counted
 * from its shape, and the training FLOPs derived from them, the numerator of the bench's "% peak"
 * column. Any network `ResNet` builds: d2l's or torchvision's form, basic, bottleneck or
 * pre-activation blocks, grouped convolutions, either stem.
 *
 * Forward: every convolution of lib/model/shapes.ts' `convShapes` (the stem, each block's
 * convolutions, the 1x1 shortcuts) costs `H_out x W_out x C_out x K x K x C_in / groups`
 * multiply-adds, the dense layer `in x out`. Training: x2 (a multiply-add is two FLOPs) x3 (the
 * forward product, the backward product for the input gradient and the one for the weight
 * gradient have the same size). BatchNorm, ReLU, pooling, the residual adds, the loss and SGD are
 * not counted: they are memory-bound and a few percent of the FLOPs. ResNet-18: 0.198 GFLOP per
 * image at 28x28, 1.91 at 96x96; torchvision's ResNet-50 at 224x224 (3 channels, 1,000 classes):
 * 4.09 G multiply-adds forward, the "4.1 GFLOPs" usually quoted. The test pass (inference) is the
 * forward product alone: a third.
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

/**
 * Training GFLOP per image: forward multiply-adds x2 FLOPs x3 products (forward, gradient of the
 * input, gradient of the weights).
 *
 * @example
 * ```ts
 * import { trainingGflopPerImage } from "./flops.ts";
 * trainingGflopPerImage({ stages: [1, 1, 1, 1], width: 8 }, 16) < 0.01; // true
 * ```
 */
export function trainingGflopPerImage(model: ResNetOptions, size: number): number {
  return forwardMacs(model, size) * 2 * 3 / 1e9;
}

/**
 * GFLOP per image of a task: training's ({@linkcode trainingGflopPerImage}), or the forward pass
 * alone for the test pass (x2 FLOPs per multiply-add).
 *
 * @example
 * ```ts
 * import { gflopPerImage } from "./flops.ts";
 * gflopPerImage({ depth: 18 }, 96, "eval").toFixed(3); // "0.637"
 * ```
 */
export function gflopPerImage(model: ResNetOptions, size: number, task: "train" | "eval"): number {
  return task === "eval" ? forwardMacs(model, size) * 2 / 1e9 : trainingGflopPerImage(model, size);
}
