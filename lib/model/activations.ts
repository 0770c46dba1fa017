/**
 * The largest tensor a training step of d2l's ResNet makes, from the architecture alone
 * (no tensors): the bytes a GPU must hold in one buffer and bind in one kernel. A WebGPU device
 * refuses buffers above its `maxBufferSize` and bindings above `maxStorageBufferBindingSize`, so
 * a batch whose largest activation exceeds either cannot run there; callers check this before
 * training and say which batch would fit.
 *
 * The activations of a step (input, b1's convolution and pool, each stage's outputs) have these
 * shapes in the forward pass, and their gradients the same shapes in the backward pass. tfjs'
 * WebGPU convolution makes an im2col buffer larger than its output only for convolutions too small
 * to matter here.
 *
 * @example
 * ```ts
 * import { largestActivation } from "./activations.ts";
 * import { resolveConfig } from "./resnet.ts";
 * const a = largestActivation(resolveConfig({ depth: 18 }), 256, 224);
 * console.log(a.name, a.shape, a.bytes); // "b1.0" [256, 112, 112, 64] 822083584
 * ```
 * @module
 */
import { outputSizes, type ResNetConfig } from "./resnet.ts";

/** One activation of a step: its layer, its NHWC shape and its float32 bytes. */
export interface Activation {
  /** The layer that outputs it (`input`, `b1.0`, `b1.3`, `b2`..`b5`), as in the shape table. */
  name: string;
  /** NHWC shape. */
  shape: number[];
  /** Bytes as float32. */
  bytes: number;
}

/**
 * The activations of one step on a batch of `batch` images of `size` x `size`, in forward order.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./resnet.ts";
 * import { activations } from "./activations.ts";
 * activations(resolveConfig({ stages: [1, 1, 1, 1], width: 8 }), 2, 28).map((a) => a.name);
 * // ["input", "b1.0", "b1.3", "b2", "b3", "b4", "b5"]
 * ```
 */
export function activations(config: ResNetConfig, batch: number, size: number): Activation[] {
  const [stem, pool, ...stages] = outputSizes(size);
  const make = (name: string, hw: number, channels: number): Activation => {
    const shape = [batch, hw, hw, channels];
    return { name, shape, bytes: 4 * shape.reduce((a, b) => a * b, 1) };
  };
  return [
    make("input", size, config.inChannels),
    make("b1.0", stem, config.width),
    make("b1.3", pool, config.width),
    ...stages.map((hw, i) => make(`b${i + 2}`, hw, config.width * 2 ** i)),
  ];
}

/**
 * The largest activation of a step (the first of equals); see the module docs.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./resnet.ts";
 * import { largestActivation } from "./activations.ts";
 * largestActivation(resolveConfig({ stages: [1, 1, 1, 1], width: 8 }), 64, 28).bytes; // 401408
 * ```
 */
export function largestActivation(config: ResNetConfig, batch: number, size: number): Activation {
  return activations(config, batch, size).reduce((a, b) => (b.bytes > a.bytes ? b : a));
}
