/**
 * Naive JavaScript references for the oneDNN binding's tests: direct loops over channels-last
 * (`nhwc`) tensors and HWIO weights, in float64, written from the definitions and nothing else.
 *
 * @example
 * ```ts
 * import { random } from "./dnnl_reference.ts";
 * const x = random(16, 1); // 16 values in [-1, 1), seed 1
 * ```
 * @module
 */

import type { ConvGeometry, NhwcShape, PoolGeometry } from "../../lib/backends/native/dnnl/mod.ts";

/**
 * `n` pseudo-random values in [-1, 1) from a seeded mulberry32, so failures reproduce.
 *
 * @example
 * ```ts
 * import { random } from "./dnnl_reference.ts";
 * const w = random(27, 7);
 * ```
 */
export function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Throws unless every `actual[i]` is within `tol * max(1, max|expected|)` of `expected[i]`.
 *
 * @example
 * ```ts
 * import { assertClose } from "./dnnl_reference.ts";
 * assertClose(Float32Array.of(1), Float64Array.of(1.00001), "x", 1e-4);
 * ```
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tol = 1e-4,
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  let scale = 1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * scale)) {
      throw new Error(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`);
    }
  }
}

/** Calls `f(n, oy, ox, o, ky, kx, c, iy, ix)` for every in-bounds tap of a convolution. */
function eachTap(
  g: ConvGeometry,
  f: (n: number, oy: number, ox: number, o: number, wi: number, xi: number) => void,
): void {
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++) {
        for (let ky = 0; ky < g.kernelHeight; ky++) {
          const iy = oy * g.strideHeight - g.padTop + ky;
          if (iy < 0 || iy >= g.inHeight) continue;
          for (let kx = 0; kx < g.kernelWidth; kx++) {
            const ix = ox * g.strideWidth - g.padLeft + kx;
            if (ix < 0 || ix >= g.inWidth) continue;
            for (let c = 0; c < g.inChannels; c++) {
              const xi = ((n * g.inHeight + iy) * g.inWidth + ix) * g.inChannels + c;
              const wi = ((ky * g.kernelWidth + kx) * g.inChannels + c) * g.outChannels;
              for (let o = 0; o < g.outChannels; o++) f(n, oy, ox, o, wi + o, xi);
            }
          }
        }
      }
    }
  }
}

function outIndex(g: ConvGeometry, n: number, oy: number, ox: number, o: number): number {
  return ((n * g.outHeight + oy) * g.outWidth + ox) * g.outChannels + o;
}

/**
 * Convolution forward: `y[n, oy, ox, o] = bias[o] + sum x[n, iy, ix, c] * w[ky, kx, c, o]`.
 *
 * @example
 * ```ts
 * import { convGeometry } from "../../lib/backends/native/dnnl/mod.ts";
 * import { convRef, random } from "./dnnl_reference.ts";
 * const g = convGeometry({ batch: 1, inHeight: 3, inWidth: 3, inChannels: 1, outChannels: 1,
 *   kernel: 3, pad: 1 });
 * const y = convRef(g, random(9, 1), random(9, 2), null);
 * ```
 */
export function convRef(
  g: ConvGeometry,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
): Float64Array {
  const y = new Float64Array(g.batch * g.outHeight * g.outWidth * g.outChannels);
  if (bias) { for (let i = 0; i < y.length; i++) y[i] = bias[i % g.outChannels]; }
  eachTap(g, (n, oy, ox, o, wi, xi) => y[outIndex(g, n, oy, ox, o)] += x[xi] * w[wi]);
  return y;
}

/**
 * Gradient of {@link convRef} with respect to `x`.
 *
 * @example
 * ```ts
 * import { convGeometry } from "../../lib/backends/native/dnnl/mod.ts";
 * import { convBackwardDataRef, random } from "./dnnl_reference.ts";
 * const g = convGeometry({ batch: 1, inHeight: 3, inWidth: 3, inChannels: 1, outChannels: 1,
 *   kernel: 3, pad: 1 });
 * const dx = convBackwardDataRef(g, random(9, 1), random(9, 2));
 * ```
 */
export function convBackwardDataRef(g: ConvGeometry, dy: Float32Array, w: Float32Array) {
  const dx = new Float64Array(g.batch * g.inHeight * g.inWidth * g.inChannels);
  eachTap(g, (n, oy, ox, o, wi, xi) => dx[xi] += dy[outIndex(g, n, oy, ox, o)] * w[wi]);
  return dx;
}

/**
 * Gradients of {@link convRef} with respect to `w` (HWIO) and the bias.
 *
 * @example
 * ```ts
 * import { convGeometry } from "../../lib/backends/native/dnnl/mod.ts";
 * import { convBackwardWeightsRef, random } from "./dnnl_reference.ts";
 * const g = convGeometry({ batch: 1, inHeight: 3, inWidth: 3, inChannels: 1, outChannels: 1,
 *   kernel: 3, pad: 1 });
 * const { dw, dbias } = convBackwardWeightsRef(g, random(9, 1), random(9, 2));
 * ```
 */
export function convBackwardWeightsRef(g: ConvGeometry, x: Float32Array, dy: Float32Array) {
  const dw = new Float64Array(g.kernelHeight * g.kernelWidth * g.inChannels * g.outChannels);
  eachTap(g, (n, oy, ox, o, wi, xi) => dw[wi] += dy[outIndex(g, n, oy, ox, o)] * x[xi]);
  const dbias = new Float64Array(g.outChannels);
  for (let i = 0; i < dy.length; i++) dbias[i % g.outChannels] += dy[i];
  return { dw, dbias };
}

/** Per-channel statistics of an nhwc tensor: mean and biased variance. */
function channelStats(s: NhwcShape, x: Float32Array) {
  const c = s.channels, m = x.length / c;
  const mean = new Float64Array(c), variance = new Float64Array(c);
  for (let i = 0; i < x.length; i++) mean[i % c] += x[i] / m;
  for (let i = 0; i < x.length; i++) variance[i % c] += (x[i] - mean[i % c]) ** 2 / m;
  return { mean, variance };
}

/**
 * Training-mode batch norm: batch mean, BIASED variance, `y = gamma * xhat + beta` (then ReLU).
 *
 * @example
 * ```ts
 * import { batchNormRef, random } from "./dnnl_reference.ts";
 * const s = { batch: 2, height: 2, width: 2, channels: 2 };
 * const r = batchNormRef(s, random(16, 1), Float32Array.of(1, 1), Float32Array.of(0, 0), 1e-5,
 *   false);
 * ```
 */
export function batchNormRef(
  s: NhwcShape,
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  relu: boolean,
) {
  const { mean, variance } = channelStats(s, x);
  const y = batchNormApply(s, x, gamma, beta, mean, variance, eps, relu);
  return { y, mean, variance };
}

/**
 * `y = gamma * (x - mean) / sqrt(variance + eps) + beta`, then ReLU when `relu`.
 *
 * @example
 * ```ts
 * import { batchNormApply } from "./dnnl_reference.ts";
 * const s = { batch: 1, height: 1, width: 1, channels: 1 };
 * const one = Float32Array.of(1);
 * const y = batchNormApply(s, one, one, one, one, one, 0, false); // [1]
 * ```
 */
export function batchNormApply(
  s: NhwcShape,
  x: Float32Array,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
  relu: boolean,
): Float64Array {
  const c = s.channels;
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = i % c;
    const v = gamma[k] * (x[i] - mean[k]) / Math.sqrt(variance[k] + eps) + beta[k];
    y[i] = relu ? Math.max(v, 0) : v;
  }
  return y;
}

/**
 * Backward of {@link batchNormRef} through the batch statistics (and the ReLU when `relu`).
 *
 * @example
 * ```ts
 * import { batchNormBackwardRef, random } from "./dnnl_reference.ts";
 * const s = { batch: 2, height: 2, width: 2, channels: 2 };
 * const one = Float32Array.of(1, 1), zero = Float32Array.of(0, 0);
 * const { dx, dgamma, dbeta } = batchNormBackwardRef(s, random(16, 1), random(16, 2), one, zero,
 *   1e-5, true);
 * ```
 */
export function batchNormBackwardRef(
  s: NhwcShape,
  x: Float32Array,
  dy: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  relu: boolean,
) {
  const c = s.channels, m = x.length / c;
  const { mean, variance } = channelStats(s, x);
  const y = batchNormApply(s, x, gamma, beta, mean, variance, eps, false);
  const g = Float64Array.from(dy, (v, i) => relu && y[i] <= 0 ? 0 : v);
  const xhat = (i: number) => (x[i] - mean[i % c]) / Math.sqrt(variance[i % c] + eps);
  const dgamma = new Float64Array(c), dbeta = new Float64Array(c);
  for (let i = 0; i < x.length; i++) {
    dbeta[i % c] += g[i];
    dgamma[i % c] += g[i] * xhat(i);
  }
  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const k = i % c;
    const inv = 1 / Math.sqrt(variance[k] + eps);
    dx[i] = gamma[k] * inv * (g[i] - dbeta[k] / m - xhat(i) * dgamma[k] / m);
  }
  return { dx, dgamma, dbeta };
}

/**
 * Max pooling forward (padded cells never win) with the flat input index of each window's max,
 * and its backward (each `dy` goes to that index).
 *
 * @example
 * ```ts
 * import { poolGeometry } from "../../lib/backends/native/dnnl/mod.ts";
 * import { maxPoolRef, random } from "./dnnl_reference.ts";
 * const g = poolGeometry({ batch: 1, inHeight: 4, inWidth: 4, channels: 1, kernel: 2 });
 * const { y, dx } = maxPoolRef(g, random(16, 1), random(4, 2));
 * ```
 */
export function maxPoolRef(g: PoolGeometry, x: Float32Array, dy: Float32Array) {
  const c = g.channels;
  const y = new Float64Array(g.batch * g.outHeight * g.outWidth * c);
  const dx = new Float64Array(x.length);
  let o = 0;
  for (let n = 0; n < g.batch; n++) {
    for (let oy = 0; oy < g.outHeight; oy++) {
      for (let ox = 0; ox < g.outWidth; ox++) {
        for (let k = 0; k < c; k++, o++) {
          const best = windowArgmax(g, x, n, oy, ox, k);
          y[o] = x[best];
          dx[best] += dy[o];
        }
      }
    }
  }
  return { y, dx };
}

function windowArgmax(
  g: PoolGeometry,
  x: Float32Array,
  n: number,
  oy: number,
  ox: number,
  k: number,
) {
  let best = -1;
  for (let ky = 0; ky < g.kernelHeight; ky++) {
    const iy = oy * g.strideHeight - g.padTop + ky;
    if (iy < 0 || iy >= g.inHeight) continue;
    for (let kx = 0; kx < g.kernelWidth; kx++) {
      const ix = ox * g.strideWidth - g.padLeft + kx;
      if (ix < 0 || ix >= g.inWidth) continue;
      const i = ((n * g.inHeight + iy) * g.inWidth + ix) * g.channels + k;
      if (best < 0 || x[i] > x[best]) best = i;
    }
  }
  return best;
}
