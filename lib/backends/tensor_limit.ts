/**
 * WebGPU's size limits for tensors. Each tfjs-webgpu tensor is one GPU buffer bound as storage,
 * so no tensor may exceed the adapter's `maxStorageBufferBindingSize` or `maxBufferSize`
 * (128 MiB and 256 MiB on Mesa's software adapter); a kernel given a larger one computes
 * garbage without an error (an eval at 64x64, batch 5000 reported 0.105 instead of 0.806).
 * The network, the batch and the input size fix every tensor's size, so the largest is known
 * before the first step: `eval` splits its batches to fit, `train` refuses one that does not.
 * Everything but {@linkcode tensorLimit} (which asks the device Deno's tfjs runs on) is pure and
 * browser-safe: the web page checks its batches against its own device's limits with it.
 *
 * The rule, for float32 activations (4 bytes an element, NHWC):
 * - the input batch `[N, S, S, C]`, and every convolution's output `[N, Ho, Wo, Cout]` (BatchNorm,
 *   ReLU, the residual sum and all gradients of a step have these shapes; pooling only shrinks);
 * - the im2col matrix `[N, Ho*Wo, Kh*Kw*Cin]` of a convolution that tfjs-webgpu 4.22 computes
 *   through one (kernels/Conv2D_impl.ts: when `N * ceil(Ho*Wo/32) * ceil(Cout/32)` is at most
 *   its workgroup threshold, 8, or 16 on Intel GPUs of generation 12 and later; 16 is assumed).
 *   Larger convolutions use `Conv2DMMProgram`, which reads the input in place; the backward
 *   convolutions never make an im2col matrix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { largestTensor } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const t = largestTensor(resolveConfig({ depth: 18 }), 96, 256);
 * assert.equal(t.name, "b1.0's output");
 * assert.deepEqual(t.shape, [256, 48, 48, 64]);
 * assert.equal(t.bytes, 150994944);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ResNetConfig } from "../model/resnet.ts";
import { convShapes } from "../model/shapes.ts";
import { InputError } from "../errors.ts";
import { currentDevice } from "./webgpu.ts";

/** A tensor of a step: what it is, its shape (NHWC) and its size in bytes. */
export interface TensorSize {
  /** E.g. `b1.0's output`, `the input batch`, `b2.0.conv1's im2col matrix`. */
  name: string;
  /** Its shape. */
  shape: number[];
  /** Its size in bytes (float32). */
  bytes: number;
}

/** The binding limit a tensor must fit: the smaller of the adapter's two buffer limits. */
export interface TensorLimit {
  /** The limit in bytes. */
  bytes: number;
  /** Which limit of the adapter it is. */
  name: "maxStorageBufferBindingSize" | "maxBufferSize";
}

/** tfjs-webgpu's largest workgroup count for which conv2d materialises im2col (see above). */
const IM2COL_WORKGROUPS = 16;

const tensor = (name: string, shape: number[]) => ({
  name,
  shape,
  bytes: 4 * shape.reduce((a, b) => a * b, 1),
});

/**
 * The largest tensor a training step or an evaluation pass of the network makes at `batch`
 * images of `size`x`size` (both make the same activations; gradients have their shapes).
 *
 * @example
 * ```ts
 * import { largestTensor } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * largestTensor(resolveConfig({ stages: [1, 1, 1, 1], width: 2 }), 28, 10).name; // "the input batch"
 * ```
 */
export function largestTensor(config: ResNetConfig, size: number, batch: number): TensorSize {
  let best = tensor("the input batch", [batch, size, size, config.inChannels]);
  for (const c of convShapes(config, size)) {
    const out = tensor(`${c.name}'s output`, [batch, c.outSize, c.outSize, c.outChannels]);
    if (out.bytes > best.bytes) best = out;
    const workgroups = batch * Math.ceil(c.outSize ** 2 / 32) * Math.ceil(c.outChannels / 32);
    if (c.kernel > 1 && workgroups <= IM2COL_WORKGROUPS) {
      const cols = [batch, c.outSize ** 2, c.kernel ** 2 * c.inChannels];
      const im2col = tensor(`${c.name}'s im2col matrix`, cols);
      if (im2col.bytes > best.bytes) best = im2col;
    }
  }
  return best;
}

/**
 * The largest batch (at most `batch`) such that it and every smaller batch (a pass's last one)
 * make no tensor over `limit` bytes; 0 when not even one image fits.
 *
 * @example
 * ```ts
 * import { largestBatchThatFits } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * largestBatchThatFits(resolveConfig({ depth: 18 }), 96, 2 ** 27); // 227
 * ```
 */
export function largestBatchThatFits(
  config: ResNetConfig,
  size: number,
  limit: number,
  batch = Infinity,
): number {
  const fits = (b: number) => largestTensor(config, size, b).bytes <= limit;
  // im2col matrices exist at small batches only: each of those must fit on its own.
  const smallest = Math.min(IM2COL_WORKGROUPS, batch);
  let small = 0;
  while (small < smallest && fits(small + 1)) small++;
  if (small < smallest) return small;
  // Beyond them every tensor grows in proportion to the batch.
  const perImage = largestTensor(config, size, 1024).bytes / 1024;
  let b = Math.min(batch, Math.floor(limit / perImage));
  while (b > small && !fits(b)) b--;
  return Math.max(b, small);
}

/**
 * The limit a tensor must fit on a WebGPU device with these limits: the smaller of its
 * `maxStorageBufferBindingSize` and `maxBufferSize` (the binding limit when they are equal).
 *
 * @example
 * ```ts
 * import { limitOf } from "./tensor_limit.ts";
 * limitOf({ maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 });
 * // { bytes: 134217728, name: "maxStorageBufferBindingSize" }
 * ```
 */
export function limitOf(
  limits: { maxBufferSize: number | bigint; maxStorageBufferBindingSize: number | bigint },
): TensorLimit {
  // Some Deno versions report the limits as BigInt (tfjs issue 8518).
  const binding = Number(limits.maxStorageBufferBindingSize);
  const buffer = Number(limits.maxBufferSize);
  return binding <= buffer
    ? { bytes: binding, name: "maxStorageBufferBindingSize" }
    : { bytes: buffer, name: "maxBufferSize" };
}

/**
 * The limit tensors must fit on the active backend: on WebGPU {@linkcode limitOf} the device's
 * limits; null elsewhere (no such limit).
 *
 * @example
 * ```ts
 * import { initBackend } from "./choose.ts";
 * import { tensorLimit } from "./tensor_limit.ts";
 * await initBackend("cpu");
 * tensorLimit(); // null; { bytes: 134217728, name: "maxStorageBufferBindingSize" } on Mesa's adapter
 * ```
 */
export function tensorLimit(): TensorLimit | null {
  const dev = currentDevice();
  if (tf.getBackend() !== "webgpu" || dev === null) return null;
  return limitOf(dev.limits);
}

/** Why a step at some batch does not fit a limit ({@linkcode fitProblem}). */
export interface FitProblem {
  /** The step's largest tensor at the batch asked for: over the limit. */
  tensor: TensorSize;
  /** The limit it exceeds. */
  limit: TensorLimit;
  /** The largest batch whose every tensor fits; 0 when not even one image does. */
  fits: number;
}

/**
 * Whether a step of `config` at `batch` images of `size`x`size` makes a tensor over `limit`: null
 * when it fits (or there is no limit), else the tensor and the largest batch that fits. The check
 * behind `train`'s refusal ({@linkcode checkTrainingFits}) and the web page's.
 *
 * @example
 * ```ts
 * import { fitProblem } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const limit = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
 * fitProblem(resolveConfig({ depth: 18 }), 96, 256, limit)?.fits; // 227
 * fitProblem(resolveConfig({ depth: 18 }), 96, 227, limit); // null
 * ```
 */
export function fitProblem(
  config: ResNetConfig,
  size: number,
  batch: number,
  limit: TensorLimit | null,
): FitProblem | null {
  if (limit === null) return null;
  const tensor = largestTensor(config, size, batch);
  if (tensor.bytes <= limit.bytes) return null;
  return { tensor, limit, fits: largestBatchThatFits(config, size, limit.bytes) };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * The batch an evaluation pass should use: `batch`, or the largest smaller one whose tensors fit
 * `limit` (results do not depend on the batch in inference mode). Throws an
 * {@linkcode InputError} when not even one image fits.
 *
 * @example
 * ```ts
 * import { evalBatchThatFits } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const limit = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
 * evalBatchThatFits(resolveConfig({ stages: [1, 1, 1, 1], width: 8 }), 64, 5000, limit); // 4096
 * ```
 */
export function evalBatchThatFits(
  config: ResNetConfig,
  size: number,
  batch: number,
  limit: TensorLimit | null = tensorLimit(),
): number {
  if (limit === null) return batch;
  const b = largestBatchThatFits(config, size, limit.bytes, batch);
  if (b === 0) throw tooLargeForOne(config, size, limit);
  return b;
}

/**
 * Throws an {@linkcode InputError} (one line: the tensor, its size, the limit, the largest batch
 * that fits, or `--backend native`) when a training step at `batch` would make a tensor over
 * `limit`; does nothing off WebGPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTrainingFits } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const limit = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
 * checkTrainingFits(resolveConfig({ depth: 18 }), 96, 227, limit); // fits: nothing happens
 * try {
 *   checkTrainingFits(resolveConfig({ depth: 18 }), 96, 256, limit);
 * } catch (e) {
 *   assert.match((e as Error).message, /^--batch-size 256 at --size 96 does not fit .*: use --batch-size 227 or less, /);
 *   // "--batch-size 256 at --size 96 does not fit ...: use --batch-size 227 or less, ..."
 * }
 * ```
 */
export function checkTrainingFits(
  config: ResNetConfig,
  size: number,
  batch: number,
  limit: TensorLimit | null = tensorLimit(),
): void {
  const p = fitProblem(config, size, batch, limit);
  if (p === null) return;
  const { tensor: t, fits: fit, limit: over } = p;
  if (fit === 0) throw tooLargeForOne(config, size, over);
  throw new InputError(
    `--batch-size ${batch} at --size ${size} does not fit this WebGPU adapter: a training ` +
      `step's largest tensor, ${t.name} [${t.shape.join(", ")}] (float32), is ${mib(t.bytes)}, ` +
      `over its ${over.name} of ${mib(over.bytes)}: use --batch-size ${fit} or less, or ` +
      "--backend native",
  );
}

function tooLargeForOne(config: ResNetConfig, size: number, limit: TensorLimit): InputError {
  const t = largestTensor(config, size, 1);
  return new InputError(
    `--size ${size} does not fit this WebGPU adapter even at batch 1: ${t.name} ` +
      `[${t.shape.join(", ")}] (float32) is ${mib(t.bytes)}, over its ${limit.name} of ` +
      `${mib(limit.bytes)}: use a smaller --size, or --backend native`,
  );
}
