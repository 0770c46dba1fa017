/**
 * The arithmetic of one training image: the multiply-adds of d2l's ResNet forward pass, counted
 * from the network's shape, and the training FLOPs derived from them, the numerator of the
 * bench's "% peak" column.
 *
 * Forward: every convolution costs `H_out x W_out x C_out x K x K x C_in` multiply-adds (the
 * stem 7x7/2; each residual block's two 3x3 convolutions and, in the first block of b3..b5, the
 * 1x1/2 shortcut), the dense layer `in x out`. Training: x2 (a multiply-add is two FLOPs) x3 (the
 * forward product, the backward product for the input gradient and the one for the weight
 * gradient have the same size). BatchNorm, ReLU, pooling, the residual adds, the loss and SGD are
 * not counted: they are memory-bound and a few percent of the FLOPs. ResNet-18: 0.198 GFLOP per
 * image at 28x28, 1.91 at 96x96. The test pass (inference) is the forward product alone: a third.
 *
 * @example
 * ```ts
 * import { forwardMacs, trainingGflopPerImage } from "./flops.ts";
 * forwardMacs({ depth: 18 }, 28); // 33010944
 * trainingGflopPerImage({ depth: 18 }, 96).toFixed(2); // "1.91"
 * ```
 * @module
 */
import { outputSizes, type ResNetOptions, resolveConfig } from "../lib/model/resnet.ts";

/** Multiply-adds of a `k`x`k` convolution, `cin` to `cout` channels, `out`x`out` outputs. */
function convMacs(out: number, k: number, cin: number, cout: number): number {
  return out * out * cout * k * k * cin;
}

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
  // [stem, max pool, b2, b3, b4, b5] output sizes, PyTorch's formulas.
  const s = outputSizes(size);
  let macs = convMacs(s[0], 7, c.inChannels, c.width);
  let cin = c.width;
  for (let stage = 0; stage < 4; stage++) {
    const cout = c.width * 2 ** stage, out = s[2 + stage];
    for (let block = 0; block < c.stages[stage]; block++) {
      const first = block === 0;
      // conv1 (strided in the first block of b3..b5), conv2, the 1x1 shortcut when shapes change.
      macs += convMacs(out, 3, first ? cin : cout, cout) + convMacs(out, 3, cout, cout);
      if (first && stage > 0) macs += convMacs(out, 1, cin, cout);
    }
    cin = cout;
  }
  return macs + cin * c.numClasses;
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
