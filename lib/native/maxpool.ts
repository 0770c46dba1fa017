/**
 * NHWC max pooling and its gradient with the channel loop innermost (contiguous), in place of tfjs'
 * CPU kernels that index one element at a time through buffer objects.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { maxPool } from "./maxpool.ts";
 * const info = tf.backend_util.computePool2DInfo([1, 2, 2, 1], 2, 2, 1, "valid");
 * console.log(maxPool(info, new Float32Array([1, 4, 2, 3]))); // [4]
 * ```
 * @module
 */
import type { backend_util } from "@tensorflow/tfjs-core";
import { pool } from "./buffers.ts";

type PoolInfo = backend_util.Conv2DInfo;

/**
 * Max pooling of an NHWC batch; padded cells never win. The running maximum is branch-free,
 * `a + (d + |d|) / 2` with `d = b - a` in double precision, exact for finite float32 values: a
 * compare-and-branch mispredicts on about a third of the taps and measured several times slower.
 * NaN propagates; an infinite input gives NaN.
 */
export function maxPool(c: PoolInfo, x: Float32Array): Float32Array {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const y = pool.alloc(B * OH * OW * C);
  const SH = c.strideHeight, SW = c.strideWidth, top = c.padInfo.top, left = c.padInfo.left;
  const KH = c.effectiveFilterHeight, KW = c.effectiveFilterWidth;
  const DH = c.dilationHeight, DW = c.dilationWidth;
  for (let n = 0, o = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, o += C) {
        const w0 = ow * SW - left;
        let first = true;
        for (let kh = 0; kh < KH; kh += DH) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw += DW) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            const s = ((n * H + ih) * W + iw) * C;
            if (first) {
              for (let ch = 0; ch < C; ch++) y[o + ch] = x[s + ch];
              first = false;
              continue;
            }
            for (let ch = 0; ch < C; ch++) {
              const a = y[o + ch], d = x[s + ch] - a;
              y[o + ch] = a + (d + Math.abs(d)) * 0.5;
            }
          }
        }
        if (first) y.fill(-Infinity, o, o + C); // a window of padding only
      }
    }
  }
  return y;
}

/**
 * The gradient of {@linkcode maxPool}: each output's gradient goes to the first cell of its window
 * in row-major order that equals the output `y` (the first maximum, as tfjs' CPU kernel decides
 * ties). Equality holds for one or two taps of nine, so the search is branch-free arithmetic.
 */
export function maxPoolGrad(
  c: PoolInfo,
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
): Float32Array {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const dx = pool.zeros(B * H * W * C);
  const at = new Int32Array(C);
  const SH = c.strideHeight, SW = c.strideWidth, top = c.padInfo.top, left = c.padInfo.left;
  const KH = c.effectiveFilterHeight, KW = c.effectiveFilterWidth;
  const DH = c.dilationHeight, DW = c.dilationWidth;
  for (let n = 0, o = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, o += C) {
        const w0 = ow * SW - left;
        at.fill(-1);
        for (let kh = 0; kh < KH; kh += DH) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw += DW) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            const s = ((n * H + ih) * W + iw) * C;
            for (let ch = 0; ch < C; ch++) {
              // at = s + ch at the first tap equal to the maximum; later ties leave it alone.
              const a = at[ch], hit = +(x[s + ch] === y[o + ch]) & +(a < 0);
              at[ch] = a + hit * (s + ch - a);
            }
          }
        }
        for (let ch = 0; ch < C; ch++) if (at[ch] >= 0) dx[at[ch]] += dy[o + ch];
      }
    }
  }
  return dx;
}
