/**
 * BatchNorm over the last (channel) axis and its gradients as single passes over the data:
 * tfjs' gradient of `FusedBatchNorm` is built from about a dozen broadcasting ops, each a full
 * pass with a fresh tensor.
 *
 * @example
 * ```ts
 * import { batchNorm } from "./batchnorm.ts";
 * const y = batchNorm(new Float32Array([1, 3]), 1, new Float32Array([2]), new Float32Array([1]), null, null, 0);
 * console.log(y); // [-1, 1]
 * ```
 * @module
 */
import { pool } from "./buffers.ts";

/**
 * `(x - mean) / sqrt(var + eps) * scale + offset` per channel, for `x` of `channels`-long rows;
 * `scale` and `offset` may be null (1 and 0).
 */
export function batchNorm(
  x: Float32Array,
  channels: number,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array | null,
  offset: Float32Array | null,
  eps: number,
): Float32Array {
  const C = channels, mul = new Float32Array(C), add = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const m = (scale ? scale[c] : 1) / Math.sqrt(variance[c] + eps);
    mul[c] = m;
    add[c] = (offset ? offset[c] : 0) - mean[c] * m;
  }
  const y = pool.alloc(x.length);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) y[i + c] = x[i + c] * mul[c] + add[c];
  }
  return y;
}

/** The input gradient of {@linkcode batchNorm} with fixed statistics: `dy * scale / sqrt(var + eps)`. */
export function batchNormGradX(
  dy: Float32Array,
  channels: number,
  variance: Float32Array,
  scale: Float32Array | null,
  eps: number,
): Float32Array {
  const C = channels, k = new Float32Array(C);
  for (let c = 0; c < C; c++) k[c] = (scale ? scale[c] : 1) / Math.sqrt(variance[c] + eps);
  const dx = pool.alloc(dy.length);
  for (let i = 0; i < dy.length; i += C) {
    for (let c = 0; c < C; c++) dx[i + c] = dy[i + c] * k[c];
  }
  return dx;
}

/**
 * Per-channel sums in one pass: `sum(dy)` when `x` is null, else `sum(dy * (x - mean))`,
 * accumulated in double precision.
 */
export function channelSums(
  dy: Float32Array,
  channels: number,
  x: Float32Array | null,
  mean: Float32Array | null,
): Float32Array {
  const C = channels, acc = new Float64Array(C);
  if (x && mean) {
    for (let i = 0; i < dy.length; i += C) {
      for (let c = 0; c < C; c++) acc[c] += dy[i + c] * (x[i + c] - mean[c]);
    }
  } else {
    for (let i = 0; i < dy.length; i += C) {
      for (let c = 0; c < C; c++) acc[c] += dy[i + c];
    }
  }
  return Float32Array.from(acc);
}

/** ReLU's gradient in one pass: `dy` where `x > 0`, 0 elsewhere, NaN where `x` is NaN. */
export function reluGrad(dy: Float32Array, x: Float32Array): Float32Array {
  const dx = pool.alloc(dy.length);
  for (let i = 0; i < dy.length; i++) {
    const v = x[i];
    dx[i] = v > 0 ? dy[i] : v !== v ? NaN : 0;
  }
  return dx;
}
