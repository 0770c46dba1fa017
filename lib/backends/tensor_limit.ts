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
import { type ConvShape, convShapes } from "../model/shapes.ts";
import { InputError } from "../errors.ts";

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

/** A convolution's tensors at `batch`: its output, and its im2col matrix when it makes one. */
function convTensors(c: ConvShape, batch: number): TensorSize[] {
  const out = [tensor(`${c.name}'s output`, [batch, c.outSize, c.outSize, c.outChannels])];
  const workgroups = batch * Math.ceil(c.outSize ** 2 / 32) * Math.ceil(c.outChannels / 32);
  if (c.kernel > 1 && workgroups <= IM2COL_WORKGROUPS) {
    const cols = [batch, c.outSize ** 2, c.kernel ** 2 * c.inChannels];
    out.push(tensor(`${c.name}'s im2col matrix`, cols));
  }
  return out;
}

const largest = (ts: TensorSize[]) => ts.reduce((a, b) => (b.bytes > a.bytes ? b : a));

/**
 * The largest tensor a training step or an evaluation pass of the network makes at `batch`
 * images of `size`x`size` (both make the same activations; gradients have their shapes), when
 * the batch runs whole.
 *
 * @example
 * ```ts
 * import { largestTensor } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * largestTensor(resolveConfig({ stages: [1, 1, 1, 1], width: 2 }), 28, 10).name; // "the input batch"
 * ```
 */
export function largestTensor(config: ResNetConfig, size: number, batch: number): TensorSize {
  const input = tensor("the input batch", [batch, size, size, config.inChannels]);
  return largest([input, ...convShapes(config, size).flatMap((c) => convTensors(c, batch))]);
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
 * The limit tensors must fit on the active backend: on WebGPU {@linkcode limitOf} the limits of
 * tfjs' own device (in Deno and in a browser alike); null elsewhere (no such limit).
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
  if (tf.getBackend() !== "webgpu") return null;
  // tfjs-webgpu's WebGPUBackend keeps its GPUDevice public; read without importing the package.
  const dev = (tf.backend() as { device?: { limits: GPUSupportedLimits } }).device;
  return dev ? limitOf(dev.limits) : null;
}

/**
 * How a step runs within a limit: the batch in `chunks` parts through b1 and the first `blocks`
 * residual blocks (BatchNorm's statistics combined over the parts: ../model/chunked.ts), whole
 * after them.
 */
export interface ChunkPlan {
  /** Parts of the batch, 2 or more; their sizes are {@linkcode chunkSizes}. */
  chunks: number;
  /** Residual blocks after b1 that run in parts too (0: only b1). */
  blocks: number;
}

/**
 * The sizes of `chunks` parts of `batch` images: as equal as can be, the larger first.
 *
 * @example
 * ```ts
 * import { chunkSizes } from "./tensor_limit.ts";
 * chunkSizes(7, 3); // [3, 2, 2]
 * ```
 */
export function chunkSizes(batch: number, chunks: number): number[] {
  const small = Math.floor(batch / chunks), large = batch % chunks;
  return Array.from({ length: chunks }, (_, i) => small + (i < large ? 1 : 0));
}

/** The network's parts in forward order (b1, then each residual block) and their tensors. */
interface Section {
  /** Its tensors at a batch. */
  tensors(batch: number): TensorSize[];
  /** Its output at a batch (what the next part takes in; where the parts are joined). */
  out(batch: number): TensorSize;
}

function sections(config: ResNetConfig, size: number): Section[] {
  const groups = new Map<string, ConvShape[]>();
  for (const c of convShapes(config, size)) {
    const key = c.name.split(".").slice(0, 2).join("."); // b1.0 (the stem) or a block, b3.1
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const convs = [...groups.entries()];
  return convs.map(([key, own], i) => {
    const next = convs[i + 1]?.[1][0], last = own[own.length - 1];
    return {
      tensors: (b) => own.flatMap((c) => convTensors(c, b)),
      // After the last block the parts are joined after the global pool: [b, channels].
      out: (b) =>
        next
          ? tensor(`${key}'s output`, [b, next.inSize, next.inSize, next.inChannels])
          : tensor("the pooled features", [b, last.outChannels]),
    };
  });
}

/** The plan for a batch over the limit, or null when no plan fits (see {@linkcode chunkPlan}). */
function findPlan(config: ResNetConfig, size: number, batch: number, limit: number) {
  const fit = (ts: TensorSize[]) => ts.every((t) => t.bytes <= limit);
  // The input batch is made whole (the data pipeline's resize and augmentation).
  if (!fit([tensor("the input batch", [batch, size, size, config.inChannels])])) return null;
  const secs = sections(config, size);
  for (let m = 0; m < secs.length; m++) {
    const after = secs.slice(m + 1).flatMap((s) => s.tensors(batch));
    if (!fit([secs[m].out(batch), ...after])) continue; // join later
    const before = secs.slice(0, m + 1);
    const parts = (b: number) => b === 0 || fit(before.flatMap((s) => s.tensors(b)));
    const perImage = largest(before.flatMap((s) => s.tensors(1024))).bytes / 1024;
    for (let k = Math.max(2, Math.ceil((batch * perImage) / limit)); k <= batch; k++) {
      if (parts(Math.ceil(batch / k)) && parts(Math.floor(batch / k))) {
        return { chunks: k, blocks: m };
      }
    }
    return null; // not even one image fits these parts; joining later only adds parts
  }
  return null;
}

/**
 * How a step of `config` at `batch` images of `size`x`size` runs within `limit`: null when it
 * runs whole (or there is no limit), else in parts through the layers where whole tensors would
 * exceed the limit, joined as early as the rest fits. Throws a {@linkcode TensorLimitError} when
 * no plan fits (not even one image, or the input batch itself).
 *
 * @example
 * ```ts
 * import { chunkPlan } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const limit = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
 * chunkPlan(resolveConfig({ depth: 18 }), 96, 256, limit); // { chunks: 2, blocks: 0 }
 * chunkPlan(resolveConfig({ depth: 18 }), 96, 227, limit); // null
 * ```
 */
export function chunkPlan(
  config: ResNetConfig,
  size: number,
  batch: number,
  limit: TensorLimit | null,
): ChunkPlan | null {
  if (limit === null || largestTensor(config, size, batch).bytes <= limit.bytes) return null;
  const plan = findPlan(config, size, batch, limit.bytes);
  if (plan === null) throw tensorLimitError(fitProblem(config, size, batch, limit)!, size, batch);
  return plan;
}

/** Why a step at some batch cannot run within a limit ({@linkcode fitProblem}). */
export interface FitProblem {
  /** The tensor over the limit: the input batch, or at batch 1 the largest tensor. */
  tensor: TensorSize;
  /** The limit it exceeds. */
  limit: TensorLimit;
  /** The largest batch that runs (in parts where needed); 0 when not even one image does. */
  fits: number;
}

/**
 * Whether a step of `config` at `batch` images of `size`x`size` cannot run within `limit`, even
 * in parts ({@linkcode chunkPlan}): null when it runs (or there is no limit), else the tensor
 * over the limit and the largest batch that runs. The check behind `train`'s refusal
 * ({@linkcode checkTrainingFits}) and the web page's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fitProblem } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const limit = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
 * assert.equal(fitProblem(resolveConfig({ depth: 18 }), 96, 256, limit), null); // runs in parts
 * assert.equal(fitProblem(resolveConfig({ depth: 18 }), 4096, 1, limit)?.fits, 0);
 * ```
 */
export function fitProblem(
  config: ResNetConfig,
  size: number,
  batch: number,
  limit: TensorLimit | null,
): FitProblem | null {
  if (limit === null || largestTensor(config, size, batch).bytes <= limit.bytes) return null;
  const runs = (b: number) =>
    findPlan(config, size, b, limit.bytes) !== null || b === 1 &&
      largestTensor(config, size, 1).bytes <= limit.bytes;
  if (runs(batch)) return null;
  if (!runs(1)) return { tensor: largestTensor(config, size, 1), limit, fits: 0 };
  let lo = 1, hi = batch; // runs(lo), not runs(hi)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (runs(mid)) lo = mid;
    else hi = mid;
  }
  const input = tensor("the input batch", [batch, size, size, config.inChannels]);
  const over = input.bytes > limit.bytes ? input : largestTensor(config, size, batch);
  return { tensor: over, limit, fits: lo };
}

/** A step that cannot run within a WebGPU adapter's limit, as data for the caller to word. */
export class TensorLimitError extends InputError {
  /** Always `"TensorLimitError"`. */
  override name = "TensorLimitError";
  /**
   * @param message The library's one line.
   * @param problem The tensor, the limit and the largest batch that runs (0: not one image).
   * @param size The input size asked for.
   * @param batch The batch asked for.
   */
  constructor(
    message: string,
    readonly problem: FitProblem,
    readonly size: number,
    readonly batch: number,
  ) {
    super(message);
  }
}

/** Bytes in MiB, or in KiB below one MiB (a forced small limit would read "0.0 MiB"). */
const mib = (bytes: number) =>
  bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;

function tensorLimitError(p: FitProblem, size: number, batch: number): TensorLimitError {
  const { tensor: t, limit } = p;
  const over = `${t.name} [${t.shape.join(", ")}] (float32) is ${mib(t.bytes)}, over its ` +
    `${limit.name} of ${mib(limit.bytes)}`;
  const message = p.fits === 0
    ? `an input of ${size}x${size} does not fit this WebGPU adapter even at batch 1: ${over}: ` +
      "use a smaller input size, or another backend"
    : `a batch of ${batch} at ${size}x${size} does not fit this WebGPU adapter even in parts: ` +
      `${over}: use a batch of ${p.fits} or less, or another backend`;
  return new TensorLimitError(message, p, size, batch);
}

/**
 * The batch an evaluation pass should use: `batch`, or the largest smaller one whose tensors fit
 * `limit` whole (results do not depend on the batch in inference mode). Throws a
 * {@linkcode TensorLimitError} when not even one image fits.
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
  if (b === 0) {
    throw tensorLimitError({ tensor: largestTensor(config, size, 1), limit, fits: 0 }, size, 1);
  }
  return b;
}

/**
 * The most bytes a tensor of a test pass takes where no adapter limit applies (CPU backends): the
 * native backend's buffer pool keeps a buffer per size for as many tensors of that size as were
 * ever alive at once, so a pass's memory grows with its batch while its speed stops growing far
 * below 256 images at 96x96. Measured (ResNet-18 eval at 96x96, `deno task bench --tasks eval`,
 * 2-core AMD EPYC Zen 5, 2026-12-07): batch 64 491 img/s and 344 MiB peak, 128 525 and 481 MiB,
 * 256 517 and 757 MiB. 64 MiB holds 113 images' stem output at 96x96 and 1,337 at 28x28.
 */
export const INFERENCE_TENSOR_BYTES = 2 ** 26;

/**
 * The batch a test pass on a CPU backend runs in: `batch`, or the largest smaller one whose
 * largest tensor stays within `bytes` (at least 1; results do not depend on the batch in
 * inference mode).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inferenceBatch } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const r18 = resolveConfig({ depth: 18 });
 * assert.equal(inferenceBatch(r18, 96, 256), 113); // 113 x 48x48x64 floats <= 64 MiB
 * assert.equal(inferenceBatch(r18, 28, 256), 256);
 * ```
 */
export function inferenceBatch(
  config: ResNetConfig,
  size: number,
  batch: number,
  bytes: number = INFERENCE_TENSOR_BYTES,
): number {
  // At a large batch no im2col matrix counts (tfjs-webgpu's, which CPU backends never make).
  const perImage = largestTensor(config, size, 1024).bytes / 1024;
  return Math.max(1, Math.min(batch, Math.floor(bytes / perImage)));
}

/**
 * Throws a {@linkcode TensorLimitError} (one line: the tensor, its size, the limit, what to
 * change) when a training step at `batch` cannot run within `limit` even in parts
 * ({@linkcode fitProblem}); does nothing off WebGPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkTrainingFits } from "./tensor_limit.ts";
 * import { resolveConfig } from "../model/resnet.ts";
 * const limit = { bytes: 2 ** 27, name: "maxStorageBufferBindingSize" } as const;
 * checkTrainingFits(resolveConfig({ depth: 18 }), 96, 256, limit); // runs in two parts: nothing happens
 * assert.throws(
 *   () => checkTrainingFits(resolveConfig({ depth: 18 }), 4096, 1, limit),
 *   /an input of 4096x4096 does not fit this WebGPU adapter even at batch 1: b1\.0's output/,
 * );
 * ```
 */
export function checkTrainingFits(
  config: ResNetConfig,
  size: number,
  batch: number,
  limit: TensorLimit | null = tensorLimit(),
): void {
  const p = fitProblem(config, size, batch, limit);
  if (p !== null) throw tensorLimitError(p, size, batch);
}
