/**
 * BatchNorm over the last (channel) axis and its gradients as single passes over the data:
 * tfjs' gradient of `FusedBatchNorm` is built from about a dozen broadcasting ops, each a full
 * pass with a fresh tensor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchNorm } from "./batch_norm.ts";
 * const y = batchNorm(new Float32Array([1, 3]), 1, new Float32Array([2]), new Float32Array([1]), null, null, 0);
 * assert.deepEqual([...y].map((v) => Math.round(v * 1e6) / 1e6), [-1, 1]);
 * ```
 * @module
 */
import { pool } from "../buffers.ts";

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

/** The outputs of {@linkcode batchNormTrain}. */
export interface BatchNormTrainOut {
  y: Float32Array;
  mean: Float32Array;
  /** Biased (divided by n). */
  variance: Float32Array;
}

/**
 * Training-mode BatchNorm in two passes: per-channel sums of `x` and `x^2` in double precision
 * (f64 keeps `E[x^2] - E[x]^2` exact enough for float32 data), then `y = x * k + b` per channel,
 * with ReLU folded in when `relu` is set.
 */
export function batchNormTrain(
  x: Float32Array,
  channels: number,
  scale: Float32Array,
  offset: Float32Array,
  eps: number,
  relu: boolean,
): BatchNormTrainOut {
  const C = channels, n = x.length / C;
  const s = new Float64Array(C), q = new Float64Array(C);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) {
      const v = x[i + c];
      s[c] += v;
      q[c] += v * v;
    }
  }
  const mean = new Float32Array(C), variance = new Float32Array(C);
  const k = new Float64Array(C), b = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const m = s[c] / n;
    mean[c] = m;
    variance[c] = Math.max(0, q[c] / n - m * m);
  }
  affine(mean, variance, scale, offset, eps, k, b);
  const y = pool.alloc(x.length);
  if (relu) {
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) {
        // Branch-free ReLU (see ./elementwise.ts): a sign branch mispredicts half the time.
        const v = x[i + c] * k[c] + b[c];
        y[i + c] = (v + Math.abs(v)) * 0.5;
      }
    }
  } else {
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) y[i + c] = x[i + c] * k[c] + b[c];
    }
  }
  return { y, mean, variance };
}

/**
 * `y = x k + b` per channel: `k = scale / sqrt(var + eps)`, `b = offset - mean k`, from the
 * float32 statistics, so that the backward pass finds the very same ReLU mask again.
 */
function affine(
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  eps: number,
  k: Float64Array,
  b: Float64Array,
): void {
  for (let c = 0; c < mean.length; c++) {
    k[c] = scale[c] / Math.sqrt(variance[c] + eps);
    b[c] = offset[c] - mean[c] * k[c];
  }
}

/** The ReLU mask of {@linkcode batchNormTrain}'s output, recomputed: `x k + b > 0`. */
function reluMask(
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array,
  offset: Float32Array,
  eps: number,
): Uint8Array {
  const C = mean.length, k = new Float64Array(C), b = new Float64Array(C);
  affine(mean, variance, scale, offset, eps, k, b);
  const mask = maskBuffer(x.length);
  for (let i = 0; i < x.length; i += C) {
    for (let c = 0; c < C; c++) mask[i + c] = +(x[i + c] * k[c] + b[c] > 0);
  }
  return mask;
}

let maskScratch = new Uint8Array(0);
function maskBuffer(n: number): Uint8Array {
  if (maskScratch.length < n) maskScratch = new Uint8Array(n);
  return maskScratch.subarray(0, n);
}

/** The gradients of {@linkcode batchNormTrain}. */
export interface BatchNormTrainGrads {
  dx: Float32Array;
  dscale: Float32Array;
  doffset: Float32Array;
}

/**
 * The gradients of {@linkcode batchNormTrain} in two passes (three with ReLU). With `g = dy`
 * (masked by the output's sign when `reluOffset`, the BatchNorm's offset, is given),
 * `xh = (x - mean) / sqrt(var + eps)`: `doffset = sum(g)`, `dscale = sum(g xh)` and
 * `dx = scale / sqrt(var + eps) * (g - doffset / n - xh dscale / n)`.
 */
export function batchNormTrainGrad(
  dy: Float32Array,
  x: Float32Array,
  reluOffset: Float32Array | null,
  channels: number,
  mean: Float32Array,
  variance: Float32Array,
  scale: Float32Array,
  eps: number,
): BatchNormTrainGrads {
  const C = channels, n = x.length / C;
  const sg = new Float64Array(C), sgx = new Float64Array(C);
  const y = reluOffset && reluMask(x, mean, variance, scale, reluOffset, eps);
  if (y) {
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) {
        const g = dy[i + c] * y[i + c];
        sg[c] += g;
        sgx[c] += g * (x[i + c] - mean[c]);
      }
    }
  } else {
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) {
        const g = dy[i + c];
        sg[c] += g;
        sgx[c] += g * (x[i + c] - mean[c]);
      }
    }
  }
  // dx = a g + b x + d per channel, so the second pass is one multiply-add per term.
  const dscale = new Float32Array(C), doffset = new Float32Array(C);
  const a = new Float64Array(C), bx = new Float64Array(C), d = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const r = 1 / Math.sqrt(variance[c] + eps);
    const ds = sgx[c] * r;
    dscale[c] = ds;
    doffset[c] = sg[c];
    a[c] = scale[c] * r;
    bx[c] = -a[c] * r * ds / n;
    d[c] = -a[c] * sg[c] / n - bx[c] * mean[c];
  }
  const dx = pool.alloc(x.length);
  if (y) {
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) {
        const g = dy[i + c] * y[i + c];
        dx[i + c] = a[c] * g + bx[c] * x[i + c] + d[c];
      }
    }
  } else {
    for (let i = 0; i < x.length; i += C) {
      for (let c = 0; c < C; c++) dx[i + c] = a[c] * dy[i + c] + bx[c] * x[i + c] + d[c];
    }
  }
  return { dx, dscale, doffset };
}

/**
 * The running statistics after a batch, `(1 - m) running + m batch` with the batch variance times
 * `count / (count - 1)`: in float32 step by step, as tfjs' multiplies and adds on `native` compute
 * them (each product and sum rounded), so that the fused kernel changes no bit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runningStats } from "./batch_norm.ts";
 * const r = runningStats(Float32Array.of(0), Float32Array.of(1), Float32Array.of(2),
 *   Float32Array.of(3), 0.5, 4);
 * assert.deepEqual([...r.mean, ...r.variance], [1, 2.5]);
 * ```
 */
export function runningStats(
  runningMean: Float32Array,
  runningVar: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  momentum: number,
  count: number,
): { mean: Float32Array; variance: Float32Array } {
  const f = Math.fround, keep = f(1 - momentum), m = f(momentum);
  const unbias = f(count > 1 ? count / (count - 1) : 1), C = mean.length;
  const newMean = new Float32Array(C), newVar = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    newMean[c] = f(runningMean[c] * keep) + f(mean[c] * m);
    newVar[c] = f(runningVar[c] * keep) + f(f(variance[c] * unbias) * m);
  }
  return { mean: newMean, variance: newVar };
}
