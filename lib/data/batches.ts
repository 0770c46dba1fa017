/**
 * Mini-batches of a {@linkcode Split} as tensors on the active tfjs backend, in a seeded order that
 * is the same for a given (seed, epoch) on every run and backend. Each batch's pixels are gathered
 * on the host as bytes, uploaded once, and converted to float32 / 255 (and optionally resized,
 * bilinear with half-pixel centres = PyTorch's `interpolate(align_corners=False)`) on the device.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * import { batches } from "./batches.ts";
 * import { loadFashionMnist } from "./fashion_mnist.ts";
 * await tf.setBackend("cpu");
 * const { train } = await loadFashionMnist();
 * const opts = { batchSize: 256, shuffle: true, seed: 1, epoch: 0, size: 96, limit: 512 };
 * for (const b of batches(train, opts)) {
 *   // b.x: [n, 96, 96, 1] float32 in [0, 1]; b.y: [n] int32
 *   assert.deepEqual(b.x.shape, [256, 96, 96, 1]);
 *   b.x.dispose();
 *   b.y.dispose();
 * }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { mixSeed, mulberry32 } from "./rng.ts";
import type { Split } from "./idx_dataset.ts";
import { type Augmentation, augmentBatch } from "./augment.ts";

/** One mini-batch; the consumer disposes `x` and `y`. */
export interface Batch {
  /** Images `[n, size, size, 1]`, float32 in [0, 1], NHWC. */
  x: tf.Tensor4D;
  /** Labels `[n]`, int32. */
  y: tf.Tensor1D;
  /** Examples in this batch (the last one may be smaller). */
  n: number;
}

/** Options of {@linkcode batches}. */
export interface BatchOptions {
  /** Examples per batch; the last batch holds the rest (PyTorch's `drop_last=False`). */
  batchSize: number;
  /** Visit examples in {@linkcode epochOrder} (default false: file order, as for evaluation). */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0). */
  seed?: number;
  /** Epoch index; each epoch has its own order (default 0). */
  epoch?: number;
  /** Resize to `size` x `size` on the device (default: the split's own size, no resize). */
  size?: number;
  /** Use only the first `limit` examples (shuffled among themselves). */
  limit?: number;
  /** Skip this many batches at the start (to resume within an epoch). */
  startBatch?: number;
  /**
   * Augment each batch on the device after resizing (./augment.ts), drawn from `seed`, `epoch`
   * and the batch's index in the epoch (default: none; never for test images).
   */
  augment?: readonly Augmentation[];
}

/**
 * A seeded permutation of `0..count-1` (Fisher-Yates over mulberry32), deterministic per
 * (seed, epoch) and different between epochs.
 *
 * @example
 * ```ts
 * epochOrder(5, 42, 0); // e.g. Uint32Array [3, 0, 4, 1, 2], the same on every run
 * ```
 */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`epochOrder: count must be a non-negative integer, got ${count}`);
  }
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const rand = mulberry32(mixSeed(seed, epoch));
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/**
 * How many batches {@linkcode batches} yields for these options (before `startBatch`).
 *
 * @example
 * ```ts
 * batchCount(10000, { batchSize: 256 }); // 40
 * ```
 */
export function batchCount(count: number, opts: Pick<BatchOptions, "batchSize" | "limit">): number {
  const n = Math.min(count, opts.limit ?? count);
  return Math.ceil(n / opts.batchSize);
}

function checkOptions(split: Split, o: BatchOptions): void {
  const positive = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v <= 0)) {
      throw new RangeError(`batches: ${name} must be a positive integer, got ${v}`);
    }
  };
  positive("batchSize", o.batchSize);
  positive("size", o.size);
  positive("limit", o.limit);
  if (o.startBatch !== undefined && (!Number.isSafeInteger(o.startBatch) || o.startBatch < 0)) {
    throw new RangeError(`batches: startBatch must be a non-negative integer, got ${o.startBatch}`);
  }
  if (split.images.length !== split.count * split.height * split.width) {
    throw new RangeError(
      `batches: split holds ${split.images.length} pixels, not ${split.count} x ` +
        `${split.height} x ${split.width}`,
    );
  }
}

/**
 * Yields the batches of one epoch as tensors on the active backend. Per batch, the host gathers
 * the examples' uint8 pixels and labels, uploads each once, and the device converts to float32
 * / 255, resizes and augments; nothing is read back. The consumer disposes each batch's `x` and `y`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import assert from "node:assert/strict";
 * import { loadFashionMnist } from "./fashion_mnist.ts";
 * await tf.setBackend("cpu");
 * const { test } = await loadFashionMnist();
 * const b = batches(test, { batchSize: 8, limit: 8 }).next().value as Batch;
 * assert.deepEqual(b.x.shape, [8, 28, 28, 1]);
 * assert.equal(b.y.dtype, "int32");
 * tf.dispose([b.x, b.y]);
 * ```
 */
export function* batches(split: Split, opts: BatchOptions): Generator<Batch> {
  checkOptions(split, opts);
  const { height: h, width: w } = split;
  const pixels = h * w;
  const count = Math.min(split.count, opts.limit ?? split.count);
  const order = opts.shuffle ? epochOrder(count, opts.seed ?? 0, opts.epoch ?? 0) : null;
  const size = opts.size ?? h;
  const resize = size !== h || size !== w;
  const bs = opts.batchSize;
  for (let start = (opts.startBatch ?? 0) * bs; start < count; start += bs) {
    const n = Math.min(bs, count - start);
    // tfjs has no uint8 dtype; int32 holds the bytes exactly and is cast on the device.
    const px = new Int32Array(n * pixels);
    const labels = new Int32Array(n), indices = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = indices[k] = order ? order[start + k] : start + k;
      px.set(split.images.subarray(i * pixels, (i + 1) * pixels), k * pixels);
      labels[k] = split.labels[i];
    }
    const x = tf.tidy(() => {
      const raw = tf.tensor4d(px, [n, h, w, 1], "int32");
      const f = tf.div(tf.cast(raw, "float32"), 255) as tf.Tensor4D;
      const r = resize ? tf.image.resizeBilinear(f, [size, size], false, true) : f;
      if (!opts.augment?.length) return r;
      const at = { seed: opts.seed ?? 0, epoch: opts.epoch ?? 0, batch: start / bs, indices };
      return augmentBatch(r, { ops: opts.augment, ...at });
    });
    yield { x, y: tf.tensor1d(labels, "int32"), n };
  }
}
