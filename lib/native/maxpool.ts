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

/** Max pooling of an NHWC batch; padded cells never win. */
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
        y.fill(-Infinity, o, o + C);
        for (let kh = 0; kh < KH; kh += DH) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw += DW) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            const s = ((n * H + ih) * W + iw) * C;
            for (let ch = 0; ch < C; ch++) {
              const v = x[s + ch];
              if (v > y[o + ch] || v !== v) y[o + ch] = v;
            }
          }
        }
      }
    }
  }
  return y;
}

/**
 * The gradient of {@linkcode maxPool}: each output's gradient goes to the first maximum of its
 * window in row-major order (as tfjs' CPU kernel decides ties).
 */
export function maxPoolGrad(c: PoolInfo, x: Float32Array, dy: Float32Array): Float32Array {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = c;
  const dx = pool.zeros(B * H * W * C);
  const best = new Float32Array(C), at = new Int32Array(C);
  const SH = c.strideHeight, SW = c.strideWidth, top = c.padInfo.top, left = c.padInfo.left;
  const KH = c.effectiveFilterHeight, KW = c.effectiveFilterWidth;
  const DH = c.dilationHeight, DW = c.dilationWidth;
  for (let n = 0, o = 0; n < B; n++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * SH - top;
      for (let ow = 0; ow < OW; ow++, o += C) {
        const w0 = ow * SW - left;
        best.fill(-Infinity);
        at.fill(-1);
        for (let kh = 0; kh < KH; kh += DH) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw += DW) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= W) continue;
            const s = ((n * H + ih) * W + iw) * C;
            for (let ch = 0; ch < C; ch++) {
              const v = x[s + ch];
              if (v > best[ch]) {
                best[ch] = v;
                at[ch] = s + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < C; ch++) if (at[ch] >= 0) dx[at[ch]] += dy[o + ch];
      }
    }
  }
  return dx;
}
